"""Several desk processes on one RabbitMQ queue never split a conversation's order: the queue is
single-active-consumer (`bot.amqp.QUEUE_ARGUMENTS`), so one consumer gets everything, in order, and when its
connection ends another takes over where it stopped. Real RabbitMQ on 127.0.0.1:5672, the desk's real consumer
(`AMQPConsumer`) and Rasa's real broker (`ConfirmedPikaBroker`); each desk's ingest only records what it got.
Every test uses its own exchange and queues."""

from __future__ import annotations

import asyncio
import json
import types
import uuid
from typing import Any, Dict, List

import pytest

from bot.amqp import QUEUE_ARGUMENTS
from bot.desk.events import AMQPConsumer
from bot.pika_broker import ConfirmedPikaBroker
from tests.desk.test_events import rabbit_available

pytestmark = pytest.mark.skipif(not rabbit_available(), reason="RabbitMQ is not reachable on 127.0.0.1:5672")

RABBIT = "amqp://guest:guest@127.0.0.1:5672/"


class Recorder:
    """A desk's inbox that records the events it is given; `on_event` runs after each."""

    def __init__(self) -> None:
        self.events: List[Dict[str, Any]] = []
        self.on_event: Any = None

    def ingest(self, event: Dict[str, Any]) -> None:
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(self)

    def sequences(self, sender: str) -> List[int]:
        return [event["sequence"] for event in self.events if event["sender_id"] == sender]


def desk_recording() -> Any:
    return types.SimpleNamespace(inbox=Recorder())


def event(sender: str, sequence: int) -> Dict[str, Any]:
    return {"sender_id": sender, "event": "user", "text": f"m{sequence}", "sequence": sequence, "timestamp": 0.0}


async def eventually(predicate: Any, seconds: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.fixture
async def names() -> Any:
    suffix = uuid.uuid4().hex[:10]
    made = types.SimpleNamespace(exchange=f"frontline-test-{suffix}", queue=f"frontline_sac_{suffix}",
                                 legacy=f"frontline_old_{suffix}")
    yield made
    import aio_pika

    connection = await aio_pika.connect(RABBIT)
    async with connection:
        channel = await connection.channel()
        for queue in (made.queue, made.legacy):
            await channel.queue_delete(queue)
        await channel.exchange_delete(made.exchange)


async def test_two_desks_on_one_queue_one_gets_all_in_order_and_the_other_takes_over(names: Any) -> None:
    publisher = ConfirmedPikaBroker("127.0.0.1", 5672, "guest", "guest", queues=[names.queue],
                                    exchange_name=names.exchange)
    first, second = desk_recording(), desk_recording()
    active = AMQPConsumer(first, f"{RABBIT}?queue={names.queue}", exchange=names.exchange)
    standby = AMQPConsumer(second, f"{RABBIT}?queue={names.queue}", exchange=names.exchange)
    try:
        await active.start()
        await eventually(lambda: active.ready is not None and active.ready.is_set())
        await standby.start()
        await eventually(lambda: standby.ready is not None and standby.ready.is_set())

        await publisher.publish_confirmed([event(f"socketio:sac-{n % 2}", n) for n in range(1, 81)])
        await eventually(lambda: len(first.inbox.events) == 80)
        await asyncio.sleep(0.5)
        assert second.inbox.events == []  # both consume the queue; RabbitMQ delivers to the active one only
        assert first.inbox.sequences("socketio:sac-1") == list(range(1, 81, 2))
        assert first.inbox.sequences("socketio:sac-0") == list(range(2, 81, 2))

        # The active desk's connection ends in the middle of the next messages (others are prefetched, unacked).
        def cut_after_ten(inbox: Recorder) -> None:
            if len(inbox.events) == 90 and active._connection is not None:
                asyncio.get_running_loop().create_task(active._connection.close())

        first.inbox.on_event = cut_after_ten
        await publisher.publish_confirmed([event("socketio:sac-1", n) for n in range(81, 141)])
        await eventually(lambda: len(second.inbox.events) > 0)
        await active.stop()
        before_cut = first.inbox.sequences("socketio:sac-1")[40:]
        await eventually(lambda: set(before_cut + second.inbox.sequences("socketio:sac-1")) >= set(range(81, 141)))
        taken_over = second.inbox.sequences("socketio:sac-1")
        assert before_cut == list(range(81, 81 + len(before_cut))) and len(before_cut) >= 10
        assert taken_over == sorted(taken_over) and len(set(taken_over)) == len(taken_over)
        assert taken_over[0] <= before_cut[-1] + 1  # no gap: at worst the unacknowledged one again
        assert taken_over[-1] == 140
        seen: List[int] = []
        for sequence in before_cut + taken_over:  # what the desk stores: one per (conversation, sequence)
            if sequence not in seen:
                seen.append(sequence)
        assert seen == list(range(81, 141))
    finally:
        await active.stop()
        await standby.stop()
        await publisher.close()


async def test_the_queue_of_an_earlier_version_is_drained_once_then_deleted(names: Any) -> None:
    import aio_pika

    # An earlier version's queue: no single-active-consumer argument, bound to the exchange, 5 events waiting.
    connection = await aio_pika.connect(RABBIT)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(names.exchange, type=aio_pika.ExchangeType.FANOUT)
        old = await channel.declare_queue(names.legacy, durable=True)
        await old.bind(exchange, "")
        for n in range(1, 6):
            await exchange.publish(aio_pika.Message(json.dumps(event("socketio:old", n)).encode()), "")
    recorded = desk_recording()
    consumer = AMQPConsumer(recorded, f"{RABBIT}?queue={names.queue}&drain={names.legacy}", exchange=names.exchange)
    publisher = ConfirmedPikaBroker("127.0.0.1", 5672, "guest", "guest", queues=[names.queue],
                                    exchange_name=names.exchange)
    try:
        await consumer.start()
        await eventually(lambda: consumer.healthy)
        assert recorded.inbox.sequences("socketio:old") == [1, 2, 3, 4, 5]
        await publisher.publish_confirmed([event("socketio:old", n) for n in range(6, 9)])
        await eventually(lambda: len(recorded.inbox.events) == 8)
        assert recorded.inbox.sequences("socketio:old") == list(range(1, 9))  # the old queue no longer gets copies
        connection = await aio_pika.connect(RABBIT)
        async with connection:
            with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
                await (await connection.channel()).declare_queue(names.legacy, passive=True)
            # the new queue is the single-active-consumer one (declaring it with other arguments is refused)
            await (await connection.channel()).declare_queue(names.queue, durable=True, arguments=QUEUE_ARGUMENTS)
    finally:
        await consumer.stop()
        await publisher.close()


async def test_a_configured_queue_declared_without_the_argument_stops_the_consumer_saying_what_to_do(
    names: Any,
) -> None:
    import aio_pika

    connection = await aio_pika.connect(RABBIT)
    async with connection:
        await (await connection.channel()).declare_queue(names.queue, durable=True)  # as earlier versions did
    consumer = AMQPConsumer(desk_recording(), f"{RABBIT}?queue={names.queue}", exchange=names.exchange)
    publisher = ConfirmedPikaBroker("127.0.0.1", 5672, "guest", "guest", queues=[names.queue],
                                    exchange_name=names.exchange)
    try:
        await consumer.start()
        await eventually(lambda: consumer.problem is not None and "single-active-consumer" in consumer.problem)
        assert not consumer.healthy and "frontline_events_ordered" in consumer.problem
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
            await publisher.publish_confirmed([event("socketio:x", 1)])
    finally:
        await consumer.stop()
        await publisher.close()
