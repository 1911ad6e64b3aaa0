"""Where the 微信客服 channel keeps its place: the `sync_msg` cursor, the messages already handled, and the
sessions WeCom's own servicers hold.

The cursor is the only bookmark of `sync_msg`: lose it and every message of the last days comes again; keep it
too early and a message is lost. The channel saves it after each page is handled, and marks each message done
after its turn, so a restart between two fetches starts exactly after the last page, and a restart in the
middle of a page re-reads the page and skips the messages already done (`bot.channels.wechat_kf`).
A session WeCom's own servicers took (`service_state` 2 or 3) is remembered here too, for `HELD_SECONDS`, so the
assistant stays silent for it whichever replica syncs next, and after a restart.

Where the record lives: Redis in production mode (`bot.redis_config`; one sync at a time across replicas,
behind a lease), else a SQLite file `$FRONTLINE_VAR/wechat-kf.db` (one machine; it survives a restart).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Mapping, Optional, Union

from bot.channels.sqlite_file import SqliteFile
from bot.redis_config import redis_settings

logger = logging.getLogger(__name__)

DONE_SECONDS = 7 * 24 * 3600  # how long a handled message id is remembered (sync_msg serves the last 3 days)
HELD_SECONDS = 48 * 3600  # a session WeCom's servicers hold is remembered this long (a session lasts 48 h)
LEASE_SECONDS = 300  # how long one replica may hold the sync of a service account without renewing it
DB_FILE = "wechat-kf.db"
KEY_PREFIX = "frontline:wechat_kf"


class SqliteCursorStore(SqliteFile):
    """Cursors and handled message ids in a SQLite file (one machine).

    Args:
        path: the database file (created on first use).
        clock: wall-clock seconds (tests inject one).
    """

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS kf_cursor (open_kfid TEXT PRIMARY KEY, cursor TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS kf_done (open_kfid TEXT NOT NULL, msgid TEXT NOT NULL, until REAL NOT NULL,"
        " PRIMARY KEY (open_kfid, msgid))",
        "CREATE TABLE IF NOT EXISTS kf_held (open_kfid TEXT NOT NULL, customer TEXT NOT NULL, state INTEGER NOT NULL,"
        " until REAL NOT NULL, PRIMARY KEY (open_kfid, customer))",
    )

    def cursor(self, open_kfid: str) -> str:
        """The saved cursor ("" before the first page)."""
        with self._lock:
            row = self._conn().execute("SELECT cursor FROM kf_cursor WHERE open_kfid=?", (open_kfid,)).fetchone()
        return str(row[0]) if row else ""

    def save_cursor(self, open_kfid: str, cursor: str) -> None:
        """Save the cursor after a handled page."""
        with self._lock:
            self._conn().execute("INSERT OR REPLACE INTO kf_cursor VALUES (?, ?)", (open_kfid, cursor))

    def is_done(self, open_kfid: str, msgid: str) -> bool:
        """True when the message was handled already."""
        with self._lock:
            row = self._conn().execute(
                "SELECT 1 FROM kf_done WHERE open_kfid=? AND msgid=? AND until>?", (open_kfid, msgid, self._clock())
            ).fetchone()
        return row is not None

    def mark_done(self, open_kfid: str, msgid: str) -> None:
        """Record a handled message (and forget those past `DONE_SECONDS`)."""
        now = self._clock()
        with self._lock:
            db = self._conn()
            db.execute("INSERT OR REPLACE INTO kf_done VALUES (?, ?, ?)", (open_kfid, msgid, now + DONE_SECONDS))
            db.execute("DELETE FROM kf_done WHERE until<=?", (now,))

    def held_state(self, open_kfid: str, customer: str) -> Optional[int]:
        """The state (2 or 3) of a session WeCom's own servicers hold, or None."""
        with self._lock:
            row = self._conn().execute(
                "SELECT state FROM kf_held WHERE open_kfid=? AND customer=? AND until>?",
                (open_kfid, customer, self._clock()),
            ).fetchone()
        return int(row[0]) if row else None

    def set_held_state(self, open_kfid: str, customer: str, state: Optional[int]) -> None:
        """Remember that WeCom's servicers hold the session (`state` 2 or 3), or forget it (None)."""
        now = self._clock()
        with self._lock:
            db = self._conn()
            if state is None:
                db.execute("DELETE FROM kf_held WHERE open_kfid=? AND customer=?", (open_kfid, customer))
            else:
                db.execute("INSERT OR REPLACE INTO kf_held VALUES (?, ?, ?, ?)",
                           (open_kfid, customer, int(state), now + HELD_SECONDS))
            db.execute("DELETE FROM kf_held WHERE until<=?", (now,))

    def acquire(self, open_kfid: str, holder: str) -> bool:
        """One machine, one process: the channel's own lock serialises the syncs."""
        return True

    def release(self, open_kfid: str, holder: str) -> None:
        """Nothing to release on one machine."""


