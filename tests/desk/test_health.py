"""The desk's `/health`: 503 with the reason (JSON) while its database or the event broker is unreachable, 200
again after; the RabbitMQ consumer started while RabbitMQ is unreachable connects once it is back."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict

import pytest

from bot.desk.config import load
from bot.desk.events import AMQPConsumer
from bot.desk.rasa_client import RasaClient
from bot.desk.service import Desk
from bot.desk.store import Store
from tests.desk.conftest import PG_URL, pg_available
from tests.desk.test_events import handoff_event, open_ticket, rabbit_available, user_event
from tests.faults.proxy import CuttableProxy


async def eventually(predicate: Any, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.postgres
@pytest.mark.skipif(not pg_available(), reason="PostgreSQL is not reachable on 127.0.0.1:5432")
async def test_health_is_503_with_the_reason_while_the_database_is_unreachable(tmp_path: Any) -> None:
    """A desk process (`python -m bot desk`) whose PostgreSQL is behind a proxy the test cuts."""
    import aiohttp
    from cryptography.fernet import Fernet

    from tests.desk.cluster_helpers import DeskNode, schema_url

    proxy = CuttableProxy(("127.0.0.1", 5432)).start()
    schema = f"desk_health_{uuid.uuid4().hex[:10]}"
    store = Store(PG_URL, schema=schema)
    store.migrate()
    url = schema_url(schema).replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    node = DeskNode("desk-health", url, "http://127.0.0.1:9", tmp_path,
                    extra_env={"FRONTLINE_DATA_KEYS": Fernet.generate_key().decode()})
    node.start()
    try:
        async with aiohttp.ClientSession() as http:
            body = await node.wait_healthy(http)
            assert body["problems"] == [] and body["status"] == "ok"
            proxy.cut()
            async with http.get(f"{node.base}/health") as response:
                assert response.status == 503
                body = await response.json()
            assert body["status"] == "degraded" and body["problems"][0].startswith("database: "), body
            proxy.restore()
            body = await node.wait_healthy(http, seconds=20)
            assert body["problems"] == []
    finally:
        node.stop()
        proxy.close()
        store.drop_schema()


@pytest.mark.skipif(not rabbit_available(), reason="RabbitMQ is not reachable on 127.0.0.1:5672")
async def test_the_consumer_started_while_rabbitmq_is_down_connects_when_it_is_back(
    settings: Dict[str, Any], sqlite_store: Store, make_packet: Any
) -> None:
    from bot.pika_broker import ConfirmedPikaBroker
    from tests.desk.conftest import PlainCalendar
    from tests.desk.test_events import customer_texts

    desk = Desk(sqlite_store, load(settings), RasaClient("http://127.0.0.1:9"), calendar=PlainCalendar())
    proxy = CuttableProxy(("127.0.0.1", 5672)).start()
    queue = f"frontline_health_{uuid.uuid4().hex[:10]}"
    publisher = ConfirmedPikaBroker("127.0.0.1", 5672, "guest", "guest", queues=[queue])
    consumer = AMQPConsumer(desk, f"amqp://guest:guest@127.0.0.1:{proxy.port}/?queue={queue}")
    proxy.cut()
    try:
        await consumer.start()
        await asyncio.sleep(1.0)
        assert consumer.running and not consumer.healthy
        assert consumer.problem.startswith("event broker")
        code = open_ticket(desk, make_packet, "socketio:conv-h", started=False)
        await publisher.publish_confirmed([handoff_event("socketio:conv-h"), user_event("socketio:conv-h", "hi", "h1")])
        proxy.restore()
        await eventually(lambda: consumer.healthy)
        await eventually(lambda: customer_texts(desk, code) == ["hi"])
        proxy.cut()  # a connection that ends is taken up again
        await eventually(lambda: not consumer.healthy)
        proxy.restore()
        await eventually(lambda: consumer.healthy, seconds=20)
        await publisher.publish_confirmed([user_event("socketio:conv-h", "again", "h2")])
        await eventually(lambda: customer_texts(desk, code) == ["hi", "again"])
    finally:
        await consumer.stop()
        await publisher.close()
        proxy.close()
        import aio_pika

        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
        async with connection:
            await (await connection.channel()).queue_delete(queue)
