"""Where a queued ticket stands: its place, the expected wait, whether its team is open, who could serve it.

The rules are `bot.desk.queue.QueueRules`; this module feeds them the stored tickets, the agents' load and
presence, and the business calendar.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Iterable, List, Optional

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
    )


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
        """The routing view of the queued tickets among `rows` (all queued tickets by default)."""
        rows = rows if rows is not None else self.store.list_tickets(statuses=[TicketStatus.QUEUED])
        return [queued_ticket(r) for r in rows if r.status is TicketStatus.QUEUED]

    def profile(self, agent: Agent) -> AgentProfile:
        """The routing view of an agent, with its current load."""
        return AgentProfile(
            name=agent.name, skills=list(agent.skills), senior=agent.senior, capacity=agent.capacity,
            active_tickets=self.store.active_count(agent.name),
        )

    def online_servers(self, ticket_id: int, queued: List[QueuedTicket]) -> List[AgentProfile]:
        """The agents online now who could serve the queued ticket, with their load."""
        target = next((t for t in queued if t.id == ticket_id), None)
        if target is None:
            return []
        now = records.now()
        online = (self.profile(a) for a in self.store.list_agents() if self.presence.is_online(a.name, now))
        return [profile for profile in online if self.rules.could_serve(profile, target)]

    def standing(self, ticket: Ticket, now: float, queued: Optional[List[QueuedTicket]] = None) -> Standing:
        """Return the ticket's place, expected wait, and its team's opening."""
        if ticket.status is not TicketStatus.QUEUED:
            return NOT_QUEUED
        queued = queued if queued is not None else self.queued()
        place = self.rules.position(ticket.id, queued, now)
        at = dt.datetime.fromtimestamp(now, tz=dt.timezone.utc)
        open_now = bool(self.calendar.is_open(at, team=ticket.team))
        opening = None if open_now else self.calendar.next_opening(at, team=ticket.team)[0]
        until_open = (opening.timestamp() - now) if opening else 0.0
        wait = self.rules.expected_wait_seconds(place, until_open, self.online_servers(ticket.id, queued))
        return Standing(position=place, expected_wait_seconds=wait, open_now=open_now, next_opening=opening)
