"""Closing tickets (`desk_tickets`): at once, or in two steps with Rasa in between.

An agent's resolve or hand-back claims the close first (`begin_close`: the ticket becomes `resolving` or
`handing_back`, its owner kept), then the desk posts the closing events to Rasa, then `finish_close` closes it,
or `undo_close` gives it back its open status when Rasa did not take them (`bot.desk.closing`). A close a dead
desk left half done is found by `stale_closes` (the leader's sweep finishes it). Each step is one conditional
UPDATE whose row count says whether it happened.
"""

from __future__ import annotations

from typing import List, Optional

import sqlalchemy as sa

from bot.desk.records import CLOSED_STATUSES, CLOSING_STATUS, CLOSING_STATUSES, OPEN_STATUSES, Ticket, TicketStatus
from bot.desk.store.database import Database
from bot.desk.store.tables import tickets
from bot.desk.store.tickets import owned_by, ticket_of_row


class CloseRows(Database):
    """The close steps of the ticket rows."""

    def close_ticket(
        self, ticket_id: int, status: TicketStatus | str, now: float, expect_assignee: Optional[str]
    ) -> bool:
        """Mark an open ticket resolved or handed back at once (frees its conversation for a new ticket); the
        agents' resolve and hand-back go through `begin_close` and `finish_close`, with Rasa in between."""
        closing = TicketStatus(status)
        if closing not in CLOSED_STATUSES:
            raise ValueError(f"not a closing status: {closing}")
        stmt = owned_by(tickets.update().where(tickets.c.id == ticket_id), expect_assignee)
        with self.engine.begin() as conn:
            return conn.execute(stmt.values(status=closing.value, closed_at=now, open_key=None)).rowcount == 1

    def begin_close(
        self, ticket_id: int, closing: TicketStatus, now: float, expect_assignee: Optional[str]
    ) -> bool:
        """Claim the close of an open ticket still owned by `expect_assignee`: it becomes `closing` (resolving or
        handing back), stamped `closed_at=now` (when the close began), its conversation still held. One
        conditional UPDATE: of two closes, or a close and a claim, one wins.

        Returns:
            True when this call claimed the close.
        """
        if closing not in CLOSING_STATUSES:
            raise ValueError(f"not a closing status: {closing}")
        stmt = owned_by(tickets.update().where(tickets.c.id == ticket_id), expect_assignee)
        with self.engine.begin() as conn:
            return conn.execute(stmt.values(status=closing.value, closed_at=now)).rowcount == 1

    def finish_close(self, ticket_id: int, closing: TicketStatus, now: float) -> bool:
        """Close a ticket whose close this desk claimed (`begin_close`): resolved or handed back, its conversation
        freed for a new ticket.

        Returns:
            True when it was still `closing` (False: another process finished or undid it).
        """
        closed = next(final for final, status in CLOSING_STATUS.items() if status is closing)
        stmt = tickets.update().where(tickets.c.id == ticket_id, tickets.c.status == closing.value)
        with self.engine.begin() as conn:
            return conn.execute(stmt.values(status=closed.value, closed_at=now, open_key=None)).rowcount == 1

    def undo_close(self, ticket_id: int, closing: TicketStatus, previous: TicketStatus) -> bool:
        """Give a ticket whose close failed its open status back (`previous`: queued or assigned, as it was)."""
        if previous not in OPEN_STATUSES:
            raise ValueError(f"not an open status: {previous}")
        stmt = tickets.update().where(tickets.c.id == ticket_id, tickets.c.status == closing.value)
        with self.engine.begin() as conn:
            return conn.execute(stmt.values(status=previous.value, closed_at=None)).rowcount == 1

    def stale_closes(self, began_before: float) -> List[Ticket]:
        """Tickets whose close began before `began_before` and never finished (the desk stopped meanwhile)."""
        query = (
            sa.select(tickets)
            .where(tickets.c.status.in_([s.value for s in CLOSING_STATUSES]), tickets.c.closed_at < began_before)
            .order_by(tickets.c.id)
        )
        with self.engine.connect() as conn:
            return [ticket_of_row(r) for r in conn.execute(query)]
