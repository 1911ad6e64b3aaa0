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

The Rasa internals this relies on are behind the one door, `bot.patches`: the private save steps of Rasa's
SQL tracker store (`bot.patches.rasa_stores`) and the cached event-type lookup (`bot.patches.rasa_events`).

Configured in `endpoints.yml` as `type: bot.stores.TunedSQLTrackerStore` and
`type: bot.stores.TunedSQLEventBroker` (and the tracker store in `endpoints.prod.yml`).
"""

from __future__ import annotations

import collections
import json
import logging
from typing import Any, Dict, List, Optional, Tuple

from rasa.core.brokers.sql import SQLEventBroker
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

from bot.patches import rasa_events, rasa_stores

logger = logging.getLogger(__name__)

PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=5000")


def tuned_engine(engine: Any) -> Any:
    """A SQLite engine like `engine`, with the pragmas and one connection kept open; others are returned as is.

    Rasa opens and closes a connection for every operation; closing the last connection to a WAL database
    checkpoints and deletes the log, waiting for the disk each time. One shared connection (Rasa's stores run
    their SQL synchronously on the event loop's thread) keeps the log open and every operation cheap.
    """
    if engine.dialect.name != "sqlite":
        return engine
    from sqlalchemy import create_engine, event
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


class TunedSQLTrackerStore(rasa_stores.HookedSQLTrackerStore):
    """Rasa's SQL tracker store; write-ahead logging on SQLite; cheaper event streaming; recent events cached."""

    # Conversations whose events are kept in memory (least recently used dropped first).
    cached_conversations = 2000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Creates the store as Rasa does, then tunes a SQLite engine and the event-type lookup."""
        rasa_events.install()
        super().__init__(*args, **kwargs)
        self.engine = tuned_engine(self.engine)
        self.sessionmaker.configure(bind=self.engine)
        self._recent: "collections.OrderedDict[str, Tuple[int, List[Event]]]" = collections.OrderedDict()
        self._save_hint: Optional[Tuple[str, int]] = None

    def _newest_id(self, sender_id: str) -> Optional[int]:
        import sqlalchemy as sa

        with self.session_scope() as session:
            query = sa.select(sa.func.max(self.SQLEvent.id)).where(self.SQLEvent.sender_id == sender_id)
            return session.execute(query).scalar()

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The conversation's tracker: rebuilt from memory when nothing was stored since it was remembered."""
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
        """Stores the new events in one statement, publishes them, then remembers the conversation's events.

        The rows are those Rasa's own `save` writes; Rasa publishes before storing, this stores first, so the
        desk never reads an event the tracker store does not have yet.
        """
        remembered = self._recent.get(tracker.sender_id)
        self._save_hint = None
        if remembered and self._newest_id(tracker.sender_id) == remembered[0]:
            # Nothing was stored since this conversation was read: its first events are the stored ones.
            self._save_hint = (tracker.sender_id, len(remembered[1]))
        try:
            with self.session_scope() as session:
                new_events = list(self.new_events(session, tracker))
                rows = [self._row(tracker.sender_id, event) for event in new_events]
                if rows:
                    session.execute(self.SQLEvent.__table__.insert(), rows)
                session.commit()
        finally:
            self._save_hint = None
        if self.event_broker is not None and new_events:
            await self.publish_events(new_events, tracker.sender_id)
        events = list(tracker.events)
        newest = self._newest_id(tracker.sender_id)
        if newest is None or any(isinstance(event, SessionStarted) for event in events[1:]):
            # A session started during this turn: the database now returns only the new session's events.
            self._recent.pop(tracker.sender_id, None)
            return
        self._remember(tracker.sender_id, newest, events)

    @staticmethod
    def _row(sender_id: str, event: Event) -> Dict[str, Any]:
        """One `events` table row, with the same columns Rasa's own `save` writes."""
        data = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": (data.get("parse_data") or {}).get("intent", {}).get("name"),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }

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
    """Rasa's SQL event broker; write-ahead logging on SQLite; several events in one transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Creates the broker as Rasa does, then tunes a SQLite engine."""
        super().__init__(*args, **kwargs)
        self.engine = tuned_engine(self.engine)
        self.sessionmaker.configure(bind=self.engine)

    def publish_many(self, events: List[Dict[str, Any]]) -> None:
        """Publishes several events in one transaction (Rasa's `publish` commits each event on its own)."""
        if not events:
            return
        rows = [{"sender_id": event.get("sender_id"), "data": json.dumps(event)} for event in events]
        with self.session_scope() as session:
            session.execute(self.SQLBrokerEvent.__table__.insert(), rows)
            session.commit()
