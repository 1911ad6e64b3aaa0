"""What the maintenance commands (`python -m bot purge`, `python -m bot rekey`) work on, and their lock.

`Stores.open()` finds the three databases the way the running processes do: Rasa's SQL tracker store from the
endpoints file (`FRONTLINE_ENDPOINTS`, else `endpoints.yml`; a relative SQLite path in `FRONTLINE_VAR`), the SQL
event broker table as the desk finds it (`FRONTLINE_BROKER`, the endpoints file, `FRONTLINE_EVENTS_DB`; none
with RabbitMQ, whose consumed messages are gone), and the desk's database (`DATABASE_URL`, else
`var/desk.db`), the channels' delivery-key file (`var/channel-keys.db`) when the channels use it (no Redis
configured), and the e-mail channel's kept mails (`var/email.db` and `var/email-attachments/`). An SQLite file
that does not exist yet is skipped: nothing ran there.

`maintenance_lock` keeps two runs (two cron jobs, a purge and a rekey) from working at once: a lock file in
`var/` on this machine, and on PostgreSQL an advisory lock on the desk's database, which every machine shares.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import pathlib
from typing import TYPE_CHECKING, Any, Iterator, Optional

from bot.settings import var_dir

if TYPE_CHECKING:
    from bot.channels.delivery_keys import SqliteKeyStore
    from bot.channels.email_threads import ThreadStore
    from bot.desk.store import Store
    from bot.stores import TunedSQLEventBroker, TunedSQLTrackerStore

logger = logging.getLogger(__name__)

LOCK_FILE = "maintenance.lock"
# The PostgreSQL advisory lock key of the maintenance commands (any fixed 64-bit number; "FRONTLIN" in ASCII).
ADVISORY_LOCK_KEY = 0x46524F4E544C494E


def _missing_sqlite(url: str) -> bool:
    """True for an SQLite URL whose file does not exist (nothing to work on; never create it)."""
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    return parsed.get_backend_name() == "sqlite" and not (parsed.database and pathlib.Path(parsed.database).exists())


def _is_postgresql(url: str) -> bool:
    import sqlalchemy as sa

    return sa.engine.make_url(url).get_backend_name() == "postgresql"


@dataclasses.dataclass
class Stores:
    """The databases the maintenance commands work on (None: not there, or not an SQL store)."""

    tracker: Optional["TunedSQLTrackerStore"]
    broker: Optional["TunedSQLEventBroker"]
    desk: Optional["Store"]
    desk_url: Optional[str]
    # the channels' delivery keys on one machine (`var/channel-keys.db`); in Redis they expire by themselves
    channel_keys: Optional["SqliteKeyStore"] = None
    # the e-mail channel's threads, kept mails and attachment files on this machine (`var/email.db`)
    mail: Optional["ThreadStore"] = None

    @classmethod
    def open(cls) -> "Stores":
        """Open the configured stores (see the module docstring).

        Raises:
            DataKeyError: no data key (production mode without `FRONTLINE_DATA_KEYS`).
        """
        from bot import data_keys
        from bot.desk import config
        from bot.desk.store import Store

        data_keys.cipher()  # no key: stop before touching anything
        tracker_url = config.tracker_store_url()
        broker_url = config.broker_url()
        if broker_url and broker_url.startswith(("amqp://", "amqps://")):
            broker_url = None
        desk_url: Optional[str] = config.database_url()
        tracker = broker = None
        if tracker_url and not _missing_sqlite(tracker_url):
            from bot.stores import TunedSQLTrackerStore

            tracker = TunedSQLTrackerStore.from_url(tracker_url)
        if broker_url and not _missing_sqlite(broker_url):
            from bot.stores import TunedSQLEventBroker

            broker = TunedSQLEventBroker.from_url(broker_url)
        desk = None
        if desk_url and not _missing_sqlite(desk_url):
            desk = Store(desk_url)
            desk.migrate()
        return cls(tracker=tracker, broker=broker, desk=desk, desk_url=desk_url, channel_keys=_channel_key_file(),
                   mail=_mail_file())

    def close(self) -> None:
        """Empty the write-ahead logs of SQLite files (they still hold the pages as they were before the run),
        then release every connection."""
        engines = [store.engine for store in (self.tracker, self.broker) if store is not None]
        if self.desk is not None:
            engines.append(self.desk.engine)
        for engine in engines:
            if engine.dialect.name == "sqlite":
                truncate_wal(engine)
        for store in (self.tracker, self.broker):
            if store is not None:
                store.engine.dispose()
        if self.desk is not None:
            self.desk.close()
        if self.channel_keys is not None:
            self.channel_keys.close()
        if self.mail is not None:
            self.mail.close()


def _channel_key_file() -> Optional["SqliteKeyStore"]:
    """The channels' delivery-key file of this machine when the channels use it (no Redis) and it exists."""
    from bot.channels.delivery_keys import DB_FILE, SqliteKeyStore
    from bot.redis_config import redis_settings

    path = var_dir() / DB_FILE
    if redis_settings() is not None or not path.exists():
        return None
    return SqliteKeyStore(path)


def _mail_file() -> Optional["ThreadStore"]:
    """The e-mail channel's store of this machine (`var/email.db`, with its attachments folder) when it exists."""
    from bot.channels.email_threads import DB_FILE, ThreadStore

    if not (var_dir() / DB_FILE).exists():
        return None
    return ThreadStore(var_dir())


def truncate_wal(engine: Any) -> None:
    """Checkpoint an SQLite database and truncate its write-ahead log (a running process reading it may keep
    part of the log until its next checkpoint; logged)."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        busy, _, _ = conn.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
    if busy:
        logger.warning("%s: the write-ahead log could not be emptied now (a reader is active)", engine.url.database)


@contextlib.contextmanager
def maintenance_lock(desk_url: Optional[str]) -> Iterator[bool]:
    """Hold the maintenance lock for the block; yields False (holding nothing) when another run has it.

    Args:
        desk_url: the desk's database; on PostgreSQL its advisory lock is taken too.
    """
    import filelock

    lock = filelock.FileLock(str(var_dir() / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        yield False
        return
    try:
        if desk_url and _is_postgresql(desk_url):
            with _advisory_lock(desk_url) as held:
                yield held
        else:
            yield True
    finally:
        lock.release()


@contextlib.contextmanager
def _advisory_lock(url: str) -> Iterator[bool]:
    import sqlalchemy as sa

    engine = sa.create_engine(url, future=True)
    try:
        with engine.connect() as conn:
            held = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}).scalar())
            conn.commit()
            try:
                yield held
            finally:
                if held:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                    conn.commit()
    finally:
        engine.dispose()

