"""`make bench` plumbing: the plan with and without the public data, JSON parsing, percentiles, usage."""

from __future__ import annotations

import pathlib
import subprocess
import sys

from bot.bench.assistant import percentile
from bot.bench.suite import last_json, runs
from bot.settings import repo_root


def test_without_public_data_only_the_assistant_forecast_and_key_facts_are_measured(tmp_path: pathlib.Path) -> None:
    assert list(runs(tmp_path / "absent")) == ["assistant", "forecast", "key_facts"]  # both need no public data


def test_with_public_data_every_run_reads_from_it(tmp_path: pathlib.Path) -> None:
    plan = runs(tmp_path)
    assert {"assistant", "nlu_banking77", "nlu_clinc150", "anger_shipped_waimai_false_alarms"} <= set(plan)
    for name, args in plan.items():
        if name not in ("assistant", "forecast", "key_facts"):
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


def test_the_forecast_bench_prints_its_backtest_error_on_simulated_history() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "bench", "forecast", "--weeks", "4", "--per-day", "300"],
        cwd=repo_root(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    figures = last_json(result.stdout)
    assert figures is not None and figures["hours_tested"] == 2 * 168
    # better than a flat mean, and no better than the noise of the draws allows
    assert figures["noise_floor_wape"] < figures["forecast_wape"] < figures["flat_mean_wape"]


def test_unknown_tool_prints_usage_and_fails() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.bench", "nonsense"], cwd=repo_root(), capture_output=True, text=True
    )
    assert result.returncode == 2 and "usage: python -m bot bench" in result.stderr


def test_the_key_facts_bench_prints_figures_per_set_and_refuses_a_bad_label(tmp_path: pathlib.Path) -> None:
    good = tmp_path / "mini.txt"
    good.write_text("# two messages\n订单号[20251103123456](order_number)\nhello\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "bot", "bench", "key_facts", "--file", str(good), "--rounds", "1"],
                            capture_output=True, text=True, cwd=repo_root(), timeout=120)
    assert result.returncode == 0, result.stderr
    figures = last_json(result.stdout)["mini"]
    assert figures["messages"] == 2 and figures["order_number"] == {
        "precision": 1.0, "recall": 1.0, "labelled": 1, "predicted": 1}
    bad = tmp_path / "bad.txt"
    bad.write_text("[1](nonsense)\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "bot", "bench", "key_facts", "--file", str(bad)],
                            capture_output=True, text=True, cwd=repo_root(), timeout=120)
    assert result.returncode == 2 and "unknown kind 'nonsense'" in result.stderr
