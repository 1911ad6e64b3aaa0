"""Erlang C (`bot.staffing.erlang_c`) and `python -m bot staffing`: the textbook case, concurrency, bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import List

import pytest

from bot.settings import repo_root
from bot.staffing.erlang_c import (
    DEFAULT_EFFICIENCY,
    StaffingError,
    StaffingRequest,
    required,
    service_level,
    wait_probability,
)

TEXTBOOK = dict(volume=100, interval_minutes=30, handle_seconds=180, target_seconds=20, service_level=0.8)


def _factorial_erlang_c(agents: int, traffic: float) -> float:
    """The Erlang C formula as textbooks print it (factorials), to check the recursion against."""
    top = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    return top / (sum(traffic**k / math.factorial(k) for k in range(agents)) + top)


def test_the_textbook_case_needs_14_agents_and_20_with_30_percent_shrinkage() -> None:
    staffing = required(StaffingRequest(**TEXTBOOK, shrinkage=0.3))
    assert staffing.traffic_erlangs == pytest.approx(10.0)
    assert staffing.agents == 14
    assert staffing.service_level == pytest.approx(0.888, abs=0.001)
    assert staffing.occupancy == pytest.approx(0.714, abs=0.001)
    assert staffing.agents_with_shrinkage == 20
    # 13 agents would not do: 14 is the fewest that reach 80%
    assert service_level(13, 10.0, 180, 20) < 0.8 <= service_level(14, 10.0, 180, 20)


@pytest.mark.parametrize("agents, traffic", [(11, 10.0), (14, 10.0), (30, 22.5), (3, 0.4)])
def test_the_recursion_gives_the_textbook_formula(agents: int, traffic: float) -> None:
    assert wait_probability(agents, traffic) == pytest.approx(_factorial_erlang_c(agents, traffic), rel=1e-9)


def test_more_agents_than_traffic_is_needed_and_a_saturated_queue_never_answers_in_time() -> None:
    assert wait_probability(10, 10.0) == 1.0 and service_level(10, 10.0, 180, 20) == 0.0


def test_concurrency_divides_the_handle_time_by_the_efficiency_factor() -> None:
    one = required(StaffingRequest(**TEXTBOOK, concurrency=1))
    two = required(StaffingRequest(**TEXTBOOK, concurrency=2))
    assert two.effective_handle_seconds == pytest.approx(180 / DEFAULT_EFFICIENCY[2])
    assert two.traffic_erlangs == pytest.approx(10.0 / DEFAULT_EFFICIENCY[2])
    assert two.agents < one.agents
    # not twice as fast: 2 chats at once need more than half the agents of one at a time
    assert two.agents > one.agents / 2
    custom = required(StaffingRequest(**TEXTBOOK, concurrency=2), {1: 1.0, 2: 2.0})
    assert custom.traffic_erlangs == pytest.approx(5.0)


def test_no_contacts_need_no_agents() -> None:
    staffing = required(StaffingRequest(**{**TEXTBOOK, "volume": 0}, shrinkage=0.3))
    assert (staffing.agents, staffing.agents_with_shrinkage, staffing.service_level) == (0, 0, 1.0)


@pytest.mark.parametrize(
    "change, named",
    [
        ({"volume": -1}, "volume"),
        ({"volume": float("nan")}, "volume"),
        ({"interval_minutes": 0}, "interval"),
        ({"handle_seconds": 0}, "handle time"),
        ({"target_seconds": -5}, "target seconds"),
        ({"service_level": 80}, "service level"),
        ({"service_level": 1.0}, "service level"),
        ({"shrinkage": 1.0}, "shrinkage"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 9}, "concurrency 9"),
    ],
)
def test_inputs_out_of_range_are_named(change: dict, named: str) -> None:
    with pytest.raises(StaffingError, match=named):
        required(StaffingRequest(**{**TEXTBOOK, **change}))


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "staffing", *argv], cwd=repo_root(), capture_output=True, text=True, timeout=60
    )


TEXTBOOK_ARGS: List[str] = [
    "--volume", "100", "--interval", "30", "--aht", "180", "--target-seconds", "20", "--service-level", "0.8",
]


def test_the_command_prints_the_textbook_case_as_json() -> None:
    result = _cli(*TEXTBOOK_ARGS, "--concurrency", "1", "--shrinkage", "0.3")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["agents"] == 14 and figures["agents_with_shrinkage"] == 20
    assert figures["service_level"] == pytest.approx(0.888, abs=0.001)
    assert figures["occupancy"] == pytest.approx(0.714, abs=0.001)
    assert 0 < figures["wait_probability"] < 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--service-level", "80"], "service level must be between 0 and 1"),
        (["--shrinkage", "1.5"], "shrinkage"),
        (["--concurrency", "7"], "no efficiency factor for concurrency 7"),
        (["--aht", "abc"], "invalid float value"),
        (["--volume", "-3"], "volume must be 0 or more"),
    ],
)
def test_a_bad_argument_is_a_clear_error_with_exit_status_2(argv: List[str], message: str) -> None:
    args = list(TEXTBOOK_ARGS)
    for flag, value in zip(argv[::2], argv[1::2]):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    result = _cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
