"""The message rows (`desk_messages`): a ticket's conversation after the handoff, in order.

The `text` column is stored encrypted (`Database.cipher`); rows come back decrypted. What is stored is masked
(`bot.handoff.masking`) by the callers: customer messages when they arrive (`bot.desk.inbox`), notes when they
are written and agent replies once delivered (`bot.desk.tickets`: an undelivered reply keeps the agent's words
for a retry).
"""

from __future__ import annotations

import logging
from typing import Any, List, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.desk.records import Message, MessageRole, MessageStatus
from bot.desk.store.database import Database
from bot.desk.store.tables import messages, tickets

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
        sequence: Optional[int] = None,
        mail_id: Optional[int] = None,
    ) -> Optional[Message]:
        """Append a message to a ticket (`sequence`: Rasa's, for a customer message; `mail_id`: the kept mail a
        customer e-mail came as).

        Returns:
            The stored message, or None when a message with the same `external_id` is already there.
        """
        values = dict(
            ticket_id=ticket_id, role=MessageRole(role).value, text=self.cipher.encrypt(text), at=at,
            status=MessageStatus(status).value, author=author, external_id=external_id, anger=anger,
            sequence=sequence, mail_id=mail_id,
        )
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(messages.insert().values(**values)).inserted_primary_key[0]
                if values["role"] == MessageRole.CUSTOMER.value:  # the reply window counts from the latest
                    conn.execute(
                        tickets.update()
                        .where(tickets.c.id == ticket_id)
                        .where(sa.or_(tickets.c.last_customer_at.is_(None), tickets.c.last_customer_at < at))
                        .values(last_customer_at=at)
                    )
        except IntegrityError:
            return None
        return Message.from_row({**values, "id": int(new_id), "text": text})

    def _message(self, row: Any) -> Message:
        data = dict(row._mapping)
        data["text"] = self.cipher.decrypt(data["text"])
        return Message.from_row(data)

    def set_message_status(
        self, message_id: int, status: MessageStatus | str, text: Optional[str] = None,
        expect: Optional[MessageStatus] = None,
    ) -> bool:
        """Change a message's delivery status (pending, sent, failed), and its stored text when `text` is given
        (a delivered reply is kept masked); only while it is `expect`, when given (one conditional UPDATE).

        Returns:
            True when the message changed.
        """
        values = {"status": MessageStatus(status).value}
        if text is not None:
            values["text"] = self.cipher.encrypt(text)
        stmt = messages.update().where(messages.c.id == message_id)
        if expect is not None:
            stmt = stmt.where(messages.c.status == MessageStatus(expect).value)
        with self.engine.begin() as conn:
            return conn.execute(stmt.values(**values)).rowcount == 1

    def stale_pending_replies(self, stored_before: float) -> List[Message]:
        """Agent replies still `pending` that were stored before `stored_before` (desk time): their desk stopped
        between storing and delivering them. Oldest first."""
        query = (
            sa.select(messages)
            .where(
                messages.c.role == MessageRole.AGENT.value,
                messages.c.status == MessageStatus.PENDING.value,
                messages.c.at < stored_before,
            )
            .order_by(messages.c.id)
        )
        with self.engine.connect() as conn:
            return [self._message(r) for r in conn.execute(query)]

    def get_message(self, message_id: int) -> Optional[Message]:
        """Return a message by id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(messages).where(messages.c.id == message_id)).first()
        return self._message(row) if row else None

    def messages(self, ticket_id: int) -> List[Message]:
        """Return a ticket's messages in order: as stored, the customer's in Rasa's order (their sequence).

        Customer messages at or before the ticket's handoff event in Rasa's sequence (the turn that escalated,
        or anything from before it that arrived late), and all of them while the event stream has not shown the
        handoff event yet, are not the ticket's and are left out.
        """
        query = sa.select(messages).where(messages.c.ticket_id == ticket_id).order_by(messages.c.id)
        with self.engine.connect() as conn:
            start = conn.execute(sa.select(tickets.c.start_sequence).where(tickets.c.id == ticket_id)).scalar()
            found = [self._message(r) for r in conn.execute(query)]
        return in_rasa_order(found, start)


def _sequenced(message: Message) -> bool:
    return message.role is MessageRole.CUSTOMER and message.sequence is not None


def in_rasa_order(found: List[Message], start: Optional[int]) -> List[Message]:
    """The messages (in storage order) with the customer's that belong to the ticket (after `start`) put in
    Rasa's sequence order, in the places customer messages take; every other message keeps its place."""
    kept = [m for m in found if not _sequenced(m) or (start is not None and m.sequence > start)]
    ordered = iter(sorted((m for m in kept if _sequenced(m)), key=lambda m: m.sequence))
    return [next(ordered) if _sequenced(m) else m for m in kept]
