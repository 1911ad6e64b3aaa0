"""`python -m bot`: one command line with every command, and the older module forms still working."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.__main__ import COMMANDS
from bot.__main__ import main as cli
from bot.settings import repo_root


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=repo_root(), capture_output=True, text=True, timeout=120,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )


def test_help_lists_every_command_with_one_line() -> None:
    result = _run("bot", "--help")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name, (_, help_text) in COMMANDS.items():
        described = [line for line in lines if line.split()[:1] == [name]]
        assert len(described) == 1 and help_text in described[0], name
    assert {"run", "train", "test-stories", "bench", "lint", "faq", "review", "evaluate", "desk"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_its_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli([name, "--help"])
    assert exited.value.code == 0
    assert f"usage: python -m bot {name}" in capsys.readouterr().out


@pytest.mark.parametrize("tool", ["assistant", "nlu", "anger"])
def test_a_bench_tool_reads_its_own_help(tool: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = cli(["bench", tool, "--help"])
    except SystemExit as exited:  # the tools that let argparse exit
        code = exited.code
    assert code == 0
    assert f"usage: python -m bot bench {tool}" in capsys.readouterr().out


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli(["nonsense"])
    assert exited.value.code == 2 and "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, usage",
    [
        (["bot.run", "--help"], "usage: python -m bot run"),
        (["bot.devtools", "train", "--help"], "usage: python -m bot train"),
        (["bot.devtools", "test-stories", "--help"], "usage: python -m bot test-stories"),
        (["bot.bench", "nlu", "--help"], "usage: python -m bot bench nlu"),
    ],
)
def test_the_older_module_forms_still_work(argv: list, usage: str) -> None:
    result = _run(*argv)
    assert result.returncode == 0, result.stderr
    assert usage in result.stdout
