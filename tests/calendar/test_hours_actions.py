"""`action_greet` and `action_service_hours` against the real domain, with the clock pinned by FRONTLINE_NOW."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, Optional

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.hours import ActionGreet, ActionServiceHours
from bot.settings import repo_root

SUNDAY_EVENING = "2025-11-30T20:00:00+08:00"
MONDAY_MORNING = "2025-12-01T10:00:00+08:00"
WEEKLY_ZH = "人工客服服务时间（北京时间）：周一至周五 09:00–12:00、13:30–18:00；周六、周日休息；法定节假日休息，调休上班日照常服务。"
WEEKLY_EN = (
    "Our agents are available Mon–Fri 09:00–12:00 and 13:30–18:00 (Beijing time); closed Sat and Sun and on public "
    "holidays, open on official make-up working days."
)


@pytest.fixture(scope="module")
def domain() -> Dict[str, Any]:
    from rasa.shared.core.domain import Domain

    return Domain.load(str(repo_root() / "domain.yml")).as_dict()


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def tracker(text: str, intent: str, language: Optional[str]) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.98}, "entities": []}
    return Tracker.from_dict(
        {
            "sender_id": "customer-1",
            "slots": {"language": language},
            "latest_message": latest,
            "events": [{"event": "user", "text": text, "parse_data": latest}],
            "latest_action_name": "action_listen",
        }
    )


def texts(dispatcher: CollectingDispatcher) -> list:
    return [message["text"] for message in dispatcher.messages]


Say = Callable[[Action, str, str, str, Optional[str]], Awaitable[List[str]]]


@pytest.fixture
def say(
    settings_file: object,
    pinned_now: Callable[[str], None],
    dispatcher: CollectingDispatcher,
    domain: Dict[str, Any],
) -> Say:
    """Run an action at a pinned time on one user message; return what it said (it must set nothing)."""

    async def run(action: Action, now: str, text: str, intent: str, language: Optional[str]) -> List[str]:
        pinned_now(now)
        said = len(dispatcher.messages)
        events = await action.run(dispatcher, tracker(text, intent, language), domain)
        assert events == []
        return texts(dispatcher)[said:]

    return run


def test_actions_are_in_the_domain(domain: Dict[str, Any]) -> None:
    assert {"action_greet", "action_service_hours"} <= set(domain["actions"])
    assert "language" in domain["slots"]


@pytest.mark.parametrize(
    ("now", "text", "language", "expected"),
    [
        (
            SUNDAY_EVENING,
            "你好",
            "zh",
            "您好！我是智能客服，有什么可以帮您？现在人工客服已下班，将于 12月1日（周一）09:00 起回复；常见问题我现在就可以为您解答。",
        ),
        (
            SUNDAY_EVENING,
            "hello there",
            "en",
            "Hi! I'm the virtual assistant. How can I help you? Our agents are offline now and will be back from "
            "Mon 1 Dec, 09:00; I can still answer common questions now.",
        ),
        (
            SUNDAY_EVENING,
            "你們好",
            "zh_hant",
            # Taiwan standard (settings.yml: i18n.traditional): 智能 -> 智慧, 爲 -> 為.
            "您好！我是智慧客服，有什麼可以幫您？現在人工客服已下班，將於 12月1日（週一）09:00 起回覆；常見問題我現在就可以為您解答。",
        ),
        (MONDAY_MORNING, "你好", "zh", "您好！我是智能客服，有什么可以帮您？"),
        (MONDAY_MORNING, "hi", "en", "Hi! I'm the virtual assistant. How can I help you?"),
        # No language slot yet: detected from the message.
        (MONDAY_MORNING, "good morning", None, "Hi! I'm the virtual assistant. How can I help you?"),
    ],
)
async def test_action_greet(say: Say, now: str, text: str, language: Optional[str], expected: str) -> None:
    assert await say(ActionGreet(), now, text, "greet", language) == [expected]


@pytest.mark.parametrize(
    ("now", "text", "language", "expected"),
    [
        (
            SUNDAY_EVENING,
            "你们几点上班",
            "zh",
            WEEKLY_ZH
            + "现在人工客服已下班，将于 12月1日（周一）09:00 起回复；常见问题我现在就可以为您解答。",
        ),
        (
            SUNDAY_EVENING,
            "what are your hours",
            "en",
            WEEKLY_EN
            + " We are closed now; agents will reply from Mon 1 Dec, 09:00. I can still answer common questions now.",
        ),
        (MONDAY_MORNING, "几点上班", "zh", WEEKLY_ZH + "现在是服务时间，人工客服在线。"),
        (MONDAY_MORNING, "when are you open?", None, WEEKLY_EN + " We are open now."),
        (
            "2025-09-25T10:15:00+08:00",
            "你們幾點上班",
            "zh_hant",
            "人工客服服務時間（北京時間）：週一至週五 09:00–12:00、13:30–18:00；週六、週日休息；法定節假日休息，調休上班日照常服務。"
            "國慶假期 10月1日–8日休息，10月9日恢復。現在是服務時間，人工客服在線。",
        ),
    ],
)
async def test_action_service_hours(say: Say, now: str, text: str, language: Optional[str], expected: str) -> None:
    assert await say(ActionServiceHours(), now, text, "faq_service_hours", language) == [expected]


@pytest.mark.parametrize(
    ("now", "language", "title"),
    [
        (SUNDAY_EVENING, "zh", "紧急情况请点击此处"),
        (MONDAY_MORNING, "zh", "紧急情况请点击此处"),
        (SUNDAY_EVENING, "en", "Emergency? Tap here"),
        # Taiwan standard (settings.yml: i18n.traditional): 点击 -> 點選.
        (MONDAY_MORNING, "zh_hant", "緊急情況請點選此處"),
    ],
)
async def test_greeting_carries_the_emergency_button(
    settings_file: object, pinned_now: Callable[[str], None], dispatcher: CollectingDispatcher,
    domain: Dict[str, Any], now: str, language: str, title: str,
) -> None:
    """The visible emergency mark: one quick reply under the greeting, at any hour, leading to the 24/7 lane."""
    pinned_now(now)
    await ActionGreet().run(dispatcher, tracker("你好", "greet", language), domain)
    [message] = dispatcher.messages
    assert message["buttons"] == [{"title": title, "payload": "/faq_emergency"}]
    # the payload is an intent of the domain that the emergency lane answers
    assert "faq_emergency" in domain["intents"] and "utter_faq_emergency" in domain["responses"]


async def test_service_hours_answer_has_no_button(
    settings_file: object, pinned_now: Callable[[str], None], dispatcher: CollectingDispatcher, domain: Dict[str, Any]
) -> None:
    pinned_now(MONDAY_MORNING)
    await ActionServiceHours().run(dispatcher, tracker("几点上班", "faq_service_hours", "zh"), domain)
    assert [message["buttons"] for message in dispatcher.messages] == [[]]


async def test_greeting_without_a_valid_entry_goes_out_without_the_button(
    settings_file: object, pinned_now: Callable[[str], None], dispatcher: CollectingDispatcher,
    domain: Dict[str, Any], caplog: Any,
) -> None:
    """A payload that is no emergency intent would send customers nowhere: no button, an error in the log."""
    import pathlib

    import yaml

    from calendar_helpers import BASE_SETTINGS

    broken = {**BASE_SETTINGS, "emergency": {**BASE_SETTINGS["emergency"], "entry_payload": "/faq_refund_status"}}
    pathlib.Path(str(settings_file)).write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    pinned_now(MONDAY_MORNING)
    await ActionGreet().run(dispatcher, tracker("hi", "greet", "en"), domain)
    assert [(m["text"], m["buttons"]) for m in dispatcher.messages] == [
        ("Hi! I'm the virtual assistant. How can I help you?", [])
    ]
    assert any("emergency.entry_payload" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")


async def test_broken_settings_still_get_a_reply(settings_file: object, say: Say) -> None:
    import pathlib

    pathlib.Path(str(settings_file)).write_text(
        "version: 1\ncalendar:\n  timezone: Mars/Olympus\n", encoding="utf-8"
    )
    assert await say(ActionGreet(), SUNDAY_EVENING, "hello", "greet", "en") == [
        "Hi! I'm the virtual assistant. How can I help you?"
    ]
    assert await say(ActionServiceHours(), SUNDAY_EVENING, "hours?", "faq_service_hours", "en") == [
        "Sorry, I cannot look up our opening hours right now. Please try again later."
    ]
