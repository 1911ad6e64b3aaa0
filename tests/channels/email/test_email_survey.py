"""The survey on e-mail, without servers: its buttons become lines that carry their own numbers, a survey answer is
mailed the survey's replies (never a ticket), and while the survey waits the mail's body alone is the answer."""

from __future__ import annotations

from typing import Any, Dict, Optional

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import texts
from bot.channels.email_settings import EmailSettings
from bot.channels.email_turns import Plan, TurnFacts, answer_text, decide, survey_waiting, turn_facts
from bot.channels.numbered import button_lines, fold_buttons, self_numbered
from bot.settings import repo_root
from bot.survey import leading_number

DOMAIN = Domain.load(str(repo_root() / "domain.yml"))
SETTINGS = EmailSettings(address="help@example.com", imap=None, listen=None, smtp=None)
SURVEY = [{"title": t, "payload": '/survey_rating{"rating": %d}' % n} for n, t in texts.survey_buttons("zh")]
NPS = [{"title": t, "payload": '/survey_nps{"nps_score": %d}' % n} for n, t in texts.nps_buttons("en")]


def facts(**changes: Any) -> TurnFacts:
    values: Dict[str, Any] = dict(intent="nlu_fallback", confidence=0.2, handed_off=False, paused=False, answers=["x"],
                                  ticket=None)
    values.update(changes)
    return TurnFacts(**values)


def test_survey_lines_carry_their_own_numbers_and_other_buttons_an_index() -> None:
    assert button_lines(SURVEY) == ["5 ⭐ 非常满意", "4 ⭐ 满意", "3 ⭐ 一般", "2 ⭐ 不满意", "1 ⭐ 非常不满意"]
    # what the customer types back from any line is that line's score
    assert [leading_number(line) for line in button_lines(NPS)] == list(range(10, -1, -1))
    menu = [{"title": "查询订单", "payload": "/faq_order_status"}, {"title": "转人工", "payload": "/request_human"}]
    assert button_lines(menu) == ["1. 查询订单", "2. 转人工"]
    # two titles with the same number, or one without: indexed, so a number still means one thing
    assert not self_numbered([{"title": "1 a"}, {"title": "1 b"}]) and not self_numbered([{"title": "5 a"}, {"title": "b"}])
    assert not self_numbered([])
    assert fold_buttons("请打分", SURVEY).splitlines()[1] == "5 ⭐ 非常满意"


def test_a_survey_answer_gets_the_surveys_replies_never_a_ticket() -> None:
    assert decide(facts(survey=True), urgent=False, settings=SETTINGS) == Plan("survey")
    assert decide(facts(survey=True), urgent=True, settings=SETTINGS) == Plan("survey")
    assert decide(facts(), urgent=False, settings=SETTINGS) == Plan("handoff", "email")  # without it: a ticket
    assert decide(facts(survey=True, paused=True), urgent=False, settings=SETTINGS) == Plan("nothing")


def tracker_with(*events: Any) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("email:t1", list(events), DOMAIN.slots)


@pytest.mark.parametrize("action, survey", [
    ("action_survey_answer", True), ("action_nps_answer", True), ("action_survey_comment", True),
    ("action_default_fallback", False),
])
def test_turn_facts_see_a_survey_action_of_this_turn(action: str, survey: bool) -> None:
    tracker = tracker_with(ActionExecuted("action_listen"), UserUttered("5", {"name": "nlu_fallback"}),
                           ActionExecuted(action))
    assert turn_facts(tracker, False).survey is survey
    earlier = tracker_with(ActionExecuted(action), ActionExecuted("action_listen"),
                           UserUttered("你好", {"name": "greet"}), ActionExecuted("action_greet"))
    assert turn_facts(earlier, False).survey is False  # a survey action of an earlier turn does not count


@pytest.mark.parametrize("slot, waiting", [("survey_pending", True), ("nps_pending", True), ("ticket_id", False)])
def test_the_body_alone_is_the_answer_while_the_survey_waits(slot: str, waiting: bool) -> None:
    assert survey_waiting(tracker_with(SlotSet(slot, True if slot != "ticket_id" else "T-1"))) is waiting
    assert survey_waiting(None) is False


@pytest.mark.parametrize("message, mailed", [
    ({"text": "谢谢"}, "谢谢"),
    ({"text": "How likely…?", "buttons": NPS[:2]}, "How likely…?\n10 Extremely likely\n9"),
])
def test_answers_are_mailed_with_their_buttons_as_lines(message: Dict[str, Any], mailed: Optional[str]) -> None:
    assert answer_text(message) == mailed
