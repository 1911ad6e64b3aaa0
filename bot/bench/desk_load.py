"""`python -m bot bench desk`: the desk at scale, through HAProxy, with 1 and with 2 desk processes in one run.

For each desk count N it starts the production layout (`bot/bench/production.py`: N Rasa servers, N action
servers and N desks behind HAProxy, on a fresh PostgreSQL database, Redis and RabbitMQ), warms it up (a few REST
conversations ask a question, then for a human), then:

1. creates `--agents` agents (skills `*`) and seeds `--open-tickets` queued tickets through the desk's internal
   API (`POST /internal/tickets`, the call the action server makes);
2. opens one console per agent: `GET /api/stream` (Server-Sent Events) through HAProxy;
3. drives `--customers` widget customers at once (socket.io through HAProxy, as the widget, each from a loopback
   address of its own, 127.1.x.y, so HAProxy's stickiness by source address spreads them as it spreads customers
   on the internet): each opens a
   session, asks for a human (`/request_human`), and an agent (round robin) reloads the first page of
   `GET /api/tickets`, claims the customer's ticket and replies. With `--spread S` every customer connects
   first, then they ask one after another, evenly over S seconds (customers/S handoffs a second, all of them
   connected meanwhile); by default all ask in the same instant.

Figures per desk count (JSON, last stdout line; milliseconds):
- `handoff_ms`: the customer's message sent → its ticket's first event on any console (p50/p99);
- `reply_ms`: the agent's `POST /api/tickets/{id}/messages` sent → the widget's `bot_uttered` with that text;
- `list_tickets_ms`: `GET /api/tickets` (first page, 100 tickets) with the seeded tickets open, during the load;
- `desk_cpu_seconds_per_1000_pushes`: the desk processes' CPU seconds (`/proc/<pid>/stat`, the processes and their
  children) over the drive, per 1,000 events handed to consoles (one change reaches every console: one push each);
  also per 1,000 distinct feed events;
- `failures_by_kind` (customers that did not complete, by stage and error) and `haproxy_marked_down_during_drive`
  (servers whose health checks failed under the load: HAProxy answers 503 while none of a kind is up).
The issue's targets: p99 handoff and reply under 1 s, and N = 2 not slower than N = 1. The load average is
recorded with each run: the machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import sys
import time
import uuid
from typing import Any, Dict, List, Optional

import aiohttp

from bot.bench.assistant import percentile
from bot.bench.consoles import Consoles
from bot.bench.production import BENCH_NOW, LayoutError, ProductionRun, cpu_seconds, production_layout
from bot.bench.replicas import counts, load_average

TARGET_P99_MS = 1000.0
STEP_TIMEOUT = 60.0
SEED_CONCURRENCY = 4
SEED_RETRIES = 30
WARMUP_CONVERSATIONS = 6


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def create_agents(run: ProductionRun, count: int, capacity: int) -> List[str]:
    """Create `count` agents who may take every skill; their API tokens."""
    from bot.desk import auth
    from bot.desk.store import Store

    os.environ["FRONTLINE_DATA_KEYS"] = run.env["FRONTLINE_DATA_KEYS"]  # the store encrypts with the run's key
    store = Store(run.env["DATABASE_URL"])
    try:
        now = time.time()
        return [
            auth.create_agent(store, f"bench-agent-{index}", ["*"], True, capacity, now, settled=True)[1]
            for index in range(count)
        ]
    finally:
        store.close()


def seed_packet(conversation_id: str) -> Dict[str, Any]:
    """A context packet, as `action_handoff` sends, for a REST conversation that asked for a human."""
    from rasa_sdk import Tracker

    from bot.handoff.context import build_packet

    tracker = Tracker(conversation_id, {}, {}, [], False, None, None, None)
    return build_packet(
        tracker, reason="asked_for_human", grade="C", created_at=dt.datetime.fromisoformat(BENCH_NOW)
    )


async def seed_tickets(session: aiohttp.ClientSession, run: ProductionRun, count: int) -> int:
    """Open `count` queued tickets through `POST /internal/tickets`; the number of answers HAProxy gave while it
    had no desk to send to (502/503/504), each sent again a second later: the same packet again is harmless, the
    desk answers 200 with the conversation's open ticket.

    Raises:
        RuntimeError: the desk refused one, or HAProxy had no desk for it `SEED_RETRIES` times.
    """
    url = f"{run.layout.desk_url}/internal/tickets"
    headers = {"X-Frontline-Secret": run.desk_secret}
    gate = asyncio.Semaphore(SEED_CONCURRENCY)
    unavailable = 0

    async def one(index: int) -> None:
        nonlocal unavailable
        packet = seed_packet(f"rest:bench-seed-{index}")
        for _ in range(SEED_RETRIES):
            async with gate, session.post(url, json=packet, headers=headers) as answer:
                if answer.status in (200, 201):
                    return
                if answer.status not in (502, 503, 504):
                    raise RuntimeError(f"seeding: POST /internal/tickets answered {answer.status}: {await answer.text()}")
            unavailable += 1
            await asyncio.sleep(1)
        raise RuntimeError(f"seeding: HAProxy found no desk up {SEED_RETRIES} times in a row")

    await asyncio.gather(*(one(index) for index in range(count)))
    return unavailable


class Customer:
    """One widget customer on socket.io: asks for a human, then waits for an agent's reply."""

    def __init__(self, assistant_url: str, source_address: Optional[str] = None) -> None:
        import socketio

        self.assistant_url = assistant_url
        # Each customer from an address of its own (127.x.y.z: all of 127.0.0.0/8 is this machine), as customers
        # on the internet are: HAProxy keeps socket.io on a replica by source address (`balance source`), so
        # widgets that all came from 127.0.0.1 would all reach one Rasa replica.
        self.http = (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source_address, 0)))
            if source_address else None
        )
        # engine.io gives each HTTP request 5 s by default; a widget reaching a loaded server waits longer
        self.client = socketio.AsyncClient(reconnection=False, request_timeout=STEP_TIMEOUT, http_session=self.http)
        self.session_id: Optional[str] = None
        self.utterances: asyncio.Queue = asyncio.Queue()
        self._confirmed: asyncio.Queue = asyncio.Queue()
        self.client.on("bot_uttered", self._on_utterance)
        self.client.on("session_confirm", self._confirmed.put_nowait)
        self.refusals: List[Any] = []  # what the server said when it refused the connection
        self.client.on("connect_error", self.refusals.append)

    async def _on_utterance(self, data: Dict[str, Any]) -> None:
        await self.utterances.put((time.perf_counter(), data))

    async def connect(self) -> None:
        """Connect and get a signed session from the server."""
        import socketio

        # python-socketio gives the namespace 1 s to connect by default: too short for a server that 200 widgets
        # reach at once (rasa-webchat waits and retries)
        try:
            await self.client.connect(self.assistant_url, socketio_path="/socket.io", wait_timeout=STEP_TIMEOUT)
        except socketio.exceptions.ConnectionError as error:
            raise socketio.exceptions.ConnectionError(f"{error} (the server said: {self.refusals or 'nothing'})") from None
        await self.client.emit("session_request", {"session_id": None})
        confirmed = await asyncio.wait_for(self._confirmed.get(), STEP_TIMEOUT)
        self.session_id = confirmed if isinstance(confirmed, str) else confirmed.get("session_id")

    async def say(self, text: str) -> float:
        """Send a message; when it was sent (perf_counter time)."""
        sent = time.perf_counter()
        await self.client.emit("user_uttered", {"message": text, "session_id": self.session_id, "customData": {}})
        return sent

    async def heard(self, text: str) -> float:
        """When the widget received `text` (perf_counter time)."""
        while True:
            at, data = await asyncio.wait_for(self.utterances.get(), STEP_TIMEOUT)
            if data.get("text") == text:
                return at

    async def close(self) -> None:
        """Disconnect."""
        await self.client.disconnect()
        if self.http is not None:
            await self.http.close()


