"""Rasa's event broker on RabbitMQ, with publisher confirms, fed by the outbox relay (`bot.outbox`).

Rasa's own `PikaEventBroker` publishes in a background task and keeps what failed in memory: a Rasa restart
during a RabbitMQ outage loses it, and its caller never learns whether a message arrived. This broker is
awaited: `publish_confirmed` returns once RabbitMQ confirmed every message (publisher confirms, persistent
messages on the durable queues), and raises otherwise, so the relay keeps the rows and retries. It connects
lazily and again after any failure; Rasa starts while RabbitMQ is down.

The exchange and queues are declared as Rasa's own broker declares them (fanout exchange `rasa-exchange`, durable
queues bound to it), each queue with `bot.amqp.QUEUE_ARGUMENTS` (single active consumer), exactly as the desk's
consumer (`bot.desk.events.AMQPConsumer`) declares it, so either may declare it first. A queue that exists with
other arguments is refused by RabbitMQ; the error says what to do (`bot.amqp.queue_arguments_refused`). `bot.amqp.amqp_url` builds the connection URL with the user and password percent-encoded (a password
with `@ : / %` works); the desk reads the same settings through it.

Configured in `endpoints.prod.yml` as `type: bot.pika_broker.ConfirmedPikaBroker` with Rasa's keys `url`
(host or `amqp://…`), `port`, `username`, `password`, `queues`, `exchange_name`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Dict, List, Optional

from rasa.core.brokers.broker import EventBroker

from bot.amqp import QUEUE_ARGUMENTS, amqp_url, queue_arguments_refused

logger = logging.getLogger(__name__)

DEFAULT_EXCHANGE = "rasa-exchange"
DEFAULT_QUEUE = "rasa_core_events"
CONNECT_TIMEOUT_SECONDS = 5.0
CONFIRM_TIMEOUT_SECONDS = 10.0


class ConfirmedPikaBroker(EventBroker):
    """Publishes events to RabbitMQ and returns only once RabbitMQ confirmed them.

    Args:
        url: the host name, or an `amqp://` URL.
        port: the port.
        username: the user.
        password: the password.
        queues: the durable queues bound to the exchange.
        exchange_name: the fanout exchange.
    """

    def __init__(
        self,
        url: str = "localhost",
        port: Any = 5672,
        username: str = "guest",
        password: str = "guest",
        queues: Optional[List[str]] = None,
        exchange_name: str = DEFAULT_EXCHANGE,
        **_ignored: Any,
    ) -> None:
        self.url = amqp_url(str(url), port, username, password)
        self.queues = [str(q) for q in (queues if isinstance(queues, list) else [queues] if queues else [])]
        self.queues = self.queues or [DEFAULT_QUEUE]
        self.exchange_name = exchange_name
        self._connection: Any = None
        self._exchange: Any = None
        self._tasks: set = set()

    @classmethod
    async def from_endpoint_config(cls, broker_config: Any, event_loop: Any = None) -> Optional["ConfirmedPikaBroker"]:
        """The broker for an `event_broker` section; it connects on the first publish, not here."""
        if broker_config is None:
            return None
        return cls(broker_config.url or "localhost", **broker_config.kwargs)

    async def _ready_exchange(self) -> Any:
        import aio_pika

        if self._exchange is not None and self._connection is not None and not self._connection.is_closed:
            return self._exchange
        await self.close()
        self._connection = await aio_pika.connect(self.url, timeout=CONNECT_TIMEOUT_SECONDS)
        channel = await self._connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(self.exchange_name, type=aio_pika.ExchangeType.FANOUT)
        for queue_name in self.queues:
            try:
                queue = await channel.declare_queue(queue_name, durable=True, arguments=QUEUE_ARGUMENTS)
            except aio_pika.exceptions.ChannelPreconditionFailed:
                logger.error(queue_arguments_refused(queue_name))
                raise
            await queue.bind(exchange, "")
        self._exchange = exchange
        logger.info("publishing Rasa's events to RabbitMQ exchange %s", self.exchange_name)
        return exchange

    async def publish_confirmed(self, bodies: List[Dict[str, Any]]) -> None:
        """Publish the events in order; return once RabbitMQ confirmed each (raise, disconnected, when not)."""
        import aio_pika

        try:
            exchange = await self._ready_exchange()
            for body in bodies:
                message = aio_pika.Message(
                    json.dumps(body).encode("utf-8"), delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    content_type="application/json",
                )
                await exchange.publish(message, "", timeout=CONFIRM_TIMEOUT_SECONDS)
        except Exception:
            await self.close()
            raise

    def publish(self, event: Dict[str, Any]) -> None:
        """Rasa's interface: publish one event in the background (the outbox relay uses `publish_confirmed`)."""
        task = asyncio.get_running_loop().create_task(self._publish_logged(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish_logged(self, event: Dict[str, Any]) -> None:
        try:
            await self.publish_confirmed([event])
        except Exception:  # boundary: a fire-and-forget publish outside the outbox
            logger.error("publishing an event to RabbitMQ failed")
            logger.debug("publish failure", exc_info=True)

    def is_ready(self) -> bool:
        """Always ready: it connects when publishing, and the outbox keeps what could not be published."""
        return True

    async def close(self) -> None:
        """Close the connection (a later publish connects again)."""
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None and not connection.is_closed:
            try:
                await connection.close()
            except Exception:  # boundary: closing a connection that may already be broken
                logger.debug("closing RabbitMQ failed", exc_info=True)
