"""Table tests on real dates: China holidays and make-up days, lunch break, split shift, zones, years without data."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Callable

import pytest

from bot.calendar import BusinessCalendar, get_calendar, reset_calendar

from calendar_helpers import SHANGHAI, at, settings_with

H = dt.timedelta(hours=1)


# --- National Day 2025: Oct 1-8 off (Oct 6 is Mid-Autumn), Sun Sep 28 and Sat Oct 11 are make-up workdays ---


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2025-09-28 10:00", True),  # Sunday, make-up working day
        ("2025-09-30 17:59", True),
        ("2025-09-30 18:00", False),
        ("2025-10-01 10:00", False),
        ("2025-10-06 10:00", False),  # Mid-Autumn inside the National Day break
        ("2025-10-08 10:00", False),
        ("2025-10-09 09:00", True),
        ("2025-10-11 10:00", True),  # Saturday, make-up working day
        ("2025-10-12 10:00", False),  # ordinary Sunday
        ("2025-10-13 12:30", False),  # lunch break
        ("2025-10-13 13:30", True),
    ],
)
def test_is_open_around_national_day_2025(calendar: BusinessCalendar, moment: str, expected: bool) -> None:
    assert calendar.is_open(at(moment)) is expected


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        ("2025-09-30 17:00", 4, "2025-10-09 12:00"),  # the example: 1 h before, 3 h after the break
        ("2025-09-26 17:00", 4, "2025-09-28 12:00"),  # Friday -> the make-up Sunday
        ("2025-10-10 17:00", 4, "2025-10-11 12:00"),  # Friday -> the make-up Saturday
        ("2025-10-03 20:15", 1, "2025-10-09 10:00"),  # opened during the holiday: counting starts Oct 9 09:00
        ("2026-04-03 17:00", 4, "2026-04-07 12:00"),  # Friday before Qingming (Apr 4-6, 2026)
        ("2026-04-30 17:00", 4, "2026-05-06 12:00"),  # Labour Day 2026 (May 1-5)
        ("2026-02-13 17:00", 4, "2026-02-14 12:00"),  # Friday -> make-up Saturday before Spring Festival
        ("2026-02-14 17:00", 4, "2026-02-24 12:00"),  # across Spring Festival 2026 (Feb 15-23)
        ("2026-02-27 17:00", 4, "2026-02-28 12:00"),  # Friday -> make-up Saturday after it
        ("2025-12-31 17:00", 4, "2026-01-04 12:00"),  # New Year 2026 (Jan 1-3), make-up Sunday Jan 4
    ],
)
def test_due_times_across_holidays(calendar: BusinessCalendar, start: str, hours: float, due: str) -> None:
    result = calendar.add_business_time(at(start), dt.timedelta(hours=hours))
    assert result == at(due)
    assert result.utcoffset() == dt.timedelta(hours=8)  # returned in the calendar's zone
    assert calendar.business_seconds_between(at(start), result) == hours * 3600


def test_spring_festival_2026_days_and_make_up_weekend_days(calendar: BusinessCalendar) -> None:
    for day in range(15, 24):
        assert not calendar.is_working_day(dt.date(2026, 2, day))
        assert calendar.holiday_name(dt.date(2026, 2, day)) == "春节"
    assert calendar.is_working_day(dt.date(2026, 2, 14))  # Saturday
    assert calendar.is_working_day(dt.date(2026, 2, 28))  # Saturday
    assert calendar.day_hours(dt.date(2026, 2, 14)) == ((540, 720), (810, 1080))  # a normal working day
    assert not calendar.is_working_day(dt.date(2026, 2, 7))  # an ordinary Saturday


@pytest.mark.parametrize(
    ("day", "first", "last", "resume", "names"),
    [
        (dt.date(2026, 2, 17), dt.date(2026, 2, 15), dt.date(2026, 2, 23), dt.date(2026, 2, 24),
         ("春节", "春節", "Spring Festival")),
        # Oct 6 is Mid-Autumn inside the break: the period takes the name most of its days carry.
        (dt.date(2025, 10, 6), dt.date(2025, 10, 1), dt.date(2025, 10, 8), dt.date(2025, 10, 9),
         ("国庆节", "國慶節", "National Day")),
    ],
)
def test_holiday_period_around_a_day(
    calendar: BusinessCalendar, day: dt.date, first: dt.date, last: dt.date, resume: dt.date, names: tuple
) -> None:
    period = calendar.holiday_period(day)
    assert period is not None
    assert (period.first, period.last, period.resume) == (first, last, resume)
    assert (period.name("zh"), period.name("zh_hant"), period.name("en")) == names


def test_national_day_2025_names_and_neighbours(calendar: BusinessCalendar) -> None:
    assert calendar.holiday_name(dt.date(2025, 10, 6), "en") == "Mid-Autumn Festival"
    assert calendar.holiday_name(dt.date(2025, 10, 2), "zh_hant") == "國慶節"
    assert calendar.holiday_name(dt.date(2025, 9, 28)) is None  # a make-up workday is no holiday
    assert calendar.holiday_name(dt.date(2025, 10, 12)) is None  # an ordinary Sunday
    assert calendar.holiday_period(dt.date(2025, 10, 9)) is None
    assert [
        p.first for p in calendar.holiday_periods_between(dt.date(2025, 9, 20), dt.date(2025, 10, 20))
    ] == [dt.date(2025, 10, 1)]


def test_lunch_break(calendar: BusinessCalendar) -> None:
    assert calendar.add_business_time(at("2025-12-01 11:00"), 2 * H) == at("2025-12-01 14:30")
    assert calendar.add_business_time(at("2025-12-01 09:00"), 3 * H) == at(
        "2025-12-01 12:00"
    )  # ends at the break
    assert calendar.add_business_time(at("2025-12-01 12:00"), dt.timedelta(0)) == at("2025-12-01 12:00")
    assert calendar.add_business_time(at("2025-12-01 12:10"), dt.timedelta(0)) == at("2025-12-01 13:30")
    assert calendar.add_business_time(at("2025-12-01 12:10"), 1 * H) == at("2025-12-01 14:30")
    assert calendar.next_opening(at("2025-12-01 12:30")) == (at("2025-12-01 13:30"), at("2025-12-01 18:00"))
    assert calendar.next_opening(at("2025-12-01 10:00")) == (at("2025-12-01 09:00"), at("2025-12-01 12:00"))
    assert calendar.reply_from(at("2025-12-01 10:00")) == at("2025-12-01 10:00")
    assert calendar.reply_from(at("2025-12-01 12:30")) == at("2025-12-01 13:30")
    assert calendar.business_seconds_between(at("2025-12-01 11:00"), at("2025-12-01 14:00")) == 1.5 * 3600
    assert calendar.business_seconds_between(at("2025-12-01 14:00"), at("2025-12-01 11:00")) == -1.5 * 3600
    # A full week: 5 days x 7.5 h.
    assert calendar.business_seconds_between(at("2025-12-01 00:00"), at("2025-12-08 00:00")) == 5 * 7.5 * 3600


def test_split_shift_across_midnight(calendar: BusinessCalendar) -> None:
    team = "night"
    assert calendar.is_open(at("2025-12-03 01:59"), team)
    assert not calendar.is_open(at("2025-12-03 02:00"), team)
    assert not calendar.is_open(at("2025-12-03 12:00"), team)
    assert calendar.add_business_time(at("2025-12-03 23:00"), 2 * H, team) == at("2025-12-04 01:00")
    assert calendar.add_business_time(at("2025-12-03 09:00"), 3 * H, team) == at("2025-12-03 18:00")
    assert calendar.add_business_time(at("2025-12-03 19:00"), 2 * H, team) == at("2025-12-03 23:00")
    assert calendar.next_opening(at("2025-12-03 11:00"), team) == (
        at("2025-12-03 16:00"),
        at("2025-12-03 20:00"),
    )
    assert calendar.business_seconds_between(at("2025-12-03 22:00"), at("2025-12-04 02:00"), team) == 4 * 3600
    # Teams inherit use_china_holidays: the night team is closed on National Day too.
    assert not calendar.is_open(at("2025-10-03 07:00"), team)


def test_emergency_team_is_always_open(calendar: BusinessCalendar) -> None:
    for moment in ("2025-10-01 03:00", "2026-02-17 23:59", "2031-01-01 00:00"):
        assert calendar.is_open(at(moment), "emergency")
        assert calendar.reply_from(at(moment), "emergency") == at(moment)
    assert calendar.add_business_time(at("2025-10-01 03:00"), 30 * H, "emergency") == at("2025-10-02 09:00")
    assert calendar.next_opening(at("2025-10-01 03:00"), "emergency") == (
        at("2025-10-01 00:00"),
        at("2025-10-02 00:00"),
    )
    # A team that is not listed follows the main hours.
    assert not calendar.is_open(at("2025-10-01 10:00"), "orders")


def test_fixed_offset_zone_without_dst(make_calendar: Callable[..., BusinessCalendar]) -> None:
    calendar = make_calendar(
        timezone="+05:30",
        use_china_holidays=False,
        hours={day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    )
    zone = dt.timezone(dt.timedelta(hours=5, minutes=30))
    for month in (1, 7):  # winter and summer: the same offset
        start = dt.datetime(2025, month, 7, 16, 0, tzinfo=zone)  # a Tuesday in January and in July
        due = calendar.add_business_time(start, 2 * H)
        assert due == dt.datetime(2025, month, 8, 10, 0, tzinfo=zone)  # 1 h today, 1 h from 09:00 next day
        assert due.utcoffset() == dt.timedelta(hours=5, minutes=30)
    # The same instant given in UTC gets the same answer.
    assert calendar.is_open(dt.datetime(2025, 1, 6, 3, 30, tzinfo=dt.timezone.utc))  # 09:00 +05:30
    assert not calendar.is_open(dt.datetime(2025, 1, 6, 3, 29, tzinfo=dt.timezone.utc))
    # China holidays are off for this calendar: Oct 1 2025 is an ordinary Wednesday.
    assert calendar.is_open(dt.datetime(2025, 10, 1, 10, 0, tzinfo=zone))
    assert calendar.holiday_name(dt.date(2025, 10, 1)) is None


def test_dst_zone_counts_real_elapsed_time(calendar: BusinessCalendar) -> None:
    berlin = calendar.schedule("berlin").timezone
    # Sunday 2025-03-30: clocks jump 02:00 -> 03:00, so "01:00-04:00" lasts two real hours.
    sunday = dt.datetime(2025, 3, 30, 0, 0, tzinfo=berlin)
    assert calendar.business_seconds_between(sunday, sunday + dt.timedelta(days=1), "berlin") == 2 * 3600
    # Sunday 2025-10-26: clocks fall back 03:00 -> 02:00, so the same period lasts four real hours.
    autumn = dt.datetime(2025, 10, 26, 0, 0, tzinfo=berlin)
    assert calendar.business_seconds_between(autumn, autumn + dt.timedelta(days=1), "berlin") == 4 * 3600


def test_year_without_holiday_data_falls_back_and_warns_once(
    pinned_now: Callable[[str], None], caplog: pytest.LogCaptureFixture
) -> None:
    from bot.calendar.holidays import ChinaHolidays

    # chinesecalendar 1.11.0 covers 2004-2026; 2031 and 2032 have no data.
    assert not ChinaHolidays().covered(2031) and not ChinaHolidays().covered(2032)
    assert ChinaHolidays().covered(2025) and ChinaHolidays().covered(2026)
    pinned_now("2031-06-01T12:00:00+08:00")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.calendar"):
        calendar = BusinessCalendar.from_settings(
            settings_with(extra_closed=["2031-10-02"], extra_open=["2031-10-04"])
        )
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2031, 2032" in warnings[0].getMessage()
    # Weekends and the settings' extra days, never a crash.
    assert calendar.is_open(at("2031-10-01 10:00"))  # a Wednesday: no National Day data
    assert not calendar.is_open(at("2031-10-02 10:00"))  # extra_closed
    assert calendar.is_open(at("2031-10-04 10:00"))  # extra_open Saturday: workday hours
    assert not calendar.is_open(at("2031-10-05 10:00"))  # Sunday
    assert calendar.holiday_name(dt.date(2031, 10, 1)) is None
    assert calendar.holiday_period(dt.date(2031, 10, 1)) is None
    assert calendar.add_business_time(at("2031-10-01 17:00"), 4 * H) == at("2031-10-03 12:00")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.calendar"):
        calendar.is_open(at("2031-12-01 10:00"))  # already warned about: no second warning
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_covered_years_do_not_warn(
    pinned_now: Callable[[str], None],
    make_calendar: Callable[..., BusinessCalendar],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.calendar"):
        make_calendar()  # pinned to 2025: 2025 and 2026 are covered
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize(
    ("now", "is_open", "opening"),
    [
        ("2025-11-30T20:00:00+08:00", False, "2025-12-01 09:00"),  # Sunday evening
        ("2025-12-01T10:00:00+08:00", True, "2025-12-01 09:00"),  # Monday morning
        ("2025-12-01T02:00:00Z", True, "2025-12-01 09:00"),  # 10:00 in Shanghai, given in UTC
        ("2025-10-03T20:15:00+08:00", False, "2025-10-09 09:00"),
    ],
)
def test_frontline_now_is_honoured(
    settings_file: object, pinned_now: Callable[[str], None], now: str, is_open: bool, opening: str
) -> None:
    pinned_now(now)
    calendar = get_calendar()
    assert calendar is get_calendar()  # cached
    assert calendar.is_open() is is_open
    assert calendar.next_opening()[0] == at(opening)
    reset_calendar()
    assert get_calendar() is not calendar


def test_naive_datetimes_and_negative_durations_are_errors(calendar: BusinessCalendar) -> None:
    naive = dt.datetime(2025, 12, 1, 10, 0)
    with pytest.raises(ValueError, match="naive"):
        calendar.is_open(naive)
    with pytest.raises(ValueError, match="naive"):
        calendar.next_opening(naive)
    with pytest.raises(ValueError, match="naive"):
        calendar.add_business_time(naive, H)
    with pytest.raises(ValueError, match="naive"):
        calendar.business_seconds_between(at("2025-12-01 10:00"), naive)
    with pytest.raises(ValueError, match="negative"):
        calendar.add_business_time(at("2025-12-01 10:00"), -H)


def test_settings_file_change_rebuilds_the_calendar(
    settings_file: object, pinned_now: Callable[[str], None]
) -> None:
    import os
    import pathlib

    import yaml

    path = pathlib.Path(str(settings_file))
    pinned_now("2025-12-01T10:00:00+08:00")
    assert get_calendar().is_open()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["calendar"]["extra_closed"] = ["2025-12-01"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    assert not get_calendar().is_open()


def test_shanghai_has_no_dst(calendar: BusinessCalendar) -> None:
    offsets = {dt.datetime(2025, month, 1, 12, tzinfo=SHANGHAI).utcoffset() for month in range(1, 13)}
    assert offsets == {dt.timedelta(hours=8)}


def test_day_kind_names_holidays_make_up_days_and_extra_dates(make_calendar: Callable[..., BusinessCalendar]) -> None:
    """What the staffing rota picks its row by: the same decision as the opening hours."""
    calendar = make_calendar(extra_closed=["2025-12-24"], extra_open=["2025-12-27"])
    assert calendar.day_kind(dt.date(2025, 10, 1)) == "holiday"  # National Day
    assert calendar.day_kind(dt.date(2025, 9, 28)) == "workday"  # its make-up Sunday
    assert calendar.day_kind(dt.date(2025, 10, 11)) == "workday"  # and its make-up Saturday
    assert calendar.day_kind(dt.date(2025, 10, 9)) is None  # an ordinary Thursday
    assert calendar.day_kind(dt.date(2025, 10, 12)) is None  # an ordinary Sunday: its weekday decides
    assert calendar.day_kind(dt.date(2025, 12, 24)) == "holiday"  # extra_closed
    assert calendar.day_kind(dt.date(2025, 12, 27)) == "workday"  # extra_open (a Saturday)
    assert calendar.day_kind(dt.date(2025, 10, 1), team="emergency") is None  # always open: no holidays
    for day, kind in [(dt.date(2025, 10, 1), "holiday"), (dt.date(2025, 9, 28), "workday"), (dt.date(2025, 10, 9), None)]:
        assert calendar.is_working_day(day) == (kind != "holiday")
    no_holidays = make_calendar(use_china_holidays=False)
    assert no_holidays.day_kind(dt.date(2025, 10, 1)) is None and no_holidays.is_working_day(dt.date(2025, 10, 1))
