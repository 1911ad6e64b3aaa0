"""The spreadsheets of `faq export|import` and `review export|import`: `.xlsx` only, with one-line errors.

Both imports read `.xlsx` files (openpyxl), so an export refuses any other name rather than write a workbook
that its import would then refuse; a folder or a path that cannot be written is refused too. Both commands
share their shape here: `export FILE` and `import FILE [--dry-run]` (`--root` before or after), a refused sheet
answered with its `row N: problem` lines (exit 1), and an error with an `error:` line (exit 2).
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import sys
import zipfile
from typing import Any, Callable, List, Sequence, Tuple, Type

from bot.settings import SettingsError
from bot.trainer.project import UnreadableError

logger = logging.getLogger(__name__)

SUFFIX = ".xlsx"


def open_workbook(path: pathlib.Path) -> Any:
    """Open a spreadsheet for reading (openpyxl, read-only, cell values rather than formulas).

    Raises:
        OSError: the file cannot be read.
        ValueError: it is no readable `.xlsx` workbook (`UnreadableWorkbook`).
    """
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        return load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, SyntaxError, TypeError, AttributeError, IndexError) as error:
        # not an .xlsx name or not a zip; a zip without a workbook's parts; a part that is not XML; a part whose
        # XML openpyxl cannot make sense of (it raises TypeError, AttributeError or IndexError on those)
        raise UnreadableWorkbook(f"not a readable {SUFFIX} workbook ({type(error).__name__}: {error})") from error


class UnreadableWorkbook(ValueError):
    """A file that openpyxl cannot read as a workbook."""


class OutputError(ValueError):
    """The spreadsheet cannot be written where asked; the message says why in one line."""


def check_output(path: pathlib.Path) -> None:
    """Refuse an output path that is a folder, does not end in `.xlsx` or lies under a file.

    Args:
        path: where the spreadsheet is to be written.

    Raises:
        OutputError: naming the path and what to give instead.
    """
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name such as {path / ('sheet' + SUFFIX)}")
    if path.suffix.lower() != SUFFIX:
        raise OutputError(f"{path}: the spreadsheet must be an {SUFFIX} file (the import reads only {SUFFIX})")
    existing = next((parent for parent in path.parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        raise OutputError(f"cannot write {path}: {existing} is a file, not a folder")


def new_workbook(title: str, columns: Sequence[str]) -> Tuple[Any, Any]:
    """A new openpyxl workbook and its one worksheet, named `title`, with the header row `columns` in bold."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    return workbook, sheet


def save(workbook: Any, path: pathlib.Path) -> None:
    """Save an openpyxl workbook, creating the folder it goes in.

    Args:
        workbook: the openpyxl `Workbook`.
        path: an `.xlsx` path.

    Raises:
        OutputError: the path is refused by `check_output`, or cannot be written.
    """
    check_output(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        workbook.save(path)
    except OSError as error:
        logger.debug("cannot write %s", path, exc_info=True)
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from error


class SheetRefused(ValueError):
    """The sheet is refused; `problems` holds `row N: problem` lines."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def read_columns(path: pathlib.Path, columns: Sequence[str]) -> List[Tuple[int, Tuple[Any, ...]]]:
    """Read the named columns of a sheet (the first worksheet, header on row 1, in any order and case).

    Args:
        path: the `.xlsx` file.
        columns: the header names to read, lower case.

    Returns:
        (row number, the cell values of `columns` in that order, None for an empty cell) for each row below the
        header.

    Raises:
        SheetRefused: the file is not a readable spreadsheet, or a column is missing (one line each).
    """
    try:
        workbook = open_workbook(path)
    except (OSError, ValueError) as error:
        raise SheetRefused([f"row 1: cannot read {path}: {error}"]) from error
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = ["" if value is None else str(value).strip().lower() for value in next(rows, ())]
        missing = [column for column in columns if column not in header]
        if missing:
            raise SheetRefused([f"row 1: missing column '{column}'" for column in missing])
        at = [header.index(column) for column in columns]
        return [
            (number, tuple(values[i] if i < len(values) else None for i in at))
            for number, values in enumerate(rows, start=2)
        ]
    finally:
        workbook.close()


ROOT_HELP = "project root (default: the repository)"


def add_round_trip(
    parser: argparse.ArgumentParser, dest: str, description: str, export_help: str, import_help: str, dry_run_help: str
) -> Tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """Give a command the subcommands `export FILE` and `import FILE [--dry-run]`, each taking `--root` too.

    Args:
        parser: the command's parser.
        dest: the attribute that names the chosen subcommand (`export` or `import`).
        description: the command's description.
        export_help: one line on what `export` writes.
        import_help: one line on what `import` does with the sheet.
        dry_run_help: one line on what `import --dry-run` does.

    Returns:
        (the export parser, the import parser), for options of the command's own.
    """
    parser.description = description
    parser.add_argument("--root", help=ROOT_HELP)
    commands = parser.add_subparsers(dest=dest, required=True)
    export = commands.add_parser("export", help=export_help)
    export.add_argument("file", type=pathlib.Path)
    imported = commands.add_parser("import", help=import_help)
    imported.add_argument("file", type=pathlib.Path)
    imported.add_argument("--dry-run", action="store_true", help=dry_run_help)
    for sub in (export, imported):
        sub.add_argument("--root", default=argparse.SUPPRESS, help=ROOT_HELP)
    return export, imported


def run_reporting(run: Callable[[], int], also: Tuple[Type[Exception], ...] = ()) -> int:
    """Run a sheet command and answer a refusal or an error the way both commands do, rather than a traceback.

    Args:
        run: the command; it prints its own report and returns its exit status.
        also: more exception types to answer as errors (their message on one `error:` line).

    Returns:
        `run`'s status; 1 for a refused sheet (its problems on stdout, a summary on stderr); 2 for bad settings, an
        output that cannot be written, `also`, or project files that cannot be read (one `error:` line each).
    """
    try:
        return run()
    except SheetRefused as error:
        for line in error.problems:
            print(line)
        print(f"refused: {len(error.problems)} problem(s); nothing was written", file=sys.stderr)
        return 1
    except (SettingsError, OutputError, *also) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except UnreadableError as error:
        for item in error.files:
            print(f"error: {item}", file=sys.stderr)
        return 2
