"""Auto-assignment rows: the agents' status (`desk_agents.status`) and the offers of queued tickets
(`desk_tickets.offered_to`, `offer_expires`, `declined_by`).

Every change is one conditional UPDATE, so whatever the number of desk processes offering at once:
- a ticket is offered to one agent at a time (`… WHERE offered_to IS NULL OR offer_expires < now`);
- an agent is never offered more than their free capacity: the UPDATE counts the agent's assigned tickets and
  live offers in its WHERE clause. On PostgreSQL the agent's row is locked first (`SELECT … FOR UPDATE`), so two
  offers of different tickets to the same agent are counted one after the other; on SQLite the UPDATE is the
  transaction's first statement and holds the database's single write lock while it counts;
- an offer is accepted only by its agent, before it expires, while the ticket is still queued.
"""

from __future__ import annotations

import logging
from typing import Dict, List, Optional

import sqlalchemy as sa

from bot.desk.records import Ticket, TicketStatus
from bot.desk.store.database import Database
from bot.desk.store.tables import agents, tickets
from bot.desk.store.tickets import busy_with, lock_agent, ticket_of_row

logger = logging.getLogger(__name__)

AGENT_STATUSES = ("online", "away", "offline")
_QUEUED = TicketStatus.QUEUED.value
_ASSIGNED = TicketStatus.ASSIGNED.value


def live_offer(columns: sa.sql.ColumnCollection, now: float) -> sa.sql.ColumnElement:
    """SQL: the ticket row is offered to someone and the offer has not expired."""
    return sa.and_(columns.offered_to.is_not(None), columns.offer_expires >= now)


class AssignmentRows(Database):
    """Agent status and ticket offers."""

    def set_agent_status(self, name: str, status: str, now: float) -> bool:
        """Set an agent's status (online | away | offline); True when the agent exists."""
        if status not in AGENT_STATUSES:
            raise ValueError(f"status must be one of {AGENT_STATUSES}")
        with self.engine.begin() as conn:
            return conn.execute(
                agents.update().where(agents.c.name == name).values(status=status, status_since=now)
            ).rowcount == 1

    def loads(self, now: float) -> Dict[str, int]:
        """Each agent's assigned tickets plus live offers (agents with none are left out)."""
        person = sa.case((tickets.c.status == _ASSIGNED, tickets.c.assignee), else_=tickets.c.offered_to)
        counted = sa.or_(
            sa.and_(tickets.c.status == _ASSIGNED, tickets.c.assignee.is_not(None)),
            sa.and_(tickets.c.status == _QUEUED, live_offer(tickets.c, now)),
        )
        query = sa.select(person.label("agent"), sa.func.count()).where(counted).group_by(person)
        with self.engine.connect() as conn:
            return {str(name): int(count) for name, count in conn.execute(query)}

    def last_claims(self) -> Dict[str, float]:
        """Each agent's latest claim or accepted offer (epoch seconds), for the longest-idle tie-break."""
        query = (
            sa.select(tickets.c.assignee, sa.func.max(tickets.c.claimed_at))
            .where(tickets.c.assignee.is_not(None), tickets.c.claimed_at.is_not(None))
            .group_by(tickets.c.assignee)
        )
        with self.engine.connect() as conn:
            return {str(name): float(at) for name, at in conn.execute(query)}

    def offer(self, ticket_id: int, agent: str, capacity: int, now: float, expires: float) -> bool:
        """Offer a queued ticket to an online agent below capacity, unless it has a live offer; True when this
        call made the offer."""
        online = sa.select(agents.c.id).where(agents.c.name == agent, agents.c.status == "online").exists()
        stmt = (
            tickets.update()
            .where(tickets.c.id == ticket_id, tickets.c.status == _QUEUED, tickets.c.assignee.is_(None))
            .where(sa.or_(tickets.c.offered_to.is_(None), tickets.c.offer_expires < now))
            .where(online)
            .where(busy_with(agent, now, ticket_id) < capacity)
            .values(offered_to=agent, offer_expires=expires)
        )
        with self.engine.begin() as conn:
            lock_agent(conn, agent)
            return conn.execute(stmt).rowcount == 1

    def accept_offer(self, ticket_id: int, agent: str, now: float) -> bool:
        """The agent takes the ticket offered to them, before the offer expires; True when it is now theirs."""
        stmt = (
            tickets.update()
            .where(tickets.c.id == ticket_id, tickets.c.status == _QUEUED, tickets.c.assignee.is_(None))
            .where(tickets.c.offered_to == agent, tickets.c.offer_expires >= now)
            .values(assignee=agent, status=_ASSIGNED, claimed_at=now, offered_to=None, offer_expires=None)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def drop_offer(self, ticket_id: int, agent: str, expired_before: Optional[float] = None) -> bool:
        """End the agent's offer of a queued ticket (declined; or lapsed, with `expired_before`: only when it
        expired before then); the agent is added to `declined_by`. True when this call ended it."""
        declined = sa.func.coalesce(tickets.c.declined_by + ",", "") + agent
        stmt = tickets.update().where(
            tickets.c.id == ticket_id, tickets.c.status == _QUEUED, tickets.c.offered_to == agent
        )
        if expired_before is not None:
            stmt = stmt.where(tickets.c.offer_expires < expired_before)
        with self.engine.begin() as conn:
            return conn.execute(stmt.values(offered_to=None, offer_expires=None, declined_by=declined)).rowcount == 1

    def offered_to_agent(self, agent: str) -> List[int]:
        """The ids of the queued tickets offered to `agent` (live or lapsed)."""
        query = sa.select(tickets.c.id).where(tickets.c.status == _QUEUED, tickets.c.offered_to == agent)
        with self.engine.connect() as conn:
            return [int(ticket_id) for (ticket_id,) in conn.execute(query)]

    def lapsed_offers(self, now: float) -> List[Ticket]:
        """The queued tickets whose offer expired before `now` (without their context)."""
        columns = [c for c in tickets.c if c.name != "context"]
        query = sa.select(*columns).where(
            tickets.c.status == _QUEUED, tickets.c.offered_to.is_not(None), tickets.c.offer_expires < now
        )
        with self.engine.connect() as conn:
            return [ticket_of_row(row) for row in conn.execute(query)]

    def queued_in(self, skills: List[str]) -> List[Ticket]:
        """The queued tickets of these skills (without their context), oldest first."""
        columns = [c for c in tickets.c if c.name != "context"]
        query = (
            sa.select(*columns)
            .where(tickets.c.status == _QUEUED, tickets.c.skill.in_(skills))
            .order_by(tickets.c.created_at, tickets.c.id)
        )
        with self.engine.connect() as conn:
            return [ticket_of_row(row) for row in conn.execute(query)]
