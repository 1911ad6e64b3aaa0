"""Fault runs of the scaled-out desk (`make test-faults`): desk processes killed with SIGKILL while consoles are
connected and tickets, claims and replies go through every desk.

- Pushes: each console of a killed desk reconnects to the other with `Last-Event-ID` and ends with every event of
  the feed exactly once, in order, with the data stored; every ticket and reply a desk acknowledged is among them.
- Leader: when the desk holding the leader's lease is killed, the other takes it over (and the killed desk's
  consoles stop counting as online); a customer due a position update afterwards is told once.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import random
import time
from typing import Any, Dict, List, Optional

import aiohttp
import pytest

from bot.desk import auth
from bot.desk.records import Role
from bot.desk.presence import Presence
from cluster_helpers import (
    PINNED_NOW,
    SECRET,
    Console,
    DeskNode,
    RecordingRasa,
    cluster_data_key,  # noqa: F401 - autouse: this process shares the desks' data key
    create_ticket,
    schema_url,
    schema_with_tables,
)

pytestmark = [pytest.mark.faults, pytest.mark.postgres]


schema = pytest.fixture(scope="function")(schema_with_tables)


@pytest.fixture
async def rasa() -> Any:
    server = RecordingRasa()
    await server.start()
    yield server
    await server.stop()


class Traffic:
    """Tickets, claims and replies through whichever desks are up, recording what the desks acknowledged.

    Args:
        http: the client session.
        nodes: the desks.
        tokens: agent name -> bearer token.
        make_packet: the packet factory.
        rng: the run's random numbers.
    """

    def __init__(self, http: aiohttp.ClientSession, nodes: List[DeskNode], tokens: Dict[str, str],
                 make_packet: Any, rng: random.Random) -> None:
        self.http, self.nodes, self.tokens, self.make_packet, self.rng = http, nodes, tokens, make_packet, rng
        self.down: set = set()
        self.tickets: List[str] = []  # codes of tickets whose creation was answered 201
        self.replies: List[str] = []  # texts of replies answered 201
        self.refused = 0  # requests that reached a killed desk (their outcome is unknown to the client)
        self.stopping = asyncio.Event()

    def desk(self) -> DeskNode:
        return self.rng.choice([node for node in self.nodes if node.name not in self.down])

    async def call(self, method: str, path: str, **kwargs: Any) -> Optional[Dict[str, Any]]:
        """One request to a live desk; None when the desk died under it."""
        node = self.desk()
        try:
            async with self.http.request(method, f"{node.base}{path}", **kwargs) as response:
                assert response.status in (200, 201), (response.status, await response.text())
                return await response.json()
        except (aiohttp.ClientError, ConnectionError, asyncio.TimeoutError):
            self.refused += 1
            return None

    async def run(self, worker: int) -> None:
        n = 0
        while not self.stopping.is_set():
            n += 1
            answer = await self.call("POST", "/internal/tickets", json=self.make_packet(f"fault-{worker}-{n}"),
                                     headers={"X-Frontline-Secret": SECRET})
            if answer is None:
                continue
            self.tickets.append(answer["id"])
            agent = self.rng.choice(sorted(self.tokens))
            headers = {"Authorization": f"Bearer {self.tokens[agent]}"}
            if await self.call("POST", f"/api/tickets/{answer['id']}/claim", headers=headers) is None:
                continue
            for k in range(2):
                text = f"reply {worker}-{n}-{k}"
                if await self.call("POST", f"/api/tickets/{answer['id']}/messages", json={"text": text},
                                   headers=headers) is not None:
                    self.replies.append(text)


async def test_killing_desks_loses_no_push(schema: Any, rasa: RecordingRasa, tmp_path: pathlib.Path,
                                          make_packet: Any) -> None:
    name, store = schema
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"seed {seed}")
    nodes = [DeskNode(label, schema_url(name), rasa.url, tmp_path) for label in ("desk-a", "desk-b")]
    # Supervisors: their streams carry every event, so each console must end with every id (an agent's stream
    # carries only the tickets in its reach: test_roles).
    tokens = {agent: auth.create_agent(store, agent, ["*"], False, 10_000, 0.0, f"pw-{agent}-123",
                                       role=Role.SUPERVISOR, settled=True)[1]
              for agent in ("ann", "ben", "cat", "dan", "eve")}
    async with aiohttp.ClientSession() as http:
        consoles: List[Console] = []
        where: Dict[int, DeskNode] = {}
        try:
            for node in nodes:
                node.start()
            for node in nodes:
                await node.wait_healthy(http)
            for n, agent in enumerate(sorted(tokens)):
                console = Console(http, tokens[agent])
                where[id(console)] = nodes[0] if n < 3 else nodes[1]
                await console.connect(where[id(console)].base)
                consoles.append(console)
            starts = {id(c): c.hellos[0] for c in consoles}
            traffic = Traffic(http, nodes, tokens, make_packet, rng)
            workers = [asyncio.ensure_future(traffic.run(w)) for w in range(3)]
            for victim, survivor in ((nodes[0], nodes[1]), (nodes[1], nodes[0])):
                await asyncio.sleep(rng.uniform(1.0, 2.5))
                traffic.down.add(victim.name)
                await asyncio.sleep(rng.uniform(0.0, 0.05))  # requests already sent to it stay in flight
                victim.kill()
                for console in consoles:
                    if where[id(console)] is victim:
                        await console.wait_closed()
                        await asyncio.sleep(rng.uniform(0.0, 0.5))  # the console's retry delay
                        await console.connect(survivor.base, last_id=console.last_id)
                        where[id(console)] = survivor
                victim.start()
                await victim.wait_healthy(http)
                traffic.down.discard(victim.name)
            await asyncio.sleep(1.0)
            traffic.stopping.set()
            await asyncio.gather(*workers)
            newest = store.feed_last_id()
            for console in consoles:
                await console.wait_for_id(newest, seconds=15)
            for console in consoles:
                await console.close()
        finally:
            for node in nodes:
                node.stop()
    assert traffic.tickets and traffic.replies
    for console in consoles:
        rows = store.feed_after(starts[id(console)], 1_000_000)
        # Every event of the feed since the console first connected: once each, in order, as stored.
        assert console.ids() == [row.id for row in rows]
        assert [(kind, data) for _, kind, data in console.events] == [(r.kind, json.loads(r.data)) for r in rows]
        created = {data["id"] for _, kind, data in console.events if kind == "ticket" and data["status"] == "queued"}
        sent = {data["message"]["text"] for _, kind, data in console.events
                if kind == "message" and data["message"]["status"] == "sent"}
        assert set(traffic.tickets) <= created
        assert set(traffic.replies) <= sent
    moved = sum(console.connections - 1 for console in consoles)
    print(f"kill -9 x2: {len(consoles)} consoles ({moved} reconnections), {len(rows)} events, "
          f"{len(traffic.tickets)} tickets, {len(traffic.replies)} replies acknowledged, "
          f"{traffic.refused} requests cut by a kill; lost 0, doubled 0, reordered 0")


async def test_the_leader_moves_when_it_is_killed(schema: Any, tmp_path: pathlib.Path, make_packet: Any) -> None:
    name, store = schema
    slow = RecordingRasa(queue_delay=1.0)
    await slow.start()
    cadence = {"leader_round": 0.3, "lease": 2.0, "heartbeat": 0.3, "alive": 1.5}
    nodes = [DeskNode(label, schema_url(name), slow.url, tmp_path, cadence, {"FRONTLINE_NOW": PINNED_NOW})
             for label in ("lead-a", "lead-b")]
    tokens = {agent: auth.create_agent(store, agent, ["*"], False, 100, 0.0, f"pw-{agent}-123", settled=True)[1]
              for agent in ("nora", "bob")}
    observer = Presence(store, "observer", alive_seconds=1.5, refresh_seconds=0.0)
    try:
        async with aiohttp.ClientSession() as http:
            for node in nodes:
                node.start()
            for node in nodes:
                await node.wait_healthy(http)

            async def leaders() -> List[DeskNode]:
                result = []
                for node in nodes:
                    try:
                        if (await node.health(http))["leader"]:
                            result.append(node)
                    except aiohttp.ClientError:
                        pass
                return result

            deadline = time.monotonic() + 10
            while len(await leaders()) != 1:
                assert time.monotonic() < deadline, "no leader"
                await asyncio.sleep(0.1)
            leader = (await leaders())[0]
            other = nodes[1] if leader is nodes[0] else nodes[0]
            console = Console(http, tokens["bob"])
            await console.connect(leader.base)
            assert "bob" in observer.shared()[0]
            killed_at = time.monotonic()
            leader.kill()
            while other not in await leaders():
                assert time.monotonic() - killed_at < 2.0 + 0.3 + 3.0, "the lease did not move"
                await asyncio.sleep(0.1)
            print(f"leader moved {time.monotonic() - killed_at:.1f} s after the kill (lease 2 s)")
            assert "bob" not in observer.shared()[0]  # the killed desk's console no longer counts
            # A customer due a position update after the move is told once.
            headers = {"Authorization": f"Bearer {tokens['nora']}"}
            await create_ticket(http, other.base, make_packet("lead-0"))
            await create_ticket(http, other.base, make_packet("lead-1"))
            async with http.post(f"{other.base}/api/tickets/{store.open_ticket_for('socketio:lead-0').code}/claim",
                                 headers=headers) as response:
                assert response.status == 200
            leader.start()  # back, as a follower: the lease stays where it is
            await leader.wait_healthy(http)
            deadline = time.monotonic() + 10
            while ("socketio:lead-1", 1) not in slow.queue_updates():
                assert time.monotonic() < deadline, slow.queue_updates()
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.5)
            assert slow.queue_updates() == [("socketio:lead-1", 1)]
            assert await leaders() == [other]
            await console.close()
    finally:
        for node in nodes:
            node.stop()
        await slow.stop()
