"""The seasonal forecast and its backtest (`bot.staffing.forecast`) on hand-built hourly histories."""

from __future__ import annotations

import datetime as dt
from typing import List

import pytest

from bot.staffing import forecast, traffic
from bot.staffing.forecast import DAY, WEEK, backtest, wape, weekly_growth


def weekly_pattern(weekday: int, hour: int) -> float:
    """Busy weekday mornings, quiet nights, nearly nothing on Sunday (index 0 is a Monday 00:00)."""
    if weekday == 6:
        return 1.0
    return 40.0 if 9 <= hour < 12 else 20.0 if 13 <= hour < 18 else 2.0


def history(weeks: int, growth: float = 0.0) -> List[float]:
    return [
        weekly_pattern((h // DAY) % 7, h % DAY) * (1 + growth) ** (h // WEEK) for h in range(weeks * WEEK)
    ]


def test_a_repeating_week_is_forecast_exactly_hour_by_hour() -> None:
    past = history(4)
    ahead = forecast.forecast(past, 2 * WEEK)
    assert ahead == pytest.approx(past[:WEEK] * 2)
    assert backtest(past, 2).wape == pytest.approx(0.0)


def test_ignoring_the_weekly_season_would_be_far_off() -> None:
    past = history(4)
    ahead = forecast.forecast(past, WEEK)
    monday_10, sunday_10 = 10, 6 * DAY + 10
    assert ahead[monday_10] == pytest.approx(40.0) and ahead[sunday_10] == pytest.approx(1.0)
    flat = [sum(past) / len(past)] * WEEK
    daily = [sum(past[h % DAY::DAY]) / len(past[h % DAY::DAY]) for h in range(WEEK)]  # hour of day, any weekday
    assert wape(past[:WEEK], flat) > 0.5
    assert wape(past[:WEEK], daily) > 0.1
    assert wape(past[:WEEK], ahead) == pytest.approx(0.0)


def test_growth_is_carried_forward() -> None:
    past = history(6, growth=0.1)
    assert weekly_growth(past, 8) == pytest.approx(0.1, abs=0.03)
    ahead = forecast.forecast(past, WEEK)
    expected = [value * 1.1 for value in past[-WEEK:]]
    assert wape(expected, ahead) < 0.05
    without_trend = forecast.forecast(past[:WEEK] * 6, WEEK)
    assert sum(ahead) > sum(without_trend) * 1.3


def test_the_most_recent_weeks_weigh_most() -> None:
    past = [10.0] * WEEK * 3 + [20.0] * WEEK  # the last week doubled (the trend is held within 25%)
    ahead = forecast.forecast(past, WEEK, weeks=4)
    assert all(value > 15.0 for value in ahead)  # a plain mean of the 4 weeks would say 12.5


def test_less_than_a_week_uses_the_hour_of_day() -> None:
    day = [float(h) for h in range(DAY)]
    ahead = forecast.forecast(day * 3, DAY)
    assert ahead == pytest.approx(day)


def test_no_history_forecasts_nothing_and_nothing_has_no_error() -> None:
    assert forecast.forecast([], 5) == [0.0] * 5
    assert forecast.forecast([3.0] * 5, 2) == [3.0, 3.0]
    assert wape([0, 0], [1, 1]) is None


def test_the_backtest_tests_only_weeks_with_a_week_before_them() -> None:
    result = backtest(history(2), 4)
    assert [week["start_hour"] for week in result.weeks] == [WEEK]
    assert result.hours == WEEK
    assert backtest(history(1), 2).wape is None


def test_on_simulated_traffic_the_forecast_beats_a_flat_mean() -> None:
    start = dt.datetime(2026, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    counts = traffic.hourly_counts(traffic.TrafficModel(per_day=400), start, 6 * WEEK, seed=3)
    result = backtest(counts, 2)
    flat = [sum(counts[:-WEEK]) / len(counts[:-WEEK])] * WEEK
    assert result.wape is not None and result.wape < 0.35
    assert result.wape < wape(counts[-WEEK:], flat) - 0.2
