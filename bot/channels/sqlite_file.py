"""The SQLite file a channel keeps its small records in on one machine (`bot.channels.wechat_kf_cursor`,
`bot.channels.delivery_keys`): opened on first use (its folder made), with a write-ahead journal, in autocommit,
one connection shared by the channel's threads behind one lock."""

from __future__ import annotations

import pathlib
import sqlite3
import threading
import time
from typing import Callable, Optional, Tuple


class SqliteFile:
    """Base of a channel's SQLite store: its `SCHEMA` (`CREATE TABLE IF NOT EXISTS` statements) runs when the file
    is first opened; a subclass reads and writes through `self._conn()` while holding `self._lock`.

    Args:
        path: the database file (created on first use).
        clock: wall-clock seconds (tests inject one).
    """

    SCHEMA: Tuple[str, ...] = ()

    def __init__(self, path: pathlib.Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._db: Optional[sqlite3.Connection] = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), timeout=5, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            for statement in self.SCHEMA:
                db.execute(statement)
            self._db = db
        return self._db

    def close(self) -> None:
        """Close the file (it opens again on the next use)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
