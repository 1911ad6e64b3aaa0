"""`python -m bot restore --from DIR`: restore a backup into the databases (and files) this environment names.

Stop Frontline first. The databases must be fresh (no rows yet) unless `--replace`. Every file of the backup is
checked against the manifest's SHA-256 before anything is written, and every table's row count after.
Encrypted rows (and the e-mail attachments) need the same FRONTLINE_DATA_KEYS as when they were written.
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
    """Arguments of `python -m bot restore`."""
    parser.description = __doc__
    parser.add_argument("--from", dest="source", type=pathlib.Path, required=True, help="a backup folder")
    parser.add_argument("--replace", action="store_true", help="overwrite databases that already hold data")


def main(args: argparse.Namespace) -> int:
    """Restore; print what was restored; return the exit status."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        restored = archive.restore(find_parts(), args.source, replace=args.replace)
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, tables in restored.items():
        if set(tables) == {"files"}:
            print(f"{name}: {tables['files']} files restored (the same as backed up)")
            continue
        print(f"{name}: {len(tables)} tables, {sum(tables.values())} rows restored (as many as backed up)")
    print(archive.KEYS_NOTE)
    return 0
