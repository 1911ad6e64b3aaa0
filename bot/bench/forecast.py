"""`python -m bot bench forecast`: the forecast's backtest error (WAPE per hour) on simulated history.

The history is `bot.staffing.traffic` (daily and weekly seasons, growth, one peak day in the first backtested
week), so its truth is known: the JSON shows the forecast's WAPE beside a flat mean's and beside the noise floor
(the WAPE of the true expected counts against the Poisson draws: no forecast can do better on average).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from typing import List, Optional

from bot.staffing import forecast, traffic
from bot.staffing.forecast import WEEK

logger = logging.getLogger(__name__)

START = dt.datetime(2026, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # a Monday, Asia/Shanghai


def main(argv: Optional[List[str]] = None) -> int:
    """Print the backtest of the forecast on simulated history as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bot bench forecast", description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=8, help="weeks of simulated history (default 8)")
    parser.add_argument("--backtest-weeks", type=int, default=2, help="last weeks forecast again (default 2)")
    parser.add_argument("--per-day", type=float, default=200.0, help="conversations on an average day (200)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.weeks < 2 or not 1 <= args.backtest_weeks < args.weeks or args.per_day <= 0:
        print("error: need --weeks >= 2, 1 <= --backtest-weeks < --weeks and --per-day > 0", file=sys.stderr)
        return 2
    hours = args.weeks * WEEK
    peak_day = (args.weeks - args.backtest_weeks) * 7 + 2  # a Wednesday inside the first week tested
    model = traffic.TrafficModel(per_day=args.per_day, peak_day=peak_day)
    counts = traffic.hourly_counts(model, START, hours, seed=args.seed)
    result = forecast.backtest(counts, args.backtest_weeks)
    tested = counts[-args.backtest_weeks * WEEK:]
    truth = [traffic.expected(model, START, START + dt.timedelta(hours=h)) for h in range(hours)]
    flat: List[float] = []
    for back in range(args.backtest_weeks, 0, -1):
        before = counts[: hours - back * WEEK]
        flat += [sum(before) / len(before)] * WEEK
    figures = {
        "forecast_wape": round(result.wape, 4) if result.wape is not None else None,
        "flat_mean_wape": round(forecast.wape(tested, flat) or 0.0, 4),
        "noise_floor_wape": round(forecast.wape(tested, truth[-len(tested):]) or 0.0, 4),
        "method": forecast.METHOD,
        "history_weeks": args.weeks,
        "backtest_weeks": args.backtest_weeks,
        "hours_tested": result.hours,
        "per_day": args.per_day,
        "seed": args.seed,
        "weeks": result.as_json()["weeks"],
    }
    print(json.dumps(figures))
    return 0
