"""The widget's missed agent replies: recorded when emitted to nobody, replayed from the tracker on reconnect.

An agent reply the desk posts while the customer's tab is closed is emitted to an empty socket.io room: the
send succeeds, so its delivery key counts as sent, and the customer would never see it. `WebchatOutput` (see
`bot.channels.webchat`) therefore records the key of a keyed reply (`metadata.delivery_key`) as *missed* when no
socket of the conversation's session is connected, here or (production mode) on another replica
(`present_elsewhere`, the presence each replica renews every `RENEW_SECONDS`).

On the next `session_request` carrying that session, `replay_missed` reads the conversation's tracker (not this
process's memory: a Rasa restart or another replica loses nothing), emits the `bot` events whose keys were
missed, once each and in the tracker's order, and forgets those keys. A key not yet in the tracker (Rasa sends
before it saves) stays recorded for the next reconnect. One replay per conversation runs at a time
(`DeliveryKeys.begin_replay`); a replica dying between the emit and the forgetting replays once more on the next reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, List, Set

from rasa.shared.core.events import BotUttered

from bot.channels.delivery_keys import PRESENCE_SECONDS, DeliveryKeys

logger = logging.getLogger(__name__)

RENEW_SECONDS = PRESENCE_SECONDS / 3


def missed_events(events: List[Any], keys: List[str]) -> List[BotUttered]:
    """The `bot` events whose delivery key is in `keys`, in the tracker's order, each key once."""
    wanted, seen, found = set(keys), set(), []
    for event in events:
        if isinstance(event, BotUttered):
            key = (event.metadata or {}).get("delivery_key")
            if key in wanted and key not in seen:
                seen.add(key)
                found.append(event)
    return found


async def replay_missed(
    keys: DeliveryKeys, tracker_store: Any, conversation_id: str, emit: Callable[[Dict[str, Any]], Awaitable[None]]
) -> int:
    """Emit the replies `conversation_id` missed, from its tracker, then forget them.

    Args:
        keys: the delivery keys (where missed replies are recorded).
        tracker_store: Rasa's tracker store (`retrieve_full_tracker(conversation_id)`).
        conversation_id: `socketio:<session id>`.
        emit: sends one message (a `BotUttered.message()`) to the session.

    Returns:
        How many replies were replayed.
    """
    missed = keys.missed(conversation_id)
    if not missed:
        return 0
    if not keys.begin_replay(conversation_id):
        logger.info("replay for %s already running elsewhere", conversation_id)
        return 0
    try:
        tracker = await tracker_store.retrieve_full_tracker(conversation_id)  # every session
        events = missed_events(list(tracker.events) if tracker is not None else [], missed)
        for event in events:
            await emit(event.message())
        keys.drop_missed(conversation_id, [event.metadata["delivery_key"] for event in events])
        if events:
            logger.info("replayed %d missed repl%s to %s", len(events), "y" if len(events) == 1 else "ies", conversation_id)
        return len(events)
    finally:
        keys.end_replay(conversation_id)


class WidgetPresence:
    """Which conversations have a widget socket connected: this process's sockets, and (production mode) the
    other replicas', shared through the delivery key store and renewed every `RENEW_SECONDS`.

    Args:
        keys: where presence is shared across replicas.
    """

    def __init__(self, keys: DeliveryKeys) -> None:
        self.keys = keys
        self._sockets: Dict[str, Set[str]] = {}  # this process's socket id -> the conversations it joined
        self._per_conversation: Dict[str, Set[str]] = {}  # conversation id -> this process's socket ids

    def join(self, socket_id: str, conversation_id: str) -> None:
        """A socket of this process joined a session's room."""
        self._sockets.setdefault(socket_id, set()).add(conversation_id)
        self._per_conversation.setdefault(conversation_id, set()).add(socket_id)
        self.keys.join(conversation_id, socket_id)

    def leave(self, socket_id: str) -> None:
        """A socket of this process disconnected (it leaves every room it joined)."""
        for conversation_id in self._sockets.pop(socket_id, set()):
            sockets = self._per_conversation.get(conversation_id, set())
            sockets.discard(socket_id)
            if not sockets:
                self._per_conversation.pop(conversation_id, None)
            self.keys.leave(conversation_id, socket_id)

    def present(self, conversation_id: str) -> bool:
        """True when a socket of the conversation is connected here or on another replica."""
        return conversation_id in self._per_conversation or self.keys.present_elsewhere(conversation_id)

    async def renew_forever(self) -> None:
        """Renew this process's sockets' presence every `RENEW_SECONDS` (a replica that dies stops renewing)."""
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            for conversation_id, sockets in list(self._per_conversation.items()):
                for socket_id in list(sockets):
                    self.keys.join(conversation_id, socket_id)
