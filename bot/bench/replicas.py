"""`python -m bot bench replicas`: FAQ turns/s through HAProxy (REST) with 1 and with 2 Rasa replicas, in one run.

For each replica count N it starts the production layout (`bot/bench/production.py`: N Rasa servers, N action
servers and N desks behind HAProxy, on PostgreSQL, Redis and RabbitMQ), warms every replica up, then lets
`--customers` customers ask `--per-customer` FAQ questions each, all at once, through HAProxy's assistant port.

Figures (JSON, last stdout line): per replica count, turns/s, turn latency p50/p99 (ms), the servers HAProxy
marked DOWN meanwhile (failed health checks) and the CPU milliseconds per turn of each kind of process (Rasa,
actions, desks, HAProxy, PostgreSQL, Redis, RabbitMQ, the bench's own customers); and the speed-up of
the largest count over the smallest, with the issue's target (2 replicas ≥ 1.6× one on this 2-core machine).
The machine's load average is recorded at the start and end of each measurement: other work on it shows there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from typing import Any, Dict, List, Optional

import aiohttp

from bot.bench.assistant import QUESTIONS, _customer, _turn, percentile
from bot.bench.production import LayoutError, ProductionRun, production_layout

TARGET_SPEEDUP = 1.6
WARMUP_CUSTOMERS = 8
WARMUP_TURNS = 5


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def load_average() -> List[float]:
    """The machine's 1, 5 and 15 minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


def counts(text: str) -> List[int]:
    """`1,2` -> [1, 2]; each a positive count, no repeats."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of counts: {text!r}") from None
    if not values or any(value < 1 for value in values) or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"counts must be positive and distinct: {text!r}")
    return values


async def measure(production: ProductionRun, customers: int, per_customer: int) -> Dict[str, Any]:
    """Warm up, then `customers` concurrent customers × `per_customer` FAQ turns; the figures."""
    rest = f"{production.layout.assistant_url}/webhooks/rest/webhook"
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=customers * 2)) as session:
        # several warm-up customers at once: HAProxy's round robin reaches every replica
        await asyncio.gather(
            *(_turn(session, rest, f"bench-warm-{uuid.uuid4().hex[:8]}", QUESTIONS[i % len(QUESTIONS)])
              for i in range(WARMUP_CUSTOMERS) for _ in range(WARMUP_TURNS))
        )
        latencies: List[float] = []
        load_before, down_before = load_average(), production.servers_marked_down()
        cpu_before, own_before = production.cpu_by_kind(), time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(_customer(session, rest, per_customer, i, latencies) for i in range(customers)))
        seconds = time.perf_counter() - started
        cpu = {kind: used - cpu_before[kind] for kind, used in production.cpu_by_kind().items()}
        cpu["bench"] = time.process_time() - own_before
    return {
        "turns": len(latencies),
        "seconds": round(seconds, 2),
        "turns_per_s": round(len(latencies) / seconds, 1),
        "turn_ms_p50": round(percentile(latencies, 0.5), 1),
        "turn_ms_p99": round(percentile(latencies, 0.99), 1),
        "haproxy_marked_down": production.marked_down_since(down_before),
        # where the CPU went, per turn: the layout's processes, the machine's PostgreSQL, Redis and RabbitMQ (all
        # their work, this bench's and any other's) and the bench's own customers
        "cpu_ms_per_turn": {kind: round(used / len(latencies) * 1000, 2) for kind, used in cpu.items()}
        if latencies else None,
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }


def run(replica_counts: List[int], customers: int, per_customer: int) -> Dict[str, Any]:
    """Measure each replica count in turn; the figures and the speed-up."""
    by_count: Dict[str, Any] = {}
    for replicas in replica_counts:
        with production_layout(replicas, _progress) as production:
            _progress(f"{replicas} replica(s): {customers} customers × {per_customer} FAQ turns through HAProxy…")
            by_count[str(replicas)] = asyncio.run(
                measure(production, customers, per_customer)
            )
            _progress(f"{replicas} replica(s): {by_count[str(replicas)]['turns_per_s']} turns/s")
    low, high = str(min(replica_counts)), str(max(replica_counts))
    figures: Dict[str, Any] = {
        "customers": customers,
        "turns_per_customer": per_customer,
        "cores": os.cpu_count(),
        "replicas": by_count,
    }
    if low != high:
        speedup = by_count[high]["turns_per_s"] / by_count[low]["turns_per_s"]
        figures["speedup"] = round(speedup, 2)
        figures["speedup_of"] = f"{high} over {low}"
        if (low, high) == ("1", "2"):
            figures["target_speedup"] = TARGET_SPEEDUP
            figures["target_met"] = speedup >= TARGET_SPEEDUP
    return figures


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of `python -m bot bench replicas`."""
    parser = argparse.ArgumentParser(prog="python -m bot bench replicas", description=__doc__)
    parser.add_argument("--replicas", type=counts, default=[1, 2], help="replica counts to compare (default 1,2)")
    parser.add_argument("--customers", type=int, default=64, help="concurrent customers (default 64)")
    parser.add_argument(
        "--per-customer", type=int, default=20,
        help="FAQ turns per customer (default 20, the burst of limits.conversation_messages; the bench raises it)",
    )
    args = parser.parse_args(argv)
    if args.customers < 1 or args.per_customer < 1:
        parser.error("--customers and --per-customer must be at least 1")
    try:
        figures = run(args.replicas, args.customers, args.per_customer)
    except (LayoutError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(figures))
    return 0
