"""The desk's part of the retention policy and of a key rotation (`python -m bot purge`, `python -m bot rekey`).

What the retention policy does to the desk (`settings.yml: retention`, applied by `bot.retention`):
- `forget_conversations`: a ticket closed before the transcripts cutoff loses its conversation id (the Rasa
  sender id, which may be a phone number or a WeChat openid): it becomes `forgotten:T-000123`, in its column
  and in its context packet; the conversations seen before the cutoff (`desk_conversations`, counted for the
  containment rate) are deleted, and so are the assistant's turns sent before it (`desk_turns`, for the reports).
- `purge_texts`: a ticket closed before the desk-texts cutoff loses its masked texts: its messages, the
  transcript, slots, display name and earlier tickets of its context packet, its survey comment and customer
  name, and the comment of its QA review. Its figures stay: times, grade, reason, topic, skill, SLA, rating, QA
  scores.
- `undelivered_replies`: agent replies of closed tickets that were never delivered (they keep the agent's
  words for a retry), for the caller to mask.

Every step is idempotent: a second run changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Tuple

import sqlalchemy as sa

from bot import data_keys
from bot.desk.records import CLOSED_STATUSES, Message, MessageRole, MessageStatus, ticket_code
from bot.desk.store.database import Database
from bot.desk.store.feed import feed
from bot.desk.store.tables import (
    conversations, customer_notes, followup_messages, followups, messages, qa_reviews, tickets, turns,
)

logger = logging.getLogger(__name__)

FORGOTTEN = "forgotten:"
# The mark a context packet carries once its texts are purged.
TEXTS_PURGED = "texts_purged"
_CLOSED = [s.value for s in CLOSED_STATUSES]
_BATCH = 500


def stripped_context(context: Dict[str, Any]) -> Dict[str, Any]:
    """A context packet without its texts (transcript, slots, key facts, display name, earlier tickets), marked
    purged."""
    kept = {key: value for key, value in context.items() if key not in ("transcript", "slots", "key_facts")}
    customer = dict(context.get("customer") or {})
    customer.update(display_name=None, earlier_tickets=[])
    kept.update(transcript=[], slots={}, key_facts=[], customer=customer)
    kept[TEXTS_PURGED] = True
    return kept


class MaintenanceRows(Database):
    """The retention steps and the key rotation of the desk's tables."""

    def forget_conversations(self, closed_before: float, seen_before: float) -> Tuple[int, int]:
        """Forget the conversation ids of tickets closed before `closed_before` and the conversations first
        seen before `seen_before` (epoch seconds).

        Returns:
            (tickets whose conversation id was forgotten, conversations seen that were deleted).
        """
        query = sa.select(tickets.c.id, tickets.c.context).where(
            tickets.c.status.in_(_CLOSED),
            tickets.c.closed_at < closed_before,
            sa.not_(tickets.c.conversation_id.startswith(FORGOTTEN, autoescape=True)),
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        cipher = self.cipher
        for start in range(0, len(rows), _BATCH):
            with self.engine.begin() as conn:
                for ticket_id, stored in rows[start:start + _BATCH]:
                    forgotten = FORGOTTEN + ticket_code(ticket_id)
                    context = cipher.loads(stored) or {}
                    context["conversation_id"] = forgotten
                    conn.execute(
                        tickets.update().where(tickets.c.id == ticket_id)
                        .values(conversation_id=forgotten, context=cipher.dumps(context))
                    )
        with self.engine.begin() as conn:
            seen = conn.execute(conversations.delete().where(conversations.c.first_seen < seen_before)).rowcount
            conn.execute(turns.delete().where(turns.c.at < seen_before))  # the reports' turns name the conversation
        return len(rows), int(seen or 0)

    def purge_texts(self, closed_before: float) -> int:
        """Delete the masked texts of the tickets closed before `closed_before`; return how many tickets."""
        query = sa.select(tickets.c.id, tickets.c.context).where(
            tickets.c.status.in_(_CLOSED), tickets.c.closed_at < closed_before
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        cipher = self.cipher
        purged = 0
        for ticket_id, stored in rows:
            context = cipher.loads(stored) or {}
            if context.get(TEXTS_PURGED):
                continue
            with self.engine.begin() as conn:
                conn.execute(messages.delete().where(messages.c.ticket_id == ticket_id))
                conn.execute(followups.update().where(followups.c.ticket_id == ticket_id).values(note=None))
                conn.execute(followup_messages.delete().where(followup_messages.c.ticket_id == ticket_id))
                conn.execute(
                    tickets.update().where(tickets.c.id == ticket_id).values(
                        context=cipher.dumps(stripped_context(context)), rating_comment=None, customer_name=None
                    )
                )
                conn.execute(qa_reviews.update().where(qa_reviews.c.ticket_id == ticket_id).values(comment=None))
            purged += 1
        return purged

    def undelivered_replies(self) -> List[Message]:
        """The agent replies of closed tickets that were never delivered (pending or failed), oldest first."""
        query = (
            sa.select(messages)
            .select_from(messages.join(tickets, messages.c.ticket_id == tickets.c.id))
            .where(
                tickets.c.status.in_(_CLOSED),
                messages.c.role == MessageRole.AGENT.value,
                messages.c.status.in_([MessageStatus.PENDING.value, MessageStatus.FAILED.value]),
            )
            .order_by(messages.c.id)
        )
        cipher = self.cipher
        with self.engine.connect() as conn:
            found = []
            for row in conn.execute(query):
                data = dict(row._mapping)
                data["text"] = cipher.decrypt(data["text"])
                found.append(Message.from_row(data))
        return found

    def rekey(self) -> int:
        """Re-encrypt the desk's encrypted columns under the first data key; return how many values changed."""
        cipher = self.cipher
        return sum(
            data_keys.rekey_column(self.engine, table, column, cipher, _BATCH)
            for table, column in (
                (messages, "text"), (tickets, "context"), (tickets, "rating_comment"), (feed, "data"),
                (followups, "note"), (followup_messages, "text"),
                (customer_notes, "text"),
                (qa_reviews, "comment"),
            )
        )
