"""The rows the period reports and the abandonment job read: tickets created in a span, the assistant's turns
(`desk_turns`), the queued tickets' last customer activity, earlier complaints; and the two status changes of
abandonment (queued -> abandoned, abandoned -> queued), each one conditional UPDATE.

A report reads the rows of its span into Python (one ticket row is ~30 numbers; the context packet is not read):
the figures need business-time arithmetic per ticket, which SQL cannot do.
"""

from __future__ import annotations

import logging
from typing import Dict, Iterable, List, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.desk.records import Ticket, TicketStatus
from bot.desk.store.database import Database
from bot.desk.store.tables import messages, tickets, turns

logger = logging.getLogger(__name__)

# Every column but the context packet and the survey comment (encrypted texts the figures do not need).
_FIGURE_COLUMNS = [c for c in tickets.c if c.name not in ("context", "rating_comment", "open_key")]


class ReportRows(Database):
    """Reads for the reports and the abandonment job, and the abandonment status changes."""

    def tickets_created_between(self, start: float, end: float) -> List[Ticket]:
        """Tickets created in [start, end), oldest first, without their context packet and survey comment."""
        query = (
            sa.select(*_FIGURE_COLUMNS)
            .where(tickets.c.created_at >= start, tickets.c.created_at < end)
            .order_by(tickets.c.created_at, tickets.c.id)
        )
        with self.engine.connect() as conn:
            return [Ticket.from_row(dict(row._mapping)) for row in conn.execute(query)]

    def record_turn(self, conversation_id: str, sequence: int, channel: Optional[str], at: float,
                    intent: Optional[str]) -> bool:
        """Keep one customer message the assistant read (no text); True when new (a redelivery is ignored)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(turns.insert().values(
                    conversation_id=conversation_id, sequence=sequence, channel=channel, at=at,
                    intent=(intent or None) and intent[:128],
                ))
        except IntegrityError:
            return False
        return True

    def turns_between(self, start: float, end: float) -> List[Tuple[str, Optional[str], float, Optional[str]]]:
        """(conversation id, channel, at, intent) of the turns in [start, end), by conversation then time."""
        c = turns.c
        query = (
            sa.select(c.conversation_id, c.channel, c.at, c.intent)
            .where(c.at >= start, c.at < end)
            .order_by(c.conversation_id, c.at, c.sequence)
        )
        with self.engine.connect() as conn:
            return [(r[0], r[1], float(r[2]), r[3]) for r in conn.execute(query)]

    def queued_activity(self) -> List[Tuple[Ticket, float]]:
        """Each queued ticket with its customer's last sign of life: the latest of its creation and its
        customer messages."""
        last_message = (
            sa.select(messages.c.ticket_id, sa.func.max(messages.c.at).label("last_at"))
            .where(messages.c.role == "customer")
            .group_by(messages.c.ticket_id)
            .subquery()
        )
        query = (
            sa.select(*_FIGURE_COLUMNS, last_message.c.last_at)
            .select_from(tickets.outerjoin(last_message, last_message.c.ticket_id == tickets.c.id))
            .where(tickets.c.status == TicketStatus.QUEUED.value)
        )
        with self.engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
        result = []
        for row in rows:
            last_at = row.pop("last_at")
            ticket = Ticket.from_row(row)
            result.append((ticket, max(ticket.created_at, float(last_at)) if last_at is not None else ticket.created_at))
        return result

    def abandon(self, ticket_id: int, at: float) -> bool:
        """Mark a queued ticket abandoned (one conditional UPDATE: a ticket claimed meanwhile stays claimed)."""
        stmt = tickets.update().where(
            tickets.c.id == ticket_id, tickets.c.status == TicketStatus.QUEUED.value, tickets.c.assignee.is_(None)
        ).values(status=TicketStatus.ABANDONED.value, abandoned_at=at)
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def requeue_abandoned(self, ticket_id: int) -> bool:
        """Queue an abandoned ticket again (its customer came back); it is no longer counted abandoned."""
        stmt = tickets.update().where(
            tickets.c.id == ticket_id, tickets.c.status == TicketStatus.ABANDONED.value
        ).values(status=TicketStatus.QUEUED.value, abandoned_at=None)
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def complaints_since(self, customer_keys: Iterable[str], since: float) -> Dict[str, int]:
        """Complaint tickets created at or after `since`, per customer key (the customer id where the ticket
        has one, else its conversation id)."""
        keys = [k for k in customer_keys if k]
        if not keys:
            return {}
        key = sa.func.coalesce(tickets.c.customer_id, tickets.c.conversation_id)
        query = (
            sa.select(key.label("who"), sa.func.count())
            .where(key.in_(keys), tickets.c.complaint.is_(True), tickets.c.created_at >= since)
            .group_by(sa.literal_column("who"))
        )
        with self.engine.connect() as conn:
            return {str(who): int(count) for who, count in conn.execute(query)}
