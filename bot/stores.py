"""Rasa's SQL tracker store and SQL event broker, tuned for SQLite (the default, one-machine setup).

Rasa commits every published event on its own; with SQLite's default rollback journal each commit waits for
the disk several times, which made the event broker the slowest part of a turn. These subclasses switch SQLite
to write-ahead logging with `synchronous=NORMAL`: a commit no longer waits for the disk (a power cut may lose
the last moments; an application crash loses nothing), and the desk can read the event table while Rasa
writes it. On PostgreSQL they behave exactly like Rasa's own classes.

Configured in `endpoints.yml` as `type: bot.stores.SQLiteTunedTrackerStore` and
`type: bot.stores.SQLiteTunedEventBroker`.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore

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


def cache_event_types() -> None:
    """Make Rasa's event-type lookup a dictionary lookup.

    Rasa resolves the class of every stored event by walking all subclasses of `Event` (about 60) each time;
    loading a tracker of a few dozen events spent several milliseconds there per turn. Found classes are cached;
    a miss falls back to Rasa's own lookup, so event classes defined later are still found.
    """
    from rasa.shared.core import events

    if getattr(events.Event, "_frontline_type_cache", None) is not None:
        return
    original = events.Event.resolve_by_type
    cache: dict = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        found = cache.get(type_name)
        if found is None:
            found = original(type_name, default)
            if found is not None and getattr(found, "type_name", None) == type_name:
                cache[type_name] = found
        return found

    events.Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[assignment]
    events.Event._frontline_type_cache = cache  # type: ignore[attr-defined]


class SQLiteTunedTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store; write-ahead logging on SQLite."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Creates the store as Rasa does, then tunes a SQLite engine and the event-type lookup."""
        cache_event_types()
        super().__init__(*args, **kwargs)
        self.engine = tuned_engine(self.engine)
        self.sessionmaker.configure(bind=self.engine)


class SQLiteTunedEventBroker(SQLEventBroker):
    """Rasa's SQL event broker; write-ahead logging on SQLite."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Creates the broker as Rasa does, then tunes a SQLite engine."""
        super().__init__(*args, **kwargs)
        self.engine = tuned_engine(self.engine)
        self.sessionmaker.configure(bind=self.engine)
