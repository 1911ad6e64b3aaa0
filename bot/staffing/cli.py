"""`python -m bot staffing`: agents needed for one interval by Erlang C, printed as JSON.

    python -m bot staffing --volume 100 --interval 30 --aht 180 --target-seconds 20 --service-level 0.8 \
        [--concurrency 1] [--shrinkage 0.3]

prints `{"agents": 14, "agents_with_shrinkage": 20, "service_level": 0.8884, "occupancy": 0.7143, …}`.
The efficiency factors of chat concurrency come from `settings.yml: staffing.efficiency`. A bad argument: a
line `error: …` on stderr and exit status 2 (as argparse does for a malformed one).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from bot.settings import SettingsError
from bot.staffing import config
from bot.staffing.erlang_c import StaffingError, StaffingRequest, required

logger = logging.getLogger(__name__)

USAGE_ERROR = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m bot staffing`."""
    parser.add_argument("--volume", type=float, required=True, help="contacts arriving in the interval")
    parser.add_argument("--interval", type=float, required=True, help="the interval's length in minutes")
    parser.add_argument("--aht", type=float, required=True, help="average handle time of one contact, seconds")
    parser.add_argument("--target-seconds", type=float, required=True, help="answered in time within this wait")
    parser.add_argument("--service-level", type=float, required=True, help="share answered in time, e.g. 0.8")
    parser.add_argument("--concurrency", type=int, default=1, help="chats an agent serves at once (default 1)")
    parser.add_argument("--shrinkage", type=float, default=0.0, help="share of paid time off the queue, e.g. 0.3")


def main(args: argparse.Namespace) -> int:
    """Print the staffing of one interval as JSON; 2 on a bad argument."""
    request = StaffingRequest(
        volume=args.volume,
        interval_minutes=args.interval,
        handle_seconds=args.aht,
        target_seconds=args.target_seconds,
        service_level=args.service_level,
        concurrency=args.concurrency,
        shrinkage=args.shrinkage,
    )
    try:
        efficiency = config.load().efficiency
        staffing = required(request, efficiency)
    except (StaffingError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    print(json.dumps(staffing.as_json()))
    return 0
