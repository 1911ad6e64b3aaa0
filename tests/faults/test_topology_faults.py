"""Faults across the production layout during live handoffs, counted (`make test-faults`).

`python -m bot run --production --replicas 2` runs as users start it (2 Rasa servers, 2 action servers, 2 desks
behind HAProxy, on PostgreSQL, Redis and RabbitMQ; `tests/faults/layout_harness.py`). One phase per fault: fresh
REST customers ask for a human and write numbered messages while agents claim their tickets and reply through
the desk API (`tests/faults/live_handoffs.py`), and the fault strikes twice at random moments (seeded: the seed is
printed; `FRONTLINE_FAULT_SEED` repeats a run); a last phase with more customers takes every fault once, each at
its own random moment. After each phase, once the outbox is empty and no reply is
pending, Rasa's trackers are compared with the tickets (`tests/faults/counting.py`); the figures are printed as
the rows of docs/reliability.md's table, and every one of lost, doubled, reordered, pending and broken claims
must be 0.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Any, Awaitable, Callable, Dict, Iterator, List

import aiohttp
import pytest

from bot.desk import auth
from bot.desk.records import Role
from bot.desk.store import Store
from tests.desk.test_events import rabbit_available
from tests.faults.counting import Tally, count_customer, count_replies
from tests.faults.layout_harness import Layout, start_layout
from tests.faults.live_handoffs import AgentClient, AgentWork, Customer, CustomerClient, work_tickets

pytestmark = [
    pytest.mark.faults, pytest.mark.stack, pytest.mark.postgres, pytest.mark.redis,
    pytest.mark.skipif(not rabbit_available(), reason="needs RabbitMQ on 127.0.0.1:5672"),
]

CUSTOMERS_PER_PHASE = 8
STORM_CUSTOMERS = 20  # the last phase: every fault once, at random moments
STORM = "all six, once each, at random moments"
MESSAGES_PER_CUSTOMER = 6
REPLIES_PER_TICKET = 3
AGENTS = 4
CUT_SECONDS = (3.0, 6.0)
QUIET_SECONDS = 120.0  # the sweep of a reply left pending is due RASA_TIMEOUT_SECONDS + 15 s after it


@pytest.fixture
def layout(monkeypatch: pytest.MonkeyPatch) -> Iterator[Layout]:
    started = start_layout()
    running = next(started)
    monkeypatch.setenv("FRONTLINE_DATA_KEYS", running.env["FRONTLINE_DATA_KEYS"])
    try:
        yield running
    finally:
        next(started, None)


async def _kill(layout: Layout, name: str) -> None:
    old = layout.kill_9(name)
    deadline = time.monotonic() + 180
    while not layout.restarted(name, old):
        assert time.monotonic() < deadline, f"{name} was not restarted:\n{layout.log_tail()}"
        await asyncio.sleep(0.5)


async def _cut(layout: Layout, proxy_name: str, rng: random.Random) -> None:
    proxy = getattr(layout, proxy_name)
    proxy.cut()
    await asyncio.sleep(rng.uniform(*CUT_SECONDS))
    proxy.restore()


async def _terminate(layout: Layout) -> None:
    killed = await asyncio.to_thread(layout.terminate_backends)
    print(f"  pg_terminate_backend: {killed} connections")


FAULTS: Dict[str, Callable[[Layout, random.Random], Awaitable[None]]] = {
    "kill -9 rasa-1": lambda layout, rng: _kill(layout, "rasa-1"),
    "kill -9 desk-1": lambda layout, rng: _kill(layout, "desk-1"),
    "kill -9 actions-1": lambda layout, rng: _kill(layout, "actions-1"),
    "RabbitMQ cut": lambda layout, rng: _cut(layout, "rabbitmq", rng),
    "Redis cut": lambda layout, rng: _cut(layout, "redis", rng),
    "PostgreSQL backends killed": lambda layout, rng: _terminate(layout),
}


async def _strike(fault: str, layout: Layout, rng: random.Random) -> List[float]:
    """The fault twice, at random moments of the phase; returns when each struck (seconds into the phase)."""
    started = time.monotonic()
    moments = []
    for low, high in ((0.5, 6.0), (3.0, 10.0)):
        await asyncio.sleep(rng.uniform(low, high))
        moments.append(round(time.monotonic() - started, 1))
        await FAULTS[fault](layout, rng)
    return moments


async def _storm(layout: Layout, rng: random.Random) -> List[float]:
    """Every fault once, each at its own random moment of the phase (they may overlap)."""
    started = time.monotonic()
    moments: List[float] = []

    async def one(fault: str, delay: float) -> None:
        await asyncio.sleep(delay)
        moments.append(round(time.monotonic() - started, 1))
        await FAULTS[fault](layout, rng)

    await asyncio.gather(*(one(fault, rng.uniform(0.5, 15.0)) for fault in FAULTS))
    return sorted(moments)


async def _quiet(layout: Layout) -> None:
    """Wait until the outbox is empty and no reply is pending."""
    deadline = time.monotonic() + QUIET_SECONDS
    while True:
        outbox, pending = await asyncio.to_thread(lambda: (layout.outbox_rows(), layout.pending_replies()))
        if outbox == 0 and pending == 0:
            return
        if time.monotonic() > deadline:
            return  # counted as they are: pending replies show in the tally
        await asyncio.sleep(1.0)


async def _tracker(http: aiohttp.ClientSession, layout: Layout, conversation: str) -> List[Dict[str, Any]]:
    url = f"{layout.plan.assistant_url}/conversations/{conversation}/tracker"
    params = {"include_events": "ALL", "token": layout.env["RASA_TOKEN"]}
    for _ in range(30):
        async with http.get(url, params=params) as response:
            if response.status == 200:
                return (await response.json())["events"]
        await asyncio.sleep(1.0)
    raise AssertionError(f"no tracker for {conversation}")


async def _settled(http: aiohttp.ClientSession, layout: Layout, reader: AgentClient,
                   customers: List[Customer]) -> Dict[str, Any]:
    """Trackers and tickets, read again until every ticket shows what its tracker holds (or time is up)."""
    deadline = time.monotonic() + QUIET_SECONDS
    while True:
        seen = {}
        for customer in customers:
            assert customer.code is not None
            seen[customer.code] = (await _tracker(http, layout, customer.conversation), await reader.ticket(customer.code))
        unreadable = [code for code, (_, ticket) in seen.items() if ticket is None]
        if not unreadable:
            probe = Tally("probe")
            for customer in customers:
                count_customer(probe, customer, *seen[customer.code])
            if not probe.problems or time.monotonic() > deadline:
                return seen
        elif time.monotonic() > deadline:  # a ticket the reader cannot read: fail with it, never wait for ever
            raise AssertionError(f"the desk never answered {reader.name}'s GET of {unreadable}:\n{layout.log_tail()}")
        await asyncio.sleep(2.0)


async def _phase(fault: str, index: int, http: aiohttp.ClientSession, layout: Layout, agents: List[AgentClient],
                 reader: AgentClient, rng: random.Random) -> Tally:
    customers_client = CustomerClient(http, layout.plan.assistant_url, layout.plan.desk_url,
                                      layout.env["FRONTLINE_DESK_SECRET"], rng)
    count = STORM_CUSTOMERS if fault == STORM else CUSTOMERS_PER_PHASE
    customers = [Customer(f"p{index}c{n}", f"fault-{layout.queue[-8:]}-p{index}c{n}") for n in range(count)]
    registry: Dict[str, Customer] = {}
    strike = asyncio.create_task(_storm(layout, rng) if fault == STORM else _strike(fault, layout, rng))
    agents_done = asyncio.create_task(work_tickets(agents, registry, len(customers), REPLIES_PER_TICKET, rng))
    await asyncio.gather(*(customers_client.live(c, MESSAGES_PER_CUSTOMER, registry) for c in customers))
    work: AgentWork = await agents_done
    moments = await strike
    await _quiet(layout)
    seen = await _settled(http, layout, reader, customers)
    tally = Tally(fault)
    for customer in customers:
        assert customer.code is not None
        events, ticket = seen[customer.code]
        count_customer(tally, customer, events, ticket)
        count_replies(tally, work, customer.code, events, ticket)
    tally.replies_pending = max(tally.replies_pending, await asyncio.to_thread(layout.pending_replies))
    refused = sum(len(c.refused) for c in customers)
    unsettled = sum(1 for r in work.replies if r.message_id is None)
    print(f"{tally.row()} (struck at {moments} s; REST messages never answered {refused}, replies the desk "
          f"never settled {unsettled}; replies resent under their key "
          f"{sum(r.resent for r in work.replies)}, reloaded {sum(r.reloads for r in work.replies)})", flush=True)
    for problem in tally.problems:
        print(f"  {problem}")
    return tally


async def test_live_handoffs_through_every_fault_lose_double_and_reorder_nothing(layout: Layout) -> None:
    seed = int(os.environ.get("FRONTLINE_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\nfault run seed {seed} (FRONTLINE_FAULT_SEED={seed} repeats it)", flush=True)
    rng = random.Random(seed)
    store = Store(layout.env["DATABASE_URL"])
    try:
        tokens = {f"fault-agent-{n}": auth.create_agent(store, f"fault-agent-{n}", ["*"], True, 100, time.time(),
                                                        f"pw-fault-agent-{n}", settled=True)[1] for n in range(AGENTS)}
        # who reads every ticket back after a phase: a supervisor (an agent reaches only its own and the queue's)
        supervisor = auth.create_agent(store, "fault-supervisor", ["*"], True, 100, time.time(),
                                       "pw-fault-supervisor", role=Role.SUPERVISOR, settled=True)[1]
    finally:
        store.close()
    tallies: List[Tally] = []
    async with aiohttp.ClientSession() as http:
        agents = [AgentClient(http, layout.plan.desk_url, name, token, rng) for name, token in tokens.items()]
        reader = AgentClient(http, layout.plan.desk_url, "fault-supervisor", supervisor, rng)
        for index, fault in enumerate([*FAULTS, STORM], 1):
            tallies.append(await _phase(fault, index, http, layout, agents, reader, rng))
    print("\n".join(t.row() for t in tallies))
    assert [t.fault for t in tallies if not t.clean] == [], "\n".join(t.row() for t in tallies)
