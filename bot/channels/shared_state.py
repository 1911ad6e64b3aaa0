"""What the WeChat and WeCom channels must share across Rasa replicas: retry claims and the buttons shown.

One Rasa process keeps both in memory. Behind a load balancer every WeChat callback is a separate POST from
Tencent's servers, so consecutive callbacks of one customer can reach different replicas:

- a customer answers "2" to buttons that replica A sent, and replica B has to know what "2" means;
- WeChat retries a message that replica A is still answering, and replica B must not run a second turn.

With Redis configured (production mode: `FRONTLINE_REDIS_URL` or `FRONTLINE_REDIS_HOST`, read by
`bot.redis_config`; the same Redis, password and TLS as Rasa's lock store) both live in Redis:
a retry claim is one `SET NX EX`, the buttons one key per customer. Without it (one machine) they stay in
this process's memory, as before.

Redis failing must lose no message: a claim that cannot be checked counts as won (at worst a duplicate turn,
never a dropped one), buttons fall back to this process's memory, a warning is logged, and Redis is tried
again after `retry_after_seconds`.
"""

from __future__ import annotations

import collections
import json
import logging
import time
from typing import Any, Callable, List, Mapping, Optional, Union

from redis.exceptions import RedisError

from bot.redis_config import redis_settings

logger = logging.getLogger(__name__)

BUTTONS_TTL_SECONDS = 24 * 3600
DEFAULT_MAX_CUSTOMERS = 10_000
KEY_PREFIX = "frontline:channel"


class LocalState:
    """Claims and buttons in this process's memory (one Rasa process).

    Args:
        max_customers: how many customers' buttons to remember (least recently shown forgotten first).
    """

    def __init__(self, max_customers: int = DEFAULT_MAX_CUSTOMERS) -> None:
        self.max_customers = max_customers
        self._buttons: "collections.OrderedDict[str, List[str]]" = collections.OrderedDict()

    def claim(self, key: str, ttl_seconds: int) -> bool:
        """True: this process handles the message. In one process the channel's own registry de-duplicates."""
        return True

    def put_buttons(self, recipient: str, payloads: List[str], ttl_seconds: int = BUTTONS_TTL_SECONDS) -> None:
        """Remember the payloads of the buttons just shown to `recipient`."""
        self._buttons[recipient] = list(payloads)
        self._buttons.move_to_end(recipient)
        while len(self._buttons) > self.max_customers:
            self._buttons.popitem(last=False)

    def get_buttons(self, recipient: str) -> Optional[List[str]]:
        """The payloads last shown to `recipient`, or None."""
        return self._buttons.get(recipient)

    def drop_buttons(self, recipient: str) -> None:
        """Forget the buttons of `recipient` (a choice was made)."""
        self._buttons.pop(recipient, None)


class RedisState:
    """Claims and buttons in Redis, shared by every replica; this process's memory when Redis fails.

    Args:
        client: a `redis.Redis` client (short socket timeouts: it is called on the event loop, like Rasa's
            own Redis lock store).
        prefix: the key prefix (`frontline:channel`).
        retry_after_seconds: after a failure, how long to use memory before trying Redis again.
        clock: a monotonic clock (tests inject one).
    """

    def __init__(
        self,
        client: Any,
        prefix: str = KEY_PREFIX,
        retry_after_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.retry_after_seconds = retry_after_seconds
        self._clock = clock
        self._down_until = 0.0
        self.fallback = LocalState()

    def _available(self) -> bool:
        return self._clock() >= self._down_until

    def _failed(self, what: str, error: Exception) -> None:
        if self._available():
            logger.warning(
                "shared channel state: Redis failed on %s (%s); using this process's memory for %.0f s",
                what, error, self.retry_after_seconds,
            )
        self._down_until = self._clock() + self.retry_after_seconds

    def claim(self, key: str, ttl_seconds: int) -> bool:
        """True when this replica is the first to see `key` (or Redis cannot tell: fail open)."""
        if self._available():
            try:
                return bool(self.client.set(f"{self.prefix}:claim:{key}", "1", nx=True, ex=max(1, int(ttl_seconds))))
            except RedisError as error:  # Redis down or failing: handle the message here
                self._failed("a retry claim", error)
        return True

    def put_buttons(self, recipient: str, payloads: List[str], ttl_seconds: int = BUTTONS_TTL_SECONDS) -> None:
        """Remember the payloads shown to `recipient` for every replica (and locally, for a Redis outage)."""
        self.fallback.put_buttons(recipient, payloads, ttl_seconds)
        if self._available():
            try:
                self.client.set(
                    f"{self.prefix}:buttons:{recipient}", json.dumps(payloads, ensure_ascii=False), ex=ttl_seconds
                )
            except RedisError as error:
                self._failed("storing buttons", error)

    def get_buttons(self, recipient: str) -> Optional[List[str]]:
        """The payloads last shown to `recipient` by any replica, or None."""
        if self._available():
            try:
                raw = self.client.get(f"{self.prefix}:buttons:{recipient}")
                if raw is None:
                    return None
                payloads = json.loads(raw)
                return [str(p) for p in payloads] if isinstance(payloads, list) else None
            except (RedisError, ValueError) as error:  # ValueError: what is stored is not our JSON
                self._failed("reading buttons", error)
        return self.fallback.get_buttons(recipient)

    def drop_buttons(self, recipient: str) -> None:
        """Forget the buttons of `recipient` everywhere."""
        self.fallback.drop_buttons(recipient)
        if self._available():
            try:
                self.client.delete(f"{self.prefix}:buttons:{recipient}")
            except RedisError as error:
                self._failed("forgetting buttons", error)


SharedState = Union[LocalState, RedisState]


def from_env(environ: Optional[Mapping[str, str]] = None) -> SharedState:
    """Redis in production mode (`bot.redis_config`: `FRONTLINE_REDIS_URL` or `FRONTLINE_REDIS_HOST`), else this
    process's memory.

    Raises:
        SettingsError: Redis settings Frontline cannot use.
    """
    settings = redis_settings(environ)
    if settings is None:
        return LocalState()
    client = settings.client(socket_timeout=0.5, socket_connect_timeout=0.5)
    logger.info("WeChat/WeCom channel state (retry claims, buttons) shared in Redis at %s", settings.describe())
    return RedisState(client)
