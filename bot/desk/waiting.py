"""Where a queued ticket stands: its place, the expected wait, whether its team is open, who could serve it.

The rules are `bot.desk.queue.QueueRules`; this module feeds them the stored tickets, the agents' load and
presence, and the business calendar. Whatever many standings share is read once (`Round`): every queued ticket
(no cap), ranked once per skill group (`Ranking`), the agents online with their load (two queries), and each
team's opening; the queue-position notifier computes a whole round of positions from one `Round`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from bot.desk import records
from bot.desk.presence import Presence
from bot.desk.queue import AgentProfile, QueuedTicket, QueueRules
from bot.desk.records import Agent, Ticket, TicketStatus
from bot.desk.sla import BusinessHours
from bot.desk.store import Store

logger = logging.getLogger(__name__)


def queued_ticket(ticket: Ticket) -> QueuedTicket:
    """The routing view of a ticket."""
    return QueuedTicket(
        id=ticket.id, skill=ticket.skill, grade=ticket.grade, vip=ticket.vip, anger=ticket.anger,
        requires_senior=ticket.requires_senior, created_at=ticket.created_at, skill_since=ticket.skill_since,
        escalated=ticket.escalated_at is not None,
    )


class Ranking:
    """Every queued ticket's place at one moment, computed once: one ordering per skill group.

    Gives what `QueueRules.position` gives for each ticket, for the cost of sorting each group once instead of
    once per ticket.

    Args:
        rules: the queue rules.
        queued: every queued ticket.
        now: the moment (epoch seconds).
    """

    def __init__(self, rules: QueueRules, queued: Sequence[QueuedTicket], now: float) -> None:
        self.rules = rules
        self.now = now
        self.tickets: Dict[int, QueuedTicket] = {t.id: t for t in queued}
        groups: Dict[str, List[QueuedTicket]] = {}
        for ticket in queued:
            for group in rules.groups_of(ticket, now):
                groups.setdefault(group, []).append(ticket)
        places = {group: {t.id: i + 1 for i, t in enumerate(rules.order(members, now))} for group, members in groups.items()}
        self.positions: Dict[int, int] = {t.id: places[t.skill][t.id] for t in queued}

    def position(self, ticket_id: int) -> Optional[int]:
        """The 1-based place of a ticket in its own skill group, or None when it is not queued."""
        return self.positions.get(ticket_id)

    def overflowing(self, ticket_id: int) -> bool:
        """True when the queued ticket also waits in the general group."""
        ticket = self.tickets.get(ticket_id)
        return bool(ticket and self.rules.is_overflowing(ticket, self.now))


@dataclasses.dataclass
class Round:
    """What every standing of one moment shares, read once: the ranking, the agents online with their load, and
    each team's opening (filled as teams are asked for)."""

    now: float
    ranking: Ranking
    online: List[AgentProfile]
    openings: Dict[Optional[str], Tuple[bool, Optional[dt.datetime]]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Standing:
    """A ticket's place in the queue as the customer is told it.

    Attributes:
        position: the 1-based place in its skill group; None when the ticket is not queued.
        expected_wait_seconds: see `QueueRules.expected_wait_seconds` (None: nobody who could serve is online).
        open_now: whether the ticket's team is open.
        next_opening: when the team opens next (None while open).
    """

    position: Optional[int]
    expected_wait_seconds: Optional[int]
    open_now: bool
    next_opening: Optional[dt.datetime]


NOT_QUEUED = Standing(position=None, expected_wait_seconds=0, open_now=True, next_opening=None)


class WaitingLine:
    """The queue as the store holds it, ranked by the rules.

    Args:
        store: the ticket store.
        rules: the queue rules.
        presence: who is online.
        calendar: the business calendar (team opening hours).
    """

    def __init__(self, store: Store, rules: QueueRules, presence: Presence, calendar: BusinessHours) -> None:
        self.store = store
        self.rules = rules
        self.presence = presence
        self.calendar = calendar

    def queued(self, rows: Optional[Iterable[Ticket]] = None) -> List[QueuedTicket]:
        """The routing view of the queued tickets among `rows` (every queued ticket by default, no cap)."""
        if rows is None:
            return [
                QueuedTicket(
                    id=ticket_id, skill=skill, grade=grade, vip=bool(vip), anger=float(anger or 0),
                    requires_senior=bool(senior), created_at=float(created_at), skill_since=float(skill_since),
                    escalated=escalated_at is not None,
                )
                for ticket_id, skill, grade, vip, anger, senior, created_at, skill_since, escalated_at
                in self.store.queued_routing()
            ]
        return [queued_ticket(r) for r in rows if r.status is TicketStatus.QUEUED]

    def ranking(self, now: float, queued: Optional[Sequence[QueuedTicket]] = None) -> Ranking:
        """Every queued ticket's place now (`queued`: the routing view of every queued ticket, read when None)."""
        return Ranking(self.rules, queued if queued is not None else self.queued(), now)

    def profile(self, agent: Agent, loads: Optional[Mapping[str, int]] = None) -> AgentProfile:
        """The routing view of an agent, with its current load (from `loads`, `Store.active_counts()`, if given)."""
        active = loads.get(agent.name, 0) if loads is not None else self.store.active_count(agent.name)
        return AgentProfile(
            name=agent.name, skills=list(agent.skills), senior=agent.senior, capacity=agent.capacity,
            active_tickets=active,
        )

    def online_profiles(self, now: float) -> List[AgentProfile]:
        """The agents online now, with their load (two queries, whatever the number of agents)."""
        online = [a for a in self.store.list_agents() if self.presence.is_online(a.name, now)]
        loads = self.store.active_counts() if online else {}
        return [self.profile(agent, loads) for agent in online]

    def online_servers(
        self, ticket_id: int, ranking: Ranking, online: Optional[List[AgentProfile]] = None
    ) -> List[AgentProfile]:
        """The agents online now who could serve the queued ticket, with their load (`online`: read when None)."""
        target = ranking.tickets.get(ticket_id)
        if target is None:
            return []
        online = online if online is not None else self.online_profiles(records.now())
        return [profile for profile in online if self.rules.could_serve(profile, target)]

    def round(self, now: float, queued: Optional[Sequence[QueuedTicket]] = None) -> Round:
        """Read once what the standings of every queued ticket at `now` share."""
        return Round(now=now, ranking=self.ranking(now, queued), online=self.online_profiles(now))

    def _opening(self, team: Optional[str], now: float, cache: Dict[Optional[str], Any]) -> Tuple[bool, Any]:
        if team not in cache:
            at = dt.datetime.fromtimestamp(now, tz=dt.timezone.utc)
            open_now = bool(self.calendar.is_open(at, team=team))
            cache[team] = (open_now, None if open_now else self.calendar.next_opening(at, team=team)[0])
        return cache[team]

    def standing(self, ticket: Ticket, now: float, queued: Optional[List[QueuedTicket]] = None,
                 shared: Optional[Round] = None) -> Standing:
        """Return the ticket's place, expected wait, and its team's opening.

        Args:
            ticket: the ticket.
            now: the moment.
            queued: every queued ticket (read when None and no `shared` round is given).
            shared: a round read once for many tickets (`round`); its moment is used.
        """
        if ticket.status is not TicketStatus.QUEUED:
            return NOT_QUEUED
        if shared is None:
            shared = self.round(now, queued)
        now = shared.now
        place = shared.ranking.position(ticket.id)
        open_now, opening = self._opening(ticket.team, now, shared.openings)
        until_open = (opening.timestamp() - now) if opening else 0.0
        target = shared.ranking.tickets.get(ticket.id)
        servers = [p for p in shared.online if self.rules.could_serve(p, target)] if target is not None else []
        wait = self.rules.expected_wait_seconds(place, until_open, servers)
        return Standing(position=place, expected_wait_seconds=wait, open_now=open_now, next_opening=opening)
