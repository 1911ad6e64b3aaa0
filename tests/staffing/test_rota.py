"""The rota (`bot.staffing.rota`): agents scheduled per hour, each date's row chosen by the business calendar,
set beside the agents needed by the plan (`bot.staffing.plan`). Numbers built by hand."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Dict

import pytest

from bot.calendar import BusinessCalendar
from bot.settings import SettingsError, load_settings
from bot.staffing import config
from bot.staffing.config import StaffingSettings
from bot.staffing.plan import plan_hours, staffing_plan
from bot.staffing.rota import agents_in, parse_rota, scheduled

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
ROTA: Dict[str, Any] = {
    "mon": {"09:00-12:00": 3, "13:30-18:00": 2},
    "tue": {"09:00-12:00": 3, "13:30-18:00": 2},
    "wed": {"09:00-12:00": 3, "13:30-18:00": 2},
    "thu": {"09:00-12:00": 3, "13:30-18:00": 2},
    "fri": {"09:00-12:00": 3, "13:30-18:00": 2},
    "sat": {"10:00-16:00": 1},
    "holiday": {"10:00-12:00": 1},
    "dates": {"2025-10-09": {"09:00-10:15": 4}},
}


def calendar() -> BusinessCalendar:
    """The real settings' calendar (Asia/Shanghai, mainland China holidays)."""
    return BusinessCalendar.from_settings(copy.deepcopy(load_settings()))


def day_of(plan: Dict[str, Any], date: str) -> list:
    return [hour for hour in plan["hours"] if hour["start"].startswith(date)]


def test_an_hour_counts_the_share_each_shift_covers() -> None:
    row = parse_rota({"mon": {"09:00-12:00": 3, "13:30-18:00": 2, "18:00-18:20": 6}}).weekly[0]
    assert [agents_in(row, hour) for hour in (8, 9, 11, 12, 13, 14, 17, 18, 19)] == [
        0, 3, 3, 0, 1.0, 2, 2, 2.0, 0,  # 13:30-14:00: 2 agents for half the hour; 18:00-18:20: 6 for a third
    ]


def test_each_date_takes_its_row_holidays_make_up_days_and_given_dates() -> None:
    """2025-09-27 Sat (ordinary), 09-28 Sun (make-up working day), 10-01..08 National Day, 10-09 Thu (own row),
    10-10 Fri, 10-11 Sat (make-up), 10-12 Sun (ordinary: nobody)."""
    rota = parse_rota(ROTA)
    first = dt.datetime(2025, 9, 27, tzinfo=SHANGHAI)
    result = scheduled(rota, plan_hours(first, 16), calendar().day_kind)
    assert result.rows == {
        "2025-09-27": "sat", "2025-09-28": "workday", **{f"2025-10-0{d}": "holiday" for d in range(1, 9)},
        "2025-09-29": "mon", "2025-09-30": "tue", "2025-10-09": "date", "2025-10-10": "fri", "2025-10-11": "workday",
        "2025-10-12": "sun",
    }
    by_day = {day: result.hours[24 * n:24 * n + 24] for n, day in enumerate(sorted(result.rows))}
    weekday = [0] * 9 + [3, 3, 3, 0, 1.0] + [2] * 4 + [0] * 6
    assert list(by_day["2025-09-27"]) == [0] * 10 + [1] * 6 + [0] * 8
    assert list(by_day["2025-09-28"]) == weekday  # a make-up Sunday: the working day's row (Monday's)
    assert list(by_day["2025-10-01"]) == [0] * 10 + [1, 1] + [0] * 12  # the holiday row
    assert list(by_day["2025-10-04"]) == list(by_day["2025-10-01"])  # a holiday Saturday too, not Saturday's row
    assert list(by_day["2025-10-09"]) == [0] * 9 + [4, 1.0] + [0] * 13  # its own row: 4 agents till 10:15
    assert list(by_day["2025-10-11"]) == weekday
    assert list(by_day["2025-10-12"]) == [0] * 24  # sun left out: nobody
    # 5 working days of 3×3 + 1 + 2×4, 8 holidays of 2, one Saturday of 6, the own date 4 + 1
    assert sum(result.hours) == 5 * 18 + 8 * 2 + 6 + 5 == 117


def test_an_explicit_workday_row_and_no_calendar() -> None:
    rota = parse_rota({**ROTA, "workday": {"08:00-20:00": 1}})
    make_up = dt.datetime(2025, 9, 28, tzinfo=SHANGHAI)
    assert list(scheduled(rota, plan_hours(make_up, 1), calendar().day_kind).hours) == [0] * 8 + [1] * 12 + [0] * 4
    plain = scheduled(rota, plan_hours(make_up, 1), lambda day: None)  # without a calendar: its weekday, Sunday
    assert plain.rows == {"2025-09-28": "sun"} and sum(plain.hours) == 0


