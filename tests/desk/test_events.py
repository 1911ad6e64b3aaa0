"""The broker consumers: Rasa's SQL event broker tailed by id, and RabbitMQ (Rasa's pika broker)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict, List

import pytest

from bot.desk.config import load
from bot.desk.events import AMQPConsumer, SQLBrokerTail, consumer_for, split_amqp_url
from bot.desk.rasa_client import RasaClient
from bot.desk.service import Desk
from bot.desk.store import Store


class _Plain:
    def add_business_time(self, start: Any, delta: Any, team: Any = None) -> Any:
        return start + delta

    def is_open(self, at: Any, team: Any = None) -> bool:
        return True

    def next_opening(self, at: Any, team: Any = None) -> Any:
        return at, at


@pytest.fixture
def desk(settings: Dict[str, Any], sqlite_store: Store) -> Desk:
    return Desk(sqlite_store, load(settings), RasaClient("http://127.0.0.1:9"), calendar=_Plain())


def user_event(sender: str, text: str, message_id: str, ts: float | None = None) -> Dict[str, Any]:
    """A `user` event as Rasa's tracker store publishes it (`stream_events`)."""
    return {
        "sender_id": sender,
        "event": "user",
        "timestamp": time.time() if ts is None else ts,
        "metadata": {},
        "text": text,
        "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.3}, "entities": [], "text": text,
                       "message_id": message_id, "anger": {"score": 0.42, "label": "unhappy"}},
        "input_channel": "socketio",
        "message_id": message_id,
    }


def other_events(sender: str) -> List[Dict[str, Any]]:
    now = time.time()
    return [
        {"sender_id": sender, "event": "action", "timestamp": now, "name": "action_listen", "policy": None,
         "confidence": None},
        {"sender_id": sender, "event": "bot", "timestamp": now, "text": "hi", "data": {}, "metadata": {}},
    ]


def open_ticket(desk: Desk, make_packet: Any, conversation_id: str) -> str:
    answer, created = desk.intake.create_ticket(make_packet(conversation_id))
    assert created
    return answer["id"]


def customer_texts(desk: Desk, code: str) -> List[str]:
    ticket = desk.tickets.find(code)
    return [m.text for m in desk.store.messages(ticket.id) if m.role == "customer"]


