"""`python -m bot bench desk` and `python -m bot bench replicas` at a tiny size, for real: each starts the
production layout (HAProxy, Rasa, action servers, desks on PostgreSQL, Redis, RabbitMQ) and must print its JSON.

Each run starts the whole layout: the pair took 41 s and 107 s on this shared 2-core machine, over the 60 s a test
in `make test` may take, so these carry the `bench` marker and stay out of `make test` (`-m "not faults and not
bench"`); `make bench-scale` runs them before the full-size benches. The argument checks run everywhere.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.bench.replicas import counts
from bot.settings import repo_root

ROOT = repo_root()


def bench(*args: str) -> dict:
    process = subprocess.run(
        [sys.executable, "-m", "bot", "bench", *args], cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


def test_counts_are_positive_and_distinct() -> None:
    assert counts("1,2") == [1, 2]
    for bad in ("", "0", "1,1", "one", "-1"):
        with pytest.raises(Exception, match="count"):
            counts(bad)


def test_the_desk_bench_refuses_a_bad_size() -> None:
    process = subprocess.run(
        [sys.executable, "-m", "bot", "bench", "desk", "--customers", "0"], cwd=ROOT, capture_output=True, text=True
    )
    assert process.returncode == 2 and "--customers" in process.stderr


@pytest.mark.bench
@pytest.mark.postgres
@pytest.mark.redis
def test_the_desk_bench_measures_every_customer_at_a_tiny_size() -> None:
    figures = bench("desk", "--desks", "1", "--customers", "5", "--agents", "2", "--open-tickets", "20")
    assert (figures["customers"], figures["agents"], figures["open_tickets"]) == (5, 2, 20)
    one = figures["desks"]["1"]
    assert one["failures"] == 0, one["failures_by_kind"]
    assert one["customers_completed"] == 5
    for name in ("handoff_ms", "reply_ms", "list_tickets_ms"):
        assert one[name]["count"] == 5, name
        assert 0 < one[name]["p50"] <= one[name]["p99"], name
    # every customer's ticket was created, claimed and answered in front of both consoles: 3 changes, 2 consoles
    assert one["feed_events"] >= 5 * 3 and one["console_pushes"] >= 2 * one["feed_events"]
    assert one["desk_cpu_seconds"] > 0 and one["desk_cpu_seconds_per_1000_pushes"] > 0
    assert set(figures["targets"]) == {"1_desks_handoff_p99_under_1s", "1_desks_reply_p99_under_1s"}


@pytest.mark.bench
@pytest.mark.postgres
@pytest.mark.redis
def test_the_replicas_bench_counts_every_turn_at_a_tiny_size() -> None:
    figures = bench("replicas", "--replicas", "1", "--customers", "4", "--per-customer", "3")
    one = figures["replicas"]["1"]
    assert one["turns"] == 12
    assert one["turns_per_s"] > 0 and 0 < one["turn_ms_p50"] <= one["turn_ms_p99"]
    assert "speedup" not in figures  # one replica count: nothing to compare
