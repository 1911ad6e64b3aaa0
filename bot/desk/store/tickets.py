"""The ticket rows (`desk_tickets`): create, read, and every status change as one conditional UPDATE.

Claiming is one conditional UPDATE (`… WHERE id = ? AND assignee IS NULL AND status = 'queued' AND <agent
below capacity>`) whose row count says who won, so two agents never own the same ticket, whatever the number
of desk processes. Transfers, closing and topic changes name the owner they expect the same way.

The context packet and the survey comment are stored encrypted (`bot.data_keys`); rows come back decrypted.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot import data_keys
from bot.desk.records import CLOSED_STATUSES, OPEN_STATUSES, Ticket, TicketStatus, parse_ticket_code
from bot.desk.store.database import Database
from bot.desk.store.tables import tickets

logger = logging.getLogger(__name__)

_OPEN = [s.value for s in OPEN_STATUSES]
# Conversation ids per query of `topics_by_conversation` (SQLite allows 999 bound values in older builds).
_IDS_PER_QUERY = 500


def _ticket(row: Any) -> Ticket:
    data = dict(row._mapping)
    cipher = data_keys.cipher()
    if isinstance(data.get("context"), str):
        data["context"] = cipher.loads(data["context"]) or {}
    if data.get("rating_comment") is not None:
        data["rating_comment"] = cipher.decrypt(data["rating_comment"])
    return Ticket.from_row(data)


def _owned_by(stmt: Any, expect_assignee: Optional[str]) -> Any:
    """Narrow an UPDATE of an open ticket to the owner the caller saw (None: still unowned)."""
    stmt = stmt.where(tickets.c.status.in_(_OPEN))
    return stmt.where(
        tickets.c.assignee.is_(None) if expect_assignee is None else tickets.c.assignee == expect_assignee
    )


class TicketRows(Database):
    """Reads and conditional writes of `desk_tickets`."""

    def create_ticket(self, values: Mapping[str, Any]) -> Tuple[Ticket, bool]:
        """Insert a ticket unless its conversation already has an open one.

        Args:
            values: the column values (`context` as a dict); `status` defaults to `queued`.

        Returns:
            (the ticket, True) when created; (the open ticket of that conversation, False) otherwise.
        """
        row = dict(values)
        row["status"] = TicketStatus(row.get("status", TicketStatus.QUEUED)).value
        row["open_key"] = row["conversation_id"]
        row["context"] = self.cipher.dumps(row.get("context") or {})
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(tickets.insert().values(**row)).inserted_primary_key[0]
        except IntegrityError:
            existing = self.open_ticket_for(row["conversation_id"])
            if existing is None:  # closed in between: try once more
                return self.create_ticket(values)
            return existing, False
        ticket = self.get_ticket(int(new_id))
        assert ticket is not None
        return ticket, True

    def get_ticket(self, ticket_id: int) -> Optional[Ticket]:
        """Return a ticket by numeric id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id)).first()
        return _ticket(row) if row else None

    def ticket_by_code(self, code: str) -> Optional[Ticket]:
        """Return the ticket with public id `code` (`T-000123`, or `123`), or None."""
        ticket_id = parse_ticket_code(code)
        return self.get_ticket(ticket_id) if ticket_id is not None else None

    def open_ticket_for(self, conversation_id: str) -> Optional[Ticket]:
        """Return the open (queued or assigned) ticket of a conversation, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tickets).where(tickets.c.open_key == conversation_id)).first()
        return _ticket(row) if row else None

    def tickets_for_customer(self, customer_id: str, limit: int = 50) -> List[Ticket]:
        """Return a customer's tickets, newest first."""
        query = (
            sa.select(tickets)
            .where(tickets.c.customer_id == customer_id)
            .order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_ticket(r) for r in conn.execute(query)]

    def list_tickets(
        self,
        statuses: Optional[Iterable[TicketStatus | str]] = None,
        assignee: Optional[str] = None,
        skill: Optional[str] = None,
        limit: int = 500,
    ) -> List[Ticket]:
        """Return tickets filtered by status, assignee and skill, oldest first."""
        query = sa.select(tickets)
        if statuses:
            query = query.where(tickets.c.status.in_([TicketStatus(s).value for s in statuses]))
        if assignee:
            query = query.where(tickets.c.assignee == assignee)
        if skill:
            query = query.where(tickets.c.skill == skill)
        query = query.order_by(tickets.c.created_at, tickets.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [_ticket(r) for r in conn.execute(query)]

    def all_tickets(self, since: Optional[float] = None) -> List[Ticket]:
        """Return every ticket (created at or after `since`) for the dashboard, with an empty `context`."""
        columns = [c for c in tickets.c if c.name != "context"]
        query = sa.select(*columns)
        if since is not None:
            query = query.where(tickets.c.created_at >= since)
        with self.engine.connect() as conn:
            return [_ticket(r) for r in conn.execute(query)]

    def topics_by_conversation(self, conversation_ids: Iterable[str]) -> Dict[str, str]:
        """Return the topic of each conversation's newest ticket that has one.

        The topic is what the handoff sent (the latest FAQ intent), or what the agent set
        (`POST /api/tickets/{id}/topic`); the trainer reads it as the agent's label for the conversation.

        Args:
            conversation_ids: Rasa sender ids.

        Returns:
            conversation id -> topic, for the conversations with a ticket that has a topic.
        """
        wanted = sorted({str(c) for c in conversation_ids})
        found: Dict[str, Tuple[float, int, str]] = {}
        query = (
            sa.select(tickets.c.conversation_id, tickets.c.created_at, tickets.c.id, tickets.c.topic)
            .where(tickets.c.topic.is_not(None))
            .where(tickets.c.conversation_id.in_(sa.bindparam("ids", expanding=True)))
        )
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _IDS_PER_QUERY):
                for conversation_id, created_at, ticket_id, topic in conn.execute(
                    query, {"ids": wanted[start:start + _IDS_PER_QUERY]}
                ):
                    key = (float(created_at), int(ticket_id), str(topic))
                    if conversation_id not in found or key > found[conversation_id]:
                        found[conversation_id] = key
        return {conversation_id: key[2] for conversation_id, key in found.items()}

    def claim(self, ticket_id: int, agent: str, capacity: int, now: float) -> bool:
        """Assign a queued, unowned ticket to `agent` if the agent is below capacity, atomically.

        One conditional UPDATE; the row count tells whether this call won.

        Returns:
            True when this agent now owns the ticket; False when it was not claimable.
        """
        other = tickets.alias("busy")
        busy = (
            sa.select(sa.func.count())
            .select_from(other)
            .where(other.c.assignee == agent, other.c.status == TicketStatus.ASSIGNED.value)
            .scalar_subquery()
        )
        stmt = (
            tickets.update()
            .where(tickets.c.id == ticket_id)
            .where(tickets.c.assignee.is_(None))
            .where(tickets.c.status == TicketStatus.QUEUED.value)
            .where(busy < capacity)
            .values(assignee=agent, status=TicketStatus.ASSIGNED.value, claimed_at=now)
        )
        with self.engine.begin() as conn:
            result = conn.execute(stmt)
            return result.rowcount == 1

    def assign(self, ticket_id: int, agent: str, now: float, expect_assignee: Optional[str]) -> bool:
        """Give an open ticket to `agent` (a transfer), if it is still owned by `expect_assignee`."""
        stmt = _owned_by(tickets.update().where(tickets.c.id == ticket_id), expect_assignee)
        with self.engine.begin() as conn:
            result = conn.execute(stmt.values(assignee=agent, status=TicketStatus.ASSIGNED.value, claimed_at=now))
            return result.rowcount == 1

    def requeue(
        self, ticket_id: int, skill: str, requires_senior: bool, now: float, expect_assignee: Optional[str]
    ) -> bool:
        """Put an open ticket back in the queue of `skill` (a transfer to a skill)."""
        stmt = _owned_by(tickets.update().where(tickets.c.id == ticket_id), expect_assignee)
        values = dict(
            skill=skill, requires_senior=requires_senior, assignee=None, status=TicketStatus.QUEUED.value,
            skill_since=now, claimed_at=None,
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt.values(**values)).rowcount == 1

    def close_ticket(
        self, ticket_id: int, status: TicketStatus | str, now: float, expect_assignee: Optional[str]
    ) -> bool:
        """Mark an open ticket resolved or handed back (frees its conversation for a new ticket)."""
        closing = TicketStatus(status)
        if closing not in CLOSED_STATUSES:
            raise ValueError(f"not a closing status: {closing}")
        stmt = _owned_by(tickets.update().where(tickets.c.id == ticket_id), expect_assignee)
        with self.engine.begin() as conn:
            return conn.execute(stmt.values(status=closing.value, closed_at=now, open_key=None)).rowcount == 1

    def set_topic(self, ticket_id: int, topic: str, expect_assignee: str) -> bool:
        """Set the topic of an open ticket, if it is still owned by `expect_assignee`."""
        stmt = _owned_by(tickets.update().where(tickets.c.id == ticket_id), expect_assignee)
        with self.engine.begin() as conn:
            return conn.execute(stmt.values(topic=topic)).rowcount == 1

    def stamp_first_response(self, ticket_id: int, at: float) -> bool:
        """Record the first human response time, once."""
        stmt = (
            tickets.update()
            .where(tickets.c.id == ticket_id)
            .where(tickets.c.first_response_at.is_(None))
            .values(first_response_at=at)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def record_rating(self, ticket_id: int, rating: int, comment: Optional[str], at: float) -> bool:
        """Store the customer's satisfaction rating (1–5) and optional comment, only on a resolved ticket (the
        one kind whose closing sent the survey).

        Returns:
            True when stored; False when the ticket is not resolved (open, handed back) or does not exist.
        """
        stmt = (
            tickets.update()
            .where(tickets.c.id == ticket_id, tickets.c.status == TicketStatus.RESOLVED.value)
            .values(rating=rating, rating_comment=self.cipher.encrypt(comment) if comment else None, rated_at=at)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def set_notified_position(self, ticket_id: int, place: Optional[int]) -> None:
        """Remember the queue position the customer was last told."""
        with self.engine.begin() as conn:
            conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(notified_position=place))

    def active_count(self, agent: str) -> int:
        """Return how many tickets `agent` currently owns."""
        query = sa.select(sa.func.count()).where(
            tickets.c.assignee == agent, tickets.c.status == TicketStatus.ASSIGNED.value
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)
