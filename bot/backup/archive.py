"""A backup folder: one file per part and `manifest.json`; a restore checked against the manifest's row counts.

    DIR/manifest.json   {"version": 1, "created": …, "parts": [{"name", "engine", "file", "sha256",
                         "tables": {name: rows}} | {"name", "engine": "files", "file", "files": {path: sha256}}]}
    DIR/desk.sqlite | DIR/desk.pgdump
    DIR/tracker.sqlite | DIR/tracker.pgdump
    DIR/events.sqlite                        (SQLite mode: the SQL event broker's table)
    DIR/email.sqlite, DIR/email-attachments/ (the e-mail channel's threads and kept mails, and their files)
    DIR/wechat-kf.sqlite, DIR/channel-keys.sqlite   (one machine: the 微信客服 cursor, the delivery keys)

Every file's SHA-256 is in the manifest: a restore refuses a backup whose files were changed or lost before it
writes anything (manifests written before the hashes were added are checked by their row counts only).
"""

from __future__ import annotations

import datetime
import json
import logging
import pathlib
import sqlite3
from typing import Any, Dict, List, Sequence

from bot.backup import files, postgres, sqlite
from bot.backup.parts import CHANNEL_KEYS, FILES, WECHAT_KF, BackupError, Part

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# Parts that exist on one machine only: in production mode (Redis) the channels keep them in Redis.
IN_REDIS = (WECHAT_KF, CHANNEL_KEYS)
VERSION = 1
SUFFIXES = {"sqlite": ".sqlite", "postgresql": ".pgdump", FILES: ""}
KEYS_NOTE = (
    "Rows are copied as stored: columns encrypted at rest (FRONTLINE_DATA_KEYS) stay encrypted, and the restored "
    "database needs the same keys to be read."
)


def _check_engine(part: Part) -> None:
    if part.engine_name not in SUFFIXES:
        raise BackupError(f"{part.name}: {part.engine_name} databases are not supported (SQLite or PostgreSQL)")


def _back_up_part(part: Part, target: pathlib.Path) -> Dict[str, Any]:
    """Copy one part (it exists) into `target`; return its manifest entry."""
    entry: Dict[str, Any] = {"name": part.name, "engine": part.engine_name, "file": target.name}
    if part.engine_name == FILES:
        entry["files"] = files.copy_folder(part.path, target)
        logger.info(f"{part.name}: {len(entry['files'])} files from {part.describe()}")
        return entry
    if part.engine_name == "sqlite":
        sqlite.copy(part.path, target)
        sqlite.check(target)
        tables = sqlite.counts(target)
    else:
        tables = postgres.dump(part, target)
    entry.update(sha256=files.sha256(target), tables=tables)
    logger.info(f"{part.name}: {len(tables)} tables, {sum(tables.values())} rows from {part.describe()}")
    return entry


def backup(parts: Sequence[Part], out: pathlib.Path) -> Dict[str, Any]:
    """Back up every part into `out` (created; it must not hold anything yet); return the manifest.

    A SQLite part whose file (or a folder of files) does not exist yet (nothing stored) is left out, and said so
    in the manifest. Parts are copied in their order: the e-mail store before its attachments, so every file a
    kept mail of the snapshot names is there when the folder is copied.

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
        target = out / f"{part.name}{SUFFIXES[part.engine_name]}"
        there = part.path.is_dir() if part.engine_name == FILES else part.path.is_file()
        if part.engine_name != "postgresql" and not there:
            skipped.append(f"{part.name}: {part.path} does not exist (nothing stored yet)")
            continue
        entries.append(_back_up_part(part, target))
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
    if part.engine_name == FILES:
        return part.path.is_dir() and bool(files.listing(part.path))
    if part.engine_name == "sqlite":
        return part.path.is_file() and any(sqlite.counts(part.path).values())
    return postgres.has_rows(part, tables) is not None


def _check_backup_file(entry: Dict[str, Any], file: pathlib.Path) -> None:
    """Refuse a part whose backed-up file (or folder) is missing or is not the one the backup wrote."""
    name = entry["name"]
    if entry["engine"] == FILES:
        if not file.is_dir():
            raise BackupError(f"{name}: {file} is missing")
        wrong = files.differences(file, entry["files"])
        if wrong:
            shown = ", ".join(f"{path} ({what})" for path, what in list(wrong.items())[:5])
            more = f" and {len(wrong) - 5} more" if len(wrong) > 5 else ""
            raise BackupError(f"{name}: the files in {file} are not the ones backed up: {shown}{more}")
        return
    if not file.is_file():
        raise BackupError(f"{name}: {file} is missing")
    if "sha256" in entry and files.sha256(file) != entry["sha256"]:
        raise BackupError(f"{name}: {file} is not the file backed up (its SHA-256 differs from the manifest's)")
    if entry["engine"] == "sqlite":
        try:
            sqlite.check(file)
        except sqlite3.DatabaseError as error:
            raise BackupError(f"{name}: {file} is damaged: {error}") from error


def restore(parts: Sequence[Part], source: pathlib.Path, replace: bool = False) -> Dict[str, Dict[str, int]]:
    """Restore a backup into the databases (and folders) the parts name; return each part's restored row counts
    (a folder: `{"files": n}`).

    Every part is checked before anything is written: its engine matches the backup's, its file is the one the
    backup wrote (SHA-256), and it holds no rows (no files) yet (a fresh database; with `replace`, what it holds
    is replaced). After each part, its tables' row counts (its files) must be the manifest's.

    Raises:
        BackupError: a check failed (nothing written), or a restored part's counts differ from the backup's.
    """
    manifest = read_manifest(source)
    by_name = {part.name: part for part in parts}
    plan = []
    for entry in manifest["parts"]:
        part = by_name.get(entry["name"])
        if part is None:
            where = " (with Redis configured, the channels keep it in Redis)" if entry["name"] in IN_REDIS else ""
            raise BackupError(f"the backup holds {entry['name']}, which this installation does not have{where}")
        if part.engine_name != entry["engine"]:
            raise BackupError(
                f"{entry['name']}: the backup is of {entry['engine']}, this installation's is {part.engine_name} "
                f"({part.describe()}): restore into the same kind of database"
            )
        _check_backup_file(entry, source / entry["file"])
        if not replace and _holds_rows(part, list(entry.get("tables", ()))):
            raise BackupError(
                f"{entry['name']}: {part.describe()} already holds data: restore into a fresh database, "
                f"or pass --replace to overwrite it"
            )
        plan.append((entry, part))
    restored: Dict[str, Dict[str, int]] = {}
    for entry, part in plan:
        file = source / entry["file"]
        if part.engine_name == FILES:
            if files.restore_folder(file, part.path) != entry["files"]:
                raise BackupError(f"{entry['name']}: the restored files in {part.describe()} differ from the backup's")
            restored[entry["name"]] = {"files": len(entry["files"])}
            logger.info(f"{entry['name']}: {len(entry['files'])} files restored into {part.describe()}")
            continue
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
