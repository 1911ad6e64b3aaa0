"""Rasa's SQL tracker store and SQL event broker, tuned (SQLite is the default, one-machine setup).

Rasa commits every published event on its own; with SQLite's default rollback journal each commit waits for
the disk several times, which made the event broker the slowest part of a turn. These subclasses switch SQLite
to write-ahead logging with `synchronous=NORMAL`: a commit no longer waits for the disk (a power cut may lose
the last moments; an application crash loses nothing), and the desk can read the event table while Rasa
writes it.

On any database, the tracker store
- finds the events to store and publish from what it remembers (or one count query) instead of loading the
  whole conversation a second time (Rasa's `stream_events` retrieves the stored tracker again on every save),
  and publishes a turn's events in one transaction;
- keeps the events of recent conversations in memory and rebuilds a tracker from them when the conversation's
  newest stored event is still the one seen last (one indexed query), instead of decoding every stored event
  again on every turn. Another Rasa replica or process writing to the same conversation adds a newer event,
  and the conversation is then read from the database.

Both encrypt each event's `data` with the data keys (`bot.data_keys.DataCipher`): a copied `rasa.db`,
`events.db` or PostgreSQL backup reveals no conversation; rows written before encryption are read as they are.
Both also carry the maintenance the retention policy and a key rotation need (`purge_before`, `rekey`; see
`python -m bot purge` and `python -m bot rekey`), and the tracker store the decrypted reading the trainer
tools use (`events_since`, `from_url`).

The Rasa internals this relies on are behind the one door, `bot.patches`: the private save and read steps of
Rasa's SQL tracker store (`bot.patches.rasa_stores`) and the cached event-type lookup (`bot.patches.rasa_events`).

Configured in `endpoints.yml` as `type: bot.stores.TunedSQLTrackerStore` and
`type: bot.stores.TunedSQLEventBroker` (and the tracker store in `endpoints.prod.yml`).
"""

from __future__ import annotations

import collections
import json
import logging
from typing import Any, Dict, List, Optional, Tuple

import sqlalchemy as sa
from rasa.core.brokers.sql import SQLEventBroker
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

from bot import data_keys, logsafe, outbox
from bot.patches import rasa_events, rasa_stores
from bot.servers.rasa_metrics import rasa_meters

logger = logging.getLogger(__name__)

# secure_delete: a deleted or rewritten row is overwritten with zeros, so a purged or re-encrypted conversation
# does not linger in the file's free pages (`python -m bot purge`, `python -m bot rekey`).
PRAGMAS = (
    "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=5000", "PRAGMA secure_delete=ON"
)
# Rows per transaction of the maintenance work (purge, rekey): short transactions, so Rasa's writes never wait
# long on SQLite.
BATCH = 500
# One stored event tuple for the trainer tools: (sender_id, type_name, timestamp, intent_name, action_name, data).
StoredEvent = Tuple[str, str, Optional[float], Optional[str], Optional[str], Dict[str, Any]]


def tuned_engine(engine: Any) -> Any:
    """A SQLite engine like `engine`, with the pragmas and one connection kept open; others with their pooled
    connections tested before use (`_pinged`).

    Rasa opens and closes a connection for every operation; closing the last connection to a WAL database
    checkpoints and deletes the log, waiting for the disk each time. One shared connection (Rasa's stores run
    their SQL synchronously on the event loop's thread) keeps the log open and every operation cheap.
    """
    from sqlalchemy import create_engine, event

    if engine.dialect.name != "sqlite":
        return _pinged(engine)
    from sqlalchemy.pool import StaticPool

    tuned = create_engine(engine.url, poolclass=StaticPool, connect_args={"check_same_thread": False})

    def on_connect(connection: Any, record: Any) -> None:
        cursor = connection.cursor()
        for pragma in PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    event.listen(tuned, "connect", on_connect)
    engine.dispose()
    return tuned


def _pinged(engine: Any) -> Any:
    """`engine` again, its pooled connections tested before each use (`pool_pre_ping`), with Rasa's arguments.

    A connection PostgreSQL closed (`pg_terminate_backend`, a restart, a failover) stays in the pool; the next
    turn's `retrieve` fails on it, and Rasa's `FailSafeTrackerStore` then answers that turn from an empty
    in-memory tracker: a paused conversation is not paused, and its message is not stored where the desk reads
    it. A tested connection is replaced instead.
    """
    from rasa.core.tracker_store import create_engine_kwargs
    from sqlalchemy import create_engine

    pinged = create_engine(engine.url, pool_pre_ping=True, **create_engine_kwargs(engine.url))
    engine.dispose()
    return pinged


