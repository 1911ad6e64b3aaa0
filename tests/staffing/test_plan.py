"""The staffing plan (`bot.staffing.plan`): hours bucketed in local time, each hour staffed by Erlang C."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.settings import SettingsError, load_settings
from bot.staffing import config
from bot.staffing.config import StaffingSettings
from bot.staffing.erlang_c import StaffingRequest, required
from bot.staffing.plan import bucket, staffing_plan

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
MONDAY = dt.datetime(2026, 1, 5, tzinfo=SHANGHAI)


def test_times_fall_in_their_local_hour() -> None:
    base = MONDAY.timestamp()
    assert bucket([base, base + 3599, base + 3600, base - 1, base + 7200 + 5], MONDAY, 3) == [2, 1, 1]


def test_every_hour_is_staffed_for_its_forecast() -> None:
    week = [100.0 if 9 <= h % 24 < 18 else 0.0 for h in range(168)]
    settings = StaffingSettings(service_level=0.8, target_seconds=20, handle_seconds=180, shrinkage=0.3,
                                concurrency=1, backtest_weeks=1)
    plan = staffing_plan(week * 2, week * 2, MONDAY + dt.timedelta(days=14), 1, settings)
    ten, three = plan["hours"][10], plan["hours"][3]
    assert ten["start"] == (MONDAY + dt.timedelta(days=14, hours=10)).isoformat()
    expected = required(StaffingRequest(100, 60, 180, 20, 0.8, 1, 0.3))
    assert (ten["agents"], ten["agents_with_shrinkage"]) == (expected.agents, expected.agents_with_shrinkage)
    assert (three["agents"], three["handoffs"]) == (0, 0.0)
    assert plan["days"][0]["peak_agents"] == expected.agents and plan["days"][0]["handoffs"] == 900.0
    assert plan["backtest"]["handoffs"]["wape"] == 0.0


def test_concurrency_lowers_the_agents_needed() -> None:
    week = [60.0] * 168
    one = staffing_plan(week, week, MONDAY, 1, StaffingSettings(concurrency=1))
    two = staffing_plan(week, week, MONDAY, 1, StaffingSettings(concurrency=2))
    assert two["hours"][0]["agents"] < one["hours"][0]["agents"]
    assert two["settings"]["efficiency"] == 1.7


def test_the_settings_section_defaults_and_names_a_wrong_key() -> None:
    settings = config.load(load_settings())
    assert settings.target_seconds == 120 and settings.handle_seconds == 240  # from desk: the strictest, its AHT
    assert config.validate({"desk": {"first_response_seconds": {"web": 90}}}).target_seconds == 90
    for wrong, named in [
        ({"service_level": 80}, "staffing.service_level"),
        ({"shrinkage": 1}, "staffing.shrinkage"),
        ({"concurrency": 5}, "no factor for 'staffing.concurrency' 5"),
        ({"efficiency": {"two": 1.7}}, "staffing.efficiency"),
        ({"forecast_days": 90}, "staffing.forecast_days"),
    ]:
        with pytest.raises(SettingsError, match=named.replace(".", r"\.")):
            config.validate({"staffing": wrong})
