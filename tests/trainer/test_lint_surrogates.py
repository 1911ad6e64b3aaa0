"""`python -m bot lint` reads every string literal of the code: one holding a lone surrogate (a regex class for
illegal characters, as `bot/trainer/yamlio.py` has) made it crash on the real repository."""

from __future__ import annotations

import pathlib

import pytest

from bot.__main__ import main as cli
from bot.trainer.lint import fold, phrase_form


def test_fold_takes_a_lone_surrogate() -> None:
    assert fold("[\ud800-\udfff] 絕對保證") == "[?-?] 绝对保证"
    assert phrase_form("x\ud800 绝对 保证") == "x?绝对保证"


def test_lint_reads_code_holding_a_lone_surrogate(
    project_root: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = project_root / "bot" / "unsafe_characters.py"
    module.parent.mkdir(parents=True, exist_ok=True)
    module.write_text('import re\n\nUNSAFE = re.compile("[\\ud800-\\udfff]")\nSAID = "绝对保证"\n', encoding="utf-8")
    assert cli(["lint", "--root", str(project_root)]) == 1
    out = capsys.readouterr().out
    assert "bot/unsafe_characters.py:4:" in out and "绝对保证" in out


def test_the_repository_itself_lints_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["lint"]) == 0, capsys.readouterr().out
