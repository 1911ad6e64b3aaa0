"""`python -m bot bench intake`: the desk's CPU cost of one handoff with many tickets already queued.

A handoff is the action server's `POST /internal/tickets`: the desk stores the ticket, ranks the whole queue
(the new ticket's place, the expected wait, who could serve it) and pushes the ticket to the consoles. This
bench calls the same service method (`Intake.create_ticket`) in-process on a fresh store, with `--queued`
tickets queued first, and reports CPU milliseconds (`time.process_time`, so other work on the machine weighs
little) per handoff: the seeding's average and the next `--handoffs` handoffs'. `--database sqlite` (default)
or `postgresql` (a schema of its own on `FRONTLINE_BENCH_PG`, dropped afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from typing import Any, Dict, List, Optional

from bot.bench.desk_load import seed_packet


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure(database: str, queued: int, handoffs: int) -> Dict[str, Any]:
    """Seed `queued` tickets, then time `handoffs` more; CPU milliseconds per handoff."""
    from bot.desk import config
    from bot.desk.rasa_client import RasaClient
    from bot.desk.service import Desk
    from bot.desk.store import Store
    from bot.desk.stream import Hub

    with tempfile.TemporaryDirectory(prefix="frontline-bench-intake-") as folder:
        if database == "sqlite":
            store = Store(f"sqlite:///{folder}/desk.db")
        else:
            base = os.environ.get("FRONTLINE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432") + "/test"
            store = Store(base, schema=f"bench_intake_{uuid.uuid4().hex[:10]}")
        store.migrate()
        try:
            desk = Desk(store, config.load(), RasaClient("http://127.0.0.1:9"), Hub(store))
            _progress(f"{database}: seeding {queued} queued tickets…")
            began = time.process_time()
            for index in range(queued):
                desk.intake.create_ticket(seed_packet(f"rest:bench-intake-seed-{index}"))
            seeded = time.process_time() - began
            _progress(f"{database}: {handoffs} handoffs with {queued} queued…")
            began = time.process_time()
            for index in range(handoffs):
                desk.intake.create_ticket(seed_packet(f"rest:bench-intake-{index}"))
            measured = time.process_time() - began
        finally:
            store.drop_schema()
    return {
        "queued": queued,
        "handoffs": handoffs,
        "seed_cpu_ms_per_handoff": round(seeded / queued * 1000, 2) if queued else None,
        "cpu_ms_per_handoff": round(measured / handoffs * 1000, 2),
    }


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of `python -m bot bench intake`."""
    parser = argparse.ArgumentParser(prog="python -m bot bench intake", description=__doc__)
    parser.add_argument("--queued", type=int, default=1000, help="tickets queued first (default 1000)")
    parser.add_argument("--handoffs", type=int, default=100, help="handoffs measured (default 100)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    if args.queued < 0 or args.handoffs < 1:
        parser.error("--queued must be at least 0 and --handoffs at least 1")
    figures = measure(args.database, args.queued, args.handoffs)
    figures["database"] = args.database
    print(json.dumps(figures))
    return 0
