"""The follow-up rows (`desk_followups`, 回访): created once per ticket and trigger, closed by one conditional
UPDATE; and what was sent the customer for one (`desk_followup_messages`). The `note` and message `text`
columns are stored encrypted (`Database.cipher`); rows come back decrypted."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.desk.records import (
    FollowUp, FollowUpMessage, FollowUpOutcome, FollowUpStatus, FollowUpTrigger, MessageRole, MessageStatus,
)
from bot.desk.store.database import Database
from bot.desk.store.tables import followup_messages, followups, messages, tickets

logger = logging.getLogger(__name__)


class FollowUpRows(Database):
    """Reads and writes of `desk_followups` (and the few message figures the follow-ups and /metrics need)."""

    def add_followup(
        self, ticket_id: int, trigger: FollowUpTrigger, owner: Optional[str], due_at: float, created_by: str,
        at: float, note: Optional[str] = None, automatic: bool = False,
    ) -> Tuple[FollowUp, bool]:
        """Create a follow-up; an automatic one at most once per ticket and trigger.

        Returns:
            (the follow-up, created?): an automatic one that exists already is returned as it is.
        """
        values: Dict[str, Any] = dict(
            ticket_id=ticket_id, trigger=FollowUpTrigger(trigger).value, status=FollowUpStatus.OPEN.value,
            owner=owner, due_at=due_at, outcome=None, note=self.cipher.encrypt(note) if note else None,
            created_by=created_by, created_at=at, auto_key=f"{ticket_id}:{trigger}" if automatic else None,
        )
        try:
            with self.engine.begin() as conn:
                new_id = int(conn.execute(followups.insert().values(**values)).inserted_primary_key[0])
        except IntegrityError:
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(followups).where(followups.c.auto_key == values["auto_key"])).first()
            if row is None:
                raise
            return self._followup(row), False
        return FollowUp.from_row({**values, "id": new_id, "note": note}), True

    def _followup(self, row: Any) -> FollowUp:
        data = dict(row._mapping)
        data["note"] = self.cipher.decrypt(data["note"]) if data.get("note") else None
        return FollowUp.from_row(data)

    def get_followup(self, followup_id: int) -> Optional[FollowUp]:
        """The follow-up with this id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(followups).where(followups.c.id == followup_id)).first()
        return self._followup(row) if row is not None else None

    def list_followups(
        self, status: Optional[FollowUpStatus] = None, owner: Optional[str] = None,
        due_before: Optional[float] = None, ticket_id: Optional[int] = None, limit: int = 100,
    ) -> List[FollowUp]:
        """Follow-ups, soonest due first, filtered by status, owner (or unowned ones with `owner=""`), a due
        time before `due_before` (overdue), and ticket."""
        query = sa.select(followups)
        if status is not None:
            query = query.where(followups.c.status == FollowUpStatus(status).value)
        if owner is not None:
            query = query.where(followups.c.owner == owner if owner else followups.c.owner.is_(None))
        if due_before is not None:
            query = query.where(followups.c.due_at < due_before)
        if ticket_id is not None:
            query = query.where(followups.c.ticket_id == ticket_id)
        query = query.order_by(followups.c.due_at, followups.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [self._followup(row) for row in conn.execute(query)]

    def finish_followup(
        self, followup_id: int, outcome: FollowUpOutcome, note: Optional[str], by: str, at: float
    ) -> bool:
        """Record the outcome of an open follow-up (one conditional UPDATE); the note replaces the old one when
        given. Returns True when it was open and is now done."""
        values: Dict[str, Any] = dict(
            status=FollowUpStatus.DONE.value, outcome=FollowUpOutcome(outcome).value, done_at=at, done_by=by
        )
        if note:
            values["note"] = self.cipher.encrypt(note)
        stmt = followups.update().where(
            followups.c.id == followup_id, followups.c.status == FollowUpStatus.OPEN.value
        ).values(**values)
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def add_followup_message(self, followup: FollowUp, text: str, author: str, at: float) -> FollowUpMessage:
        """Store a follow-up message as `pending` (the text as written, encrypted, until it is sent)."""
        values: Dict[str, Any] = dict(
            followup_id=followup.id, ticket_id=followup.ticket_id, text=self.cipher.encrypt(text), author=author,
            status=MessageStatus.PENDING.value, at=at, sent_at=None,
        )
        with self.engine.begin() as conn:
            new_id = int(conn.execute(followup_messages.insert().values(**values)).inserted_primary_key[0])
        return FollowUpMessage.from_row({**values, "id": new_id, "text": text})

    def followup_messages(self, followup_ids: List[int]) -> Dict[int, List[FollowUpMessage]]:
        """The messages of these follow-ups, oldest first, by follow-up id (one query for a whole list)."""
        found: Dict[int, List[FollowUpMessage]] = {i: [] for i in followup_ids}
        if not followup_ids:
            return found
        query = (sa.select(followup_messages).where(followup_messages.c.followup_id.in_(followup_ids))
                 .order_by(followup_messages.c.id))
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                data = dict(row._mapping)
                data["text"] = self.cipher.decrypt(data["text"])
                found[data["followup_id"]].append(FollowUpMessage.from_row(data))
        return found

    def set_followup_message_status(
        self, message_id: int, status: MessageStatus, expect: MessageStatus, text: Optional[str] = None,
        sent_at: Optional[float] = None,
    ) -> bool:
        """Move a follow-up message from `expect` to `status` (one conditional UPDATE), with its stored text
        (masked once sent) and sent time when given. Returns True when it changed."""
        values: Dict[str, Any] = {"status": MessageStatus(status).value}
        if text is not None:
            values["text"] = self.cipher.encrypt(text)
        if sent_at is not None:
            values["sent_at"] = sent_at
        stmt = followup_messages.update().where(
            followup_messages.c.id == message_id, followup_messages.c.status == MessageStatus(expect).value
        ).values(**values)
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def count_overdue_followups(self, now: float) -> int:
        """Open follow-ups whose due time has passed."""
        query = sa.select(sa.func.count()).select_from(followups).where(
            followups.c.status == FollowUpStatus.OPEN.value, followups.c.due_at < now
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def last_customer_contact(self, ticket_id: int) -> Optional[float]:
        """When the customer last wrote on a ticket: their latest message, their survey answer, or the handoff
        (the customer's message that opened it); None for an unknown ticket."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(tickets.c.created_at, tickets.c.rated_at).where(tickets.c.id == ticket_id)
            ).first()
            if row is None:
                return None
            latest = conn.execute(
                sa.select(sa.func.max(messages.c.at)).where(
                    messages.c.ticket_id == ticket_id, messages.c.role == MessageRole.CUSTOMER.value
                )
            ).scalar()
        return max(value for value in (row.created_at, row.rated_at, latest) if value is not None)

    def count_messages(self, status: MessageStatus) -> int:
        """Messages in a delivery status (e.g. replies kept as failed)."""
        query = sa.select(sa.func.count()).select_from(messages).where(messages.c.status == MessageStatus(status).value)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)
