"""Property tests for the business-time arithmetic, over the main hours, a split shift, 24/7 and a DST zone."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.calendar import BusinessCalendar

from calendar_helpers import SHANGHAI

TEAMS = st.sampled_from([None, "night", "emergency", "berlin"])
# 2024-2027: holiday years, make-up days, and 2027 which chinesecalendar 1.11.0 does not cover.
MOMENTS = st.datetimes(
    min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=st.just(SHANGHAI)
)
# Up to two business weeks, to the microsecond.
DURATIONS = st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(hours=80))
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)

TICK = dt.timedelta(microseconds=1)
UTC = dt.timezone.utc


def utc(moment: dt.datetime) -> dt.datetime:
    """Arithmetic on datetimes sharing a DST zone is wall-clock arithmetic: do it in UTC."""
    return moment.astimezone(UTC)


def inside_or_at_end(calendar: BusinessCalendar, moment: dt.datetime, team: str | None) -> bool:
    """True when `moment` is in an opening period or is exactly a period's end."""
    return calendar.is_open(moment, team) or calendar.is_open(utc(moment) - TICK, team)


@PROPERTY_SETTINGS
@given(start=MOMENTS, duration=DURATIONS, team=TEAMS)
def test_due_time_never_before_start_and_inside_opening(
    calendar: BusinessCalendar, start: dt.datetime, duration: dt.timedelta, team: str | None
) -> None:
    due = calendar.add_business_time(start, duration, team)
    assert due >= start
    assert utc(due) - utc(start) >= duration  # business time never runs faster than the clock
    assert inside_or_at_end(calendar, due, team)
    if duration > dt.timedelta(0):
        assert calendar.is_open(utc(due) - TICK, team)  # the last counted instant was open


@PROPERTY_SETTINGS
@given(start=MOMENTS, a=DURATIONS, b=DURATIONS, team=TEAMS)
def test_due_time_grows_with_the_duration(
    calendar: BusinessCalendar, start: dt.datetime, a: dt.timedelta, b: dt.timedelta, team: str | None
) -> None:
    short, long = sorted((a, b))
    assert calendar.add_business_time(start, short, team) <= calendar.add_business_time(start, long, team)
    if short < long:
        assert calendar.add_business_time(start, short, team) < calendar.add_business_time(start, long, team)


@PROPERTY_SETTINGS
@given(start=MOMENTS, a=DURATIONS, b=DURATIONS, team=TEAMS)
def test_adding_twice_equals_adding_the_sum(
    calendar: BusinessCalendar, start: dt.datetime, a: dt.timedelta, b: dt.timedelta, team: str | None
) -> None:
    step = calendar.add_business_time(calendar.add_business_time(start, a, team), b, team)
    assert step == calendar.add_business_time(start, a + b, team)


@PROPERTY_SETTINGS
@given(start=MOMENTS, duration=DURATIONS, team=TEAMS)
def test_seconds_between_inverts_add(
    calendar: BusinessCalendar, start: dt.datetime, duration: dt.timedelta, team: str | None
) -> None:
    due = calendar.add_business_time(start, duration, team)
    assert calendar.business_seconds_between(start, due, team) == duration.total_seconds()
    assert calendar.business_seconds_between(due, start, team) == -duration.total_seconds()


@PROPERTY_SETTINGS
@given(moment=MOMENTS, team=TEAMS)
def test_next_opening_agrees_with_is_open(
    calendar: BusinessCalendar, moment: dt.datetime, team: str | None
) -> None:
    start, end = calendar.next_opening(moment, team)
    assert start < end
    assert calendar.is_open(start, team)
    if calendar.is_open(moment, team):
        assert start <= moment < end
    else:
        assert moment < start
        assert calendar.business_seconds_between(moment, start, team) == 0
        assert calendar.add_business_time(moment, dt.timedelta(0), team) == start
    assert calendar.is_open(utc(end) - TICK, team)
    assert calendar.business_seconds_between(start, end, team) == (utc(end) - utc(start)).total_seconds()