class RedisCursorStore:
    """Cursors, handled ids and the sync lease in Redis, shared by every Rasa replica.

    Args:
        client: a `redis.Redis` client.
        prefix: the key prefix.
    """

    def __init__(self, client: Any, prefix: str = KEY_PREFIX) -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, kind: str, open_kfid: str, extra: str = "") -> str:
        return f"{self.prefix}:{kind}:{open_kfid}" + (f":{extra}" if extra else "")

    def cursor(self, open_kfid: str) -> str:
        """The saved cursor ("" before the first page)."""
        value = self.client.get(self._key("cursor", open_kfid))
        return value.decode() if isinstance(value, bytes) else (value or "")

    def save_cursor(self, open_kfid: str, cursor: str) -> None:
        """Save the cursor after a handled page."""
        self.client.set(self._key("cursor", open_kfid), cursor)

    def is_done(self, open_kfid: str, msgid: str) -> bool:
        """True when the message was handled already."""
        return bool(self.client.exists(self._key("done", open_kfid, msgid)))

    def mark_done(self, open_kfid: str, msgid: str) -> None:
        """Record a handled message for `DONE_SECONDS`."""
        self.client.set(self._key("done", open_kfid, msgid), "1", ex=DONE_SECONDS)

    def held_state(self, open_kfid: str, customer: str) -> Optional[int]:
        """The state (2 or 3) of a session WeCom's own servicers hold, or None."""
        value = self.client.get(self._key("held", open_kfid, customer))
        return int(value) if value else None

    def set_held_state(self, open_kfid: str, customer: str, state: Optional[int]) -> None:
        """Remember that WeCom's servicers hold the session (`state` 2 or 3) for `HELD_SECONDS`, or forget it."""
        name = self._key("held", open_kfid, customer)
        if state is None:
            self.client.delete(name)
        else:
            self.client.set(name, str(int(state)), ex=HELD_SECONDS)

    def acquire(self, open_kfid: str, holder: str) -> bool:
        """Take the sync lease of the service account (False: another replica is syncing it)."""
        return bool(self.client.set(self._key("lease", open_kfid), holder, nx=True, ex=LEASE_SECONDS))

    def release(self, open_kfid: str, holder: str) -> None:
        """Give the lease back (only when it is still ours)."""
        name = self._key("lease", open_kfid)
        value = self.client.get(name)
        if (value.decode() if isinstance(value, bytes) else value) == holder:
            self.client.delete(name)

    def close(self) -> None:
        """Nothing to close (the client is shared)."""


CursorStore = Union[SqliteCursorStore, RedisCursorStore]


def from_env(environ: Optional[Mapping[str, str]] = None) -> CursorStore:
    """This process's store: Redis in production mode, else `$FRONTLINE_VAR/wechat-kf.db`.

    Raises:
        SettingsError: Redis settings Frontline cannot use.
    """
    settings = redis_settings(environ)
    if settings is not None:
        return RedisCursorStore(settings.client(socket_timeout=2, socket_connect_timeout=2))
    from bot.settings import var_dir

    return SqliteCursorStore(var_dir() / DB_FILE)


def new_holder() -> str:
    """A name for this process's sync lease."""
    return uuid.uuid4().hex
