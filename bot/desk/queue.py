"""Queue rules of the desk: priority, routing by skill, overflow, senior routing, position and wait.

`QueueRules` holds the settings every rule reads (priority weights, the general skill, the overflow delay, the
average handle time) and applies them to plain values; the desk builds one from `DeskSettings` and passes it
the rows it read.

- Priority = grade weight + VIP bonus + peak anger x anger weight + waiting minutes x per-minute weight
  (`desk.priority`). Waiting keeps raising a ticket's priority, so nobody starves: a grade C ticket overtakes
  a fresh grade A ticket after (A - C) / per_waiting_minute minutes.
- Routing: an agent can take a queued ticket when the agent has the ticket's skill, or when the ticket has
  waited longer than `desk.overflow_after_seconds` in its skill queue and the agent has the general skill
  (overflow). A ticket that needs a senior (repeat complaints) goes only to senior agents. An agent at
  capacity (concurrent assigned tickets) takes nothing more. The skill `*` means every skill.
- Position: 1 + the queued tickets served before this one in the same group (same skill; for the general
  group also the tickets overflowing into it), by priority, then age.
- Expected wait, open team: from the agents online (console connected, or an API request in the last 5
  minutes) who could serve the ticket: none if their free slots cover the customers up to this one, else the
  rest x average handle time (`desk.average_handle_seconds`, default 240 s) / their capacity; no estimate
  when none of them is online.
  Closed team, or presence unknown: position x average handle time, plus the time until the next opening.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from bot.desk.config import DeskSettings

logger = logging.getLogger(__name__)

ANY_SKILL = "*"
SENIOR_REASONS = frozenset({"repeat_complaint"})
DEFAULT_GENERAL_SKILL = "general"
DEFAULT_OVERFLOW_SECONDS = 300.0
DEFAULT_AVERAGE_HANDLE_SECONDS = 240.0


@dataclasses.dataclass(frozen=True)
class QueuedTicket:
    """What routing needs to know about a queued ticket."""

    id: int
    skill: str
    grade: str
    vip: bool
    anger: float
    requires_senior: bool
    created_at: float
    skill_since: float
    escalated: bool = False  # put back at the top of its queue by the escalation on red (`bot.desk.alerts`)


@dataclasses.dataclass(frozen=True)
class AgentProfile:
    """What routing needs to know about an agent."""

    name: str
    skills: Sequence[str]
    senior: bool
    capacity: int
    active_tickets: int = 0


def needs_senior(reason: Optional[str]) -> bool:
    """True when tickets with this reason code go only to senior agents."""
    return (reason or "") in SENIOR_REASONS


@dataclasses.dataclass(frozen=True)
class QueueRules:
    """The queue rules with the settings they read (see the module docstring).

    Attributes:
        weights: `desk.priority`: `grade` (grade -> weight), `vip`, `anger`, `per_waiting_minute`.
        general_skill: the name of the general group's skill (`desk.general_skill`).
        overflow_after: seconds in a skill queue before a ticket also goes to the general group
            (`desk.overflow_after_seconds`).
        average_handle_seconds: `desk.average_handle_seconds`, for wait estimates.
    """

    weights: Mapping[str, Any]
    general_skill: str = DEFAULT_GENERAL_SKILL
    overflow_after: float = DEFAULT_OVERFLOW_SECONDS
    average_handle_seconds: float = DEFAULT_AVERAGE_HANDLE_SECONDS

    @classmethod
    def from_settings(cls, settings: DeskSettings) -> QueueRules:
        """The rules of validated desk settings."""
        return cls(
            weights=settings.priority,
            general_skill=settings.general_skill,
            overflow_after=settings.overflow_after_seconds,
            average_handle_seconds=settings.average_handle_seconds,
        )

    def priority(
        self, grade: str, vip: bool, anger: float, waiting_seconds: float, escalated: bool = False
    ) -> float:
        """Return the priority of a ticket (higher is served first).

        Args:
            grade: the urgency grade, A, B or C.
            vip: whether the customer's tier is VIP.
            anger: the peak anger score (0..1).
            waiting_seconds: how long the ticket has waited.
            escalated: put back at the top by the escalation on red (adds `desk.priority.escalated`).

        Returns:
            The priority, rounded to two decimals.
        """
        by_grade, vip_weight, anger_weight, per_minute, escalated_weight = self._weights
        score = by_grade.get(grade, 0.0)
        if vip:
            score += vip_weight
        score += max(0.0, min(1.0, float(anger or 0))) * anger_weight
        score += max(0.0, waiting_seconds) / 60.0 * per_minute
        if escalated:
            score += escalated_weight
        return round(score, 2)

    @functools.cached_property
    def _weights(self) -> Tuple[Dict[str, float], float, float, float, float]:
        # read once: the queue ranks every queued ticket on each change (1,000 tickets: 1,000 calls)
        weights = self.weights
        by_grade = {str(k): float(v) for k, v in (weights.get("grade") or {}).items()}
        return (
            by_grade, float(weights.get("vip", 0)), float(weights.get("anger", 0)),
            float(weights.get("per_waiting_minute", 0)), float(weights.get("escalated", 0)),
        )

    def is_overflowing(self, ticket: QueuedTicket, now: float) -> bool:
        """True when a ticket has waited too long in its skill queue and also goes to the general group."""
        return ticket.skill != self.general_skill and now - ticket.skill_since > self.overflow_after

    def can_take(self, agent: AgentProfile, ticket: QueuedTicket, now: float, check_capacity: bool = True) -> bool:
        """True when `agent` may claim `ticket` now.

        Args:
            agent: the agent.
            ticket: the queued ticket.
            now: the current time (epoch seconds).
            check_capacity: also require a free slot in the agent's capacity.
        """
        if check_capacity and agent.active_tickets >= agent.capacity:
            return False
        if ticket.requires_senior and not agent.senior:
            return False
        skills = set(agent.skills)
        if ANY_SKILL in skills or ticket.skill in skills:
            return True
        return self.general_skill in skills and self.is_overflowing(ticket, now)

    def could_serve(self, agent: AgentProfile, ticket: QueuedTicket) -> bool:
        """True when `agent` may take `ticket` now or once it overflows to the general group (capacity aside)."""
        if ticket.requires_senior and not agent.senior:
            return False
        skills = set(agent.skills)
        return ANY_SKILL in skills or ticket.skill in skills or self.general_skill in skills

    def groups_of(self, ticket: QueuedTicket, now: float) -> List[str]:
        """Return the skill groups a queued ticket is waiting in (its skill, plus general when overflowing)."""
        groups = [ticket.skill]
        if self.is_overflowing(ticket, now):
            groups.append(self.general_skill)
        return groups

    def order(self, tickets: Iterable[QueuedTicket], now: float) -> List[QueuedTicket]:
        """Return the tickets in serving order: priority (highest first), then the oldest first."""
        return sorted(
            tickets,
            key=lambda t: (
                -self.priority(t.grade, t.vip, t.anger, now - t.created_at, t.escalated), t.created_at, t.id
            ),
        )

    def position(self, ticket_id: int, queued: Sequence[QueuedTicket], now: float) -> Optional[int]:
        """Return the 1-based place of a ticket in its own skill group, or None when it is not queued."""
        target = next((t for t in queued if t.id == ticket_id), None)
        if target is None:
            return None
        peers = [t for t in queued if target.skill in self.groups_of(t, now)]
        return 1 + [t.id for t in self.order(peers, now)].index(ticket_id)

    def expected_wait_seconds(
        self,
        place: Optional[int],
        seconds_until_open: float = 0.0,
        agents: Optional[Sequence[AgentProfile]] = None,
    ) -> Optional[int]:
        """Return the expected wait in seconds (see the module docstring).

        Args:
            place: the 1-based place in the queue (None: not queued, no wait).
            seconds_until_open: time until the team opens (0 when open).
            agents: the agents online who could serve the ticket (`could_serve`), with their load; None when
                presence is not known.

        Returns:
            The wait, or None when the team is open and no agent who could serve the ticket is online.
        """
        if place is None:
            return 0
        until_open = max(0.0, seconds_until_open)
        if agents is None or until_open > 0:
            return int(round(place * self.average_handle_seconds + until_open))
        if not agents:
            return None
        free = sum(max(0, a.capacity - a.active_tickets) for a in agents)
        if place <= free:
            return 0
        slots = sum(max(1, a.capacity) for a in agents)
        return int(round((place - free) * self.average_handle_seconds / slots))

    def next_for(self, agent: AgentProfile, queued: Sequence[QueuedTicket], now: float) -> Optional[QueuedTicket]:
        """Return the ticket `agent` should take next, or None."""
        for ticket in self.order(queued, now):
            if self.can_take(agent, ticket, now):
                return ticket
        return None
