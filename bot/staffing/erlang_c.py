"""Erlang C: how many agents answer a share of contacts within a target wait (M/M/N queue, no abandonment).

Written here rather than taken from `pyworkforce` (the issue's example): every pyworkforce release on PyPI
(0.3.0 to 0.5.1) pulls `ortools`, which upgrades numpy to 2.x, pandas and protobuf, and Rasa 3.6.21 pins all
three (`pip install --dry-run pyworkforce`, 2025). The formulas are the textbook ones pyworkforce uses too:

- traffic intensity A = contacts x handle seconds / interval seconds (Erlangs);
- probability a contact waits, C(N, A), from the Erlang B recursion B(0)=1, B(k) = A.B(k-1) / (k + A.B(k-1)),
  then C = N.B / (N - A.(1 - B)) (stable for any N, no factorials);
- service level SL = 1 - C . exp(-(N - A) . target / handle);
- occupancy A / N; average speed of answer ASA = C . handle / (N - A);
- with shrinkage s (breaks, training, absence), agents to schedule = ceil(N / (1 - s)).

Chat concurrency: an agent serving c chats at once gets through them faster than one after another, but not c
times faster. `efficiency[c]` says how many chats' worth of work an agent does at concurrency c (1 chat: 1.0);
the handle time becomes handle / efficiency[c], and the queue is solved as a voice queue with that handle time.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Dict, Mapping, Optional

logger = logging.getLogger(__name__)

# How many chats' worth of work an agent gets through at each concurrency (settings.yml: staffing overrides it).
DEFAULT_EFFICIENCY: Dict[int, float] = {1: 1.0, 2: 1.7, 3: 2.2, 4: 2.5}
# No plan is worth more agents than this for one interval: a bigger answer means the inputs are wrong.
MAX_AGENTS = 100_000


class StaffingError(ValueError):
    """An input of the staffing calculation is out of range; the message names it."""


@dataclasses.dataclass(frozen=True)
class StaffingRequest:
    """One interval to staff.

    Attributes:
        volume: contacts arriving in the interval.
        interval_minutes: the interval's length.
        handle_seconds: the average handle time of one contact (at concurrency 1).
        target_seconds: the wait within which a contact counts as answered in time.
        service_level: the share of contacts to answer within `target_seconds` (0 < x < 1).
        concurrency: chats an agent serves at once (1 for calls).
        shrinkage: the share of paid time agents are not available (0 <= x < 1).
    """

    volume: float
    interval_minutes: float
    handle_seconds: float
    target_seconds: float
    service_level: float
    concurrency: int = 1
    shrinkage: float = 0.0

    def check(self, efficiency: Mapping[int, float]) -> None:
        """Raise `StaffingError` naming the first input out of range."""
        for name in ("volume", "interval_minutes", "handle_seconds", "target_seconds", "service_level", "shrinkage"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise StaffingError(f"{name} must be a number, got {value!r}")
        if self.volume < 0:
            raise StaffingError(f"volume must be 0 or more, got {self.volume}")
        if self.interval_minutes <= 0:
            raise StaffingError(f"interval must be more than 0 minutes, got {self.interval_minutes}")
        if self.handle_seconds <= 0:
            raise StaffingError(f"handle time must be more than 0 seconds, got {self.handle_seconds}")
        if self.target_seconds < 0:
            raise StaffingError(f"target seconds must be 0 or more, got {self.target_seconds}")
        if not 0 < self.service_level < 1:
            raise StaffingError(f"service level must be between 0 and 1 (e.g. 0.8), got {self.service_level}")
        if not 0 <= self.shrinkage < 1:
            raise StaffingError(f"shrinkage must be from 0 to below 1 (e.g. 0.3), got {self.shrinkage}")
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise StaffingError(f"concurrency must be a whole number of chats, 1 or more, got {self.concurrency!r}")
        if self.concurrency not in efficiency:
            known = ", ".join(str(c) for c in sorted(efficiency))
            raise StaffingError(f"no efficiency factor for concurrency {self.concurrency} (known: {known})")


@dataclasses.dataclass(frozen=True)
class Staffing:
    """The answer for one interval.

    Attributes:
        agents: agents needed on the queue (raw, before shrinkage).
        agents_with_shrinkage: agents to schedule, shrinkage included.
        service_level: the share answered within the target with `agents`.
        occupancy: the share of agents' time busy with contacts (traffic / agents).
        wait_probability: the probability that a contact waits at all (Erlang C).
        average_speed_of_answer: the average wait in seconds.
        traffic_erlangs: the traffic intensity A.
        effective_handle_seconds: the handle time after concurrency.
    """

    agents: int
    agents_with_shrinkage: int
    service_level: float
    occupancy: float
    wait_probability: float
    average_speed_of_answer: float
    traffic_erlangs: float
    effective_handle_seconds: float

    def as_json(self) -> Dict[str, float]:
        """The JSON form (rounded to 4 places; ASA to 0.1 s)."""
        return {
            "agents": self.agents,
            "agents_with_shrinkage": self.agents_with_shrinkage,
            "service_level": round(self.service_level, 4),
            "occupancy": round(self.occupancy, 4),
            "wait_probability": round(self.wait_probability, 4),
            "average_speed_of_answer": round(self.average_speed_of_answer, 1),
            "traffic_erlangs": round(self.traffic_erlangs, 4),
            "effective_handle_seconds": round(self.effective_handle_seconds, 2),
        }


def wait_probability(agents: int, traffic: float) -> float:
    """Erlang C: the probability a contact waits, with `agents` agents and `traffic` Erlangs (1.0 when
    `agents <= traffic`: the queue grows without end)."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return agents * blocking / (agents - traffic * (1 - blocking))


