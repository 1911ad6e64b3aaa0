"""De-duplication of WeChat/WeCom retries, covering messages still in progress.

WeChat retries a callback up to three times when it gets no answer within 5 s. Tencent recommends
de-duplicating by `MsgId`, and for events (which have none) by `FromUserName` + `CreateTime`. We add `Event`
and `EventKey` to the event key, because WeChat can push two different events of one user in the same second
(a `LOCATION` report and the `subscribe` that follows it), and both must be handled. A retry can arrive while
the first delivery is still being processed, so the registry hands back the *same* entry (holding the running
turn) to every delivery of one message: only the first creates it.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import Any, Callable, Generic, Mapping, Optional, Tuple, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TTL_SECONDS = 600.0
DEFAULT_MAX_ENTRIES = 10_000


def message_key(message: Mapping[str, Any]) -> Optional[str]:
    """Return the de-duplication key of a parsed callback message.

    Args:
        message: the fields of the (decrypted) `<xml>` message.

    Returns:
        `msg:<account>:<MsgId>` when the message has a MsgId (MsgId is unique per account, the account is
        included for safety), else `evt:<account>:<FromUserName>:<CreateTime>`, followed by
        `:<Event>:<EventKey>` when the message names an event; None when neither can be built.
    """
    account = str(message.get("ToUserName") or "")
    msg_id = str(message.get("MsgId") or message.get("MsgID") or "").strip()
    if msg_id and msg_id != "0":
        return f"msg:{account}:{msg_id}"
    sender = str(message.get("FromUserName") or "").strip()
    created = str(message.get("CreateTime") or "").strip()
    if not sender or not created:
        return None
    key = f"evt:{account}:{sender}:{created}"
    event = str(message.get("Event") or "").strip()
    event_key = message.get("EventKey")
    event_key = event_key.strip() if isinstance(event_key, str) else ""
    if event or event_key:
        key += f":{event}:{event_key}"
    return key


class Deduplicator(Generic[T]):
    """Remember one entry per message key, from its first delivery until `ttl_seconds` after it finished.

    The registry is used from one asyncio event loop; `get_or_create` does not await, so two deliveries can
    never both create an entry for the same key.

    Args:
        ttl_seconds: how long a key is remembered (measured from its creation).
        max_entries: the most keys kept; the oldest are dropped first (entries still in progress are kept
            while `is_active(entry)` says so).
        is_active: tells whether an entry is still in progress (never evicted early).
        clock: a monotonic clock (tests inject one).
    """

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        is_active: Optional[Callable[[T], bool]] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._is_active = is_active or (lambda _entry: False)
        self._clock = clock
        self._entries: "collections.OrderedDict[str, Tuple[float, T]]" = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Optional[T]:
        """Return the live entry for `key`, or None."""
        self._expire()
        item = self._entries.get(key)
        return item[1] if item else None

    def get_or_create(self, key: str, factory: Callable[[], T]) -> Tuple[T, bool]:
        """Return `(entry, created)`: the existing entry for `key`, or a new one made by `factory()`.

        Args:
            key: the message key (see `message_key`).
            factory: builds the entry for a first delivery; called at most once per live key.

        Returns:
            The entry and True when this call created it (the first delivery), False for a duplicate.
        """
        self._expire()
        item = self._entries.get(key)
        if item is not None:
            logger.debug("duplicate delivery of %s", key)
            return item[1], False
        entry = factory()
        self._entries[key] = (self._clock(), entry)
        self._evict()
        return entry, True

    def _expire(self) -> None:
        deadline = self._clock() - self.ttl_seconds
        stale = []
        for key, (created, entry) in self._entries.items():
            if created >= deadline:
                break  # entries are in creation order
            if not self._is_active(entry):
                stale.append(key)
        for key in stale:
            del self._entries[key]

    def _evict(self) -> None:
        if len(self._entries) <= self.max_entries:
            return
        for key in list(self._entries):
            if len(self._entries) <= self.max_entries:
                break
            if not self._is_active(self._entries[key][1]):
                del self._entries[key]