def lost_connection(error: BaseException) -> bool:
    """True when a database error means the connection was lost (PostgreSQL restarted, `pg_terminate_backend`,
    a network cut): SQLAlchemy has dropped that connection, and the same statements may be run again."""
    return isinstance(error, sa.exc.DBAPIError) and bool(error.connection_invalidated)


def _delete_ids(engine: Any, table: sa.Table, ids: List[int]) -> int:
    deleted = 0
    for start in range(0, len(ids), BATCH):
        with engine.begin() as conn:
            deleted += conn.execute(table.delete().where(table.c.id.in_(ids[start:start + BATCH]))).rowcount
    return deleted


class TunedSQLTrackerStore(rasa_stores.HookedSQLTrackerStore):
    """Rasa's SQL tracker store; write-ahead logging on SQLite; cheaper event streaming; recent events cached;
    event data encrypted."""

    # Conversations whose events are kept in memory (least recently used dropped first).
    cached_conversations = 2000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Creates the store as Rasa does, then tunes a SQLite engine and the event-type lookup.

        Raises:
            DataKeyError: no data key (production mode without `FRONTLINE_DATA_KEYS`) or a malformed one.
        """
        logsafe.install()
        self.cipher = data_keys.cipher()
        rasa_events.install()
        super().__init__(*args, **kwargs)
        self.engine = tuned_engine(self.engine)
        self.sessionmaker.configure(bind=self.engine)
        self._recent: "collections.OrderedDict[str, Tuple[int, List[Event]]]" = collections.OrderedDict()
        self._save_hint: Optional[Tuple[str, int]] = None
        self.outbox = outbox.outbox_table(sa.MetaData())
        self.outbox.metadata.create_all(self.engine)
        self.relay: Optional[outbox.OutboxRelay] = None
        if self.event_broker is not None:
            self.relay = outbox.OutboxRelay(
                self.engine, self.outbox, self.SQLEvent.__table__, self.cipher.loads, self.event_broker
            )
            self.relay.start()  # Rasa creates the store on its running loop: what a crash left is published now
            rasa_meters().watch_outbox(self.relay)

    @classmethod
    def from_url(cls, url: str, event_broker: Any = None) -> "TunedSQLTrackerStore":
        """The store on a database given as an SQLAlchemy URL (`sqlite:////path/rasa.db`, `postgresql://…`),
        without a domain: for the maintenance commands and the trainer tools; with `event_broker`, what it saves
        goes through its outbox to that broker, as in the Rasa server."""
        return cls(None, host=url, event_broker=event_broker)

    def _newest_id(self, sender_id: str) -> Optional[int]:
        with self.session_scope() as session:
            query = sa.select(sa.func.max(self.SQLEvent.id)).where(self.SQLEvent.sender_id == sender_id)
            return session.execute(query).scalar()

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The conversation's tracker: rebuilt from memory when nothing was stored since it was remembered.

        Read once more when the database connection was lost meanwhile (`lost_connection`): Rasa's
        `FailSafeTrackerStore` would answer the turn from an empty in-memory tracker instead.
        """
        try:
            return await self._read(sender_id)
        except sa.exc.DBAPIError as error:
            if not lost_connection(error):
                raise
            logger.warning("the tracker store's database connection was lost; reading the conversation again")
            return await self._read(sender_id)

    async def _read(self, sender_id: str) -> Optional[DialogueStateTracker]:
        remembered = self._recent.get(sender_id)
        newest = self._newest_id(sender_id)
        if remembered and self.domain and newest == remembered[0]:
            self._recent.move_to_end(sender_id)
            return DialogueStateTracker.from_events(sender_id, remembered[1], self.domain.slots)
        tracker = await super().retrieve(sender_id)
        if tracker is not None and newest is not None:
            self._remember(sender_id, newest, list(tracker.events))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Stores the new events and their outbox rows in one transaction, lets the relay publish them, then
        remembers the conversation's events.

        The rows are those Rasa's own `save` writes; Rasa publishes before storing (and loses the publish when the
        broker is away), this stores the events and what is to be published together (`bot.outbox`): the desk
        never reads an event the tracker store does not have, and a crash after the commit publishes at the next
        start.

        Saved once more when the database connection was lost meanwhile (`lost_connection`), as Rasa's
        `FailSafeTrackerStore` would keep the turn in memory only. The second attempt counts what is stored from
        the database, so events the first one committed are not written twice.
        """
        try:
            await self._save(tracker)
        except sa.exc.DBAPIError as error:
            if not lost_connection(error):
                raise
            logger.warning("the tracker store's database connection was lost; saving the turn again")
            await self._save(tracker)

    async def _save(self, tracker: DialogueStateTracker) -> None:
        remembered = self._recent.get(tracker.sender_id)
        self._save_hint = None
        if remembered and self._newest_id(tracker.sender_id) == remembered[0]:
            # Nothing was stored since this conversation was read: its first events are the stored ones.
            self._save_hint = (tracker.sender_id, len(remembered[1]))
        try:
            with self.session_scope() as session:
                new_events = list(self.new_events(session, tracker))
                bodies = self._insert(session, tracker.sender_id, new_events)
                session.commit()
        finally:
            self._save_hint = None
        rasa_meters().observe_turn(tracker.sender_id, new_events)
        if self.relay is not None and bodies:
            self.relay.remember(bodies)
            await self._publish_now()
        events = list(tracker.events)
        newest = self._newest_id(tracker.sender_id)
        if newest is None or any(isinstance(event, SessionStarted) for event in events[1:]):
            # A session started during this turn: the database now returns only the new session's events.
            self._recent.pop(tracker.sender_id, None)
            return
        self._remember(tracker.sender_id, newest, events)

    def _insert(self, session: Any, sender_id: str, new_events: List[Event]) -> Dict[int, Dict[str, Any]]:
        """Insert the events' rows and, with a broker, their outbox rows (sequence: the event row's id); return
        the bodies to publish by sequence (empty without a broker)."""
        insert = self.SQLEvent.__table__.insert()
        bodies: Dict[int, Dict[str, Any]] = {}
        for event in new_events:
            data = event.as_dict()
            row = self._row(sender_id, event, data)
            if self.relay is None:
                session.execute(insert, [row])
                continue
            # one parameter set (not a list): SQLAlchemy hands back the new row's id, with no statement built per row
            sequence = int(session.execute(insert, row).inserted_primary_key[0])
            bodies[sequence] = outbox.published_body(sender_id, sequence, data)
        if bodies:
            session.execute(
                self.outbox.insert(), [{"sender_id": sender_id, "sequence": sequence} for sequence in bodies]
            )
        return bodies

    async def _publish_now(self) -> None:
        """Publish the outbox at once while the broker answers; else leave it to the relay's retries."""
        assert self.relay is not None
        self.relay.start()
        if not self.relay.healthy:
            self.relay.wake()
            return
        try:
            await self.relay.flush()
        except Exception:  # boundary: the rows stay in the outbox; the relay retries with backoff
            logger.error("publishing a turn's events failed; the outbox keeps them")
            logger.debug("outbox publish failure", exc_info=True)
            self.relay.wake()

    def _row(self, sender_id: str, event: Event, data: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """One `events` table row, with the same columns Rasa's own `save` writes, `data` (the event's dict, given
        or made here) encrypted."""
        data = event.as_dict() if data is None else data
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": (data.get("parse_data") or {}).get("intent", {}).get("name"),
            "action_name": data.get("name"),
            "data": self.cipher.encrypt(json.dumps(data)),
        }

    def decode_event(self, data: str) -> Dict[str, Any]:
        """A stored row's event, decrypted (rows written before encryption are read as they are)."""
        return self.cipher.loads(data)

    def events_since(self, since: float) -> List[StoredEvent]:
        """Every stored event at or after `since`, decrypted, in store order per conversation (the trainer's read).

        Returns:
            (sender_id, type_name, timestamp, intent_name, action_name, event data) tuples.
        """
        table = self.SQLEvent.__table__
        query = (
            sa.select(table.c.sender_id, table.c.type_name, table.c.timestamp, table.c.intent_name,
                      table.c.action_name, table.c.data)
            .where(table.c.timestamp >= since)
            .order_by(table.c.sender_id, table.c.id)
        )
        with self.engine.connect() as conn:
            return [(*row[:5], self.decode_event(row[5]) or {}) for row in conn.execute(query)]

    def purge_before(self, cutoff: float) -> int:
        """Delete the events older than `cutoff` (epoch seconds); return how many.

        A conversation's latest session is kept whole while it has events at or after `cutoff` (deleting its
        start would lose its slots); its older sessions go. A conversation with no session marker loses its
        events before `cutoff`.
        """
        table = self.SQLEvent.__table__
        latest = table.alias("latest")
        recent = sa.select(latest.c.sender_id).where(latest.c.timestamp >= cutoff)
        session_start = (
            sa.select(sa.func.max(latest.c.timestamp))
            .where(latest.c.sender_id == table.c.sender_id, latest.c.type_name == SessionStarted.type_name)
            .scalar_subquery()
        )
        query = sa.select(table.c.id).where(
            table.c.timestamp < cutoff,
            sa.or_(table.c.sender_id.not_in(recent), table.c.timestamp < sa.func.coalesce(session_start, cutoff)),
        )
        with self.engine.connect() as conn:
            ids = [row_id for (row_id,) in conn.execute(query)]
        deleted = _delete_ids(self.engine, table, ids)
        self._recent.clear()
        return deleted

    def rekey(self) -> int:
        """Re-encrypt every stored event under the first data key (the outbox holds no copy); return how many rows
        changed."""
        return data_keys.rekey_column(self.engine, self.SQLEvent.__table__, "data", self.cipher, BATCH)

    def _remember(self, sender_id: str, newest_id: int, events: List[Event]) -> None:
        self._recent[sender_id] = (newest_id, events)
        self._recent.move_to_end(sender_id)
        while len(self._recent) > self.cached_conversations:
            self._recent.popitem(last=False)

    def stored_count(self, session: Any, tracker: DialogueStateTracker) -> int:
        """How many of the tracker's events are stored: known from memory during `save`, else counted."""
        hint = self._save_hint
        if hint is not None and hint[0] == tracker.sender_id:
            return hint[1]
        return super().stored_count(session, tracker)


