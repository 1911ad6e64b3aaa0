"""Validation of the `calendar:` section: every mistake is a SettingsError naming the key."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict

import pytest

from bot.calendar import BusinessCalendar, parse_calendar_settings
from bot.settings import SettingsError, load_settings, repo_root

from calendar_helpers import BASE_SETTINGS, settings_with

WEEK = BASE_SETTINGS["calendar"]["hours"]


def hours(**days: Any) -> Dict[str, Any]:
    return {**WEEK, **days}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "calendar.timezone: unknown time zone 'Mars/Olympus_Mons'"),
        ({"timezone": "+15:00"}, "calendar.timezone: '+15:00' is not a valid UTC offset"),
        ({"timezone": 8}, "calendar.timezone: expected a time zone name"),
        ({"hours": hours(mon=["9-12"])}, "calendar.hours.mon[0]: '9-12' is not a period"),
        (
            {"hours": hours(tue=["09:00-12:00", "13:30-12:00"])},
            "calendar.hours.tue[1]: '13:30-12:00' ends before it starts",
        ),
        ({"hours": hours(wed=["09:00-09:00"])}, "calendar.hours.wed[0]: '09:00-09:00' ends before it starts"),
        (
            {"hours": hours(thu=["25:00-26:00"])},
            "calendar.hours.thu[0]: '25:00-26:00' starts at an impossible time",
        ),
        (
            {"hours": hours(thu=["09:00-24:30"])},
            "calendar.hours.thu[0]: '09:00-24:30' ends at an impossible time",
        ),
        (
            {"hours": hours(fri=["09:00-12:00", "11:00-14:00"])},
            "calendar.hours.fri: periods '09:00-12:00' and '11:00-14:00' overlap",
        ),
        ({"hours": hours(fri=[540])}, 'calendar.hours.fri[0]: expected a period such as "09:00-12:00"'),
        ({"hours": hours(sat="closed")}, "calendar.hours.sat[0]: 'closed' is not a period"),
        ({"hours": hours(sat={"from": "09:00"})}, "calendar.hours.sat: expected a list of periods"),
        ({"hours": {**WEEK, "mondy": ["09:00-12:00"]}}, "calendar.hours: unknown weekday 'mondy'"),
        ({"hours": {"sat": [], "sun": []}}, "calendar.hours: no opening period on any weekday"),
        ({"hours": ["09:00-18:00"]}, "calendar.hours: expected a mapping of weekdays"),
        ({"use_china_holidays": "yes"}, "calendar.use_china_holidays: expected true or false"),
        ({"extra_closed": ["2025-13-01"]}, "calendar.extra_closed[0]: '2025-13-01' is not a valid date"),
        (
            {"extra_closed": ["2025-10-01", "next monday"]},
            "calendar.extra_closed[1]: expected a date YYYY-MM-DD",
        ),
        (
            {"extra_open": [dt.datetime(2025, 10, 1, 9, 0)]},
            "calendar.extra_open[0]: expected a date YYYY-MM-DD without a time",
        ),
        ({"extra_open": "2025-10-01"}, "calendar.extra_open: expected a list of dates"),
        (
            {"extra_closed": ["2025-10-09"], "extra_open": [dt.date(2025, 10, 9)]},
            "calendar.extra_closed and calendar.extra_open both list 2025-10-09",
        ),
        ({"extra_close": []}, "calendar: unknown key 'extra_close'"),
        ({"teams": ["emergency"]}, "calendar.teams: expected a mapping of team names"),
        ({"teams": {"vip": {}}}, "calendar.teams.vip: give either always_open: true or its own hours"),
        (
            {"teams": {"vip": {"always_open": True, "hours": WEEK}}},
            "calendar.teams.vip: give either always_open: true or hours, not both",
        ),
        (
            {"teams": {"vip": {"always_open": "yes"}}},
            "calendar.teams.vip.always_open: expected true or false",
        ),
        (
            {"teams": {"vip": {"hours": hours(sun=["18:00-08:00"])}}},
            "calendar.teams.vip.hours.sun[0]: '18:00-08:00' ends before it starts",
        ),
        (
            {"teams": {"vip": {"hours": WEEK, "timezone": "Asia/Beijing"}}},
            "calendar.teams.vip.timezone: unknown time zone",
        ),
        ({"teams": {"vip": {"hours": WEEK, "skills": []}}}, "calendar.teams.vip: unknown key 'skills'"),
    ],
)
def test_invalid_settings_name_the_key(changes: Dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        BusinessCalendar.from_settings(settings_with(**changes))
    assert message in str(raised.value)


def test_missing_section_and_missing_hours() -> None:
    with pytest.raises(SettingsError, match=r"^calendar: the section is missing"):
        BusinessCalendar.from_settings({"version": 1})
    with pytest.raises(SettingsError, match=r"^calendar.hours: missing"):
        parse_calendar_settings({"timezone": "Asia/Shanghai"})


def test_defaults_touching_periods_and_fixed_offsets() -> None:
    parsed = parse_calendar_settings({"hours": {"mon": ["13:00-18:00", "09:00-13:00"], "tue": "10:00-24:00"}})
    assert parsed.main.timezone_name == "Asia/Shanghai"
    assert parsed.main.use_china_holidays is True
    assert parsed.main.weekly[0] == ((9 * 60, 18 * 60),)  # touching periods merge
    assert parsed.main.weekly[1] == ((10 * 60, 24 * 60),)
    assert parsed.main.weekly[2:] == ((),) * 5  # weekdays left out are closed
    for name, minutes in (("+05:30", 330), ("UTC+8", 480), ("GMT-03:00", -180), ("UTC", 0)):
        zone = parse_calendar_settings({"timezone": name, "hours": {"mon": ["09:00-10:00"]}}).main.timezone
        assert zone.utcoffset(dt.datetime(2025, 7, 1)) == dt.timedelta(minutes=minutes)


def test_teams_inherit_the_main_settings_unless_overridden() -> None:
    parsed = parse_calendar_settings(
        settings_with(
            extra_closed=["2025-12-24"],
            teams={"orders": {"hours": {"sat": ["10:00-16:00"]}}, "emergency": {"always_open": True}},
        )["calendar"]
    )
    orders = parsed.teams["orders"]
    assert orders.timezone_name == "Asia/Shanghai"
    assert orders.extra_closed == frozenset({dt.date(2025, 12, 24)})
    assert orders.weekly[5] == ((600, 960),)
    assert parsed.teams["emergency"].always_open


def test_the_shipped_settings_file_is_valid() -> None:
    calendar = BusinessCalendar.from_settings(load_settings(repo_root() / "settings.yml"))
    assert "emergency" in calendar.teams
