"""Latency and throughput of the assistant through its REST channel, on loopback.

Uses the running stack when `RASA_TOKEN` is set and the Rasa server at `FRONTLINE_RASA_URL` answers;
otherwise starts its own (trained model, temporary var folder, free ports) and stops it afterwards.

Figures (JSON, last stdout line): sequential FAQ turn latency p50/p99 (ms) and turns/s, the same at
32 concurrent customers, `/model/parse` latency p50/p99, and the training time recorded by `make train`.

The abuse limits stay on (`settings.yml: limits`): each simulated customer (a conversation) sends at most 20
messages, the default burst of `limits.conversation_messages`, and REST is never limited per address. A run
with `--per-customer` above that burst stops at the first 429 and says which setting to raise
(docs/security/limits.md, "Load tests").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import pathlib
import sys
import tempfile
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

import aiohttp

from bot.settings import repo_root

logger = logging.getLogger(__name__)

QUESTIONS = [
    "退款多久到账？",
    "我的订单到哪了",
    "How do I reset my password?",
    "Where is my order?",
    "退款多久到帳",
    "怎么开发票",
    "how do i activate my new card",
    "优惠券怎么用",
    "How long does delivery take?",
    "会员有什么权益",
]


# Turns of the warm-up conversation; like every simulated customer's, within the default burst (20).
WARMUP_TURNS = 20


def percentile(values: List[float], share: float) -> float:
    """The `share` quantile (0..1) of `values`, by the nearest-rank method."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(share * len(ordered))))
    return ordered[rank - 1]


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _turn(session: aiohttp.ClientSession, url: str, sender: str, text: str) -> float:
    started = time.perf_counter()
    async with session.post(url, json={"sender": sender, "message": text}) as response:
        body = await response.json()
        if response.status == 429:
            raise RuntimeError(
                f"conversation {sender} hit the abuse limit limits.conversation_messages (HTTP 429): keep "
                "--per-customer within its burst (20 by default), or raise the limit in a settings file of your "
                "own for the load test (FRONTLINE_SETTINGS; docs/security/limits.md, \"Load tests\")"
            )
        if response.status != 200 or not body:
            raise RuntimeError(f"the assistant gave no answer to {text!r} (HTTP {response.status})")
    return (time.perf_counter() - started) * 1000


async def _customer(
    session: aiohttp.ClientSession, url: str, turns: int, offset: int, latencies: List[float]
) -> None:
    sender = f"bench-{uuid.uuid4().hex[:12]}"
    for index in range(turns):
        latencies.append(await _turn(session, url, sender, QUESTIONS[(offset + index) % len(QUESTIONS)]))


async def measure(rasa_url: str, token: str, turns: int, customers: int, per_customer: int) -> Dict[str, Any]:
    """Run the three measurements against a running Rasa server."""
    rest = f"{rasa_url}/webhooks/rest/webhook"
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=customers * 2)
    rest_token = os.environ.get("FRONTLINE_REST_TOKEN", "").strip()  # the stack's REST channel requires it when set
    headers = {"Authorization": f"Bearer {rest_token}"} if rest_token else None
    async with aiohttp.ClientSession(timeout=timeout, connector=connector, headers=headers) as session:
        _progress("warming up…")
        warmup = f"bench-warmup-{uuid.uuid4().hex[:8]}"  # a new conversation each run: within the limits
        for index in range(WARMUP_TURNS):
            await _turn(session, rest, warmup, QUESTIONS[index % len(QUESTIONS)])

        _progress(f"sequential: {turns} FAQ turns…")
        sequential: List[float] = []
        started = time.perf_counter()
        for start in range(0, turns, 10):
            await _customer(session, rest, min(10, turns - start), start, sequential)
        sequential_seconds = time.perf_counter() - started

        _progress(f"concurrent: {customers} customers × {per_customer} turns…")
        concurrent: List[float] = []
        started = time.perf_counter()
        await asyncio.gather(
            *(_customer(session, rest, per_customer, index, concurrent) for index in range(customers))
        )
        concurrent_seconds = time.perf_counter() - started

        _progress(f"/model/parse: {turns} messages…")
        parse: List[float] = []
        for index in range(turns):
            began = time.perf_counter()
            async with session.post(
                f"{rasa_url}/model/parse", params={"token": token}, json={"text": QUESTIONS[index % len(QUESTIONS)]}
            ) as response:
                await response.json()
                if response.status != 200:
                    raise RuntimeError(f"/model/parse answered HTTP {response.status}")
            parse.append((time.perf_counter() - began) * 1000)

    return {
        "sequential_turn_ms_p50": round(percentile(sequential, 0.5), 2),
        "sequential_turn_ms_p99": round(percentile(sequential, 0.99), 2),
        "sequential_turns_per_s": round(len(sequential) / sequential_seconds, 1),
        "concurrent_customers": customers,
        "concurrent_turns_per_s": round(len(concurrent) / concurrent_seconds, 1),
        "concurrent_turn_ms_p50": round(percentile(concurrent, 0.5), 2),
        "concurrent_turn_ms_p99": round(percentile(concurrent, 0.99), 2),
        "parse_ms_p50": round(percentile(parse, 0.5), 2),
        "parse_ms_p99": round(percentile(parse, 0.99), 2),
        "turns_measured": len(sequential) + len(concurrent),
    }


def _running_stack() -> Optional[Tuple[str, str]]:
    token = os.environ.get("RASA_TOKEN")
    url = os.environ.get("FRONTLINE_RASA_URL", "http://127.0.0.1:5005")
    if not token:
        return None
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/", timeout=2):
            return url, token
    except OSError:
        return None


def train_seconds(root: pathlib.Path) -> Optional[float]:
    """The training time `make train` recorded, if any."""
    path = root / "var" / "train_seconds.json"
    try:
        return float(json.loads(path.read_text())["train_seconds"])
    except (OSError, ValueError, KeyError):
        return None


def run(turns: int = 300, customers: int = 32, per_customer: int = 20) -> Dict[str, Any]:
    """Measure the running stack, or a stack started for the purpose."""
    root = repo_root()
    running = _running_stack()
    if running:
        _progress(f"using the running assistant at {running[0]}")
        figures = asyncio.run(measure(running[0], running[1], turns, customers, per_customer))
    else:
        from bot.devtools import free_port
        from bot.run import Ports, start

        with tempfile.TemporaryDirectory(prefix="frontline-bench-") as tmp:
            _progress("starting a stack for the benchmark (about 30 s)…")
            stack = start(
                root=root,
                var=pathlib.Path(tmp),
                ports=Ports(rasa=free_port(), actions=free_port(), desk=free_port()),
                log_dir=pathlib.Path(tmp) / "logs",
            )
            try:
                figures = asyncio.run(measure(stack.rasa_url, stack.token, turns, customers, per_customer))
            finally:
                stack.stop()
    figures["train_seconds"] = train_seconds(root)
    return figures


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of `python -m bot bench assistant`."""
    parser = argparse.ArgumentParser(prog="python -m bot bench assistant", description=__doc__)
    parser.add_argument("--turns", type=int, default=300, help="sequential turns (default 300)")
    parser.add_argument("--customers", type=int, default=32, help="concurrent customers (default 32)")
    parser.add_argument("--per-customer", type=int, default=20, help="turns per concurrent customer")
    args = parser.parse_args(argv)
    try:
        figures = run(args.turns, args.customers, args.per_customer)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(figures))
    return 0