class Drive:
    """The customers' and agents' side of one desk count's run, and what it measured."""

    def __init__(self, run: ProductionRun, session: aiohttp.ClientSession, consoles: Consoles, tokens: List[str]):
        self.run = run
        self.session = session
        self.consoles = consoles
        self.tokens = tokens
        self.handoff_ms: List[float] = []
        self.reply_ms: List[float] = []
        self.list_ms: List[float] = []
        self.failures: List[str] = []

    async def ticket_of(self, conversation_id: str) -> str:
        """The open ticket of a conversation, from the desk's internal API (once it exists)."""
        url = f"{self.run.layout.desk_url}/internal/conversations/{conversation_id}/ticket"
        deadline = time.perf_counter() + STEP_TIMEOUT
        while time.perf_counter() < deadline:
            async with self.session.get(url, headers={"X-Frontline-Secret": self.run.desk_secret}) as answer:
                if answer.status == 200:
                    return (await answer.json())["id"]
            await asyncio.sleep(0.05)
        raise asyncio.TimeoutError(f"no ticket for the conversation after {STEP_TIMEOUT:.0f} s")

    async def agent_call(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        """One desk API call as an agent; its JSON.

        Raises:
            RuntimeError: an answer other than 200/201.
        """
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
        async with self.session.request(method, f"{self.run.layout.desk_url}{path}", headers=headers, **kwargs) as answer:
            if answer.status not in (200, 201):
                raise RuntimeError(f"{method} answered {answer.status}: {(await answer.text())[:200]}")
            return await answer.json()

    async def customer(self, index: int, start: Optional["Start"] = None) -> None:
        """One customer's handoff and one agent's reply to it (`start`: connect with the others first, then ask
        at this customer's moment of the spread)."""
        customer = Customer(self.run.layout.assistant_url, source_address(index))
        stage = "connect"
        try:
            try:
                await customer.connect()
            finally:
                if start is not None:
                    await start.connected()
            if start is not None:
                await start.my_turn(index)
            stage = "handoff"
            sent = await customer.say("/request_human")
            ticket = await self.ticket_of(f"socketio:{customer.session_id}")
            self.handoff_ms.append((await self.consoles.wait_for(ticket, STEP_TIMEOUT) - sent) * 1000)
            token = self.tokens[index % len(self.tokens)]
            stage = "list"
            began = time.perf_counter()
            await self.agent_call("GET", "/api/tickets", token)  # the console reloads its list
            self.list_ms.append((time.perf_counter() - began) * 1000)
            stage = "claim"
            await self.agent_call("POST", f"/api/tickets/{ticket}/claim", token)
            stage = "reply"
            text = f"bench reply {uuid.uuid4().hex[:10]}"
            began = time.perf_counter()
            await self.agent_call("POST", f"/api/tickets/{ticket}/messages", token, json={"text": text})
            self.reply_ms.append((await customer.heard(text) - began) * 1000)
        except Exception as error:  # noqa: BLE001 - boundary: a customer that fails is counted, the others go on
            self.failures.append(f"{stage}: {type(error).__name__}: {error}")
        finally:
            await customer.close()


def source_address(index: int) -> str:
    """The loopback address customer `index` connects from: 127.1.0.1 … 127.1.0.250, 127.1.1.1, … (62,500)."""
    return f"127.1.{index // 250 % 250}.{1 + index % 250}"


class Start:
    """Customers who all connect first, then ask for a human one after another, evenly over `spread` seconds: 200
    widgets open at once, their handoffs arriving at a steady rate (customers do not all write in the same
    instant); `spread` 0 is every customer at once.

    Args:
        customers: how many customers connect.
        spread: seconds over which their handoffs are spread.
    """

    def __init__(self, customers: int, spread: float) -> None:
        self.customers = customers
        self.spread = spread
        self.waiting = customers
        self.all_connected = asyncio.Event()
        self.began = 0.0

    async def connected(self) -> None:
        """One customer connected (or failed to): wait for the others."""
        self.waiting -= 1
        if self.waiting == 0:
            self.began = time.perf_counter()
            self.all_connected.set()
        await self.all_connected.wait()

    async def my_turn(self, index: int) -> None:
        """Sleep until customer `index`'s moment."""
        delay = self.began + index * self.spread / self.customers - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


def _quantiles(values: List[float]) -> Dict[str, Optional[float]]:
    if not values:
        return {"p50": None, "p99": None, "count": 0}
    return {"p50": round(percentile(values, 0.5), 1), "p99": round(percentile(values, 0.99), 1), "count": len(values)}


async def warm_up(session: aiohttp.ClientSession, run: ProductionRun) -> None:
    """A few REST conversations that ask a question, then for a human: every Rasa replica, action server and desk
    has served the paths measured before the clock starts (a first turn on a fresh process is slow).

    Raises:
        RuntimeError: the assistant did not answer.
    """
    url = f"{run.layout.assistant_url}/webhooks/rest/webhook"

    async def one(index: int) -> None:
        sender = f"bench-warm-{index}-{uuid.uuid4().hex[:8]}"
        for text in ("How long does delivery take?", "/request_human"):
            async with session.post(url, json={"sender": sender, "message": text}) as answer:
                if answer.status != 200:
                    raise RuntimeError(f"warm-up: the assistant answered HTTP {answer.status}")

    await asyncio.gather(*(one(index) for index in range(WARMUP_CONVERSATIONS)))


async def measure(
    run: ProductionRun, customers: int, tokens: List[str], open_tickets: int, spread: float = 0.0
) -> Dict[str, Any]:
    """Seed, open the consoles, drive the customers; the figures of one desk count."""
    timeout = aiohttp.ClientTimeout(total=STEP_TIMEOUT * 2)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=customers + 50)) as session:
        _progress("warming up…")
        await warm_up(session, run)
        _progress(f"seeding {open_tickets} queued tickets…")
        began = time.perf_counter()
        seed_unavailable = await seed_tickets(session, run, open_tickets)
        seed_seconds = time.perf_counter() - began
        _progress(f"opening {len(tokens)} consoles (SSE)…")
        consoles = Consoles(run.layout.desk_url, tokens)
        await consoles.open()
        try:
            drive = Drive(run, session, consoles, tokens)
            desks = run.pids("desk")
            consoles.reset_counts()
            load_before, cpu_before, down_before = load_average(), cpu_seconds(desks), run.servers_marked_down()
            own_before = time.process_time()
            start = Start(customers, spread) if spread > 0 else None
            _progress(
                f"driving {customers} widget customers at once…" if start is None
                else f"connecting {customers} widget customers, then their handoffs over {spread:g} s…"
            )
            began = time.perf_counter()
            await asyncio.gather(*(drive.customer(index, start) for index in range(customers)))
            drive_seconds = time.perf_counter() - began
            await asyncio.sleep(1)  # the last pushes reach every console
            cpu = cpu_seconds(desks) - cpu_before
            own_cpu = time.process_time() - own_before
            pushes, feed_events = consoles.events, len(consoles.sequences)
        finally:
            await consoles.close()
    return {
        "spread_seconds": spread,
        "handoffs_per_second": round(customers / spread, 2) if spread > 0 else None,
        "handoff_ms": _quantiles(drive.handoff_ms),
        "reply_ms": _quantiles(drive.reply_ms),
        "list_tickets_ms": _quantiles(drive.list_ms),
        "desk_cpu_seconds": round(cpu, 2),
        "console_pushes": pushes,
        "feed_events": feed_events,
        "desk_cpu_seconds_per_1000_pushes": round(cpu / pushes * 1000, 3) if pushes else None,
        "desk_cpu_seconds_per_1000_feed_events": round(cpu / feed_events * 1000, 3) if feed_events else None,
        "bench_process_cpu_seconds": round(own_cpu, 2),  # the simulated widgets and consoles share the machine
        "seed_seconds": round(seed_seconds, 1),
        "seed_answers_no_desk_up": seed_unavailable,
        "drive_seconds": round(drive_seconds, 1),
        "customers_completed": len(drive.reply_ms),
        "failures": len(drive.failures),
        "failures_by_kind": dict(collections.Counter(drive.failures).most_common(5)),
        "console_errors": consoles.errors[:5],
        "haproxy_marked_down_during_drive": run.marked_down_since(down_before),
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }


