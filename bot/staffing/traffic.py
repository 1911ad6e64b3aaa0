"""Simulated contact traffic: how many conversations come in each local hour, with daily and weekly seasonality,
a slow trend and one peak day (a sale, an outage). Used by `python -m bot desk simulate` to give a new desk a
history, and by `python -m bot bench forecast` to measure the forecast on a history whose truth is known.

Every simulated count is a Poisson draw around `expected(…)`, from a seeded generator: the same seed gives the
same traffic.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
from typing import List, Optional

logger = logging.getLogger(__name__)

# Share of a day's conversations in each local hour (sums to 1): quiet nights, a morning peak at 10-11, an
# afternoon at 14-16 and an evening bump after dinner, as customer service sees it.
HOUR_SHAPE = [
    0.006, 0.004, 0.003, 0.003, 0.003, 0.005, 0.012, 0.025, 0.050, 0.072, 0.083, 0.080,
    0.062, 0.066, 0.076, 0.074, 0.066, 0.056, 0.046, 0.048, 0.056, 0.052, 0.035, 0.017,
]
# Monday .. Sunday, relative to an average day (Mondays heaviest, weekends light).
WEEKDAY_FACTOR = [1.25, 1.1, 1.0, 1.0, 1.05, 0.85, 0.75]


@dataclasses.dataclass(frozen=True)
class TrafficModel:
    """The shape of simulated traffic.

    Attributes:
        per_day: conversations on an average day at the start.
        weekly_growth: growth per week (0.02: 2% more each week).
        peak_day: the day (0 = the first simulated day) with `peak_factor` times its usual traffic; None: none.
        peak_factor: how much busier the peak day is.
    """

    per_day: float = 200.0
    weekly_growth: float = 0.02
    peak_day: Optional[int] = None
    peak_factor: float = 2.5


def expected(model: TrafficModel, start: dt.datetime, at: dt.datetime) -> float:
    """Expected conversations in the local hour beginning at `at` (`start`: the first simulated hour; both
    aware, in the service's time zone)."""
    weeks = (at - start).total_seconds() / (7 * 86400)
    day = (at.date() - start.date()).days
    rate = model.per_day * HOUR_SHAPE[at.hour] * WEEKDAY_FACTOR[at.weekday()] * (1 + model.weekly_growth) ** weeks
    if model.peak_day is not None and day == model.peak_day:
        rate *= model.peak_factor
    return rate


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method in chunks of 30, so large means do not underflow)."""
    count = 0
    while mean > 0:
        chunk = min(mean, 30.0)
        mean -= chunk
        limit = pow(2.718281828459045, -chunk)
        product = rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
    return count


def hourly_counts(model: TrafficModel, start: dt.datetime, hours: int, seed: int = 1) -> List[int]:
    """Simulated conversations in each of `hours` hours from `start` (aware, on the hour, local time)."""
    rng = random.Random(seed)
    return [poisson(rng, expected(model, start, start + dt.timedelta(hours=h))) for h in range(hours)]
