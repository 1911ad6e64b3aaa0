"""The desk scales out: several desk processes on one database share console pushes (global event ids,
`Last-Event-ID` catch-up on any process), presence and one queue-position notifier; claims stay atomic.

The store-level tests run on SQLite and PostgreSQL; the process tests start real desk processes on one
PostgreSQL schema. The longer kill -9 runs are in `test_scaleout_faults.py` (`make test-faults`).
"""

from __future__ import annotations

import asyncio
import pathlib
import threading
import time
from typing import Any, AsyncIterator, Dict, List

import aiohttp
import pytest
import sqlalchemy as sa

from bot.desk import auth, records
from bot.desk.leader import Lease
from bot.desk.presence import REFRESH_SECONDS, Presence
from bot.desk.store import Store
from bot.desk.store.feed import feed
from bot.desk.stream import RESET, Hub
from cluster_helpers import (
    PINNED_NOW,
    Console,
    DeskNode,
    RecordingRasa,
    cluster_data_key,  # noqa: F401 - autouse: this process shares the desks' data key
    create_ticket,
    schema_url,
    schema_with_tables,
)


async def drain(hub: Hub, subscription: Any, seconds: float = 0.2) -> List[Dict[str, Any]]:
    """Every event the subscription hands out until none comes for `seconds`."""
    events: List[Dict[str, Any]] = []
    while True:
        batch = await hub.next(subscription, seconds)
        if not batch:
            return events
        events.extend(batch)


# ---------------------------------------------------------------- the feed, presence and the lease in the store


async def test_a_subscriber_far_behind_loses_nothing(store: Store) -> None:
    hub = Hub(store, max_pending=3)
    subscription = hub.subscribe()
    published = [hub.publish("ticket", {"n": n})["seq"] for n in range(20)]
    assert subscription.behind  # its queue overflowed: it reads on from the table
    events = await drain(hub, subscription)
    assert [e["seq"] for e in events] == published
    assert [e["data"]["n"] for e in events] == list(range(20))
    assert published == sorted(published) and len(set(published)) == 20


async def test_last_event_id_resumes_after_it_and_older_than_the_backlog_resets(store: Store) -> None:
    hub = Hub(store, keep_seconds=0.0)
    first = [hub.publish("message", {"n": n})["seq"] for n in range(3)]
    resumed = hub.subscribe(after=first[0])
    assert [e["seq"] for e in await drain(hub, resumed)] == first[1:]
    await asyncio.sleep(0.05)
    assert hub.trim() == 3  # the backlog is gone
    later = hub.publish("message", {"n": 3})["seq"]
    # At the trimmed mark nothing is missing: the events after it follow.
    at_mark = hub.subscribe(after=first[-1])
    assert [e["seq"] for e in await drain(hub, at_mark)] == [later]
    # Before it, events are gone: one reset at the newest id, then live events.
    stale = hub.subscribe(after=first[0])
    assert await hub.next(stale, 0.1) == [{"seq": later, "type": RESET, "data": {}}]
    newest = hub.publish("ticket", {"n": 4})["seq"]
    assert [e["seq"] for e in await drain(hub, stale)] == [newest]
    # An id the feed never had (a database replaced under the console): reset too.
    unknown = hub.subscribe(after=newest + 1000)
    assert (await hub.next(unknown, 0.1))[0]["type"] == RESET and unknown.after == newest


