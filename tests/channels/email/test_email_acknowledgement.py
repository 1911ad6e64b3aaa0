"""The acknowledgement without servers: a handoff's reason and grade, and what the assistant said before it, are
read from the turn; the per-day limits count the calendar's day (Beijing), not UTC's. The wording and promised
times with the real NLU are in `test_email_acknowledgement_stack.py`."""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.email_settings import EmailSettings
from bot.channels.email_threads import ThreadStore
from bot.channels.email_turns import Plan, TurnFacts, auto_reply_day, decide, turn_facts
from bot.settings import repo_root

DOMAIN = Domain.load(str(repo_root() / "domain.yml"))
SETTINGS = EmailSettings(address="help@example.com", imap=None, listen=None, smtp=None)
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def tracker_with(*events) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("email:t1", list(events), DOMAIN.slots)


def test_a_handed_over_mail_is_acknowledged_with_the_handoffs_reason() -> None:
    facts = TurnFacts(intent="faq_lost_card", confidence=0.99, handed_off=True, paused=False, answers=["x"],
                      ticket="T-000001", reason="emergency", grade="A")
    assert decide(facts, urgent=False, settings=SETTINGS) == Plan("acknowledge", "emergency")


def test_turn_facts_read_the_handoffs_reason_grade_topic_and_what_was_said_before_it() -> None:
    lost = {"name": "faq_lost_card", "confidence": 0.98}
    tracker = tracker_with(
        ActionExecuted("action_listen"), UserUttered("我的卡丢了", lost, parse_data={"intent": lost, "text": "我的卡丢了"}),
        ActionExecuted("utter_faq_lost_card"), BotUttered("请马上挂失", {"buttons": [{"title": "转人工"}]}),
        SlotSet("handoff_reason", "emergency"), SlotSet("handoff_grade", "A"),
        ActionExecuted("action_handoff"), BotUttered("您的情况很紧急"), BotUttered("您前面还有 1 位"),
        SlotSet("ticket_id", "T-000002"),
    )
    facts = turn_facts(tracker, paused_before=False)
    assert facts.handed_off and (facts.reason, facts.grade, facts.topic) == ("emergency", "A", "faq_lost_card")
    assert facts.said_first == ["请马上挂失\n1. 转人工"]  # the handoff's own lines (queue place) are not mailed
    assert facts.ticket == "T-000002"


def test_without_a_handoff_in_the_turn_an_earlier_reason_is_not_taken() -> None:
    tracker = tracker_with(
        SlotSet("handoff_reason", "anger"), ActionExecuted("action_handoff"), ActionExecuted("action_listen"),
        UserUttered("谢谢", {"name": "thank", "confidence": 0.9}), ActionExecuted("utter_thank"), BotUttered("不客气"),
    )
    facts = turn_facts(tracker, paused_before=False)
    assert not facts.handed_off and (facts.reason, facts.grade, facts.said_first) == (None, None, [])


@pytest.mark.parametrize("utc, day", [
    ("2025-12-01T15:30:00+00:00", "2025-12-01"),  # 23:30 in Shanghai
    ("2025-12-01T16:30:00+00:00", "2025-12-02"),  # 00:30 in Shanghai: the next day there, the same day in UTC
])
def test_the_day_of_the_limits_is_the_calendars(utc: str, day: str) -> None:
    at = dt.datetime.fromisoformat(utc)
    assert auto_reply_day(at) == day
    assert auto_reply_day(at.astimezone(SHANGHAI)) == day  # whatever zone the clock gives


def test_a_mail_after_midnight_in_shanghai_is_acknowledged_again(tmp_path: pathlib.Path) -> None:
    store = ThreadStore(tmp_path)
    before = dt.datetime(2025, 12, 1, 23, 30, tzinfo=SHANGHAI).astimezone(dt.timezone.utc)
    assert store.take_auto_reply("t1", auto_reply_day(before), "ack", 1)
    assert not store.take_auto_reply("t1", auto_reply_day(before + dt.timedelta(minutes=20)), "ack", 1)
    after = before + dt.timedelta(hours=1)  # 00:30 in Shanghai, 16:30 UTC on the same UTC date
    assert after.date() == before.date()
    assert store.take_auto_reply("t1", auto_reply_day(after), "ack", 1)
    assert not store.take_auto_reply("t1", auto_reply_day(after + dt.timedelta(hours=6)), "ack", 1)
