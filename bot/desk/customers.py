"""Customer notes and tags that last across a customer's tickets, shown on the ticket's profile card.

A customer is known across tickets by the signed customer id of the widget (`customer:<id>`, the context
packet's `customer.id`) or, on WeChat, by the OpenID (`wechat:<OpenID>`, the conversation id): `customer_key`.
A ticket with neither (a REST sender, an anonymous widget session) has no lasting customer: its notes calls
answer 409. Texts are masked (`bot.handoff.masking`) and stored encrypted; `python -m bot purge` deletes the
notes of a customer with no ticket within `retention.transcripts_days`, `python -m bot rekey` re-encrypts them.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from bot.desk import records
from bot.desk.errors import DeskError, find_ticket
from bot.desk.records import Agent, Ticket
from bot.desk.store import Store
from bot.desk.views import iso
from bot.handoff.masking import mask

logger = logging.getLogger(__name__)

NOTE, TAG = "note", "tag"
MAX_NOTE = 1000
MAX_TAG = 32
WECHAT_PREFIX = "wechat:"


def key_of(customer_id: Optional[str], conversation_id: Optional[str]) -> Optional[str]:
    """The key a customer's notes are kept under: `customer:<signed id>`, else `wechat:<OpenID>`, else None."""
    if customer_id:
        return f"customer:{customer_id}"
    if conversation_id and conversation_id.startswith(WECHAT_PREFIX) and len(conversation_id) > len(WECHAT_PREFIX):
        return conversation_id
    return None


def customer_key(ticket: Ticket) -> Optional[str]:
    """The key of a ticket's customer (`key_of`)."""
    return key_of(ticket.customer_id, ticket.conversation_id)


def _public(row: Dict[str, Any]) -> Dict[str, Any]:
    return {**row, "created_at": iso(row["created_at"])}


class CustomerNotes:
    """Notes and tags about the customer of a ticket (`/api/tickets/{id}/customer/notes`).

    Args:
        store: the ticket store.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def _key(self, code: str) -> str:
        ticket = find_ticket(self.store, code)
        key = customer_key(ticket)
        if key is None:
            raise DeskError(409, f"the customer of ticket {code} has no lasting id (no signed customer id, not "
                                 "WeChat): notes and tags cannot follow them")
        return key

    def card(self, ticket: Ticket) -> Dict[str, List[Dict[str, Any]]]:
        """What the profile card shows: `{"notes": […], "tags": […]}` (both empty without a lasting id)."""
        key = customer_key(ticket)
        rows = self.store.customer_notes(key) if key else []
        return {"notes": [_public(r) for r in rows if r["kind"] == NOTE],
                "tags": [_public(r) for r in rows if r["kind"] == TAG]}

    def list(self, code: str) -> Dict[str, List[Dict[str, Any]]]:
        """The notes and tags of a ticket's customer."""
        return self.card(find_ticket(self.store, code))

    def add(self, code: str, agent: Agent, body: Any) -> Dict[str, Any]:
        """Keep a note (`{"note": …}`) or a tag (`{"tag": …}`) about a ticket's customer.

        Raises:
            DeskError: 400 bad body; 404 unknown ticket; 409 the customer has no lasting id.
        """
        if not isinstance(body, dict) or len([k for k in (NOTE, TAG) if body.get(k) is not None]) != 1:
            raise DeskError(400, "the body must be {\"note\": text} or {\"tag\": text}")
        kind = NOTE if body.get(NOTE) is not None else TAG
        text = body[kind]
        limit = MAX_NOTE if kind == NOTE else MAX_TAG
        if not isinstance(text, str) or not text.strip():
            raise DeskError(400, f"'{kind}' must be a non-empty string")
        text = " ".join(text.split()) if kind == TAG else text.strip()
        if len(text) > limit:
            raise DeskError(400, f"'{kind}' is longer than {limit} characters")
        key = self._key(code)
        if kind == TAG:
            existing = next((r for r in self.store.customer_notes(key) if r["kind"] == TAG and r["text"] == text), None)
            if existing is not None:
                return _public(existing)
        row = self.store.add_customer_note(key, kind, mask(text), agent.name, records.now())
        logger.info("%s added a customer %s on ticket %s", agent.name, kind, code)
        return _public(row)

    def remove(self, code: str, agent: Agent, note_id: int) -> None:
        """Forget one note or tag of a ticket's customer.

        Raises:
            DeskError: 404 unknown ticket or no such note of this customer; 409 no lasting id.
        """
        if not self.store.delete_customer_note(self._key(code), note_id):
            raise DeskError(404, f"no note or tag {note_id} for the customer of ticket {code}")
        logger.info("%s removed customer note %s on ticket %s", agent.name, note_id, code)
