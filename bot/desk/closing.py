"""Closing a ticket (resolve, hand back): claim the close, then talk to Rasa, then commit or roll back.

1. One conditional UPDATE moves the ticket from the open status the agent saw (queued or assigned, with its
   owner) to `resolving` / `handing_back` (`Store.begin_close`). Of two closes (a double click, two desks) or a
   close and a claim, exactly one wins; the loser gets 409 and sends nothing.
2. The closing events (the survey or the hand-back line, keyed by the close (`bot.desk.delivery.close_key`),
   then resume) go to Rasa.
3. Rasa took them: the ticket is resolved / handed back (`Store.finish_close`). Rasa did not: it goes back to
   the open status it had (`Store.undo_close`), with its owner, and the agent gets 502. A second attempt sends
   the line under the same key, so a customer who already got it (Rasa timed out after sending) is not sent
   it twice.

A desk that stops between 1 and 3 leaves the ticket closing; the leader's sweep (`bot.desk.sweeper`) finishes
the close (`finish_stale`), the line again under its key.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional

from bot.desk import records
from bot.desk.delivery import Delivery
from bot.desk.errors import DeskError
from bot.desk.records import CLOSING_STATUS, MessageRole, MessageStatus, Ticket, TicketStatus
from bot.desk.store import Store
from bot.desk.stream import ConsoleFeed

logger = logging.getLogger(__name__)

# What the ticket's system line says about each way of closing.
CLOSE_WORDS = {TicketStatus.RESOLVED: "Resolved", TicketStatus.HANDED_BACK: "Handed back to the assistant"}


class Closer:
    """Resolves and hands back tickets, closing before acting.

    Args:
        store: the ticket store.
        delivery: what goes to the customer.
        feed: the console push.
    """

    def __init__(self, store: Store, delivery: Delivery, feed: ConsoleFeed) -> None:
        self.store = store
        self.delivery = delivery
        self.feed = feed
        # Told of every ticket this closer closed (as it was before), with the closing agent: the automatic
        # follow-ups (`bot.desk.followups`) and the QA sampling (`bot.desk.qa`), wired in `bot.desk.service`.
        self.on_closed: Optional[Callable[[Ticket, str], None]] = None

    def events(self, ticket: Ticket, closed: TicketStatus, agent: str) -> List[Dict[str, Any]]:
        """The events that close `ticket` as `closed`: the survey (resolved) or the hand-back line, then resume."""
        if closed is TicketStatus.RESOLVED:
            return self.delivery.survey_events(ticket)
        return self.delivery.handback_events(ticket, agent)

    async def close(self, ticket: Ticket, agent: str, closed: TicketStatus) -> Dict[str, Any]:
        """Close an open ticket as the agent saw it (`ticket`: its status and owner) as `closed`.

        Raises:
            DeskError: 409 when it changed meanwhile (closed, closing, claimed, transferred); 502 when Rasa did not
                take the closing events (the ticket is open again, as it was).
        """
        closing = CLOSING_STATUS[closed]
        if not self.store.begin_close(ticket.id, closing, records.now(), ticket.assignee):
            fresh = self.store.get_ticket(ticket.id) or ticket
            raise DeskError(409, f"ticket {ticket.code} is {fresh.status}; reload it")
        try:
            await self.delivery.give_back(ticket, self.events(ticket, closed, agent))
        except BaseException:  # 502, or cancelled: the conversation was not given back; the ticket reopens
            self.store.undo_close(ticket.id, closing, ticket.status)
            raise
        return self._finish(ticket, closing, closed, agent)

    async def finish_stale(self, ticket: Ticket) -> bool:
        """Finish a close its desk began and never finished: the closing events again (the line under its key,
        so a customer who got it is not sent it twice), then closed. Rasa unreachable: left for the next round.

        Returns:
            True when the ticket is now closed.
        """
        closed = next(final for final, closing in CLOSING_STATUS.items() if closing is ticket.status)
        author = ticket.assignee or "desk"
        try:
            await self.delivery.give_back(ticket, self.events(ticket, closed, author))
        except DeskError:
            logger.warning("ticket %s is still closing: Rasa did not take the closing events", ticket.code)
            return False
        self._finish(ticket, ticket.status, closed, author)
        return True

    def _finish(self, ticket: Ticket, closing: TicketStatus, closed: TicketStatus, agent: str) -> Dict[str, Any]:
        now = records.now()
        if self.store.finish_close(ticket.id, closing, now):
            message = self.store.add_message(
                ticket.id, MessageRole.SYSTEM, f"{CLOSE_WORDS[closed]} by {agent}", now, MessageStatus.INTERNAL,
                author=agent,
            )
            if message:
                self.feed.message(ticket.id, message)
            logger.info("ticket %s %s by %s", ticket.code, closed, agent)
            if self.on_closed is not None:
                self.on_closed(ticket, agent)
        return self.feed.ticket(ticket.id)
