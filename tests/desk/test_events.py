"""The broker consumers: Rasa's SQL event broker tailed by id, and RabbitMQ (`bot.pika_broker`); the inbox's
one clock: Rasa's sequence (de-duplication, order, the ticket's start)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any, Dict, List

import pytest

from tests.desk.conftest import PlainCalendar
from bot.desk.config import load
from bot.desk.events import AMQPConsumer, SQLBrokerTail, consumer_for, split_amqp_url
from bot.desk.rasa_client import RasaClient
from bot.desk.service import Desk
from bot.desk.store import Store


@pytest.fixture
def desk(settings: Dict[str, Any], sqlite_store: Store) -> Desk:
    return Desk(sqlite_store, load(settings), RasaClient("http://127.0.0.1:9"), calendar=PlainCalendar())


SEQUENCE = itertools.count(100)


def user_event(sender: str, text: str, message_id: str, ts: float | None = None, seq: int | None = None) -> Dict[str, Any]:
    """A `user` event as the tracker store's outbox publishes it (`bot.outbox`: with Rasa's sequence)."""
    return {
        "sequence": next(SEQUENCE) if seq is None else seq,
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
         "confidence": None, "sequence": next(SEQUENCE)},
        {"sender_id": sender, "event": "bot", "timestamp": now, "text": "hi", "data": {}, "metadata": {},
         "sequence": next(SEQUENCE)},
    ]


def handoff_event(sender: str, seq: int | None = None) -> Dict[str, Any]:
    """The `action_handoff` event of the turn that opened a ticket."""
    return {"sender_id": sender, "event": "action", "timestamp": time.time(), "name": "action_handoff",
            "policy": "policy_1_EscalationPolicy", "confidence": 1.0,
            "sequence": next(SEQUENCE) if seq is None else seq}


def open_ticket(desk: Desk, make_packet: Any, conversation_id: str, started: bool = True) -> str:
    """A ticket for the conversation; `started`: its handoff event already came through the stream."""
    answer, created = desk.intake.create_ticket(make_packet(conversation_id))
    assert created
    if started:
        desk.inbox.ingest(handoff_event(conversation_id))
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
    # The turn that escalated is published after the ticket exists (its message, then the handoff action):
    # the message must not be appended, whatever the clocks say (it is stamped later than the ticket here).
    code = open_ticket(desk, make_packet, "socketio:conv-1", started=False)
    sql_broker.publish(user_event("socketio:conv-1", "气死我了", "m0", ts=time.time() + 3600))
    sql_broker.publish(handoff_event("socketio:conv-1"))
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
        assert stored[0].anger == 0.42 and stored[0].external_id == f"rasa:{stored[0].sequence}"
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
    # While the desk is down the customer keeps writing; the relay publishes one event again (same sequence).
    two = user_event("socketio:conv-1", "two", "m2")
    sql_broker.publish(two)
    sql_broker.publish(user_event("socketio:conv-1", "three", "m3"))
    sql_broker.publish(two)
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

    from bot.pika_broker import ConfirmedPikaBroker

    queue_name = f"frontline_desk_test_{uuid.uuid4().hex[:10]}"
    broker = ConfirmedPikaBroker("127.0.0.1", 5672, "guest", "guest", queues=[queue_name])

    class Publisher:
        """Publishes one event and waits for RabbitMQ's confirmation."""

        def publish(self, event: Dict[str, Any]) -> Any:
            return broker.publish_confirmed([event])

        async def close(self) -> None:
            await broker.close()

    publisher = Publisher()
    code = open_ticket(desk, make_packet, "socketio:conv-r")
    consumer = AMQPConsumer(desk, f"amqp://guest:guest@127.0.0.1:5672/?queue={queue_name}")
    try:
        await consumer.start()
        await wait_for(lambda: consumer.ready is not None and consumer.ready.is_set(), timeout=10)
        await publisher.publish(user_event("socketio:conv-r", "rabbit one", "r1"))
        two = user_event("socketio:conv-r", "rabbit two", "r2")
        await publisher.publish(two)
        await wait_for(lambda: customer_texts(desk, code) == ["rabbit one", "rabbit two"])
        await consumer.stop()
        # Published while the desk is down: kept by the durable queue, delivered after the restart.
        await publisher.publish(user_event("socketio:conv-r", "rabbit three", "r3"))
        await publisher.publish(two)  # redelivered: stored once
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


async def test_customer_messages_are_read_in_rasas_order_whatever_the_arrival(desk, make_packet) -> None:
    conversation = "socketio:conv-order"
    code = open_ticket(desk, make_packet, conversation, started=False)
    # Arrivals out of order: a message of the ticket before its handoff event, a late one from before the handoff.
    desk.inbox.ingest(user_event(conversation, "third", "o3", ts=3.0, seq=503))
    assert customer_texts(desk, code) == []  # the handoff event is not seen yet
    queue = desk.hub.subscribe()
    desk.inbox.ingest(handoff_event(conversation, seq=500))
    assert [e["type"] for e in [queue.get_nowait() for _ in range(queue.qsize())]] == ["ticket"]
    desk.inbox.ingest(user_event(conversation, "first", "o1", ts=1.0, seq=501))
    desk.inbox.ingest(user_event(conversation, "escalating turn", "o0", ts=0.5, seq=499))
    desk.inbox.ingest(user_event(conversation, "second", "o2", ts=2.0, seq=502))
    desk.inbox.ingest(user_event(conversation, "first", "o1", ts=1.0, seq=501))  # redelivered
    stored = desk.store.messages(desk.tickets.find(code).id)
    assert [m.text for m in stored] == ["first", "second", "third"]
    assert [m.at for m in stored] == [1.0, 2.0, 3.0]  # Rasa's own timestamps
    # An agent's reply keeps its place; customer messages take theirs in Rasa's order around it.
    ticket = desk.tickets.find(code)
    desk.store.add_message(ticket.id, "agent", "hello", 10.0, "sent", author="ann")
    desk.inbox.ingest(user_event(conversation, "fourth", "o4", ts=4.0, seq=504))
    assert [m.text for m in desk.store.messages(ticket.id)] == ["first", "second", "third", "hello", "fourth"]
    # A late copy of the handoff event changes nothing.
    desk.inbox.ingest(handoff_event(conversation, seq=498))
    assert desk.store.get_ticket(ticket.id).start_sequence == 500


async def test_an_earlier_handoff_event_does_not_start_the_next_ticket(desk, make_packet) -> None:
    conversation = "socketio:conv-again"
    code = open_ticket(desk, make_packet, conversation, started=False)
    desk.inbox.ingest(handoff_event(conversation, seq=700))
    first = desk.tickets.find(code)
    desk.store.close_ticket(first.id, "resolved", time.time(), None)
    second = open_ticket(desk, make_packet, conversation, started=False)
    desk.inbox.ingest(handoff_event(conversation, seq=700))  # redelivered from the first handoff
    desk.inbox.ingest(user_event(conversation, "between the tickets", "b1", seq=750))
    assert customer_texts(desk, second) == []
    desk.inbox.ingest(handoff_event(conversation, seq=800))
    desk.inbox.ingest(user_event(conversation, "for the second ticket", "b2", seq=801))
    assert customer_texts(desk, second) == ["for the second ticket"]


def test_an_event_without_a_sequence_is_not_appended(desk, make_packet) -> None:
    code = open_ticket(desk, make_packet, "socketio:conv-legacy")
    event = user_event("socketio:conv-legacy", "no sequence", "l1")
    del event["sequence"]
    assert desk.inbox.ingest(event) is None
    assert customer_texts(desk, code) == []
