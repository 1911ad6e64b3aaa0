"""The desk's history as times, for the forecast (`bot.desk.staffing`): when tickets were created and when
conversations were first seen, in a window. One column each, bucketed into hours by the caller."""

from __future__ import annotations

import logging
from typing import List, Optional

import sqlalchemy as sa

from bot.desk.store.database import Database
from bot.desk.store.tables import conversations, tickets

logger = logging.getLogger(__name__)


class HistoryRows(Database):
    """Reads of ticket creation and conversation times."""

    def ticket_times(self, since: float, until: float) -> List[float]:
        """Creation times of the tickets created in [since, until), oldest first."""
        c = tickets.c
        query = sa.select(c.created_at).where(c.created_at >= since, c.created_at < until).order_by(c.created_at)
        with self.engine.connect() as conn:
            return [float(value) for value in conn.execute(query).scalars()]

    def conversation_times(self, since: float, until: float) -> List[float]:
        """First-seen times of the conversations first seen in [since, until), oldest first."""
        c = conversations.c
        query = sa.select(c.first_seen).where(c.first_seen >= since, c.first_seen < until).order_by(c.first_seen)
        with self.engine.connect() as conn:
            return [float(value) for value in conn.execute(query).scalars()]

    def first_activity(self) -> Optional[float]:
        """The earliest ticket creation or conversation first seen (None: the desk has seen nothing)."""
        with self.engine.connect() as conn:
            first_ticket = conn.execute(sa.select(sa.func.min(tickets.c.created_at))).scalar()
            first_seen = conn.execute(sa.select(sa.func.min(conversations.c.first_seen))).scalar()
        known = [float(v) for v in (first_ticket, first_seen) if v is not None]
        return min(known) if known else None

    def ticket_count(self) -> int:
        """All tickets, in any status."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(tickets)).scalar() or 0)
