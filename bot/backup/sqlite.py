"""SQLite: copies through SQLite's online backup API, consistent while Frontline writes to the database."""

from __future__ import annotations

import logging
import os
import pathlib
import sqlite3
from typing import Dict

logger = logging.getLogger(__name__)


def copy(source: pathlib.Path, target: pathlib.Path) -> None:
    """Copy a whole database, page by page, as one consistent snapshot (other connections may write meanwhile).

    The copy is a single file (rollback journal, not write-ahead log); the stores switch it back on when they
    open it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    reader = sqlite3.connect(source, timeout=30)
    writer = sqlite3.connect(target, timeout=30)
    try:
        reader.backup(writer)
        writer.execute("PRAGMA journal_mode=DELETE")
        writer.commit()
    finally:
        writer.close()
        reader.close()


def restore(source: pathlib.Path, target: pathlib.Path) -> None:
    """Put a backed-up database in place of `target` (Frontline stopped): copied beside it, then renamed over it.

    The target's old write-ahead log, shared-memory index and rollback journal are removed: left beside the new
    file, SQLite would replay them into it.
    """
    temporary = target.with_name(target.name + ".restoring")
    temporary.unlink(missing_ok=True)
    copy(source, temporary)
    os.replace(temporary, target)
    for suffix in ("-wal", "-shm", "-journal"):
        pathlib.Path(f"{target}{suffix}").unlink(missing_ok=True)


def counts(path: pathlib.Path) -> Dict[str, int]:
    """Rows in each table of a database file."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                "ORDER BY name"
            )
        ]
        return {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}
    finally:
        connection.close()


def check(path: pathlib.Path) -> None:
    """Raise `sqlite3.DatabaseError` unless SQLite finds the file intact (`PRAGMA integrity_check`)."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        result = connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()
    if result != "ok":
        raise sqlite3.DatabaseError(f"{path}: {result}")
