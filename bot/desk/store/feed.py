"""The console feed (`desk_feed`): every change pushed to the consoles, in one order shared by all desk processes.

Each row is one Server-Sent Event: `id` (global: the SSE `id:` and `Last-Event-ID`), `at` (the database's clock),
`kind` (`ticket` or `message`) and `data` (its JSON text, encrypted with the data keys like every other text the
desk keeps: it holds conversation ids and messages). The desk process that made a change appends the row;
every desk process reads the rows after the last it has seen and pushes them to its own consoles
(`bot.desk.stream.Hub`).

Ids are handed out in commit order, so a reader that has seen id n never finds an id below n later: PostgreSQL
draws sequence values at insert time, not at commit, so an append takes `LOCK TABLE desk_feed IN EXCLUSIVE MODE`
for its short transaction (readers are not blocked); SQLite has one writer at a time anyway (and
`AUTOINCREMENT`, so trimmed ids are never reused).

Wake-ups: on PostgreSQL an append also sends `NOTIFY desk_feed_<schema>` in its transaction (delivered on
commit) and `FeedListener` LISTENs on a connection of its own; on SQLite the readers poll.

Rows are kept for a while (`trim_feed`, run by one desk at a time); the highest trimmed id is kept in
`desk_state` (`feed_trimmed_through`), so a console that asks for events older than that learns they are gone.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, List, Optional

import sqlalchemy as sa

from bot.desk.store.database import Database
from bot.desk.store.processes import database_clock
from bot.desk.store.tables import metadata, state

logger = logging.getLogger(__name__)

TRIMMED_KEY = "feed_trimmed_through"

feed = sa.Table(
    "desk_feed",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),  # the database's clock
    sa.Column("kind", sa.String(16), nullable=False),  # ticket | message
    sa.Column("data", sa.Text, nullable=False),  # the event's JSON, encrypted (`Database.cipher`)
    sqlite_autoincrement=True,
)


@dataclasses.dataclass(frozen=True)
class FeedRow:
    """One stored console event."""

    id: int
    kind: str
    data: str


class FeedRows(Database):
    """Appends to and reads of `desk_feed`."""

    _feed_channel: Optional[str] = None

    @property
    def feed_channel(self) -> str:
        """PostgreSQL: the NOTIFY channel of this schema's feed (`desk_feed_<schema>`, at most 63 characters)."""
        if self._feed_channel is None:
            with self.engine.connect() as conn:
                schema = conn.execute(sa.text("SELECT current_schema()")).scalar() or "public"
            self._feed_channel = f"desk_feed_{schema}"[:63]
        return self._feed_channel

    def append_feed(self, kind: str, data: str) -> int:
        """Append an event (its JSON text); return its id."""
        postgres = self.dialect == "postgresql"
        channel = self.feed_channel if postgres else ""
        with self.engine.begin() as conn:
            if postgres:
                conn.execute(sa.text("LOCK TABLE desk_feed IN EXCLUSIVE MODE"))
            new_id = conn.execute(
                feed.insert().values(at=database_clock(self.dialect), kind=kind, data=self.cipher.encrypt(data))
            ).inserted_primary_key[0]
            if postgres:
                conn.execute(sa.select(sa.func.pg_notify(channel, str(new_id))))
        return int(new_id)

    def feed_after(self, after: int, limit: int) -> List[FeedRow]:
        """The events with an id above `after`, oldest first, at most `limit`."""
        query = sa.select(feed.c.id, feed.c.kind, feed.c.data).where(feed.c.id > after).order_by(feed.c.id).limit(limit)
        cipher = self.cipher
        with self.engine.connect() as conn:
            return [FeedRow(int(r.id), r.kind, cipher.decrypt(r.data)) for r in conn.execute(query)]

    def feed_last_id(self) -> int:
        """The id of the newest event (the trimmed mark when none is kept, 0 when there never was one)."""
        with self.engine.connect() as conn:
            newest = conn.execute(sa.select(sa.func.max(feed.c.id))).scalar()
        return int(newest) if newest is not None else self.feed_trimmed_through()

    def feed_trimmed_through(self) -> int:
        """The highest id trimmed from the feed (events up to it are gone), 0 when nothing was trimmed."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(state.c.value).where(state.c.key == TRIMMED_KEY)).scalar()
        return int(value) if value else 0

    def trim_feed(self, keep_seconds: float) -> int:
        """Delete the events older than `keep_seconds` (by the database's clock); return how many."""
        return self.trim_feed_before(database_clock(self.dialect) - keep_seconds)

    def trim_feed_before(self, cutoff: float) -> int:
        """Delete the events stored before `cutoff` (epoch seconds); return how many. Consoles asking for one of
        them learn they are gone (the trimmed mark)."""
        with self.engine.begin() as conn:
            through = conn.execute(sa.select(sa.func.max(feed.c.id)).where(feed.c.at < cutoff)).scalar()
            if through is None:
                return 0
            removed = conn.execute(feed.delete().where(feed.c.id <= through)).rowcount
            if not conn.execute(state.update().where(state.c.key == TRIMMED_KEY).values(value=str(through))).rowcount:
                conn.execute(state.insert().values(key=TRIMMED_KEY, value=str(through)))
        return int(removed or 0)


class FeedListener:
    """PostgreSQL: LISTEN on the feed's channel over a connection of its own (psycopg2's asynchronous
    notifications: the caller watches `fileno()` for reading and calls `drain()`).

    Args:
        store: the desk store (PostgreSQL).
    """

    def __init__(self, store: FeedRows) -> None:
        self.store = store
        self._connection: Any = None

    @property
    def connected(self) -> bool:
        """True while the listening connection is open."""
        return self._connection is not None

    def connect(self) -> int:
        """Open the connection and LISTEN; return its socket's file descriptor.

        Raises:
            sqlalchemy.exc.SQLAlchemyError, psycopg2.Error: the database is unreachable.
        """
        channel = self.store.feed_channel
        pooled = self.store.engine.raw_connection()
        pooled.detach()  # ours alone, closed (not pooled) when we close it
        connection = pooled.dbapi_connection
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute('LISTEN "%s"' % channel.replace('"', '""'))
        except Exception:
            pooled.close()
            raise
        self._connection = pooled
        return connection.fileno()

    def drain(self) -> int:
        """Read the notifications that arrived; return how many.

        Raises:
            psycopg2.Error: the connection is broken (call `close()`, then `connect()` again).
        """
        connection = self._connection.dbapi_connection
        connection.poll()
        count = len(connection.notifies)
        connection.notifies.clear()
        return count

    def close(self) -> None:
        """Close the listening connection."""
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # boundary: closing a broken connection
                logger.debug("closing the feed listener failed", exc_info=True)
            self._connection = None
