"""The consumer of Rasa's event broker: customer messages of paused conversations reach the desk.

Rasa publishes every tracker event to its event broker after each turn, paused conversations included. The
desk reads that stream and gives each event to `Inbox.ingest` (`bot.desk.inbox`: it counts conversations and
appends `user` messages of conversations with an open ticket, de-duplicated by `message_id`, pushing them to
consoles).

Two consumers, chosen by `bot.desk.config.broker_url()`:
- `SQLBrokerTail` (default): Rasa's SQL broker (`event_broker: {type: sql, dialect: sqlite, db: var/events.db}`)
  writes rows `events(id, sender_id, data)`, `data` encrypted (read with `bot.data_keys`, like every store);
  the desk polls rows with `id >` its stored position every 200 ms
  and stores the position in its own database after each batch, so a restart resumes without loss (a crash
  inside a batch re-reads a few rows; the `message_id` de-duplication drops the repeats).
- `AMQPConsumer` (production, `amqp://…`): a RabbitMQ consumer (aio-pika) on the durable queue Rasa's broker
  publishes to (`bot.pika_broker`, bound to the fanout exchange `rasa-exchange`). Messages are taken one at a
  time, in queue order, and acknowledged after they are stored, so unprocessed messages stay in the queue across
  restarts. It connects with backoff (0.5 s doubling to 15 s), the first time too, and again whenever the
  connection ends; it never stops for good. When storing fails (the desk's database is away) it closes the
  channel, so that message and every one after it go back to the queue in order, and connects again after the
  backoff. The queue is single-active-consumer (`bot.amqp.QUEUE_ARGUMENTS`): with several desk processes RabbitMQ
  delivers to one at a time and, when its connection ends, hands the queue (unacknowledged messages first) to
  another, so one conversation's messages keep their order. On each connection the desk first drains the queues
  of an earlier version named in `drain_queues` (declared without that argument): the new queue is declared and
  bound, the old one unbound, its messages stored (the (conversation, sequence) de-duplication drops the copies
  both queues got in between), and it is deleted once empty. A configured queue that exists without the
  argument stops the consumer with a message saying what to do (`/health` shows it).

Both say what is wrong (`problem`, None while healthy) for the desk's `/health` (503 while the broker or the
database is unreachable).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import pathlib
import time
from typing import Any, List, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from bot import data_keys
from bot.amqp import QUEUE_ARGUMENTS, queue_arguments_refused
from bot.tasks import cancel_and_wait
from bot.desk.service import Desk

logger = logging.getLogger(__name__)

RASA_EXCHANGE = "rasa-exchange"
RASA_QUEUE = "rasa_core_events"
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 15.0
CONNECT_TIMEOUT_SECONDS = 5.0


class IngestFailed(Exception):
    """Storing an event failed (the desk's database): it must be given again, and nothing after it before."""


class QueueRefused(Exception):
    """RabbitMQ refused the queue's declaration: it exists with other arguments (the message says what to do)."""


class Consumer:
    """Base of the broker consumers: a background task started and stopped by the desk app."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self._task: Optional[asyncio.Task] = None
        self._stopping: Optional[asyncio.Event] = None  # created in start(), on the running loop
        self.problem: Optional[str] = None  # what keeps events from the desk now (for /health), None when fine

    @property
    def healthy(self) -> bool:
        """True while events can flow (the task runs and nothing is wrong)."""
        return self.running and self.problem is None

    async def start(self) -> None:
        """Start consuming in a background task."""
        if self._task is not None and not self._task.done():
            return
        self._stopping = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run_guarded())

    async def stop(self) -> None:
        """Stop consuming and wait for the task to end."""
        if self._stopping is not None:
            self._stopping.set()
        await cancel_and_wait(self._task)
        self._task = None
        await self.close()

    @property
    def running(self) -> bool:
        """True while the background task runs."""
        return self._task is not None and not self._task.done()

    async def _run_guarded(self) -> None:
        try:
            await self.run()
        except asyncio.CancelledError:
            raise
        except Exception:  # boundary: the background task ends here, logged
            logger.error("the broker consumer stopped on an error")
            logger.debug("broker consumer failure", exc_info=True)

    async def run(self) -> None:
        """Consume until stopped."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections."""


class SQLBrokerTail(Consumer):
    """Tail the `events` table of Rasa's SQL event broker.

    Args:
        desk: the desk that ingests the events.
        url: the SQLAlchemy URL of the broker database, e.g. `sqlite:////repo/var/events.db`.
        interval: seconds between polls when there is nothing new.
        batch: rows read per poll.
    """

    def __init__(self, desk: Desk, url: str, interval: float = 0.2, batch: int = 500) -> None:
        super().__init__(desk)
        self.url = url
        self.interval = interval
        self.batch = batch
        self.state_key = "broker:sql:" + hashlib.sha256(url.encode()).hexdigest()[:16]
        self._engine: Optional[sa.engine.Engine] = None
        self._table = sa.table("events", sa.column("id"), sa.column("sender_id"), sa.column("data"))

    def _sqlite_path(self) -> Optional[pathlib.Path]:
        parsed = sa.engine.make_url(self.url)
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            return pathlib.Path(parsed.database)
        return None

    def _engine_or_none(self) -> Optional[sa.engine.Engine]:
        if self._engine is None:
            path = self._sqlite_path()
            if path is not None and not path.exists():
                return None  # Rasa has not created it yet; never create it ourselves
            args = {"timeout": 30} if path is not None else {}
            self._engine = sa.create_engine(self.url, connect_args=args, future=True)
        return self._engine

    @property
    def position(self) -> int:
        """The id of the last broker row processed (0 before the first)."""
        raw = self.desk.store.get_state(self.state_key)
        return int(raw) if raw else 0

    def poll_once(self) -> int:
        """Process the rows after the stored position (one batch); return how many rows were read."""
        engine = self._engine_or_none()
        if engine is None:
            return 0
        start = self.position
        query = (
            sa.select(self._table.c.id, self._table.c.sender_id, self._table.c.data)
            .where(self._table.c.id > start)
            .order_by(self._table.c.id)
            .limit(self.batch)
        )
        try:
            with engine.connect() as conn:
                rows = conn.execute(query).all()
        except SQLAlchemyError as error:
            logger.debug("the broker table is not readable yet", exc_info=True)
            self.problem = f"event broker: {type(error).__name__}"
            return 0
        self.problem = None
        if not rows and start > 0 and self._table_restarted(engine, start):
            logger.warning("the event broker table restarted below the stored position; reading it from the start")
            self.desk.store.set_state(self.state_key, "0")
            return 0
        last = start
        cipher = data_keys.cipher()  # the broker rows are encrypted (bot.stores.TunedSQLEventBroker)
        for row_id, sender_id, data in rows:
            try:
                event = cipher.loads(data) or {}
            except ValueError:
                logger.error("broker row %s is not JSON; skipped", row_id)
                event = {}
            if isinstance(event, dict):
                event.setdefault("sender_id", sender_id)
                self.desk.inbox.ingest(event)
            last = row_id
        if last != start:
            self.desk.store.set_state(self.state_key, str(last))
        return len(rows)

    def _table_restarted(self, engine: sa.engine.Engine, start: int) -> bool:
        """True when the broker table's highest id is below our position (the file was recreated)."""
        try:
            with engine.connect() as conn:
                highest = conn.execute(sa.select(sa.func.max(self._table.c.id))).scalar()
        except SQLAlchemyError:
            return False
        return (highest or 0) < start

    async def run(self) -> None:
        """Poll until stopped."""
        logger.info("tailing Rasa's SQL event broker")
        assert self._stopping is not None
        while not self._stopping.is_set():
            try:
                read = self.poll_once()
            except Exception as error:  # boundary: keep tailing; the next poll retries from the stored position
                logger.error("reading the event broker failed; retrying")
                logger.debug("broker poll failure", exc_info=True)
                self.problem = f"database: {type(error).__name__}"
                read = 0
            if read >= self.batch:
                await asyncio.sleep(0)
                continue
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)
            except asyncio.TimeoutError:
                pass

    async def close(self) -> None:
        """Dispose of the broker database engine."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def split_amqp_url(url: str) -> tuple[str, str]:
    """Split `amqp://…?queue=name` into the connection URL and the queue name (default `rasa_core_events`); the
    desk's own `drain` parameters (`drain_queues_of`) are left out of the connection URL too."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    queue = next((v for k, v in query if k == "queue"), RASA_QUEUE) or RASA_QUEUE
    rest = urlencode([(k, v) for k, v in query if k not in ("queue", "drain")])
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", rest, parts.fragment)), queue


