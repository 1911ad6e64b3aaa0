"""Both spreadsheet imports refuse a file that is no readable workbook with one `row 1: cannot read` line."""

from __future__ import annotations

import pathlib
import zipfile

import pytest

from bot.__main__ import main as cli
from bot.trainer import sheets


def _not_a_zip(path: pathlib.Path) -> None:
    path.write_bytes(b"text, not a workbook")


def _zip_without_a_workbook(path: pathlib.Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "no workbook parts in here")


def _zip_with_broken_xml(path: pathlib.Path) -> None:
    from openpyxl import Workbook

    good = path.with_name("good.xlsx")
    Workbook().save(good)
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            target.writestr(item.filename, b"<not xml" if item.filename == "[Content_Types].xml" else source.read(item))


BROKEN = [_not_a_zip, _zip_without_a_workbook, _zip_with_broken_xml]


@pytest.mark.parametrize("make", BROKEN)
def test_open_workbook_names_what_is_wrong(make, tmp_path: pathlib.Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "sheet.xlsx"
    make(path)
    with pytest.raises(sheets.UnreadableWorkbook, match="not a readable .xlsx workbook"):
        sheets.open_workbook(path)
    with pytest.raises(FileNotFoundError):
        sheets.open_workbook(tmp_path / "missing.xlsx")


@pytest.mark.parametrize("command", ["faq", "review"])
@pytest.mark.parametrize("make", BROKEN)
def test_imports_refuse_an_unreadable_sheet_in_one_line(  # type: ignore[no-untyped-def]
    command: str, make, project_root: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sheet.xlsx"
    make(path)
    assert cli([command, "import", str(path), "--root", str(project_root)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(f"row 1: cannot read {path}: not a readable .xlsx workbook")
