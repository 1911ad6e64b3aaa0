"""What a backup holds: the desk's database, Rasa's tracker store, the SQL event broker's table, and the records
the channels keep on this machine.

Each part is found as the running Frontline finds it: the desk at `DATABASE_URL` or `var/desk.db`; the tracker
store and event broker in the endpoints file (`FRONTLINE_ENDPOINTS`, else `endpoints.yml`) with its `${VAR}`s
expanded, where an SQLite file lives in `FRONTLINE_VAR` as `bot.run.write_endpoints` puts it there
(`rasa.db`; the broker's `FRONTLINE_EVENTS_DB` or `events.db`). A RabbitMQ broker holds only messages in flight,
and is not backed up.

The channels' own records, in `FRONTLINE_VAR` as the channels open them: the e-mail channel's `email.db` (threads,
Message-IDs, kept mails, auto-reply counts; `bot.channels.email_threads`) and its `email-attachments/` folder, in
every mode; the 微信客服 cursor `wechat-kf.db` (`bot.channels.wechat_kf_cursor`) and the delivery keys
`channel-keys.db` (`bot.channels.delivery_keys`) only on one machine: with Redis configured they live in Redis,
whose own persistence keeps them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import string
from typing import Any, Dict, List, Mapping, Optional, Tuple

import sqlalchemy as sa

from bot.settings import repo_root, var_dir

logger = logging.getLogger(__name__)

DESK, TRACKER, EVENTS = "desk", "tracker", "events"
EMAIL, EMAIL_FILES, WECHAT_KF, CHANNEL_KEYS = "email", "email-attachments", "wechat-kf", "channel-keys"
# A folder of files (the e-mail attachments), not a database.
FILES = "files"
# PostgreSQL: the tables of each part (LIKE patterns; `frontline_…` for tables Frontline adds to Rasa's database).
TABLES = {DESK: ("desk\\_%",), TRACKER: ("events", "frontline\\_%"), EVENTS: ("events",)}
# Rasa's `POSTGRESQL_SCHEMA`: the schema of its tracker store, when not the default.
RASA_SCHEMA_VARIABLE = "POSTGRESQL_SCHEMA"


class BackupError(RuntimeError):
    """A backup or restore cannot go on; the message says why."""


@dataclasses.dataclass(frozen=True)
class Part:
    """One database (or folder of files) to back up or restore into.

    Args:
        name: `desk`, `tracker`, `events`, or a channel's record (`email`, `email-attachments`, `wechat-kf`,
            `channel-keys`).
        url: where it is (SQLAlchemy URL; SQLite: `sqlite:///path`); None for a folder of files.
        schema: PostgreSQL only: the schema its tables live in (None: the connection's current schema).
        folder: a folder of files only (`email-attachments`): where it is.
    """

    name: str
    url: Optional[sa.engine.URL]
    schema: Optional[str] = None
    folder: Optional[pathlib.Path] = None

    @property
    def engine_name(self) -> str:
        """`sqlite`, `postgresql`, or `files` (a folder)."""
        return FILES if self.url is None else self.url.get_backend_name()

    @property
    def path(self) -> pathlib.Path:
        """SQLite: the database file; files: the folder."""
        if self.url is None:
            return pathlib.Path(self.folder or "")
        return pathlib.Path(self.url.database or "")

    @property
    def patterns(self) -> Tuple[str, ...]:
        """PostgreSQL only: which tables belong to this part."""
        return TABLES[self.name]

    def describe(self) -> str:
        """Where the part is, without its password."""
        if self.url is None or self.engine_name == "sqlite":
            return str(self.path)
        return self.url.render_as_string(hide_password=True)


def _endpoints(env: Mapping[str, str]) -> Dict[str, Any]:
    import yaml

    name = env.get("FRONTLINE_ENDPOINTS", "").strip() or "endpoints.yml"
    path = pathlib.Path(name) if pathlib.Path(name).is_absolute() else repo_root() / name
    if not path.is_file():
        raise BackupError(f"the endpoints file {path} (FRONTLINE_ENDPOINTS) does not exist")
    text = string.Template(path.read_text(encoding="utf-8")).safe_substitute(env)
    return yaml.safe_load(text) or {}


def _sql_url(section: Mapping[str, Any], sqlite_file: pathlib.Path) -> sa.engine.URL:
    dialect = str(section.get("dialect") or "sqlite")
    if dialect == "sqlite":
        return sa.engine.URL.create("sqlite", database=str(sqlite_file))
    port = section.get("port")
    return sa.engine.URL.create(
        "postgresql" if dialect.startswith("postgres") else dialect,
        username=str(section.get("username") or "") or None,
        password=str(section.get("password") or "") or None,
        host=str(section.get("url") or "") or None,
        port=int(port) if port not in (None, "") else None,
        database=str(section.get("db") or "") or None,
    )


def _is_sql(section: Mapping[str, Any]) -> bool:
    kind = str(section.get("type") or "")
    return kind.lower() == "sql" or kind.endswith(("SQLTrackerStore", "SQLEventBroker"))


def find_parts(env: Optional[Mapping[str, str]] = None) -> List[Part]:
    """The parts of this installation, from the environment (default: this process's).

    Raises:
        BackupError: the endpoints file is missing, or names a store this command cannot back up.
    """
    env = os.environ if env is None else env
    var = pathlib.Path(env["FRONTLINE_VAR"]) if env.get("FRONTLINE_VAR") else var_dir()
    database_url = env.get("DATABASE_URL", "").strip() or f"sqlite:///{var / 'desk.db'}"
    found = [Part(DESK, sa.engine.make_url(database_url.replace("postgres://", "postgresql://", 1)))]
    endpoints = _endpoints(env)
    tracker = endpoints.get("tracker_store") or {}
    if not _is_sql(tracker):
        raise BackupError(
            f"the tracker store is {tracker.get('type') or 'in memory'}: only Rasa's SQL tracker store is backed up"
        )
    found.append(Part(TRACKER, _sql_url(tracker, var / "rasa.db"), env.get(RASA_SCHEMA_VARIABLE) or None))
    broker = endpoints.get("event_broker") or {}
    if _is_sql(broker):
        events_file = pathlib.Path(env.get("FRONTLINE_EVENTS_DB", "").strip() or var / "events.db")
        found.append(Part(EVENTS, _sql_url(broker, events_file)))
    return found + channel_parts(var, env)


def _sqlite_file(name: str, path: pathlib.Path) -> Part:
    return Part(name, sa.engine.URL.create("sqlite", database=str(path)))


def channel_parts(var: pathlib.Path, env: Mapping[str, str]) -> List[Part]:
    """The records the channels keep in `var` (see the module docstring), whether their files exist yet or not
    (a backup leaves out what does not exist; a restore puts them where the channels will look).

    Raises:
        BackupError: Redis settings Frontline cannot use (the channels would not start either).
    """
    from bot.channels import delivery_keys, email_threads, wechat_kf_cursor
    from bot.redis_config import redis_settings
    from bot.settings import SettingsError

    parts = [
        _sqlite_file(EMAIL, var / email_threads.DB_FILE),
        Part(EMAIL_FILES, None, folder=var / email_threads.ATTACHMENTS_DIR),
    ]
    try:
        in_redis = redis_settings(env) is not None
    except SettingsError as error:
        raise BackupError(f"the Redis settings: {error}") from error
    if not in_redis:
        parts.append(_sqlite_file(WECHAT_KF, var / wechat_kf_cursor.DB_FILE))
        parts.append(_sqlite_file(CHANNEL_KEYS, var / delivery_keys.DB_FILE))
    return parts
