"""`python -m bot backup --out DIR`: back up the desk, the tracker store (and SQLite's event table), and the
records the channels keep in `FRONTLINE_VAR` (e-mail threads, kept mails and attachments; on one machine the
微信客服 cursor and the delivery keys).

Safe while Frontline runs. What, how and how to restore: deploy/README.md, "Backups".
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import sys

from bot.backup import archive
from bot.backup.parts import BackupError, find_parts

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m bot backup`."""
    parser.description = __doc__
    parser.add_argument("--out", type=pathlib.Path, required=True, help="a new folder for the backup")


def main(args: argparse.Namespace) -> int:
    """Back up; print what was written; return the exit status."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        manifest = archive.backup(find_parts(), args.out)
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for entry in manifest["parts"]:
        if "files" in entry:
            print(f"{entry['name']}: {len(entry['files'])} files -> {args.out / entry['file']}")
            continue
        rows = sum(entry["tables"].values())
        print(f"{entry['name']}: {len(entry['tables'])} tables, {rows} rows -> {args.out / entry['file']}")
    for line in manifest["skipped"]:
        print(f"skipped {line}")
    print(archive.KEYS_NOTE)
    return 0