def service_level(agents: int, traffic: float, handle_seconds: float, target_seconds: float) -> float:
    """The share of contacts answered within `target_seconds` with `agents` agents."""
    if traffic <= 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    waits = wait_probability(agents, traffic)
    return max(0.0, 1.0 - waits * math.exp(-(agents - traffic) * target_seconds / handle_seconds))


def required(request: StaffingRequest, efficiency: Optional[Mapping[int, float]] = None) -> Staffing:
    """The fewest agents that reach the request's service level, and what they achieve.

    Args:
        request: the interval, the handle time and the target.
        efficiency: chats' worth of work per agent at each concurrency (`DEFAULT_EFFICIENCY`).

    Returns:
        The staffing for the interval (all zeros but the service level 1.0 when no contact comes).

    Raises:
        StaffingError: an input is out of range (the message names it), or no number of agents up to
            `MAX_AGENTS` reaches the target.
    """
    factors = dict(DEFAULT_EFFICIENCY if efficiency is None else efficiency)
    request.check(factors)
    handle = request.handle_seconds / factors[request.concurrency]
    traffic = request.volume * handle / (request.interval_minutes * 60.0)
    if traffic <= 0:
        return Staffing(0, 0, 1.0, 0.0, 0.0, 0.0, 0.0, handle)
    agents = max(1, math.floor(traffic) + 1)
    while service_level(agents, traffic, handle, request.target_seconds) < request.service_level:
        agents += 1
        if agents > MAX_AGENTS:
            raise StaffingError(f"more than {MAX_AGENTS} agents would be needed: check volume and handle time")
    waits = wait_probability(agents, traffic)
    return Staffing(
        agents=agents,
        agents_with_shrinkage=math.ceil(round(agents / (1 - request.shrinkage), 9)),
        service_level=service_level(agents, traffic, handle, request.target_seconds),
        occupancy=traffic / agents,
        wait_probability=waits,
        average_speed_of_answer=waits * handle / (agents - traffic),
        traffic_erlangs=traffic,
        effective_handle_seconds=handle,
    )
