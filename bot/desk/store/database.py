"""The connection to the desk's database: the engine (SQLite or PostgreSQL), table creation, clean-up, and
the data cipher the table groups encrypt conversation text with.

The table groups (`tickets`, `messages`, `agents`, `state` in this package) extend `Database`; `Store` joins
them into one object.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Dict, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot import data_keys
from bot.desk.store.tables import metadata

logger = logging.getLogger(__name__)

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# pg_advisory_xact_lock key of the desk's schema changes (any fixed 64-bit number; "DESKMIGR" in ASCII): desks
# starting at once on an empty database create its schema, tables, types and indexes one after the other.
MIGRATION_LOCK_KEY = 0x4445534B4D494752


class Database:
    """One SQL database, opened on first use.

    Args:
        url: a SQLAlchemy URL: `sqlite:///path` or `postgresql://user@host:port/db`.
        schema: PostgreSQL only: keep the tables in this schema (created when missing), e.g. one per test run.
    """

    def __init__(self, url: str, schema: Optional[str] = None) -> None:
        self.url = url
        self.schema = schema
        self.dialect = sa.engine.make_url(url).get_backend_name()
        self._engine: Optional[Engine] = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first use."""
        with self._lock:
            if self._engine is None:
                self._engine = self._create_engine()
            return self._engine

    def _create_engine(self) -> Engine:
        url = self.url
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        if self.dialect == "sqlite":
            # A pool that keeps its connections: closing the last connection to a WAL database checkpoints and
            # waits for the disk, which on the event-consumer path cost more than the work itself.
            engine = sa.create_engine(
                url,
                connect_args={"timeout": 30, "check_same_thread": False},
                poolclass=sa.pool.QueuePool,
                pool_size=4,
                future=True,
            )

            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: durable against crashes, no wait per commit
                cursor.execute("PRAGMA busy_timeout=30000")
                # a deleted or rewritten row is overwritten with zeros: purged texts do not linger in free pages
                cursor.execute("PRAGMA secure_delete=ON")
                cursor.close()

            return engine
        connect_args: Dict[str, Any] = {}
        if self.schema:
            if not _SCHEMA_NAME.match(self.schema):
                raise ValueError(f"not a valid schema name: {self.schema!r}")
            connect_args["options"] = f"-csearch_path={self.schema}"
            bootstrap = sa.create_engine(url, future=True)
            with bootstrap.begin() as conn:  # IF NOT EXISTS alone races: two creators both find it missing
                _lock_migrations(conn)
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            bootstrap.dispose()
        return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True, future=True)

    @property
    def cipher(self) -> data_keys.DataCipher:
        """The data cipher (`bot.data_keys`): message texts, context packets and survey comments are stored
        encrypted with it."""
        return data_keys.cipher()

    def migrate(self) -> None:
        """Create the tables and indexes that are missing (the desk's only kind of migration).

        One transaction; on PostgreSQL it holds an advisory lock first (`MIGRATION_LOCK_KEY`), so desks starting
        at once on an empty database wait for each other instead of failing on a catalogue unique constraint
        (`pg_type_typname_nsp_index`: `CREATE TABLE` checks for the table, then creates it and its row type).

        Raises:
            DataKeyError: no data key (production mode without `FRONTLINE_DATA_KEYS`): the desk does not start.
        """
        self.cipher  # noqa: B018 - fail at start-up, not at the first message
        with self.engine.begin() as conn:
            _lock_migrations(conn)
            metadata.create_all(conn)
            add_missing_columns(conn)
            for table in metadata.sorted_tables:  # indexes added to a table that already existed
                for index in table.indexes:
                    conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
            from bot.desk.store.audit import install_append_only  # the audit table's group builds on this module

            install_append_only(conn)

    def ping(self) -> None:
        """One trivial query (raises when the database is unreachable)."""
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        """Release the connections."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def drop_schema(self) -> None:
        """Drop everything the store created (tests): the schema on PostgreSQL, the tables on SQLite."""
        if self.dialect != "sqlite" and self.schema:
            with self.engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        else:
            metadata.drop_all(self.engine)
        self.close()


def _lock_migrations(conn: sa.engine.Connection) -> None:
    """On PostgreSQL, wait for the desk's migration lock; it is released when the transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def add_missing_columns(conn: sa.engine.Connection) -> List[str]:
    """Add the nullable columns a newer version declares to tables an older version created; return them
    (`table.column`). Tables are never changed otherwise.

    Args:
        conn: a connection in the migration's transaction.
    """
    inspector = sa.inspect(conn)
    added: List[str] = []
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
            added.append(f"{table.name}.{column.name}")
            logger.info("added column %s.%s", table.name, column.name)
    return added
