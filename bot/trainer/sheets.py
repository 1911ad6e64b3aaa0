"""The spreadsheets of `faq export|import` and `review export|import`: `.xlsx` only, with one-line errors.

Both imports read `.xlsx` files (openpyxl), so an export refuses any other name rather than write a workbook
that its import would then refuse; a folder or a path that cannot be written is refused too.
"""

from __future__ import annotations

import logging
import pathlib
import zipfile
from typing import Any

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
    except (InvalidFileException, zipfile.BadZipFile, KeyError, SyntaxError) as error:
        # not an .xlsx name or not a zip; a zip without a workbook's parts; a part that is not XML
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
