"""The survey's typed answers and the recommendation question (NPS, settings.yml `survey.nps`), against a real
loopback HTTP server playing the desk and a real settings file."""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.survey import ActionNpsAnswer, ActionSurveyAnswer
from bot import survey
from bot.settings import SettingsError, repo_root

from .conftest import FakeDesk

SURVEY_PATH = "/internal/tickets/T-000123/survey"
NPS_PAYLOADS = ['/survey_nps{"nps_score": %d}' % n for n in range(10, -1, -1)]


@pytest.fixture
def nps_on(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The project's settings with `survey.nps: true`."""
    settings = yaml.safe_load((repo_root() / "settings.yml").read_text(encoding="utf-8"))
    settings["survey"] = {"nps": True}
    path = tmp_path / "settings.yml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("FRONTLINE_SETTINGS", str(path))


def tracker(text: str, slots: Dict[str, Any], intent: str = "nlu_fallback", entities: Optional[List[Dict]] = None) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": entities or []}
    return Tracker.from_dict({
        "sender_id": "conv-survey", "slots": {"ticket_id": "T-000123", "language": "zh", **slots},
        "latest_message": latest,
        "events": [{"event": "user", "timestamp": 1764554400.0, "text": text, "parse_data": latest}],
    })


def said(dispatcher: CollectingDispatcher) -> List[str]:
    return [m["text"] for m in dispatcher.messages]


def buttons(dispatcher: CollectingDispatcher) -> List[List[str]]:
    return [[b["payload"] for b in m.get("buttons") or []] for m in dispatcher.messages]


@pytest.fixture
def desk(fake_desk: FakeDesk) -> FakeDesk:
    fake_desk.routes[("POST", SURVEY_PATH)] = (200, {"ok": True})
    return fake_desk


def test_nps_is_off_unless_the_setting_turns_it_on() -> None:
    assert survey.nps_enabled(yaml.safe_load((repo_root() / "settings.yml").read_text(encoding="utf-8"))) is False
    assert survey.nps_enabled({}) is False
    assert survey.nps_enabled({"survey": {"nps": True}}) is True
    for bad in ({"survey": {"nps": "yes"}}, {"survey": {"nps": 1}}, {"survey": ["nps"]}):
        with pytest.raises(SettingsError, match="survey"):
            survey.nps_enabled(bad)


@pytest.mark.parametrize("text", ["5", "5 非常满意", "5 ⭐ Great", " 5⭐"])
async def test_a_typed_rating_counts_and_nps_off_asks_for_a_comment(desk: FakeDesk, dispatcher, text: str) -> None:
    events = await ActionSurveyAnswer().run(dispatcher, tracker(text, {"survey_pending": True}), {})

    assert events == [SlotSet("survey_pending", False), SlotSet("survey_rating", "5")]
    assert said(dispatcher) == ["感谢您的评价！", "如果您愿意，可以直接留言告诉我们原因或建议（可选）；也可以继续向我提问。"]
    assert [r["json"] for r in desk.requests] == [{"rating": 5, "comment": None}]


@pytest.mark.parametrize("text", ["7", "five", "55", "5.5"])
async def test_a_typed_rating_out_of_range_asks_again(desk: FakeDesk, dispatcher, text: str) -> None:
    events = await ActionSurveyAnswer().run(dispatcher, tracker(text, {"survey_pending": True}), {})

    assert events == [] and said(dispatcher) == ["请选择 1 到 5 分进行评价。"] and desk.requests == []


async def test_with_nps_on_the_rating_is_followed_by_the_question(desk: FakeDesk, dispatcher, nps_on) -> None:
    latest = tracker('/survey_rating{"rating": 4}', {"survey_pending": True, "language": "en"}, "survey_rating",
                     [{"entity": "rating", "value": 4}])
    events = await ActionSurveyAnswer().run(dispatcher, latest, {})

    assert events == [SlotSet("survey_pending", False), SlotSet("survey_rating", "4"), SlotSet("nps_pending", True),
                      SlotSet("nps_misses", 0.0)]
    assert said(dispatcher) == [
        "Thank you for your rating!",
        "How likely are you to recommend us to a friend or colleague? Reply with a number from 0 to 10 "
        "(10 = extremely likely, 0 = not at all likely).",
    ]
    assert buttons(dispatcher) == [[], NPS_PAYLOADS]
    titles = [b["title"] for b in dispatcher.messages[1]["buttons"]]
    assert titles[0] == "10 Extremely likely" and titles[-1] == "0 Not at all likely"
    assert [survey.leading_number(t) for t in titles] == list(range(10, -1, -1))  # typed back as lines
    assert [r["json"] for r in desk.requests] == [{"rating": 4, "comment": None}]


@pytest.mark.parametrize("text, entities, score", [
    ('/survey_nps{"nps_score": 9}', [{"entity": "nps_score", "value": 9}], 9),
    ("0", [], 0), ("10 非常愿意", [], 10), ("8分吧", [], 8),
])
async def test_the_answer_is_stored_with_the_rating(desk: FakeDesk, dispatcher, nps_on, text, entities, score) -> None:
    slots = {"nps_pending": True, "nps_misses": 0.0, "survey_rating": "4"}
    events = await ActionNpsAnswer().run(dispatcher, tracker(text, slots, "survey_nps", entities), {})

    assert events == [SlotSet("nps_pending", False), SlotSet("nps_misses", None)]
    assert said(dispatcher) == ["感谢您的反馈！", "如果您愿意，可以直接留言告诉我们原因或建议（可选）；也可以继续向我提问。"]
    assert [r["json"] for r in desk.requests] == [{"rating": 4, "comment": None, "nps": score}]


@pytest.mark.parametrize("bad", ["11", "ten", "", "-1", '/survey_nps{"nps_score": 12}'])
async def test_a_bad_answer_is_asked_once_more_then_the_survey_ends_politely(desk: FakeDesk, bad: str) -> None:
    entities = [{"entity": "nps_score", "value": 12}] if bad.startswith("/") else []
    first = CollectingDispatcher()
    slots: Dict[str, Any] = {"nps_pending": True, "nps_misses": 0.0, "survey_rating": "4"}
    events = await ActionNpsAnswer().run(first, tracker(bad, slots, "nlu_fallback", entities), {})

    assert events == [SlotSet("nps_misses", 1.0)]
    assert said(first)[0] == "请回复 0 到 10 之间的一个数字（10 表示非常愿意推荐）。"
    assert buttons(first) == [[], NPS_PAYLOADS]

    second = CollectingDispatcher()
    slots["nps_misses"] = 1.0
    events = await ActionNpsAnswer().run(second, tracker(bad, slots, "nlu_fallback", entities), {})

    assert events == [SlotSet("nps_pending", False), SlotSet("nps_misses", None), SlotSet("survey_rating", None)]
    assert said(second) == ["没关系，感谢您参与评价！如果还有其他问题，随时可以问我。"]
    assert desk.requests == []  # nothing stored, nobody paged


async def test_an_answer_without_a_pending_question_is_ignored(desk: FakeDesk, dispatcher) -> None:
    latest = tracker('/survey_nps{"nps_score": 9}', {"nps_pending": None, "survey_rating": "4"}, "survey_nps",
                     [{"entity": "nps_score", "value": 9}])
    assert await ActionNpsAnswer().run(dispatcher, latest, {}) == []
    assert said(dispatcher) == [] and desk.requests == []


async def test_with_the_desk_down_the_answer_still_gets_thanks(dead_desk_url: str, dispatcher) -> None:
    slots = {"nps_pending": True, "survey_rating": "4"}
    events = await ActionNpsAnswer().run(dispatcher, tracker("9", slots), {})
    assert events == [SlotSet("nps_pending", False), SlotSet("nps_misses", None)]
    assert said(dispatcher)[0] == "感谢您的反馈！"


@pytest.mark.parametrize("text, number", [
    ("5", 5), ("5 非常满意", 5), ("5⭐", 5), ("10 – very likely", 10), ("11", 11), ("ten", None), ("", None),
    ("5.5", None), ("5th", None), ("8分", 8), (json.dumps("x"), None), ("3天前的订单还没到", None), ("5★", 5),
])
def test_leading_number(text: str, number: Optional[int]) -> None:
    assert survey.leading_number(text) == number


async def test_a_wrong_setting_leaves_the_question_off_and_the_rating_kept(
    desk: FakeDesk, dispatcher, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (repo_root() / "settings.yml").read_text(encoding="utf-8").replace("  nps: false\n", "  nps: sometimes\n")
    (tmp_path / "settings.yml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("FRONTLINE_SETTINGS", str(tmp_path / "settings.yml"))
    events = await ActionSurveyAnswer().run(dispatcher, tracker("3", {"survey_pending": True}), {})
    assert events == [SlotSet("survey_pending", False), SlotSet("survey_rating", "3")]
    assert [r["json"] for r in desk.requests] == [{"rating": 3, "comment": None}]
