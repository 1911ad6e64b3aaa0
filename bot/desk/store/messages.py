"""The message rows (`desk_messages`): a ticket's conversation after the handoff, in order."""

from __future__ import annotations

import logging
from typing import List, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.desk.records import Message, MessageRole, MessageStatus
from bot.desk.store.database import Database
from bot.desk.store.tables import messages

logger = logging.getLogger(__name__)


class MessageRows(Database):
    """Reads and writes of `desk_messages`."""

    def add_message(
        self,
        ticket_id: int,
        role: MessageRole | str,
        text: str,
        at: float,
        status: MessageStatus | str,
        author: Optional[str] = None,
        external_id: Optional[str] = None,
        anger: Optional[float] = None,
    ) -> Optional[Message]:
        """Append a message to a ticket.

        Returns:
            The stored message, or None when a message with the same `external_id` is already there.
        """
        values = dict(
            ticket_id=ticket_id, role=MessageRole(role).value, text=text, at=at, status=MessageStatus(status).value,
            author=author, external_id=external_id, anger=anger,
        )
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(messages.insert().values(**values)).inserted_primary_key[0]
        except IntegrityError:
            return None
        return Message.from_row({"id": int(new_id), **values})

    def set_message_status(self, message_id: int, status: MessageStatus | str) -> None:
        """Change a message's delivery status (pending, sent, failed)."""
        with self.engine.begin() as conn:
            conn.execute(
                messages.update().where(messages.c.id == message_id).values(status=MessageStatus(status).value)
            )

    def get_message(self, message_id: int) -> Optional[Message]:
        """Return a message by id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(messages).where(messages.c.id == message_id)).first()
        return Message.from_row(row._mapping) if row else None

    def messages(self, ticket_id: int) -> List[Message]:
        """Return a ticket's messages in order."""
        query = sa.select(messages).where(messages.c.ticket_id == ticket_id).order_by(messages.c.id)
        with self.engine.connect() as conn:
            return [Message.from_row(r._mapping) for r in conn.execute(query)]