def targets(by_count: Dict[str, Any]) -> Dict[str, Any]:
    """The issue's targets, met or not, from the measured figures."""
    found: Dict[str, Any] = {}
    for count, figures in by_count.items():
        for name in ("handoff_ms", "reply_ms"):
            p99 = figures[name]["p99"]
            found[f"{count}_desks_{name.split('_')[0]}_p99_under_1s"] = p99 is not None and p99 < TARGET_P99_MS
    if "1" in by_count and "2" in by_count:
        one, two = by_count["1"], by_count["2"]
        found["2_desks_not_slower"] = all(
            two[name]["p99"] is not None and one[name]["p99"] is not None and two[name]["p99"] <= one[name]["p99"]
            for name in ("handoff_ms", "reply_ms", "list_tickets_ms")
        )
    return found


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of `python -m bot bench desk`."""
    parser = argparse.ArgumentParser(prog="python -m bot bench desk", description=__doc__)
    parser.add_argument("--desks", type=counts, default=[1, 2], help="desk counts to compare (default 1,2)")
    parser.add_argument("--customers", type=int, default=200, help="concurrent widget customers (default 200)")
    parser.add_argument("--agents", type=int, default=50, help="agents with a console open (default 50)")
    parser.add_argument("--open-tickets", type=int, default=1000, help="queued tickets seeded first (default 1000)")
    parser.add_argument(
        "--spread", type=float, default=0.0,
        help="seconds over which the connected customers' handoffs are spread evenly (default 0: all at once)",
    )
    args = parser.parse_args(argv)
    if min(args.customers, args.agents) < 1 or args.open_tickets < 0 or args.spread < 0:
        parser.error("--customers and --agents must be at least 1, --open-tickets and --spread at least 0")
    capacity = -(-args.customers // args.agents)  # every customer's ticket can be claimed
    by_count: Dict[str, Any] = {}
    try:
        for desks in args.desks:
            with production_layout(desks, _progress) as run:
                tokens = create_agents(run, args.agents, capacity)
                by_count[str(desks)] = asyncio.run(
                    measure(run, args.customers, tokens, args.open_tickets, args.spread)
                )
                _progress(f"{desks} desk(s): {json.dumps(by_count[str(desks)])}")
    except (LayoutError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    figures = {
        "customers": args.customers, "agents": args.agents, "open_tickets": args.open_tickets, "spread_seconds": args.spread,
        "cores": os.cpu_count(), "desks": by_count, "targets": targets(by_count),
    }
    print(json.dumps(figures))
    return 0 if all(figures["failures"] == 0 for figures in by_count.values()) else 1
