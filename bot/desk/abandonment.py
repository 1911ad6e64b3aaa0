"""Abandonment: a queued customer who has stopped waiting before an agent answered.

Definition: a ticket still `queued` (no agent claimed it) whose customer has sent nothing for
`desk.abandon_after_minutes` (10) minutes of business time, counted on the calendar of the ticket's team from
the customer's last sign of life (the ticket's creation or their latest message to the desk). Counting business
time only means a customer who left a message at night is not abandoned before the team had a chance to answer.

The leader's round (`bot.desk.app`) runs `Abandonment.sweep`: such a ticket becomes `abandoned` (one conditional
UPDATE; a claim that came first wins) with `abandoned_at`, and leaves the queue. The conversation stays the
desk's: a new message from the customer, or a new handoff, queues the ticket again and clears `abandoned_at`
(`bot.desk.inbox`, `bot.desk.intake`), so nothing the customer says is lost.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import List, Optional

from bot.desk import records
from bot.desk.sla import BusinessHours
from bot.desk.store import Store
from bot.desk.stream import ConsoleFeed

logger = logging.getLogger(__name__)

UTC = dt.timezone.utc


def _at(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=UTC)


class Abandonment:
    """Finds the queued customers who stopped waiting.

    Args:
        store: the ticket store.
        calendar: the business calendar (business time since the last sign of life).
        after_minutes: `desk.abandon_after_minutes`.
        feed: the console push (an abandoned ticket leaves the consoles' queue).
    """

    def __init__(self, store: Store, calendar: BusinessHours, after_minutes: float, feed: ConsoleFeed) -> None:
        self.store = store
        self.calendar = calendar
        self.after_seconds = after_minutes * 60.0
        self.feed = feed

    def sweep(self, now: Optional[float] = None) -> List[int]:
        """Mark abandoned the queued tickets silent for the set business time; return their ids."""
        at = records.now() if now is None else now
        abandoned = []
        for ticket, last_seen in self.store.queued_activity():
            silent = self.calendar.business_seconds_between(_at(last_seen), _at(at), ticket.team)
            if silent < self.after_seconds or not self.store.abandon(ticket.id, at):
                continue
            logger.info("ticket %s abandoned: the customer was silent for %.0f business seconds", ticket.code, silent)
            self.feed.ticket(ticket.id)
            abandoned.append(ticket.id)
        return abandoned
