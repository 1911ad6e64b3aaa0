"""Contacts per hour ahead: a seasonal baseline with trend, and its error measured by backtest (WAPE).

The method (documented in `docs/kpis.md`, "Forecast and staffing"): the history is a run of whole hours, one
count each, in the service's time zone (so hour 168 after any hour is the same weekday and hour of day).

- Seasonal level: an hour is forecast as the weighted mean of the same weekday-hour in the past `weeks` weeks
  it can see, the most recent weighing most (weights K, K-1, …, 1 over the K weeks used).
- Trend: the complete weeks at the end of the history give weekly totals; their least-squares slope, divided
  by their mean, is the growth per week (held within +-25%). The weighted mean sits on average `a` weeks before
  the hour forecast, so it is multiplied by 1 + growth x a.
- Less than one week of history: the same hour of day over the past days, without trend; none: zero.

A library (statsforecast) was not used: it brings numba and its own numpy floor, and Rasa 3.6.21 pins numpy
1.23.5; the baseline is what such libraries' seasonal-naive family does, with the trend and the weights made
explicit here.

Backtest: each of the last `backtest_weeks` weeks is forecast again from the history before it, hour by hour,
and compared with what came: WAPE = sum |actual - forecast| / sum actual (None when nothing came).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Dict, List, Optional, Sequence

logger = logging.getLogger(__name__)

WEEK = 168
DAY = 24
MAX_GROWTH = 0.25
METHOD = "seasonal weekday-hour weighted mean with trend"


def _weighted_same_slot(history: Sequence[float], target: int, period: int, depth: int) -> Optional[tuple]:
    """(weighted mean, mean age in periods) of the values `period`, 2x`period`, … before `target` that lie in
    the history (at most `depth` of them, the most recent first); None when there is none."""
    picked = []
    k = 1
    while len(picked) < depth:
        index = target - k * period
        if index < 0:
            break
        if index < len(history):
            picked.append((history[index], k))
        k += 1
    if not picked:
        return None
    weights = [len(picked) - rank for rank in range(len(picked))]
    total = float(sum(weights))
    mean = sum(w * value for w, (value, _) in zip(weights, picked)) / total
    age = sum(w * k for w, (_, k) in zip(weights, picked)) / total
    return mean, age


def weekly_growth(history: Sequence[float], weeks: int) -> float:
    """The growth per week of the complete weeks at the end of `history` (at most `weeks` of them): the
    least-squares slope of their totals over their mean, within +-`MAX_GROWTH`; 0 with fewer than 2 weeks."""
    count = min(weeks, len(history) // WEEK)
    if count < 2:
        return 0.0
    end = len(history)
    totals = [float(sum(history[end - WEEK * (j + 1): end - WEEK * j])) for j in reversed(range(count))]
    xs = list(range(count))
    mean_x = sum(xs) / count
    mean_y = sum(totals) / count
    if mean_y <= 0:
        return 0.0
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, totals)) / sum((x - mean_x) ** 2 for x in xs)
    return max(-MAX_GROWTH, min(MAX_GROWTH, slope / mean_y))


def forecast(history: Sequence[float], hours: int, weeks: int = 8) -> List[float]:
    """Forecast the `hours` hours that follow `history`.

    Args:
        history: contacts per hour, oldest first, ending with the last complete hour.
        hours: how many hours ahead.
        weeks: how many past weeks the seasonal level and the trend read.

    Returns:
        One expected count per hour ahead (never negative).
    """
    if hours <= 0:
        return []
    n = len(history)
    if n == 0:
        return [0.0] * hours
    history = list(history[-weeks * WEEK:]) if n > weeks * WEEK else list(history)
    n = len(history)
    weekly = n >= WEEK
    growth = weekly_growth(history, weeks) if weekly else 0.0
    result = []
    for step in range(hours):
        target = n + step
        found = (
            _weighted_same_slot(history, target, WEEK, weeks) if weekly
            else _weighted_same_slot(history, target, DAY, 7)
        )
        if found is None:  # less than a day: the mean hour
            result.append(sum(history) / n)
            continue
        mean, age = found
        result.append(max(0.0, mean * (1.0 + growth * age)))
    return result


def wape(actual: Sequence[float], predicted: Sequence[float]) -> Optional[float]:
    """Weighted absolute percentage error: sum |actual - predicted| / sum actual (None when nothing came)."""
    total = float(sum(actual))
    if total <= 0:
        return None
    return sum(abs(a - p) for a, p in zip(actual, predicted)) / total


@dataclasses.dataclass(frozen=True)
class Backtest:
    """The forecast's error on the last weeks.

    Attributes:
        wape: over every hour of every week tested (None: no week could be tested, or nothing came).
        weeks: per week tested, oldest first: {"start_hour": index in the history, "wape", "actual", "forecast"}.
        hours: hours tested.
    """

    wape: Optional[float]
    weeks: List[Dict[str, Optional[float]]]
    hours: int

    def as_json(self) -> Dict[str, object]:
        """The JSON form (WAPE rounded to 4 places)."""
        return {
            "method": METHOD,
            "wape": round(self.wape, 4) if self.wape is not None else None,
            "hours": self.hours,
            "weeks": [
                {**week, "wape": round(week["wape"], 4) if week["wape"] is not None else None} for week in self.weeks
            ],
        }


def backtest(history: Sequence[float], backtest_weeks: int, weeks: int = 8) -> Backtest:
    """Forecast each of the last `backtest_weeks` weeks of `history` from what came before it, and measure.

    A week is tested only when at least one full week of history precedes it.
    """
    n = len(history)
    tested = []
    actual_all: List[float] = []
    predicted_all: List[float] = []
    for back in range(backtest_weeks, 0, -1):
        cut = n - back * WEEK
        if cut < WEEK:
            continue
        actual = list(history[cut: cut + WEEK])
        predicted = forecast(history[:cut], WEEK, weeks)
        actual_all += actual
        predicted_all += predicted
        tested.append({
            "start_hour": cut, "wape": wape(actual, predicted),
            "actual": float(sum(actual)), "forecast": round(sum(predicted), 1),
        })
    return Backtest(wape(actual_all, predicted_all) if tested else None, tested, len(actual_all))