async def wait_for(predicate: Any, timeout: float = 1.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def sql_broker(tmp_path: Any) -> Any:
    """Rasa's own SQLEventBroker on a SQLite file (rows written exactly as Rasa writes them)."""
    from rasa.core.brokers.sql import SQLEventBroker

    path = tmp_path / "events.db"
    broker = SQLEventBroker(dialect="sqlite", db=str(path))
    broker.url = f"sqlite:///{path}"
    yield broker
    broker.engine.dispose()


async def test_sql_tail_forwards_paused_messages_in_order(desk, make_packet, sql_broker) -> None:
    # The turn that escalated is published after the ticket exists: it must not be appended.
    before = time.time() - 1
    code = open_ticket(desk, make_packet, "socketio:conv-1")
    sql_broker.publish(user_event("socketio:conv-1", "气死我了", "m0", ts=before))
    queue = desk.hub.subscribe()
    tail = SQLBrokerTail(desk, sql_broker.url, interval=0.05)
    await tail.start()
    try:
        for i, text in enumerate(["第一条", "second", "第三条"], start=1):
            for event in other_events("socketio:conv-1"):
                sql_broker.publish(event)
            sql_broker.publish(user_event("socketio:conv-1", text, f"m{i}"))
        sql_broker.publish(user_event("socketio:conv-2", "unrelated", "x1"))
        elapsed = await wait_for(lambda: len(customer_texts(desk, code)) == 3)
        assert elapsed < 1.0
        assert customer_texts(desk, code) == ["第一条", "second", "第三条"]
        pushed = [queue.get_nowait() for _ in range(queue.qsize())]
        assert [e["data"]["message"]["text"] for e in pushed if e["type"] == "message"] == ["第一条", "second", "第三条"]
        assert all(e["data"]["ticket_id"] == code for e in pushed if e["type"] == "message")
        stored = desk.store.messages(desk.tickets.find(code).id)
        assert stored[0].anger == 0.42 and stored[0].external_id == "m1"
    finally:
        await tail.stop()
    assert not tail.running
    assert desk.store.containment_counts() == (2, 1)


async def test_sql_tail_resumes_after_restart_without_loss_or_duplicates(desk, make_packet, sql_broker) -> None:
    code = open_ticket(desk, make_packet, "socketio:conv-1")
    tail = SQLBrokerTail(desk, sql_broker.url, interval=0.05)
    await tail.start()
    sql_broker.publish(user_event("socketio:conv-1", "one", "m1"))
    await wait_for(lambda: customer_texts(desk, code) == ["one"])
    await tail.stop()
    position = tail.position
    assert position > 0
    # While the desk is down the customer keeps writing; Rasa re-publishes one event (same message_id).
    sql_broker.publish(user_event("socketio:conv-1", "two", "m2"))
    sql_broker.publish(user_event("socketio:conv-1", "three", "m3"))
    sql_broker.publish(user_event("socketio:conv-1", "two", "m2"))
    restarted = SQLBrokerTail(desk, sql_broker.url, interval=0.05)
    assert restarted.position == position  # the position survived in the desk database
    await restarted.start()
    try:
        await wait_for(lambda: len(customer_texts(desk, code)) == 3)
        await asyncio.sleep(0.2)
        assert customer_texts(desk, code) == ["one", "two", "three"]
    finally:
        await restarted.stop()
    # A crash after storing messages but before storing the position re-reads rows: still no duplicates.
    desk.store.set_state(restarted.state_key, "0")
    assert restarted.poll_once() == 4
    assert customer_texts(desk, code) == ["one", "two", "three"]


async def test_sql_tail_waits_for_the_broker_file_and_never_creates_it(desk, tmp_path) -> None:
    path = tmp_path / "later.db"
    tail = SQLBrokerTail(desk, f"sqlite:///{path}", interval=0.05)
    assert tail.poll_once() == 0
    assert not path.exists()


async def test_messages_of_closed_tickets_are_not_appended(desk, make_packet, sql_broker) -> None:
    code = open_ticket(desk, make_packet, "socketio:conv-1")
    ticket = desk.tickets.find(code)
    desk.store.close_ticket(ticket.id, "resolved", time.time(), None)
    sql_broker.publish(user_event("socketio:conv-1", "/survey_rating", "m9"))
    tail = SQLBrokerTail(desk, sql_broker.url)
    assert tail.poll_once() == 1
    assert customer_texts(desk, code) == []


def test_consumer_selection(desk) -> None:
    assert consumer_for(desk, None) is None
    assert isinstance(consumer_for(desk, "sqlite:////tmp/x.db"), SQLBrokerTail)
    assert isinstance(consumer_for(desk, "amqp://guest:guest@127.0.0.1:5672/"), AMQPConsumer)
    assert split_amqp_url("amqp://u:p@h:5672/?queue=q1&heartbeat=5") == ("amqp://u:p@h:5672/?heartbeat=5", "q1")
    assert split_amqp_url("amqp://h") == ("amqp://h/", "rasa_core_events")


def rabbit_available() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not rabbit_available(), reason="RabbitMQ is not reachable on 127.0.0.1:5672")
async def test_amqp_consumer_with_rasas_pika_broker(desk, make_packet) -> None:
    import aio_pika
    from rasa.core.brokers.pika import PikaEventBroker

    queue_name = f"frontline_desk_test_{uuid.uuid4().hex[:10]}"
    publisher = PikaEventBroker("127.0.0.1", "guest", "guest", queues=[queue_name], raise_on_failure=True)
    await publisher.connect()
    code = open_ticket(desk, make_packet, "socketio:conv-r")
    consumer = AMQPConsumer(desk, f"amqp://guest:guest@127.0.0.1:5672/?queue={queue_name}")
    try:
        await consumer.start()
        await wait_for(lambda: consumer.ready is not None and consumer.ready.is_set(), timeout=10)
        publisher.publish(user_event("socketio:conv-r", "rabbit one", "r1"))
        publisher.publish(user_event("socketio:conv-r", "rabbit two", "r2"))
        await wait_for(lambda: customer_texts(desk, code) == ["rabbit one", "rabbit two"])
        await consumer.stop()
        # Published while the desk is down: kept by the durable queue, delivered after the restart.
        publisher.publish(user_event("socketio:conv-r", "rabbit three", "r3"))
        publisher.publish(user_event("socketio:conv-r", "rabbit two", "r2"))
        await asyncio.sleep(0.3)
        consumer = AMQPConsumer(desk, f"amqp://guest:guest@127.0.0.1:5672/?queue={queue_name}")
        await consumer.start()
        await wait_for(lambda: len(customer_texts(desk, code)) == 3, timeout=10)
        await asyncio.sleep(0.3)
        assert customer_texts(desk, code) == ["rabbit one", "rabbit two", "rabbit three"]
    finally:
        await consumer.stop()
        await publisher.close()
        connection = await aio_pika.connect_robust("amqp://guest:guest@127.0.0.1:5672/")
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue_name)


async def test_sql_tail_restarts_when_the_broker_file_is_recreated(desk, make_packet, tmp_path) -> None:
    from rasa.core.brokers.sql import SQLEventBroker

    path = tmp_path / "events.db"
    code = open_ticket(desk, make_packet, "socketio:conv-1")
    broker = SQLEventBroker(dialect="sqlite", db=str(path))
    for i in range(3):
        broker.publish(user_event("socketio:other", "x", f"o{i}"))
    tail = SQLBrokerTail(desk, f"sqlite:///{path}")
    assert tail.poll_once() == 3 and tail.position == 3
    broker.engine.dispose()
    await tail.close()
    path.unlink()
    broker = SQLEventBroker(dialect="sqlite", db=str(path))
    broker.publish(user_event("socketio:conv-1", "after the reset", "n1"))
    assert tail.poll_once() == 0 and tail.position == 0  # noticed the restart
    assert tail.poll_once() == 1
    assert customer_texts(desk, code) == ["after the reset"]
    broker.engine.dispose()
