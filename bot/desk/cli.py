"""`python -m bot desk …`: run the desk, create agents.

    python -m bot desk                 # = run: serve on FRONTLINE_DESK_PORT (5006)
    python -m bot desk run
    python -m bot desk add-agent NAME --skills a,b [--senior] [--capacity N]
    python -m bot desk agents          # list agents
    python -m bot desk simulate --days 28 [--per-day 120] [--handoff-share 0.3] [--seed 1]
                                       # fill a fresh desk with simulated traffic (bot/desk/simulate.py)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import List, Optional

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the desk's subcommands to an argparse parser."""
    commands = parser.add_subparsers(dest="desk_command")
    commands.add_parser("run", help="serve the desk (the default)")
    add = commands.add_parser("add-agent", help="create an agent; prints its API token and one-time password")
    add.add_argument("name")
    add.add_argument("--skills", default="general", help="comma-separated skills, e.g. orders,general")
    add.add_argument("--senior", action="store_true", help="may take repeat complaints")
    add.add_argument("--capacity", type=int, default=None, help="concurrent tickets (desk.default_capacity)")
    add.add_argument("--password", default=None, help="initial password (random when omitted)")
    commands.add_parser("agents", help="list agents")
    simulate = commands.add_parser("simulate", help="fill a fresh desk with marked simulated traffic")
    simulate.add_argument("--days", type=int, default=28, help="days of history up to now (default 28)")
    simulate.add_argument("--per-day", type=float, default=120.0, help="conversations on an average day (120)")
    simulate.add_argument("--handoff-share", type=float, default=0.3, help="share handed to a human (0.3)")
    simulate.add_argument("--seed", type=int, default=1, help="the same seed gives the same traffic")


def main(args: argparse.Namespace) -> int:
    """Run a parsed `desk` command; return the exit status."""
    command = getattr(args, "desk_command", None) or "run"
    if command == "run":
        from bot.desk.app import run

        run()
        return 0

    from bot import clock
    from bot.desk import auth, config
    from bot.desk.store import Store

    settings = config.load()
    store = Store(config.database_url())
    store.migrate()
    try:
        if command == "add-agent":
            try:
                skills = auth.parse_skills(args.skills)
                capacity = args.capacity or settings.default_capacity
                if capacity < 1:
                    raise auth.AuthError("--capacity must be at least 1")
                agent, token, password = auth.create_agent(
                    store, args.name, skills, args.senior, capacity, clock.now().timestamp(), args.password
                )
            except auth.AuthError as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
            print(f"agent: {agent.name}")
            print(f"skills: {','.join(agent.skills)}")
            print(f"senior: {'yes' if agent.senior else 'no'}")
            print(f"capacity: {agent.capacity}")
            print(f"token: {token}")
            print(f"password: {password}")
            return 0
        if command == "simulate":
            from bot.desk import simulate

            plan = simulate.Plan(days=args.days, per_day=args.per_day, handoff_share=args.handoff_share, seed=args.seed)
            try:
                stored = simulate.run(store, settings, plan)
            except simulate.SimulationError as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            print(json.dumps({"simulated": stored}, ensure_ascii=False))
            return 0
        if command == "agents":
            for agent in store.list_agents():
                senior = " senior" if agent.senior else ""
                print(f"{agent.name}\tskills={','.join(agent.skills)}\tcapacity={agent.capacity}{senior}")
            return 0
    finally:
        store.close()
    return 2


def cli(argv: Optional[List[str]] = None) -> int:
    """Parse `argv` as the desk's own command line and run it."""
    parser = argparse.ArgumentParser(prog="python -m bot desk")
    add_arguments(parser)
    return main(parser.parse_args(argv))
