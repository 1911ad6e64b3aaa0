"""The transactional outbox between Rasa's tracker store and its event broker.

`TunedSQLTrackerStore.save` (`bot.stores`) writes a turn's events and one outbox row per event in the same
database transaction, so "stored" and "to be published" can never disagree: a crash (kill -9) right after the
commit leaves the rows here, and the next start publishes them. The `OutboxRelay` (an asyncio task in the Rasa
process) reads the rows in id order, hands them to the configured broker, and deletes them only after the
broker confirmed them. A row names its event (the tracker row's id) and holds no copy of it: the relay reads the
event from the tracker's own row (decrypted), or, for the rows this process just wrote, from memory (the common
case: no second encryption at save time, no decryption at publish time):

- `bot.stores.TunedSQLEventBroker` (default, SQLite `var/events.db`): the broker's own committed INSERT is the
  confirmation (the broker lives in another file, so the outbox cannot simply be the broker table);
- `bot.pika_broker.ConfirmedPikaBroker` (production, RabbitMQ): publisher confirms, one per message;
- any other broker (Rasa's own `SQL`, `pika`): `publish` per event, without a confirmation (logged once).

A crash between the broker's confirmation and the delete publishes those rows again: delivery is at least
once, and every published event carries its conversation (`sender_id`) and Rasa's `sequence` (the tracker
store's row id of the event, increasing within a conversation), the key the desk de-duplicates and orders by
(`bot.desk.inbox`).

With several Rasa replicas on one PostgreSQL database, one relay at a time publishes (a PostgreSQL advisory
lock taken for each round): rows leave in id order, and a conversation's rows (written one turn at a time, under
the lock store's lock) in the conversation's order.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any, Callable, Dict, List, Optional, Tuple

import sqlalchemy as sa

from bot.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

TABLE_NAME = "frontline_outbox"
# Rows published per round.
BATCH = 200
# The relay's pause between rounds when there is nothing to do (a save wakes it at once), and the backoff
# after a failed publish (doubling up to the maximum).
IDLE_SECONDS = 1.0
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 15.0
# pg_try_advisory_lock key of the relay (any constant shared by the replicas).
ADVISORY_LOCK_KEY = 0x46524F4E54  # "FRONT"
# Event bodies kept in memory for the rows this process wrote and has not published yet (beyond that, e.g.
# during a long broker outage, the relay reads them from the tracker rows).
MAX_FRESH = 10_000

# (row id, event body) pairs, oldest first.
OutboxRows = List[Tuple[int, Dict[str, Any]]]


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    """The outbox table, on the tracker store's metadata (created with Rasa's `events` table).

    Columns: `id` (publishing order), `sender_id`, `sequence` (the tracker row id of the event: where its body
    is, encrypted, and the key the desk orders and de-duplicates by).
    """
    return sa.Table(
        TABLE_NAME,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
    )


def published_body(sender_id: str, sequence: int, event: Dict[str, Any]) -> Dict[str, Any]:
    """What the broker gets for one event: the event as Rasa publishes it, with its conversation and sequence."""
    return {"sender_id": sender_id, **event, "sequence": int(sequence)}


async def publish_confirmed(broker: Any, bodies: List[Dict[str, Any]]) -> None:
    """Hand events to a broker and return once it confirmed them (raise when it did not).

    Args:
        broker: the event broker; `publish_confirmed` (ours) is awaited, `publish_many` (the SQL broker, one
            committed transaction) called, else Rasa's `publish` per event (no confirmation).
        bodies: the events, oldest first.
    """
    if hasattr(broker, "publish_confirmed"):
        await broker.publish_confirmed(bodies)
    elif hasattr(broker, "publish_many"):
        broker.publish_many(bodies)
    else:
        if not getattr(broker, "_frontline_warned", False):
            logger.warning("event broker %s has no confirmations: a publish lost in it is not retried",
                           type(broker).__name__)
            broker._frontline_warned = True
        for body in bodies:
            broker.publish(body)


class OutboxRelay:
    """Publishes the outbox rows to the broker, in order, deleting them once the broker confirmed.

    Args:
        engine: the tracker store's engine (the outbox lives in its database).
        table: the outbox table (`outbox_table`).
        events: the tracker store's `events` table (an outbox row's `sequence` is its `id`).
        decode: turns an events row's `data` back into the event (decrypts).
        broker: the event broker.
    """

    def __init__(
        self, engine: Any, table: sa.Table, events: sa.Table, decode: Callable[[str], Dict[str, Any]], broker: Any
    ) -> None:
        self.engine = engine
        self.table = table
        self.events = events
        self.decode = decode
        self.broker = broker
        self._fresh: "collections.OrderedDict[int, Dict[str, Any]]" = collections.OrderedDict()
        self.healthy = True  # False after a failed publish, until one succeeds
        self._lock: Optional[asyncio.Lock] = None
        self._wake: Optional[asyncio.Event] = None
        self._task: Optional[asyncio.Task] = None

    def start(self) -> bool:
        """Start the background task on the running loop (once); False when no loop runs yet."""
        if self._task is not None and not self._task.done():
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task = loop.create_task(self.run())
        return True

    async def stop(self) -> None:
        """Stop the background task (what is left stays in the outbox for the next start)."""
        await cancel_and_wait(self._task)
        self._task = None

    def wake(self) -> None:
        """Ask the background task for a round now."""
        if self._wake is not None:
            self._wake.set()

    def remember(self, bodies: Dict[int, Dict[str, Any]]) -> None:
        """Keep the bodies of rows just committed (by sequence), so publishing them needs no read of the event."""
        self._fresh.update(bodies)
        while len(self._fresh) > MAX_FRESH:
            self._fresh.popitem(last=False)

    def pending(self) -> int:
        """How many rows wait in the outbox."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(self.table)).scalar() or 0)

    async def run(self) -> None:
        """Rounds until cancelled: at once when woken, every `IDLE_SECONDS` otherwise, backing off on failure."""
        assert self._wake is not None
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            self._wake.clear()
            try:
                await self.flush()
                backoff = FIRST_BACKOFF_SECONDS
                pause = IDLE_SECONDS
            except asyncio.CancelledError:
                raise
            except Exception:  # boundary: the rows stay; the next round retries them
                logger.error("publishing the outbox failed; retrying in %.1f s", backoff)
                logger.debug("outbox relay failure", exc_info=True)
                pause, backoff = backoff, min(backoff * 2, MAX_BACKOFF_SECONDS)
                await asyncio.sleep(pause)  # a save's wake does not cut a backoff short
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
            except asyncio.TimeoutError:
                pass

    async def flush(self) -> int:
        """Publish every waiting row, in order; return how many were published.

        Raises:
            Exception: the broker (or the database) failed; the rows not confirmed stay in the outbox.
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
        published = 0
        async with self._lock:
            while True:
                done = await self._round()
                published += done
                if done < BATCH:
                    return published

    async def _round(self) -> int:
        if self.engine.dialect.name != "postgresql":
            return await self._publish_batch()
        with self.engine.connect() as conn:  # its own connection: the advisory lock is held per session
            if not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}).scalar():
                return 0  # another replica's relay is publishing: it takes these rows too
            try:
                return await self._publish_batch()
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})

    async def _publish_batch(self) -> int:
        rows = self._read()
        if not rows:
            return 0
        try:
            await publish_confirmed(self.broker, [body for _, body in rows])
        except Exception:
            self.healthy = False
            raise
        self.healthy = True
        with self.engine.begin() as conn:
            conn.execute(self.table.delete().where(self.table.c.id.in_([row_id for row_id, _ in rows])))
        for _, body in rows:
            self._fresh.pop(body["sequence"], None)
        return len(rows)

    def _read(self) -> OutboxRows:
        outbox, events = self.table, self.events
        query = (
            sa.select(outbox.c.id, outbox.c.sender_id, outbox.c.sequence, events.c.data)
            .select_from(outbox.outerjoin(events, events.c.id == outbox.c.sequence))
            .order_by(outbox.c.id)
            .limit(BATCH)
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).all()
        if len(found) < BATCH:  # the whole outbox: a body not in it was published (by another replica's relay)
            waiting = {sequence for _, _, sequence, _ in found}
            for sequence in [s for s in self._fresh if s not in waiting]:
                del self._fresh[sequence]
        rows: OutboxRows = []
        for row_id, sender_id, sequence, data in found:
            body = self._fresh.get(sequence)
            if body is None:
                try:
                    if data is None:
                        raise ValueError("its event is no longer stored")
                    body = published_body(sender_id, sequence, self.decode(data))
                except ValueError as error:  # never block the rows behind it
                    logger.error("outbox row %s cannot be published (%s); dropped", row_id, error)
                    with self.engine.begin() as conn:
                        conn.execute(self.table.delete().where(self.table.c.id == row_id))
                    continue
            rows.append((row_id, body))
        return rows
