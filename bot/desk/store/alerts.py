"""The SLA alert rows of `desk_tickets`: which open tickets may be at risk, the light the consoles were told of
(one conditional UPDATE, so a change is told once however many desks look), and the escalation on red."""

from __future__ import annotations

import logging
from typing import List, Optional

import sqlalchemy as sa

from bot.desk.records import OPEN_STATUSES, Ticket, TicketStatus
from bot.desk.store.database import Database
from bot.desk.store.tables import tickets
from bot.desk.store.tickets import owned_by, ticket_of_row

logger = logging.getLogger(__name__)

_OPEN = [s.value for s in OPEN_STATUSES]


class AlertRows(Database):
    """Reads and conditional writes of the SLA alert columns (`sla_alerted`, `escalated_at`)."""

    def sla_candidates(self, now: float) -> List[Ticket]:
        """The open tickets whose SLA light may be yellow or red at `now` (past a warning time, or a first
        response given late), without their context; oldest due first."""
        columns = [c for c in tickets.c if c.name != "context"]
        late_answer = tickets.c.first_response_at > tickets.c.due_first_response
        waiting = sa.and_(tickets.c.first_response_at.is_(None), tickets.c.warn_first_response <= now)
        query = (
            sa.select(*columns)
            .where(tickets.c.status.in_(_OPEN))
            .where(sa.or_(waiting, late_answer, tickets.c.warn_resolution <= now))
            .order_by(tickets.c.due_resolution, tickets.c.id)
        )
        with self.engine.connect() as conn:
            return [ticket_of_row(row) for row in conn.execute(query)]

    def mark_alerted(self, ticket_id: int, light: str, expect: Optional[str]) -> bool:
        """Record that the consoles were told of `light`, if the recorded light is still `expect` (None: none
        yet) and the ticket is open; True when this call changed it (and so must tell)."""
        seen = tickets.c.sla_alerted.is_(None) if expect is None else tickets.c.sla_alerted == expect
        stmt = (
            tickets.update()
            .where(tickets.c.id == ticket_id, tickets.c.status.in_(_OPEN), seen)
            .values(sla_alerted=light)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def escalate(self, ticket_id: int, skill: str, now: float, expect_assignee: Optional[str]) -> bool:
        """Put an open ticket back in the queue of `skill`, first (`escalated_at`), if it is still owned by
        `expect_assignee` (None: still unowned); any offer lapses."""
        stmt = owned_by(tickets.update().where(tickets.c.id == ticket_id), expect_assignee).values(
            skill=skill, assignee=None, status=TicketStatus.QUEUED.value, skill_since=now, claimed_at=None,
            escalated_at=now, offered_to=None, offer_expires=None,
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1
