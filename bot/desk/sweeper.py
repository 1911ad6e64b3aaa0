"""The leader's sweep: what a desk left half done when it stopped (a crash, a kill, a lost database).

- An agent reply stored `pending` and never marked sent or failed: the desk stopped between storing it and
  hearing back from Rasa. Once older than Rasa's timeout plus a margin (so its own request is surely over), it is
  sent again under its delivery key (`bot.desk.delivery.delivery_key`; a channel that did send it skips it) and
  marked sent, or failed (for the agent's retry) when Rasa does not take it. A pending reply of a ticket that is
  no longer open is marked failed: the conversation is the assistant's again.
- A ticket left closing (`resolving`, `handing_back`): its close is finished (`bot.desk.closing.Closer`).

It runs in the leader's round (`bot.desk.app`), on one desk process at a time.
"""

from __future__ import annotations

import dataclasses
import logging

from bot.desk import records
from bot.desk.closing import Closer
from bot.desk.delivery import Delivery
from bot.desk.errors import DeskError
from bot.desk.records import MessageStatus
from bot.desk.store import Store

logger = logging.getLogger(__name__)

# Added to Rasa's timeout before a pending reply counts as stale.
MARGIN_SECONDS = 15.0


@dataclasses.dataclass(frozen=True)
class Swept:
    """What one sweep did."""

    sent: int = 0  # stale replies delivered
    failed: int = 0  # stale replies marked failed (Rasa refused them, or their ticket is closed)
    closed: int = 0  # tickets whose close was finished


class Sweeper:
    """Finishes what a stopped desk left pending.

    Args:
        store: the ticket store.
        delivery: what goes to the customer.
        closer: finishes closes.
        stale_after: seconds after which a pending reply or a close counts as abandoned (Rasa's timeout plus
            `MARGIN_SECONDS`).
    """

    def __init__(self, store: Store, delivery: Delivery, closer: Closer, stale_after: float) -> None:
        self.store = store
        self.delivery = delivery
        self.closer = closer
        self.stale_after = stale_after

    async def sweep(self) -> Swept:
        """One sweep of stale pending replies and unfinished closes."""
        before = records.now() - self.stale_after
        sent = failed = closed = 0
        for message in self.store.stale_pending_replies(before):
            ticket = self.store.get_ticket(message.ticket_id)
            if ticket is None or not ticket.is_open:
                self.store.set_message_status(message.id, MessageStatus.FAILED, expect=MessageStatus.PENDING)
                failed += 1
                continue
            try:
                await self.delivery.send_reply(ticket, message)
            except DeskError:
                logger.warning("a stale reply on ticket %s was not delivered; it is kept as failed", ticket.code)
                failed += 1
                continue
            logger.info("a stale reply on ticket %s was delivered by the sweep", ticket.code)
            sent += 1
        for ticket in self.store.stale_closes(before):
            closed += await self.closer.finish_stale(ticket)
        return Swept(sent, failed, closed)
