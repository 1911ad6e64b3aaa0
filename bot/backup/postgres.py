"""PostgreSQL: Frontline's tables only, with `pg_dump --format=custom` and `pg_restore`.

A backup reads one snapshot: the row counts recorded in the manifest and `pg_dump` (`--snapshot`) see the same
rows while Frontline keeps writing. Connection settings reach `pg_dump` and `pg_restore` through libpq's
environment (`PGHOST`, `PGPASSWORD`…), never their command line. `--no-owner --no-privileges`: the restore
belongs to whoever restores it. A restore runs in one transaction: it lands whole or not at all.
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import subprocess
from typing import Dict, List, Optional, Sequence

import sqlalchemy as sa

from bot.backup.parts import BackupError, Part

logger = logging.getLogger(__name__)

_TABLES = sa.text(
    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname = :schema AND c.relname LIKE ANY (:patterns) ORDER BY c.relname"
)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not installed: it comes with PostgreSQL's client (Debian: postgresql-client)")
    return found


def libpq_env(part: Part) -> Dict[str, str]:
    """This process's environment with libpq's variables for the part's database (the password included)."""
    url = part.url
    env = dict(os.environ)
    env.update(
        PGHOST=url.host or "127.0.0.1", PGPORT=str(url.port or 5432), PGDATABASE=url.database or "",
        PGUSER=url.username or os.environ.get("PGUSER", "postgres"),
    )
    if url.password:
        env["PGPASSWORD"] = url.password
    if url.query.get("sslmode"):
        env["PGSSLMODE"] = str(url.query["sslmode"])
    if part.schema:
        env["PGOPTIONS"] = f"-csearch_path={part.schema}"
    return env


def _engine(part: Part) -> sa.engine.Engine:
    connect_args = {"options": f"-csearch_path={part.schema}"} if part.schema else {}
    return sa.create_engine(part.url, connect_args=connect_args, future=True)


def _quoted(connection: sa.engine.Connection, schema: str, table: str) -> str:
    quote = connection.dialect.identifier_preparer.quote
    return f"{quote(schema)}.{quote(table)}"


def _tables(connection: sa.engine.Connection, part: Part) -> List[tuple]:
    schema = part.schema or connection.execute(sa.text("SELECT current_schema()")).scalar()
    rows = connection.execute(_TABLES, {"schema": schema, "patterns": list(part.patterns)})
    return [(row[0], row[1]) for row in rows]


def _counts(connection: sa.engine.Connection, tables: Sequence[tuple]) -> Dict[str, int]:
    return {
        table: int(connection.execute(sa.text(f"SELECT count(*) FROM {_quoted(connection, schema, table)}")).scalar())
        for schema, table in tables
    }


def counts(part: Part) -> Dict[str, int]:
    """Rows in each of the part's tables now."""
    engine = _engine(part)
    try:
        with engine.connect() as connection:
            return _counts(connection, _tables(connection, part))
    finally:
        engine.dispose()


def dump(part: Part, target: pathlib.Path) -> Dict[str, int]:
    """Dump the part's tables into `target` (custom format); return each table's row count in the dump.

    Raises:
        BackupError: no table to dump, or pg_dump failed (with what it said).
    """
    tool = _tool("pg_dump")
    engine = _engine(part)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                snapshot = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar()
                tables = _tables(connection, part)
                if not tables:
                    raise BackupError(f"{part.name}: no table of Frontline's in {part.describe()}")
                found = _counts(connection, tables)
                argv = [tool, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                        f"--file={target}"]
                for schema, table in tables:
                    argv.append(f"--table={_quoted(connection, schema, table)}")
                result = subprocess.run(argv, env=libpq_env(part), capture_output=True, text=True)
                if result.returncode != 0:
                    raise BackupError(f"{part.name}: pg_dump failed: {result.stderr.strip()}")
    finally:
        engine.dispose()
    return found


def has_rows(part: Part, names: Sequence[str]) -> Optional[str]:
    """The first of these tables that exists in the part's database with rows in it, or None."""
    engine = _engine(part)
    try:
        with engine.connect() as connection:
            schema = part.schema or connection.execute(sa.text("SELECT current_schema()")).scalar()
            for name in names:
                exists = connection.execute(
                    sa.text("SELECT to_regclass(:name)"), {"name": _quoted(connection, schema, name)}
                ).scalar()
                if exists and connection.execute(
                    sa.text(f"SELECT EXISTS (SELECT 1 FROM {_quoted(connection, schema, name)})")
                ).scalar():
                    return name
    finally:
        engine.dispose()
    return None


def _audit_function(part: Part) -> None:
    """Create the function the desk's audit trigger calls, in the part's schema: a dump of the desk's tables holds
    the trigger (`bot.desk.store.audit`) but not the function, and a fresh database has none."""
    from bot.desk.store.audit import AUDIT_FUNCTION

    engine = _engine(part)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(AUDIT_FUNCTION))
    finally:
        engine.dispose()


def restore(part: Part, source: pathlib.Path) -> None:
    """Restore a dump into the part's database, replacing the tables it holds (`--clean --if-exists`).

    Raises:
        BackupError: pg_restore failed (nothing was changed: one transaction).
    """
    tool = _tool("pg_restore")
    env = libpq_env(part)
    if part.name == "desk":
        _audit_function(part)
    argv = [tool, "--no-owner", "--no-privileges", "--clean", "--if-exists", "--single-transaction",
            "--exit-on-error", f"--dbname={env['PGDATABASE']}", str(source)]
    result = subprocess.run(argv, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{part.name}: pg_restore failed: {result.stderr.strip()}")
