"""Customer messages from Rasa's event broker: appended to the conversation's open ticket, once, in Rasa's order.

The broker consumers (`bot.desk.events`) hand every event to `Inbox.ingest`. Every event Rasa publishes carries
its conversation (`sender_id`) and Rasa's `sequence` (`bot.outbox`), and the desk goes by that one clock:

- a customer message is stored once per (conversation, sequence): a redelivered event is ignored;
- it is shown with Rasa's own timestamp, and a ticket's customer messages are read in sequence order, whatever
  order they arrived in (`bot.desk.store.messages.in_rasa_order`);
- a ticket starts at the `action_handoff` event of the turn that opened it (its sequence is recorded when the
  stream shows it): the customer messages after it are the ticket's; the message that escalated (published
  with that turn, after the ticket was created) and anything older are not. Messages that arrive before the
  handoff event are kept and appear once it is seen (the consoles are told to reload the ticket).

Every customer message the assistant read (no open ticket, or before the ticket's handoff event) is kept as a
turn (`desk_turns`: conversation, channel, time, intent; no text) for the reports. A customer message after the
handoff on an `abandoned` ticket queues it again (the customer is still there).

Events without a sequence come from a broker the outbox does not feed; they are not appended (logged once).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Optional

from bot.desk.prometheus import DeskMeters
from bot.desk.records import Message, MessageRole, MessageStatus, TicketStatus
from bot.desk.store import Store
from bot.desk.stream import ConsoleFeed
from bot.handoff.context import kept_mail_id
from bot.handoff.masking import mask

logger = logging.getLogger(__name__)

HANDOFF_ACTION = "action_handoff"


def event_sequence(event: Dict[str, Any]) -> Optional[int]:
    """Rasa's sequence of a published event (`bot.outbox`), or None when it has none."""
    value = event.get("sequence")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


class Inbox:
    """Takes the events of Rasa's event broker.

    Args:
        store: the ticket store.
        feed: the console push.
    """

    def __init__(self, store: Store, feed: ConsoleFeed, meters: Optional[DeskMeters] = None) -> None:
        self.store = store
        self.feed = feed
        self.meters = meters or DeskMeters()
        self._warned_unsequenced = False

    def ingest(self, event: Dict[str, Any]) -> Optional[Message]:
        """Take one event from Rasa's event broker.

        Records a ticket's start from its `action_handoff` event; counts the conversation of a `user` event (for
        the containment rate) and, when the conversation has an open ticket, stores the customer's message (masked,
        de-duplicated by the event's sequence) and pushes it to the consoles when it belongs to the ticket.

        Returns:
            The stored message when it is new and belongs to the ticket, else None.

        Raises:
            SQLAlchemyError: the desk's database failed; nothing was half stored, the event may be given again.
        """
        if not isinstance(event, dict):
            return None
        sender = event.get("sender_id")
        if not isinstance(sender, str) or not sender:
            return None
        sequence = event_sequence(event)
        if event.get("event") == "action" and event.get("name") == HANDOFF_ACTION:
            self._start_ticket(sender, sequence)
            return None
        if event.get("event") != "user":
            return None
        stamp = event.get("timestamp")
        timestamp = float(stamp) if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) else time.time()
        self.meters.event_taken(stamp)
        self.store.seen_conversation(sender, event.get("input_channel"), timestamp)
        if sequence is None:
            if not self._warned_unsequenced:
                logger.warning("a customer message without Rasa's sequence was not appended: is the event broker "
                               "fed by the tracker store's outbox (bot.outbox)?")
                self._warned_unsequenced = True
            return None
        ticket = self.store.open_ticket_for(sender)
        if ticket is None or ticket.start_sequence is None or sequence <= ticket.start_sequence:
            # a message the assistant read (not one to an agent): a turn for the reports
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            self.store.record_turn(sender, sequence, event.get("input_channel"), timestamp,
                                   intent if isinstance(intent, str) else None)
        text = event.get("text")
        if ticket is None or not isinstance(text, str) or not text:
            return None
        if ticket.status is TicketStatus.ABANDONED and ticket.start_sequence is not None \
                and sequence > ticket.start_sequence and self.store.requeue_abandoned(ticket.id):
            logger.info("ticket %s is queued again: its customer wrote", ticket.code)
            self.feed.ticket(ticket.id)
        anger = ((event.get("parse_data") or {}).get("anger") or {}).get("score")
        message = self.store.add_message(
            ticket.id, MessageRole.CUSTOMER, mask(text), timestamp, MessageStatus.RECEIVED,
            external_id=f"rasa:{sequence}", anger=float(anger) if isinstance(anger, (int, float)) else None,
            sequence=sequence, mail_id=kept_mail_id(event),
        )  # masked: the desk stores customer data masked, like the context packet's transcript
        if message is None or ticket.start_sequence is None or sequence <= ticket.start_sequence:
            return None
        self.feed.message(ticket.id, message)
        return message

    def _start_ticket(self, sender: str, sequence: Optional[int]) -> None:
        ticket = self.store.open_ticket_for(sender)
        if ticket is None or sequence is None or ticket.start_sequence is not None:
            return
        if self.store.mark_start(ticket.id, sender, sequence):
            self.feed.ticket(ticket.id)  # messages that arrived before the handoff event now show
