"""`make bench` plumbing: the plan with and without the public data, JSON parsing, percentiles, usage."""

from __future__ import annotations

import pathlib
import subprocess
import sys

from bot.bench.assistant import percentile
from bot.bench.suite import last_json, runs
from bot.settings import repo_root


def test_without_public_data_only_the_assistant_is_measured(tmp_path: pathlib.Path) -> None:
    assert list(runs(tmp_path / "absent")) == ["assistant"]


def test_with_public_data_every_run_reads_from_it(tmp_path: pathlib.Path) -> None:
    plan = runs(tmp_path)
    assert {"assistant", "nlu_banking77", "nlu_clinc150", "anger_shipped_waimai_false_alarms"} <= set(plan)
    for name, args in plan.items():
        if name != "assistant":
            assert str(tmp_path) in " ".join(args), name


def test_last_json_reads_only_a_final_object() -> None:
    assert last_json('progress\n{"a": 1}\n\n') == {"a": 1}
    assert last_json("progress\nnot json") is None
    assert last_json("[1, 2]") is None
    assert last_json("") is None


def test_percentile_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([7.0], 0.99) == 7.0


def test_unknown_tool_prints_usage_and_fails() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.bench", "nonsense"], cwd=repo_root(), capture_output=True, text=True
    )
    assert result.returncode == 2 and "usage: python -m bot bench" in result.stderr
