"""In-process push of desk changes to connected consoles (the `GET /api/stream` Server-Sent Events).

Each change is an event `{"seq": n, "type": …, "data": {…}}`:
- `ticket`: a ticket was created or changed (claimed, transferred, resolved, handed back); `data` is the ticket.
- `message`: a message was added to a ticket or its delivery status changed; `data` is
  `{"ticket_id": "T-…", "message": {id, role, text, at, status, author}}`.

A slow subscriber's oldest events are dropped rather than blocking the desk. `ConsoleFeed` is what the
desk's services call to publish a change: it reads the fresh row and publishes its JSON form.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Set

from bot.desk import records
from bot.desk.records import Message, ticket_code
from bot.desk.store import Store
from bot.desk.views import TicketViews, public_message

logger = logging.getLogger(__name__)


class Hub:
    """Fan-out of desk events to subscriber queues.

    Args:
        max_pending: events kept per subscriber before the oldest are dropped.
    """

    def __init__(self, max_pending: int = 1000) -> None:
        self.max_pending = max_pending
        self._subscribers: Set[asyncio.Queue] = set()
        self._seq = 0

    def subscribe(self) -> asyncio.Queue:
        """Return a new queue that receives every event published from now on."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=self.max_pending)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        """Stop delivering events to `queue`."""
        self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        """The number of connected subscribers."""
        return len(self._subscribers)

    def publish(self, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
        """Send an event to every subscriber; return it."""
        self._seq += 1
        event = {"seq": self._seq, "type": kind, "data": data}
        for queue in list(self._subscribers):
            if queue.full():
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    pass
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                logger.debug("dropping a desk event for a slow subscriber")
        return event


class ConsoleFeed:
    """Publishes ticket and message changes to the consoles.

    Args:
        hub: the fan-out to the connected consoles.
        store: where the fresh ticket is read.
        views: the JSON forms.
    """

    def __init__(self, hub: Hub, store: Store, views: TicketViews) -> None:
        self.hub = hub
        self.store = store
        self.views = views

    def ticket(self, ticket_id: int) -> Dict[str, Any]:
        """Publish a ticket as it is now; return its JSON."""
        ticket = self.store.get_ticket(ticket_id)
        assert ticket is not None
        data = self.views.ticket_json(ticket, records.now())
        self.hub.publish("ticket", data)
        return data

    def message(self, ticket_id: int, message: Message) -> None:
        """Publish a new or changed message of a ticket."""
        self.hub.publish("message", {"ticket_id": ticket_code(ticket_id), "message": public_message(message)})
