"""Rasa's SQL tracker store with the private steps of its `save` opened as public hooks.

`HookedSQLTrackerStore` overrides two private methods of Rasa's `SQLTrackerStore` and calls a third:

- `_additional_events` (the tracker's events not stored yet) counts what is stored with `stored_count`, which
  a subclass may answer from memory; by default it is Rasa's own count query (its private `_event_query`);
- `_retrieve` (behind `retrieve` and `retrieve_full_tracker`, the one reader of the `data` column) decodes each
  stored row with `decode_event`, Rasa's own `json.loads` until a subclass decrypts (`bot.stores`).

`new_events` calls the first under a name a subclass can use (`bot.stores`). Publishing is not patched: our
`save` (`bot.stores.TunedSQLTrackerStore`) writes an outbox row per event and never calls Rasa's
`_stream_new_events`.

Why not the public API: how `save` finds a turn's new events, and how `retrieve` decodes a row,
are only reachable through these private methods; the public alternative is copying Rasa's `save`,
`retrieve` and their queries.
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any, Dict, Iterator, Optional

from bot.patches.versions import pin

logger = logging.getLogger(__name__)

PIN = pin("rasa", "==3.6.21", __name__, recheck=(
    "rasa/core/tracker_store.py: SQLTrackerStore._additional_events(session, tracker), "
    "SQLTrackerStore._event_query(session, sender_id, fetch_events_from_all_sessions) and "
    "SQLTrackerStore._retrieve(sender_id, fetch_events_from_all_sessions) (still the only reader of the `data` "
    "column, called by retrieve and retrieve_full_tracker?): names, arguments, who calls them"
))

from rasa.core.tracker_store import SQLTrackerStore  # noqa: E402 - imported after the version check
from rasa.shared.core.events import Event  # noqa: E402 - imported after the version check
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402 - imported after the version check


class HookedSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store; its save and read steps as hooks: `stored_count`, `new_events`,
    `decode_event`."""

    def stored_count(self, session: Any, tracker: DialogueStateTracker) -> int:
        """How many of the tracker's events (of its latest session) are stored: Rasa's own count query.

        Args:
            session: the open database session of the save.
            tracker: the conversation being saved.
        """
        return self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()

    def new_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The tracker's events that are not stored yet.

        Args:
            session: the open database session of the save.
            tracker: the conversation being saved.
        """
        return self._additional_events(session, tracker)

    def decode_event(self, data: str) -> Dict[str, Any]:
        """One stored row's `data` column as an event dict: Rasa's own `json.loads` (a subclass decrypts first).

        Args:
            data: the column's text.
        """
        return json.loads(data)

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        """Rasa's `_retrieve`, each row decoded with `decode_event`."""
        with self.session_scope() as session:
            rows = self._event_query(
                session, sender_id, fetch_events_from_all_sessions=fetch_events_from_all_sessions
            ).all()
            events = [self.decode_event(row.data) for row in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """The tracker's events after the first `stored_count` ones."""
        stored = self.stored_count(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))
