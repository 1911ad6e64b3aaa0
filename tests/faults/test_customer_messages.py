"""Customer messages during a handoff reach the ticket exactly once, in Rasa's order, through RabbitMQ outages.

Production mode's parts, for real: the tracker store on PostgreSQL with its outbox (`bot.outbox`), RabbitMQ with
publisher confirms (`bot.pika_broker`) behind a TCP proxy the test cuts and restores (`tests/faults/proxy.py`),
and a desk process (`python -m bot desk`) on PostgreSQL consuming the queue through the same proxy.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict, List

import aiohttp
import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.devtools.postgres import run_sql as pg_admin
from bot.desk.store import Store
from bot.pika_broker import ConfirmedPikaBroker
from bot.stores import TunedSQLTrackerStore
from tests.desk.cluster_helpers import DATA_KEY, PG_URL, SECRET, DeskNode, new_schema, schema_url
from tests.desk.conftest import build_packet, pg_available
from tests.desk.test_events import rabbit_available
from tests.faults.proxy import CuttableProxy

pytestmark = [
    pytest.mark.faults, pytest.mark.postgres,
    pytest.mark.skipif(not (pg_available() and rabbit_available()), reason="needs PostgreSQL and RabbitMQ"),
]

DOMAIN = Domain.from_yaml('version: "3.1"\n')
CONVERSATIONS = 6
MESSAGES_PER_ROUND = 10


async def health(http: aiohttp.ClientSession, node: DeskNode) -> tuple[int, Dict[str, Any]]:
    async with http.get(f"{node.base}/health") as response:
        return response.status, await response.json()


async def wait_until(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not in {seconds} s: {what}")


async def test_customers_write_through_rabbitmq_outages(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTLINE_DATA_KEYS", DATA_KEY)  # the key DeskNode gives the desk: both read the tickets
    proxy = CuttableProxy(("127.0.0.1", 5672)).start()
    queue = f"frontline_fault_{uuid.uuid4().hex[:10]}"
    tracker_db = f"outbox_fault_{uuid.uuid4().hex[:10]}"
    schema = new_schema()
    pg_admin(f"CREATE DATABASE {tracker_db}")
    desk_store = Store(PG_URL, schema=schema)
    desk_store.migrate()
    broker = ConfirmedPikaBroker("127.0.0.1", proxy.port, "guest", "guest", queues=[queue])
    store = TunedSQLTrackerStore(DOMAIN, dialect="postgresql", host="127.0.0.1", port=5432, db=tracker_db,
                                 username="postgres", event_broker=broker)
    node = DeskNode("desk-1", schema_url(schema), "http://127.0.0.1:9", tmp_path)
    node.env["FRONTLINE_BROKER"] = f"amqp://guest:guest@127.0.0.1:{proxy.port}/?queue={queue}"
    conversations = [f"socketio:fault-{n}" for n in range(CONVERSATIONS)]
    trackers = {c: DialogueStateTracker.from_events(c, [ActionExecuted("action_listen")]) for c in conversations}
    written: Dict[str, List[str]] = {c: [] for c in conversations}
    async with aiohttp.ClientSession() as http:
        try:
            # The desk starts while RabbitMQ is unreachable: it answers 503 with the reason, and keeps trying.
            proxy.cut()
            node.start()
            await wait_until(lambda: _answers(http, node), 60, "the desk answers")
            status, body = await health(http, node)
            assert status == 503 and any(p.startswith("event broker") for p in body["problems"]), body
            codes = {}
            for conversation in conversations:  # the handoff turns, while RabbitMQ is away
                async with http.post(f"{node.base}/internal/tickets", json=build_packet(conversation),
                                     headers={"X-Frontline-Secret": SECRET}) as response:
                    assert response.status == 201, await response.text()
                    codes[conversation] = (await response.json())["id"]
                tracker = trackers[conversation]
                tracker.update(UserUttered("转人工", {"name": "human_handoff", "confidence": 0.99}))
                tracker.update(ActionExecuted("action_handoff"))
                await store.save(tracker)

            async def write_round(label: str, cut_at: int = -1) -> None:
                for i in range(MESSAGES_PER_ROUND):
                    if i == cut_at:
                        proxy.cut()
                    for conversation in conversations:
                        text = f"{label} {i}"
                        tracker = trackers[conversation]
                        tracker.update(UserUttered(text, {"name": "nlu_fallback", "confidence": 0.1}))
                        tracker.update(ActionExecuted("action_listen"))
                        await store.save(tracker)
                        written[conversation].append(text)

            await write_round("down")  # every message written while RabbitMQ is unreachable
            assert store.relay.pending() > 0
            status, body = await health(http, node)
            assert status == 503, body
            proxy.restore()
            await wait_until(lambda: _all_arrived(desk_store, codes, written), 90, "every message after the outage")
            await wait_until(lambda: _healthy(http, node), 60, "/health 200 again")
            # A cut in the middle of a round, with publishes and deliveries in flight.
            await write_round("cut", cut_at=MESSAGES_PER_ROUND // 2)
            status, body = await health(http, node)
            assert status == 503 and any(p.startswith("event broker") for p in body["problems"]), body
            proxy.restore()
            await wait_until(lambda: _all_arrived(desk_store, codes, written), 90, "every message after the cut")
            await asyncio.sleep(1.0)  # anything doubled would arrive now
            assert await _all_arrived(desk_store, codes, written)
            assert store.relay.pending() == 0
            await wait_until(lambda: _healthy(http, node), 60, "/health 200 after the cut")
        finally:
            print(node.output()[-3000:])
            node.stop()
            await store.relay.stop()
            await broker.close()
            store.engine.dispose()
            proxy.close()
            desk_store.drop_schema()
            pg_admin(f"DROP DATABASE IF EXISTS {tracker_db}")
            await _delete_queue(queue)


async def _answers(http: aiohttp.ClientSession, node: DeskNode) -> bool:
    assert node.process is not None and node.process.poll() is None, node.output()
    try:
        await health(http, node)
        return True
    except aiohttp.ClientError:
        return False


async def _healthy(http: aiohttp.ClientSession, node: DeskNode) -> bool:
    return (await health(http, node))[0] == 200


async def _all_arrived(desk_store: Store, codes: Dict[str, str], written: Dict[str, List[str]]) -> bool:
    """True when every ticket holds exactly the messages written, in order (raises on a doubled message)."""
    for conversation, code in codes.items():
        ticket = desk_store.ticket_by_code(code)
        texts = [m.text for m in desk_store.messages(ticket.id) if m.role == "customer"]
        assert len(texts) == len(set(texts)), f"doubled: {texts}"
        if texts != written[conversation]:
            assert texts == written[conversation][:len(texts)] or len(texts) < len(written[conversation]), texts
            return False
    return True


async def _delete_queue(queue: str) -> None:
    import aio_pika

    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)
