"""A ticket's first-response due time is its channel's budget, or its grade's resolution budget when that is
shorter: a grade-A mail is due within the hour its acknowledgement promised, not e-mail's 7.5 business hours."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict

import pytest

from bot.channels.email_turns import expected_reply_time
from bot.desk import config
from bot.desk.sla import due_times
from conftest import PlainCalendar

START = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("channel, grade, seconds", [
    ("email", "A", 3600), ("email", "B", 4 * 3600), ("email", "C", 27000),
    ("socketio", "A", 120), ("wechat_kf", "C", 180),
])
def test_first_response_is_due_within_the_channels_budget_or_the_grades_when_shorter(
    settings: Dict[str, Any], channel: str, grade: str, seconds: int
) -> None:
    due = due_times(PlainCalendar(), config.load(settings), channel, grade, None, START)
    assert due.due_first_response == START.timestamp() + seconds
    assert due.due_resolution == START.timestamp() + config.load(settings).grade_hours[grade] * 3600


def test_the_desk_holds_the_agent_to_what_the_mail_acknowledgement_promised(settings: Dict[str, Any]) -> None:
    # the same budget, counted on the same (main) hours: a Monday 10:00 in Shanghai is inside them
    monday = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    from bot.calendar import get_calendar

    for grade in ("A", "B", "C"):
        promised = expected_reply_time(monday, grade, emergency=False, settings=settings)
        due = due_times(get_calendar(), config.load(settings), "email", grade, None, monday)
        assert due.due_first_response == promised.timestamp(), grade
