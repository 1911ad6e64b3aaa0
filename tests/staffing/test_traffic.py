"""Simulated traffic (`bot.staffing.traffic`): seasons, a peak day, the same traffic for the same seed."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from bot.staffing import traffic

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
MONDAY = dt.datetime(2026, 1, 5, tzinfo=SHANGHAI)


def test_days_have_busy_hours_and_weeks_busy_days() -> None:
    model = traffic.TrafficModel(per_day=100, weekly_growth=0.0)
    at = lambda day, hour: traffic.expected(model, MONDAY, MONDAY + dt.timedelta(days=day, hours=hour))  # noqa: E731
    assert at(0, 10) > 10 * at(0, 3)
    assert at(0, 10) > at(6, 10) * 1.5
    assert sum(at(2, h) for h in range(24)) == pytest.approx(100.0)


def test_the_peak_day_and_the_growth() -> None:
    model = traffic.TrafficModel(per_day=100, weekly_growth=0.1, peak_day=3, peak_factor=2.0)
    base = traffic.TrafficModel(per_day=100, weekly_growth=0.1)
    thursday = MONDAY + dt.timedelta(days=3, hours=10)
    assert traffic.expected(model, MONDAY, thursday) == pytest.approx(2.0 * traffic.expected(base, MONDAY, thursday))
    next_week = MONDAY + dt.timedelta(days=7, hours=10)
    assert traffic.expected(base, MONDAY, next_week) == pytest.approx(1.1 * traffic.expected(base, MONDAY, MONDAY + dt.timedelta(hours=10)))


def test_poisson_draws_have_the_mean_asked() -> None:
    rng = random.Random(7)
    for mean in (0.5, 12.0, 80.0):
        draws = [traffic.poisson(rng, mean) for _ in range(4000)]
        assert sum(draws) / len(draws) == pytest.approx(mean, rel=0.06)


def test_the_same_seed_gives_the_same_traffic() -> None:
    model = traffic.TrafficModel(per_day=50)
    assert traffic.hourly_counts(model, MONDAY, 48, seed=2) == traffic.hourly_counts(model, MONDAY, 48, seed=2)
    assert traffic.hourly_counts(model, MONDAY, 48, seed=2) != traffic.hourly_counts(model, MONDAY, 48, seed=3)