class TunedSQLEventBroker(SQLEventBroker):
    """Rasa's SQL event broker; write-ahead logging on SQLite; several events in one transaction; event data
    encrypted (the desk decrypts it with the same `DataCipher`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Creates the broker as Rasa does, then tunes a SQLite engine.

        Raises:
            DataKeyError: see `TunedSQLTrackerStore`.
        """
        self.cipher = data_keys.cipher()
        super().__init__(*args, **kwargs)
        self.engine = tuned_engine(self.engine)
        self.sessionmaker.configure(bind=self.engine)

    @classmethod
    def from_url(cls, url: str) -> "TunedSQLEventBroker":
        """The broker table on a database given as an SQLAlchemy URL (for the maintenance commands)."""
        return cls(host=url)

    def publish(self, event: Dict[str, Any]) -> None:
        """Publishes one event (encrypted)."""
        self.publish_many([event])

    def publish_many(self, events: List[Dict[str, Any]]) -> None:
        """Publishes several events in one transaction (Rasa's `publish` commits each event on its own)."""
        if not events:
            return
        rows = [{"sender_id": event.get("sender_id"), "data": self.cipher.dumps(event)} for event in events]
        with self.session_scope() as session:
            session.execute(self.SQLBrokerEvent.__table__.insert(), rows)
            session.commit()

    def purge_before(self, cutoff: float) -> int:
        """Delete the published events older than `cutoff` (epoch seconds, from each event's own timestamp);
        return how many.

        Rows are in publishing order: the scan stops at the first event at or after `cutoff`. The newest row is
        never deleted but emptied (no sender, data `{}`, which the desk ignores): on SQLite the ids would start again at 1
        after an emptied table, and the desk tails the table by id.
        """
        table = self.SQLBrokerEvent.__table__
        boundary, last, done = None, 0, False
        while not done:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(table.c.id, table.c.data).where(table.c.id > last).order_by(table.c.id).limit(BATCH)
                ).all()
            for row_id, data in rows:
                try:
                    stamp = (self.cipher.loads(data) or {}).get("timestamp")
                except ValueError:  # not JSON: the desk skips such rows too
                    stamp = None
                if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
                    if stamp >= cutoff:
                        done = True
                        break
                    boundary = row_id
            done = done or len(rows) < BATCH
            if rows:
                last = rows[-1][0]
        if boundary is None:
            return 0
        with self.engine.connect() as conn:
            newest = conn.execute(sa.select(sa.func.max(table.c.id))).scalar()
            ids = [row_id for (row_id,) in conn.execute(
                sa.select(table.c.id).where(table.c.id <= boundary, table.c.id != newest)
            )]
        deleted = _delete_ids(self.engine, table, ids)
        if boundary == newest:
            with self.engine.begin() as conn:
                conn.execute(
                    table.update().where(table.c.id == newest).values(sender_id=None, data=self.cipher.dumps({}))
                )
            deleted += 1
        return deleted

    def rekey(self) -> int:
        """Re-encrypt every published event under the first data key; return how many rows changed."""
        return data_keys.rekey_column(self.engine, self.SQLBrokerEvent.__table__, "data", self.cipher, BATCH)
