"""The customer notes and tags (`desk_customer_notes`) and the compliance warnings (`desk_compliance_flags`).

A note's or tag's text is stored encrypted (`Database.cipher`) and comes back decrypted.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional

import sqlalchemy as sa

from bot.desk.store.database import Database
from bot.desk.store.tables import compliance_flags, customer_notes, tickets

logger = logging.getLogger(__name__)


class CustomerRows(Database):
    """Reads and writes of `desk_customer_notes` and `desk_compliance_flags`."""

    def add_customer_note(self, customer_key: str, kind: str, text: str, author: str, now: float) -> Dict[str, Any]:
        """Keep a note or a tag about a customer; return it (`id`, `kind`, `text`, `author`, `created_at`)."""
        values = dict(customer_key=customer_key, kind=kind, text=self.cipher.encrypt(text), author=author,
                      created_at=now)
        with self.engine.begin() as conn:
            new_id = conn.execute(customer_notes.insert().values(**values)).inserted_primary_key[0]
        return {"id": int(new_id), "kind": kind, "text": text, "author": author, "created_at": now}

    def customer_notes(self, customer_key: str) -> List[Dict[str, Any]]:
        """A customer's notes and tags, oldest first."""
        query = (
            sa.select(customer_notes).where(customer_notes.c.customer_key == customer_key)
            .order_by(customer_notes.c.id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {"id": row.id, "kind": row.kind, "text": self.cipher.decrypt(row.text), "author": row.author,
             "created_at": row.created_at}
            for row in rows
        ]

    def delete_customer_note(self, customer_key: str, note_id: int) -> bool:
        """Forget one of a customer's notes or tags; True when there was one."""
        with self.engine.begin() as conn:
            return conn.execute(
                customer_notes.delete().where(
                    customer_notes.c.id == note_id, customer_notes.c.customer_key == customer_key
                )
            ).rowcount == 1

    def purge_customer_notes(self, active_since: float) -> int:
        """Delete the notes and tags of every customer with no ticket created since `active_since` (epoch
        seconds); return how many. A customer's key is that of a ticket (`bot.desk.customers.customer_key`)."""
        from bot.desk.customers import key_of

        query = sa.select(tickets.c.customer_id, tickets.c.conversation_id).where(tickets.c.created_at >= active_since)
        with self.engine.connect() as conn:
            active = {key_of(row.customer_id, row.conversation_id) for row in conn.execute(query)}
            keys = {row[0] for row in conn.execute(sa.select(customer_notes.c.customer_key).distinct())}
        gone = sorted(keys - active)
        deleted = 0
        for start in range(0, len(gone), 500):
            with self.engine.begin() as conn:
                deleted += conn.execute(
                    customer_notes.delete().where(customer_notes.c.customer_key.in_(gone[start:start + 500]))
                ).rowcount or 0
        return deleted

    def add_compliance_flag(
        self, ticket_id: int, message_id: Optional[int], agent: str, kind: str, phrases: List[str], now: float
    ) -> None:
        """Record that an agent sent a reply or note with banned phrases (for QA)."""
        with self.engine.begin() as conn:
            conn.execute(compliance_flags.insert().values(
                ticket_id=ticket_id, message_id=message_id, agent=agent, kind=kind,
                phrases=json.dumps(phrases, ensure_ascii=False), at=now,
            ))

    def compliance_flags(self, ticket_id: Optional[int] = None) -> List[Dict[str, Any]]:
        """The compliance warnings recorded, of one ticket or all, oldest first."""
        query = sa.select(compliance_flags).order_by(compliance_flags.c.id)
        if ticket_id is not None:
            query = query.where(compliance_flags.c.ticket_id == ticket_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {"id": row.id, "ticket_id": row.ticket_id, "message_id": row.message_id, "agent": row.agent,
             "kind": row.kind, "phrases": json.loads(row.phrases), "at": row.at}
            for row in rows
        ]