def test_the_plan_sets_scheduled_beside_needed_and_the_gap() -> None:
    week = [100.0 if 9 <= h % 24 < 18 else 0.0 for h in range(168)]
    settings = StaffingSettings(service_level=0.8, target_seconds=20, handle_seconds=180, shrinkage=0.3,
                                concurrency=1, backtest_weeks=1, rota=parse_rota(ROTA))
    first = dt.datetime(2025, 9, 29, tzinfo=SHANGHAI)  # a Monday, two weeks of history before it
    on_rota = scheduled(settings.rota, plan_hours(first, 3), calendar().day_kind)
    plan = staffing_plan(week * 2, week * 2, first, 3, settings, on_rota)
    assert plan["rota"] is True
    monday = day_of(plan, "2025-09-29")
    need = monday[10]["agents_with_shrinkage"]
    assert need > 3  # 100 handoffs an hour at 180 s need more than the 3 scheduled
    assert (monday[10]["agents_scheduled"], monday[10]["gap"]) == (3, 3 - need)
    assert (monday[13]["agents_scheduled"], monday[13]["gap"]) == (1.0, 1.0 - need)
    assert (monday[3]["agents_scheduled"], monday[3]["gap"]) == (0, 0)  # nothing needed, nobody scheduled
    holiday = day_of(plan, "2025-10-01")
    assert holiday[10]["agents_scheduled"] == 1 and holiday[10]["gap"] == 1 - need
    days = {day["date"]: day for day in plan["days"]}
    assert (days["2025-09-29"]["rota"], days["2025-10-01"]["rota"]) == ("mon", "holiday")
    assert days["2025-09-29"]["short_hours"] == 9  # 09:00-18:00 all short
    assert days["2025-09-29"]["largest_shortage"] == need  # 12:00-13:00: nobody on
    assert days["2025-10-01"]["short_hours"] == 9

    without = staffing_plan(week * 2, week * 2, first, 1, settings)
    assert without["rota"] is False and without["hours"][10]["agents_scheduled"] is None
    assert without["hours"][10]["gap"] is None and without["days"][0]["short_hours"] is None


def test_the_settings_rota_matches_the_business_hours() -> None:
    settings = load_settings()
    rota = config.load(settings).rota
    assert rota is not None
    hours = calendar().settings.main.weekly
    for day in range(7):  # someone on exactly in the opening hours
        assert tuple((first, last) for first, last, _ in rota.weekly[day]) == hours[day]
    assert rota.holiday == () and rota.workday == rota.weekly[0]
    assert config.validate({}).rota is None  # no rota: nothing to compare with


@pytest.mark.parametrize(
    ("rota", "message"),
    [
        ("3 agents", "staffing.rota: expected a mapping"),
        ({"monday": {}}, "staffing.rota: unknown key 'monday'"),
        ({"mon": ["09:00-12:00"]}, "staffing.rota.mon: expected periods -> agents"),
        ({"mon": {"9-12": 3}}, "staffing.rota.mon: '9-12' is not a period"),
        ({"mon": {"18:00-09:00": 3}}, "staffing.rota.mon: '18:00-09:00' ends before it starts"),
        ({"mon": {"09:00-12:00": -1}}, "staffing.rota.mon.'09:00-12:00': agents must be a whole number"),
        ({"mon": {"09:00-12:00": 2.5}}, "agents must be a whole number from 0 to 10000, got 2.5"),
        ({"mon": {"09:00-12:00": True}}, "agents must be a whole number"),
        ({"mon": {"09:00-12:00": 3, "11:00-14:00": 1}}, "periods '09:00-12:00' and '11:00-14:00' overlap"),
        ({"holiday": {"25:00-26:00": 1}}, "staffing.rota.holiday: '25:00-26:00' starts at an impossible time"),
        ({"dates": ["2025-10-01"]}, "staffing.rota.dates: expected YYYY-MM-DD"),
        ({"dates": {"2025-13-01": {}}}, "staffing.rota.dates: '2025-13-01' is not a valid date"),
        ({"dates": {"2025-10-01": {"x": 1}}}, "staffing.rota.dates.2025-10-01: 'x' is not a period"),
        ({"workday": 5}, "staffing.rota.workday: expected periods -> agents"),
    ],
)
def test_a_wrong_rota_is_refused_naming_the_key(rota: Any, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        config.validate({"staffing": {"rota": rota}})
    assert message in str(error.value)


def test_touching_periods_and_empty_rows_are_fine() -> None:
    rota = parse_rota({"mon": {"09:00-12:00": 3, "12:00-13:00": 1}, "tue": None, "wed": {}})
    assert rota.weekly[0] == ((540, 720, 3), (720, 780, 1)) and rota.weekly[1] == rota.weekly[2] == ()
    assert rota.workday == rota.weekly[0] and rota.dates == {}