@pytest.mark.postgres
def test_a_feed_append_waits_for_an_earlier_one_to_commit(store: Store) -> None:
    """Ids are handed out in commit order: an append behind an uncommitted one waits, so a reader that saw id n
    never finds a smaller id appear later."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    first = store.engine.connect()
    transaction = first.begin()
    later: List[int] = []
    thread = threading.Thread(target=lambda: later.append(store.append_feed("ticket", "{}")))
    try:
        early_id = first.execute(feed.insert().values(at=0.0, kind="ticket", data="{}")).inserted_primary_key[0]
        thread.start()
        time.sleep(0.5)
        # The later append did not commit ahead of the earlier one: a reader sees nothing yet.
        assert store.feed_after(0, 10) == [] and not later
        transaction.commit()
    finally:
        if transaction.is_active:
            transaction.rollback()
        first.close()
        if thread.is_alive():
            thread.join(timeout=10)
    thread.join(timeout=10)
    assert later and later[0] > early_id
    assert [row.id for row in store.feed_after(0, 10)] == [early_id, later[0]]


def test_presence_is_shared_between_processes_and_expires_with_them(store: Store) -> None:
    one = Presence(store, "desk-one", alive_seconds=1.0)
    two = Presence(store, "desk-two", alive_seconds=1.0, refresh_seconds=0.0)
    far = records.now() + 10 * 3600  # long after any request: only open consoles count
    one.heartbeat()
    two.heartbeat()
    one.connected("bob")
    assert two.is_online("bob", far) and not two.is_online("alice", far)
    one.disconnected("bob")
    assert not two.is_online("bob", far)
    one.connected("bob")
    assert two.is_online("bob", far)
    # desk-one stops sending heartbeats (killed): after alive_seconds its console no longer counts.
    time.sleep(1.2)
    two.heartbeat()
    assert not two.is_online("bob", far)
    assert store.live_processes(1.0) == {"desk-two"}
    assert store.forget_dead_processes(1.0) == 1
    # An API request on one process counts on the other (for ONLINE_AFTER_REQUEST_SECONDS).
    one.seen("carol")
    assert two.is_online("carol", records.now() + 60) and not two.is_online("carol", records.now() + 301)
    # What the other processes shared is read at most every refresh_seconds.
    cached = Presence(store, "desk-three", alive_seconds=5.0, refresh_seconds=REFRESH_SECONDS)
    assert not cached.is_online("dave", far)
    two.connected("dave")
    two.heartbeat()
    assert not cached.is_online("dave", far)
    time.sleep(REFRESH_SECONDS)
    assert cached.is_online("dave", far)


def test_one_lease_holder_at_a_time_and_it_moves_when_the_holder_stops(store: Store) -> None:
    one = Lease(store, "job", "desk-one", seconds=1.0)
    two = Lease(store, "job", "desk-two", seconds=1.0)
    assert one.hold() and not two.hold()
    assert one.hold() and not two.hold()  # renewed
    assert store.lease_holder("job") == "desk-one"
    time.sleep(1.2)  # desk-one stopped renewing
    assert two.hold() and not one.hold()
    two.release()
    assert one.hold()  # released: taken at once
    many = [Lease(store, "race", f"desk-{n}", seconds=30.0) for n in range(8)]
    results: List[bool] = []
    threads = [threading.Thread(target=lambda lease=lease: results.append(lease.hold())) for lease in many]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


# ---------------------------------------------------------------- two real desk processes on PostgreSQL


pg_schema = pytest.fixture(scope="module")(schema_with_tables)
own_schema = pytest.fixture(scope="function")(schema_with_tables)


@pytest.fixture(scope="module")
async def rasa() -> AsyncIterator[RecordingRasa]:
    server = RecordingRasa()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def cluster(pg_schema: Any, rasa: RecordingRasa, tmp_path_factory: Any) -> AsyncIterator[Dict[str, Any]]:
    """Two desk processes (`python -m bot desk`) on one schema, and agents alice and bob (skill `orders`)."""
    schema, store = pg_schema
    logs = pathlib.Path(tmp_path_factory.mktemp("cluster"))
    pinned = {"FRONTLINE_NOW": PINNED_NOW}  # in business hours: waits are the queue's, not the night's
    nodes = [DeskNode(name, schema_url(schema), rasa.url, logs, extra_env=pinned) for name in ("desk-a", "desk-b")]
    tokens = {
        name: auth.create_agent(store, name, ["orders"], False, 10, 0.0, f"pw-{name}-123", settled=True)[1]
        for name in ("alice", "bob")
    }
    async with aiohttp.ClientSession() as http:
        try:
            for node in nodes:
                node.start()
            for node in nodes:
                await node.wait_healthy(http)
            yield {"a": nodes[0], "b": nodes[1], "store": store, "http": http, "tokens": tokens}
        finally:
            for node in nodes:
                node.stop()


@pytest.mark.postgres
async def test_an_event_made_through_one_desk_reaches_the_console_on_the_other(cluster: Dict[str, Any], make_packet: Any) -> None:
    http, a, b, store = cluster["http"], cluster["a"], cluster["b"], cluster["store"]
    on_a, on_b = Console(http, cluster["tokens"]["alice"]), Console(http, cluster["tokens"]["bob"])
    await on_a.connect(a.base)
    await on_b.connect(b.base)
    assert on_a.hellos == on_b.hellos == [store.feed_last_id()]  # one position, whichever desk
    made_at = time.monotonic()
    code = (await create_ticket(http, a.base, make_packet("scale-push")))["id"]
    newest = store.feed_last_id()
    await on_b.wait_for_id(newest, seconds=5)
    assert time.monotonic() - made_at < 1.0
    await on_a.wait_for_id(newest, seconds=5)
    # The same event, with the same global id, on both desks.
    assert [(i, kind, data["id"]) for i, kind, data in on_b.events] == [(newest, "ticket", code)]
    assert on_a.events == on_b.events
    await on_a.close()
    await on_b.close()


@pytest.mark.postgres
async def test_a_console_catches_up_on_another_desk_with_last_event_id(cluster: Dict[str, Any], make_packet: Any) -> None:
    http, a, b, store = cluster["http"], cluster["a"], cluster["b"], cluster["store"]
    # A supervisor's console: its stream carries every event (an agent's only those of the tickets in its reach).
    watcher = auth.create_agent(store, "sue", ["orders"], False, 10, 0.0, "pw-sue-123", role=records.Role.SUPERVISOR,
                                settled=True)[1]
    console = Console(http, watcher)
    await console.connect(a.base)
    start = console.hellos[-1]
    await create_ticket(http, a.base, make_packet("scale-c1"))
    await console.wait_for_id(store.feed_last_id())
    seen = console.last_id
    await console.close()
    # While the console is away, changes through both desks: a ticket, a claim, a reply.
    missed = [(await create_ticket(http, a.base, make_packet("scale-c2")))["id"]]
    missed.append((await create_ticket(http, b.base, make_packet("scale-c3")))["id"])
    bob = {"Authorization": f"Bearer {cluster['tokens']['bob']}"}
    async with http.post(f"{a.base}/api/tickets/{missed[0]}/claim", headers=bob) as response:
        assert response.status == 200
    async with http.post(f"{b.base}/api/tickets/{missed[0]}/messages", json={"text": "on it"}, headers=bob) as response:
        assert response.status == 201
    await console.connect(b.base, last_id=seen)
    assert console.hellos[-1] == seen  # the stream resumes from the position it was given
    await console.wait_for_id(store.feed_last_id())
    live = (await create_ticket(http, a.base, make_packet("scale-c4")))["id"]
    await console.wait_for_id(store.feed_last_id())
    await console.close()
    expected = [row.id for row in store.feed_after(start, 1000)]
    assert console.ids() == expected  # every event once, in order, across the two desks
    tickets = [data["id"] for _, kind, data in console.events if kind == "ticket"]
    assert set(missed) | {live} <= set(tickets)
    replies = [data["message"]["text"] for _, kind, data in console.events if kind == "message"]
    assert "on it" in replies


@pytest.mark.postgres
async def test_an_agent_working_on_one_desk_counts_as_online_on_the_other(cluster: Dict[str, Any], make_packet: Any) -> None:
    http, a, b, store = cluster["http"], cluster["a"], cluster["b"], cluster["store"]
    auth.create_agent(store, "carol", ["after_sales"], True, 3, 0.0, "pw-carol-123")
    token = auth.create_agent(store, "erin", ["payments"], False, 2, 0.0, "pw-erin-123", settled=True)[1]
    packet = make_packet("scale-p1", topic="faq_payment_failed")
    first = await create_ticket(http, b.base, packet)
    assert first["skill"] == "payments"  # settings.yml: desk.skills; nobody else could serve it
    assert first["agents_online"] == 0 and first["expected_wait_seconds"] is None
    async with http.get(f"{a.base}/api/me", headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200
    await asyncio.sleep(REFRESH_SECONDS + 0.1)
    second = await create_ticket(http, b.base, make_packet("scale-p2", topic="faq_payment_failed"))
    assert second["agents_online"] == 1 and second["expected_wait_seconds"] is not None


@pytest.mark.postgres
async def test_claims_through_two_desks_have_one_winner(cluster: Dict[str, Any], make_packet: Any) -> None:
    http, a, b = cluster["http"], cluster["a"], cluster["b"]

    async def claim(base: str, code: str, agent: str) -> int:
        headers = {"Authorization": f"Bearer {cluster['tokens'][agent]}"}
        async with http.post(f"{base}/api/tickets/{code}/claim", headers=headers) as response:
            return response.status

    for n in range(5):
        code = (await create_ticket(http, a.base, make_packet(f"scale-race-{n}")))["id"]
        statuses = await asyncio.gather(claim(a.base, code, "alice"), claim(b.base, code, "bob"))
        assert sorted(statuses) == [200, 409]


# ---------------------------------------------------------------- one queue-position notifier


@pytest.mark.postgres
async def test_only_one_desk_tells_a_customer_their_place(own_schema: Any, tmp_path: pathlib.Path, make_packet: Any) -> None:
    """Two desks run the leader's rounds every 0.3 s; Rasa takes 1.5 s to answer a queue update, so two notifiers
    would both read a ticket's old place and both tell it. Each customer is told their new place once."""
    schema, store = own_schema
    slow = RecordingRasa(queue_delay=1.5)
    await slow.start()
    cadence = {"leader_round": 0.3, "lease": 3.0}
    nodes = [
        DeskNode(name, schema_url(schema), slow.url, tmp_path, cadence, {"FRONTLINE_NOW": PINNED_NOW})
        for name in ("notify-a", "notify-b")
    ]
    token = auth.create_agent(store, "nora", ["*"], False, 10, 0.0, "pw-nora-123", settled=True)[1]
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession() as http:
            for node in nodes:
                node.start()
            for node in nodes:
                await node.wait_healthy(http)
            leaders = [(await node.health(http))["leader"] for node in nodes]
            deadline = time.monotonic() + 10
            while sum(leaders) != 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                leaders = [(await node.health(http))["leader"] for node in nodes]
            assert sum(leaders) == 1
            # Three times: two customers queue (skill `orders`), nora (online: she works through the API) takes
            # the first, and the second moves from place 2 to place 1 in that one step: it is due a position update.
            waiting = []
            for wave in range(3):
                first, second = f"socketio:notify-{wave}-0", f"socketio:notify-{wave}-1"  # ids as Rasa keeps them
                await create_ticket(http, nodes[wave % 2].base, make_packet(first))
                await create_ticket(http, nodes[1 - wave % 2].base, make_packet(second))
                code = store.open_ticket_for(first).code
                async with http.post(f"{nodes[wave % 2].base}/api/tickets/{code}/claim", headers=headers) as response:
                    assert response.status == 200, await response.text()
                waiting.append(second)
                deadline = time.monotonic() + 20
                while (second, 1) not in slow.queue_updates() and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                await asyncio.sleep(1.0)  # a second notifier would have told it again by now (0.3 s later)
                code = store.open_ticket_for(second).code  # then it leaves the queue too
                async with http.post(f"{nodes[wave % 2].base}/api/tickets/{code}/claim", headers=headers) as response:
                    assert response.status == 200, await response.text()
            await asyncio.sleep(0.5)
            told = slow.queue_updates()
            assert sorted(told) == [(cid, 1) for cid in waiting], told
            assert [(await node.health(http))["leader"] for node in nodes].count(True) == 1
    finally:
        for node in nodes:
            node.stop()
        await slow.stop()
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM desk_leases")).scalar() == 0  # released on stop
