"""A backup folder: one file per part and `manifest.json`; a restore checked against the manifest's row counts.

    DIR/manifest.json   {"version": 1, "created": …, "parts": [{"name", "engine", "file", "tables": {name: rows}}]}
    DIR/desk.sqlite | DIR/desk.pgdump
    DIR/tracker.sqlite | DIR/tracker.pgdump
    DIR/events.sqlite                        (SQLite mode: the SQL event broker's table)
"""

from __future__ import annotations

import datetime
import json
import logging
import pathlib
from typing import Any, Dict, List, Sequence

from bot.backup import postgres, sqlite
from bot.backup.parts import BackupError, Part

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
VERSION = 1
SUFFIXES = {"sqlite": "sqlite", "postgresql": "pgdump"}
KEYS_NOTE = (
    "Rows are copied as stored: columns encrypted at rest (FRONTLINE_DATA_KEYS) stay encrypted, and the restored "
    "database needs the same keys to be read."
)


def _check_engine(part: Part) -> None:
    if part.engine_name not in SUFFIXES:
        raise BackupError(f"{part.name}: {part.engine_name} databases are not supported (SQLite or PostgreSQL)")


def backup(parts: Sequence[Part], out: pathlib.Path) -> Dict[str, Any]:
    """Back up every part into `out` (created; it must not hold anything yet); return the manifest.

    A SQLite part whose file does not exist yet (nothing stored) is left out, and said so in the manifest.

    Raises:
        BackupError: `out` is not empty, or a part cannot be read.
    """
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty: back up into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    entries: List[Dict[str, Any]] = []
    skipped: List[str] = []
    for part in parts:
        _check_engine(part)
        target = out / f"{part.name}.{SUFFIXES[part.engine_name]}"
        if part.engine_name == "sqlite":
            if not part.path.is_file():
                skipped.append(f"{part.name}: {part.path} does not exist (nothing stored yet)")
                continue
            sqlite.copy(part.path, target)
            sqlite.check(target)
            tables = sqlite.counts(target)
        else:
            tables = postgres.dump(part, target)
        entries.append({"name": part.name, "engine": part.engine_name, "file": target.name, "tables": tables})
        logger.info(f"{part.name}: {len(tables)} tables, {sum(tables.values())} rows from {part.describe()}")
    manifest = {
        "version": VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "parts": entries,
        "skipped": skipped,
        "note": KEYS_NOTE,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def read_manifest(source: pathlib.Path) -> Dict[str, Any]:
    """The manifest of a backup folder.

    Raises:
        BackupError: no manifest, or one of another version.
    """
    path = source / MANIFEST
    if not path.is_file():
        raise BackupError(f"{source} is not a Frontline backup: no {MANIFEST}")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("version") != VERSION:
        raise BackupError(f"{path}: version {manifest.get('version')}, this Frontline reads version {VERSION}")
    return manifest


def _holds_rows(part: Part, tables: Sequence[str]) -> bool:
    if part.engine_name == "sqlite":
        return part.path.is_file() and any(sqlite.counts(part.path).values())
    return postgres.has_rows(part, tables) is not None


def restore(parts: Sequence[Part], source: pathlib.Path, replace: bool = False) -> Dict[str, Dict[str, int]]:
    """Restore a backup into the databases the parts name; return each part's restored row counts.

    Every part is checked before anything is written: its engine matches the backup's, and it holds no rows yet
    (a fresh database; with `replace`, what it holds is replaced). After each part, its tables' row counts must
    be the manifest's.

    Raises:
        BackupError: a check failed (nothing written), or a restored part's counts differ from the backup's.
    """
    manifest = read_manifest(source)
    by_name = {part.name: part for part in parts}
    plan = []
    for entry in manifest["parts"]:
        part = by_name.get(entry["name"])
        if part is None:
            raise BackupError(f"the backup holds {entry['name']}, which this installation does not have")
        if part.engine_name != entry["engine"]:
            raise BackupError(
                f"{entry['name']}: the backup is of {entry['engine']}, this installation's is {part.engine_name} "
                f"({part.describe()}): restore into the same kind of database"
            )
        if not (source / entry["file"]).is_file():
            raise BackupError(f"{entry['name']}: {source / entry['file']} is missing")
        if not replace and _holds_rows(part, list(entry["tables"])):
            raise BackupError(
                f"{entry['name']}: {part.describe()} already holds data: restore into a fresh database, "
                f"or pass --replace to overwrite it"
            )
        plan.append((entry, part))
    restored: Dict[str, Dict[str, int]] = {}
    for entry, part in plan:
        file = source / entry["file"]
        if part.engine_name == "sqlite":
            sqlite.restore(file, part.path)
            found = {name: rows for name, rows in sqlite.counts(part.path).items() if name in entry["tables"]}
        else:
            postgres.restore(part, file)
            found = {name: rows for name, rows in postgres.counts(part).items() if name in entry["tables"]}
        if found != entry["tables"]:
            raise BackupError(f"{entry['name']}: restored rows {found} differ from the backup's {entry['tables']}")
        restored[entry["name"]] = found
        logger.info(f"{entry['name']}: {sum(found.values())} rows restored into {part.describe()}")
    return restored
