"""The desk's own state (`desk_state`, e.g. the broker position) and the conversations seen on the event
stream (`desk_conversations`, for the containment rate)."""

from __future__ import annotations

import logging
from typing import Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.desk.store.database import Database
from bot.desk.store.tables import conversations, state, tickets

logger = logging.getLogger(__name__)


class StateRows(Database):
    """Reads and writes of `desk_state` and `desk_conversations`."""

    def get_state(self, key: str) -> Optional[str]:
        """Return a stored state value (e.g. the broker position), or None."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(state.c.value).where(state.c.key == key)).scalar()

    def set_state(self, key: str, value: str) -> None:
        """Store a state value."""
        with self.engine.begin() as conn:
            updated = conn.execute(state.update().where(state.c.key == key).values(value=value)).rowcount
            if not updated:
                conn.execute(state.insert().values(key=key, value=value))

    def seen_conversation(self, sender_id: str, channel: Optional[str], at: float) -> bool:
        """Record a conversation seen on the event stream; True when it is new."""
        with self.engine.connect() as conn:
            known = conn.execute(
                sa.select(conversations.c.sender_id).where(conversations.c.sender_id == sender_id)
            ).first()
        if known:
            return False
        try:
            with self.engine.begin() as conn:
                conn.execute(conversations.insert().values(sender_id=sender_id, channel=channel, first_seen=at))
        except IntegrityError:
            return False
        return True

    def containment_counts(self) -> Tuple[int, int]:
        """Return (conversations seen, of which conversations with at least one ticket)."""
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(conversations)).scalar() or 0
            with_ticket = conn.execute(
                sa.select(sa.func.count()).select_from(conversations).where(
                    conversations.c.sender_id.in_(sa.select(tickets.c.conversation_id))
                )
            ).scalar() or 0
        return int(total), int(with_ticket)
