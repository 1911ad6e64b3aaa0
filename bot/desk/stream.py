"""Push of desk changes to connected consoles (the `GET /api/stream` Server-Sent Events), across desk processes.

Each change is an event `{"seq": n, "type": …, "data": {…}}`:
- `ticket`: a ticket was created or changed (claimed, transferred, resolved, handed back); `data` is the ticket.
- `message`: a message was added to a ticket or its delivery status changed; `data` is
  `{"ticket_id": "T-…", "message": {id, role, text, at, status, author}}`.

`seq` is global: the desk process that makes a change appends it to the feed table (`bot.desk.store.feed`), whose
ids every desk process shares, and each process's `Hub` reads the new rows (woken by PostgreSQL's NOTIFY, or
polling SQLite) and hands them to its own consoles. So a console that reconnects to any desk process with
`Last-Event-ID: n` gets every event after n, once, in order (from the table while it is behind, then live). One
code path for one process on SQLite and for many on PostgreSQL; a process also reads the feed right after each
change it makes, so its own consoles see the change at once.

A subscriber that falls `max_pending` events behind is not dropped and loses nothing: it is marked behind and
reads on from the table. A console that asks for events older than the kept backlog (`keep_seconds`, one hour)
gets a `reset` event: it must reload what it shows.

`ConsoleFeed` is what the desk's services call to publish a change: it reads the fresh row and publishes its
JSON form.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Dict, List, Optional, Set

from sqlalchemy.exc import SQLAlchemyError

from bot.desk import records
from bot.desk.records import Message, ticket_code
from bot.desk.store import Store
from bot.desk.store.feed import FeedListener, FeedRow
from bot.desk.views import TicketViews, public_message
from bot.desk.waiting import Round

logger = logging.getLogger(__name__)

# Events are kept this long in the feed table (a console may reconnect and catch up within it).
FEED_KEEP_SECONDS = 3600.0
# How often the feed is read without a wake-up: SQLite (no NOTIFY), and PostgreSQL as a safety net.
POLL_SECONDS = 0.25
LISTENING_POLL_SECONDS = 5.0
# Rows read per query.
BATCH = 500
RESET = "reset"


class Subscription(asyncio.Queue):
    """The events for one console: a queue the hub fills, and the id of the last event handed out.

    Args:
        after: hand out the events after this id.
        max_pending: events queued before the subscriber is marked behind (and reads from the table).
    """

    def __init__(self, after: int, max_pending: int) -> None:
        super().__init__(maxsize=max_pending)
        self.after = after
        self.behind = False


class Hub:
    """Fan-out of the feed's events to this process's subscribers.

    Args:
        store: the desk store holding the feed.
        max_pending: events queued per subscriber before it reads from the table instead.
        keep_seconds: how long events stay in the feed (`trim()`).
    """

    def __init__(self, store: Store, max_pending: int = 1000, keep_seconds: float = FEED_KEEP_SECONDS) -> None:
        self.store = store
        self.max_pending = max_pending
        self.keep_seconds = keep_seconds
        self._subscribers: Set[Subscription] = set()
        self._cursor: Optional[int] = None  # the last feed id handed to the subscribers
        self._wake: Optional[asyncio.Event] = None

    def subscribe(self, after: Optional[int] = None) -> Subscription:
        """Return a new subscription to the events after id `after` (from now on when None)."""
        if self._cursor is None:
            self._cursor = self.store.feed_last_id()
        start = after if after is not None else self.store.feed_last_id()
        subscription = Subscription(start, self.max_pending)
        # A position asked for is checked against the table; events up to the hub's cursor were handed out before
        # this subscriber existed: both read the table first.
        subscription.behind = after is not None or start < self._cursor
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering events to `subscription`."""
        self._subscribers.discard(subscription)

    @property
    def subscribers(self) -> int:
        """The number of connected subscribers."""
        return len(self._subscribers)

    def publish(self, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
        """Append an event to the feed and hand out the new events at once; return the event (`seq` None when
        the feed could not be written: the change it reports is stored, and consoles reload it on reconnect)."""
        seq: Optional[int] = None
        try:
            seq = self.store.append_feed(kind, json.dumps(data, ensure_ascii=False))
            self.pull()
        except SQLAlchemyError:  # the change itself is committed: the request that made it succeeds
            logger.error("a console event could not be %s", "handed out" if seq else "stored")
            logger.debug("console feed failure", exc_info=True)
        return {"seq": seq, "type": kind, "data": data}

    def pull(self) -> int:
        """Read the events after the hub's cursor and queue them for every subscriber; return how many."""
        if self._cursor is None:  # nobody has subscribed yet: nothing to hand out before now
            self._cursor = self.store.feed_last_id()
            return 0
        total = 0
        while True:
            rows = self.store.feed_after(self._cursor, BATCH)
            if rows and rows[0].id != self._cursor + 1 and self._cursor < self.store.feed_trimmed_through():
                for subscription in self._subscribers:  # events were trimmed before this process read them
                    subscription.behind = True
            for row in rows:
                self._hand_out(_event(row))
                self._cursor = row.id
            total += len(rows)
            if len(rows) < BATCH:
                return total

    def _hand_out(self, event: Dict[str, Any]) -> None:
        for subscription in self._subscribers:
            if subscription.behind:
                continue
            try:
                subscription.put_nowait(event)
            except asyncio.QueueFull:
                subscription.behind = True

    async def next(self, subscription: Subscription, timeout: float) -> List[Dict[str, Any]]:
        """The next events of a subscription, in order (waiting up to `timeout` seconds; [] when none came).

        A subscription that is behind reads from the table; one whose position is no longer in the feed (older
        than the kept backlog, or unknown) gets a single `reset` event at the newest id.
        """
        if subscription.behind:
            return self._catch_up(subscription)
        try:
            first = await asyncio.wait_for(subscription.get(), timeout=timeout)
        except asyncio.TimeoutError:
            return []
        events = [first]
        while not subscription.empty():
            events.append(subscription.get_nowait())
        fresh = [event for event in events if event["seq"] > subscription.after]
        if fresh:
            subscription.after = fresh[-1]["seq"]
        return fresh

    def _catch_up(self, subscription: Subscription) -> List[Dict[str, Any]]:
        subscription.behind = False
        while not subscription.empty():  # the table has them all; queued events after these stay skipped by id
            subscription.get_nowait()
        rows = self.store.feed_after(subscription.after, BATCH)
        # Read the trimmed mark after the rows: rows read before a trim that passed our position may have a gap.
        gone = subscription.after < self.store.feed_trimmed_through()
        if gone or (not rows and subscription.after > self.store.feed_last_id()):
            subscription.after = self.store.feed_last_id()
            return [{"seq": subscription.after, "type": RESET, "data": {}}]
        if len(rows) == BATCH:
            subscription.behind = True  # more to read
        if rows:
            subscription.after = rows[-1].id
        return [_event(row) for row in rows]

    def trim(self) -> int:
        """Delete the events older than `keep_seconds`; return how many."""
        return self.store.trim_feed(self.keep_seconds)

    async def run(self) -> None:
        """Read new events as they are appended by any desk process, until cancelled."""
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        listener = FeedListener(self.store) if self.store.dialect == "postgresql" else None
        descriptor: Optional[int] = None
        retry_at = 0.0
        try:
            while True:
                if listener is not None and not listener.connected and loop.time() >= retry_at:
                    try:
                        descriptor = listener.connect()
                        loop.add_reader(descriptor, self._readable, listener, descriptor)
                    except Exception:  # boundary: the database is unreachable; poll and retry
                        logger.warning("the console feed cannot LISTEN (database unreachable): polling")
                        logger.debug("feed listener failure", exc_info=True)
                        retry_at = loop.time() + LISTENING_POLL_SECONDS
                listening = listener is not None and listener.connected
                try:
                    await asyncio.wait_for(self._wake.wait(), LISTENING_POLL_SECONDS if listening else POLL_SECONDS)
                except asyncio.TimeoutError:
                    pass
                self._wake.clear()
                try:
                    self.pull()
                except SQLAlchemyError:
                    logger.error("reading the console feed failed; retrying")
                    logger.debug("feed read failure", exc_info=True)
        finally:
            if listener is not None:
                if listener.connected and descriptor is not None:
                    loop.remove_reader(descriptor)
                listener.close()

    def _readable(self, listener: FeedListener, descriptor: int) -> None:
        try:
            listener.drain()
        except Exception:  # boundary: the connection broke; run() reconnects, polling meanwhile
            logger.warning("the console feed's LISTEN connection broke: reconnecting")
            logger.debug("feed listener failure", exc_info=True)
            asyncio.get_running_loop().remove_reader(descriptor)
            listener.close()
        if self._wake is not None:
            self._wake.set()


def _event(row: FeedRow) -> Dict[str, Any]:
    return {"seq": row.id, "type": row.kind, "data": json.loads(row.data), "json": row.data}


# The events a console gets besides `ticket` and `message` (each agent's stream filters them: `bot.desk.visibility`)
AT_RISK_EVENT = "at_risk"  # a ticket turned yellow or red (`bot.desk.alerts`)
ESCALATION_EVENT = "escalation"  # a red ticket escalated (`desk.on_red`), for supervisors
OFFER_EVENT = "offer"  # a ticket offered to an agent (`bot.desk.assignment`)


def sse_frame(event: Dict[str, Any]) -> str:
    """An event as a Server-Sent Events frame (`id:`, `event:`, `data:`)."""
    data = event.get("json") or json.dumps(event["data"], ensure_ascii=False)
    return f"id: {event['seq']}\nevent: {event['type']}\ndata: {data}\n\n"


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

    def ticket(self, ticket_id: int, shared: Optional[Round] = None) -> Dict[str, Any]:
        """Publish a ticket as it is now; return its JSON.

        Args:
            ticket_id: the ticket.
            shared: the queue read once for this moment (`WaitingLine.round`), when the caller has it: a queued
                ticket's position then costs no second read and ranking of the whole queue.
        """
        ticket = self.store.get_ticket(ticket_id)
        assert ticket is not None
        if shared is None:
            data = self.views.ticket_json(ticket, records.now())
        else:
            data = self.views.ticket_json(ticket, shared.now, ranking=shared.ranking)
        self.hub.publish("ticket", data)
        return data

    def message(self, ticket_id: int, message: Message) -> None:
        """Publish a new or changed message of a ticket."""
        self.hub.publish("message", {"ticket_id": ticket_code(ticket_id), "message": public_message(message)})