def drain_queues_of(url: str) -> List[str]:
    """The queues of an earlier version to drain and delete: each `drain=name` of `amqp://…?queue=…&drain=…`
    (`bot.desk.config.broker_url` adds them from the endpoints file's `event_broker.drain_queues`)."""
    return [v for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True) if k == "drain" and v]


class AMQPConsumer(Consumer):
    """Consume the queue Rasa's broker publishes to on RabbitMQ, reconnecting for as long as the desk runs.

    Args:
        desk: the desk that ingests the events.
        url: `amqp://user:password@host:port/vhost?queue=rasa_core_events`, and `&drain=<queue>` for each queue
            of an earlier version to drain and delete.
        exchange: the fanout exchange Rasa publishes to.
    """

    def __init__(self, desk: Desk, url: str, exchange: str = RASA_EXCHANGE) -> None:
        super().__init__(desk)
        self.url, self.queue_name = split_amqp_url(url)
        self.exchange_name = exchange
        self.legacy_queues = [name for name in drain_queues_of(url) if name != self.queue_name]
        self._connection: Any = None
        self.ready: Optional[asyncio.Event] = None  # set while consuming
        self.problem = "event broker: not connected yet"

    async def run(self) -> None:
        """Connect and consume until stopped; after any failure wait (backing off) and connect again."""
        assert self._stopping is not None
        self.ready = asyncio.Event()
        backoff = FIRST_BACKOFF_SECONDS
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except IngestFailed as error:
                self.problem = f"database: {error}"
            except QueueRefused as error:
                self.problem = f"event broker: {error}"
                logger.error("%s", error)
            except Exception as error:  # boundary: RabbitMQ unreachable or gone; connect again
                self.problem = f"event broker: {type(error).__name__}"
                logger.error("RabbitMQ is unreachable (%s); connecting again in %.1f s", type(error).__name__, backoff)
                logger.debug("RabbitMQ failure", exc_info=True)
            finally:
                self.ready.clear()
                await self.close()
            if time.monotonic() - started > MAX_BACKOFF_SECONDS:
                backoff = FIRST_BACKOFF_SECONDS  # it ran a while: this failure is a new one
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=backoff)
            except asyncio.TimeoutError:
                pass
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _consume(self) -> None:
        """One connection's life: consume in queue order until it ends (raises) or the consumer stops."""
        import aio_pika

        assert self._stopping is not None and self.ready is not None
        ended = asyncio.Event()
        self._connection = await aio_pika.connect(self.url, timeout=CONNECT_TIMEOUT_SECONDS)
        self._connection.close_callbacks.add(lambda *_args, **_kwargs: ended.set())
        channel = await self._connection.channel()
        channel.close_callbacks.add(lambda *_args, **_kwargs: ended.set())
        await channel.set_qos(prefetch_count=100)
        exchange = await channel.declare_exchange(self.exchange_name, type=aio_pika.ExchangeType.FANOUT)
        try:
            queue = await channel.declare_queue(self.queue_name, durable=True, arguments=QUEUE_ARGUMENTS)
        except aio_pika.exceptions.ChannelPreconditionFailed as error:
            raise QueueRefused(queue_arguments_refused(self.queue_name)) from error
        await queue.bind(exchange, "")
        for legacy in self.legacy_queues:
            await self._drain_legacy(legacy)
        arrived: "asyncio.Queue[Any]" = asyncio.Queue()
        await queue.consume(arrived.put)
        logger.info("consuming Rasa's events from RabbitMQ queue %s", self.queue_name)
        self.problem = None
        self.ready.set()
        stop = asyncio.ensure_future(self._stopping.wait())
        end = asyncio.ensure_future(ended.wait())
        try:
            while True:
                take = asyncio.ensure_future(arrived.get())
                await asyncio.wait({take, stop, end}, return_when=asyncio.FIRST_COMPLETED)
                if not take.done():
                    take.cancel()
                    if stop.done():
                        return
                    raise ConnectionError("the RabbitMQ connection ended")
                await self._handle(take.result())
        finally:
            stop.cancel()
            end.cancel()

    async def _drain_legacy(self, name: str) -> None:
        """Store the messages left in an earlier version's queue, then delete it (the new queue is bound already,
        so nothing published meanwhile is lost; copies in both are de-duplicated by sequence)."""
        import aio_pika

        assert self._connection is not None
        channel = await self._connection.channel()  # its own: RabbitMQ closes a channel that names a missing queue
        try:
            old = await channel.declare_queue(name, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return  # none (drained before, or never there)
        await old.unbind(self.exchange_name, "")
        drained = 0
        try:
            while (message := await old.get(fail=False, timeout=CONNECT_TIMEOUT_SECONDS)) is not None:
                await self._handle(message)
                drained += 1
            await old.delete(if_unused=False, if_empty=True)
        except (aio_pika.exceptions.ChannelNotFoundEntity, aio_pika.exceptions.ChannelPreconditionFailed):
            # another desk deleted it, or a late message arrived: the next connection looks again
            logger.info("RabbitMQ queue %s of an earlier version: %d event(s) stored, not deleted yet", name, drained)
            return
        logger.warning("RabbitMQ queue %s of an earlier version drained (%d event(s) stored) and deleted", name, drained)
        if not channel.is_closed:
            await channel.close()

    async def _handle(self, message: Any) -> None:
        try:
            event = json.loads(message.body.decode("utf-8"))
        except ValueError:
            logger.error("a broker message is not JSON; rejected")
            await message.reject(requeue=False)
            return
        try:
            if isinstance(event, dict):
                self.desk.inbox.ingest(event)
        except Exception as error:  # boundary: the message and those after it go back to the queue, in order
            logger.error("storing a broker event failed; it stays queued")
            logger.debug("ingest failure", exc_info=True)
            raise IngestFailed(type(error).__name__) from error
        await message.ack()

    async def close(self) -> None:
        """Close the RabbitMQ connection (unacknowledged messages go back to the queue)."""
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed:
            try:
                await connection.close()
            except Exception:  # boundary: closing a connection that may already be broken
                logger.debug("closing RabbitMQ failed", exc_info=True)


def consumer_for(desk: Desk, url: Optional[str]) -> Optional[Consumer]:
    """Return the consumer for a broker URL (`amqp://…` or an SQL URL), or None when `url` is None."""
    if not url:
        return None
    if url.startswith(("amqp://", "amqps://")):
        return AMQPConsumer(desk, url)
    return SQLBrokerTail(desk, url)
