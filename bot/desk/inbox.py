"""Customer messages from Rasa's event broker: appended to the conversation's open ticket.

The broker consumers (`bot.desk.events`) hand every event to `Inbox.ingest`.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Optional

from bot.desk import records
from bot.desk.records import Message, MessageRole, MessageStatus
from bot.desk.store import Store
from bot.desk.stream import ConsoleFeed
from bot.handoff.masking import mask

logger = logging.getLogger(__name__)


class Inbox:
    """Takes the events of Rasa's event broker.

    Args:
        store: the ticket store.
        feed: the console push.
    """

    def __init__(self, store: Store, feed: ConsoleFeed) -> None:
        self.store = store
        self.feed = feed

    def ingest(self, event: Dict[str, Any]) -> Optional[Message]:
        """Take one event from Rasa's event broker.

        Counts the conversation (for the containment rate) and, for a `user` event of a conversation with an
        open ticket, appends the customer's message to the ticket (de-duplicated by Rasa's `message_id`) and
        pushes it to the consoles. Events older than the ticket (the turn that escalated) are not appended.

        Returns:
            The stored message, or None when nothing was appended.
        """
        if not isinstance(event, dict) or event.get("event") != "user":
            return None
        sender = event.get("sender_id")
        if not isinstance(sender, str) or not sender:
            return None
        timestamp = float(event.get("timestamp") or time.time())
        self.store.seen_conversation(sender, event.get("input_channel"), timestamp)
        ticket = self.store.open_ticket_for(sender)
        if ticket is None or timestamp < ticket.created_real:
            return None
        text = event.get("text")
        if not isinstance(text, str) or not text:
            return None
        text = mask(text)  # the desk stores customer data masked, like the context packet's transcript
        external = event.get("message_id") or f"{sender}:{timestamp}"
        anger = ((event.get("parse_data") or {}).get("anger") or {}).get("score")
        message = self.store.add_message(
            ticket.id, MessageRole.CUSTOMER, text, records.now(), MessageStatus.RECEIVED,
            external_id=str(external)[:128], anger=float(anger) if isinstance(anger, (int, float)) else None,
        )
        if message is not None:
            self.feed.message(ticket.id, message)
        return message
