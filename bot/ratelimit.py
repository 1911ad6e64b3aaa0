"""Abuse limits, the one policy: how often a conversation may write, and how often one address may connect a
widget, open a widget conversation or try to sign in to the desk. Counted by the `limits` library.

The settings are the `limits` section of `settings.yml` (validated here; each value is in the library's rate
notation, several limits separated by `;`):

    limits:
      conversation_messages: "20 per 10 seconds; 60 per minute"   # every customer channel, per conversation
      widget_connections_per_address: "60 per minute"               # socket.io connections
      widget_conversations_per_address: "30 per minute; 300 per hour"  # new widget conversations
      login_attempts_per_address: "30 per minute"                   # desk sign-in attempts
      login_failures_per_name: "10 per 15 minutes"                  # failed sign-ins of one agent name
      trusted_proxies: []                                           # CIDRs whose X-Forwarded-For is believed

The issue asks for a token bucket with bursts of 20 and a message a second sustained. `limits` has no token
bucket; the two windows above approximate it (20 in any 10 s window, 60 in any minute). The strategy is the
library's fixed window, which starts at a key's first hit: its moving window keeps every hit as an entry and,
in memory storage, sweeps all entries every 10 ms on a thread (27 ms a sweep for 1,000 chatting customers,
measured), which would take the Rasa server's CPU; fixed-window keys are one counter each and vanish when their
window ends. At a window's edge a caller can get up to twice a window's amount through; no real customer comes
near either.

Storage: this process's memory on one machine; Redis in production mode (the Redis of
`bot.redis_config`, with its password and TLS), so replicas share the counts. A Redis failure lets the request
through (logged; tried again after a pause): losing a customer's message is worse than missing a limit.

Addresses (`client_address`): the peer address, unless the peer is a trusted proxy; then the rightmost hop of
`X-Forwarded-For` that is not a trusted proxy. REST is never limited per address: a company's own backend
calls it for all its customers from one address (its token and the per-conversation limit protect it).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import math
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from bot.settings import SettingsError

logger = logging.getLogger(__name__)

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

# The policies, by their settings key, with their defaults.
CONVERSATION = "conversation_messages"
WIDGET_CONNECTIONS = "widget_connections_per_address"
WIDGET_CONVERSATIONS = "widget_conversations_per_address"
LOGIN_ADDRESS = "login_attempts_per_address"
LOGIN_NAME = "login_failures_per_name"
DEFAULTS: Dict[str, str] = {
    CONVERSATION: "20 per 10 seconds; 60 per minute",
    WIDGET_CONNECTIONS: "60 per minute",
    WIDGET_CONVERSATIONS: "30 per minute; 300 per hour",
    LOGIN_ADDRESS: "30 per minute",
    LOGIN_NAME: "10 per 15 minutes",
}
TRUSTED_PROXIES = "trusted_proxies"
KEY_PREFIX = "frontline"
REDIS_RETRY_SECONDS = 30.0


class TooManyRequests(SanicException):
    """A request over a limit: HTTP 429 with `Retry-After` (whole seconds)."""

    status_code = 429
    quiet = True

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, status_code=429)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


def too_many_requests_response(request: Any, exception: TooManyRequests) -> HTTPResponse:
    """A 429 in sanic's JSON error shape (`{"description", "status", "message"}`) with its `Retry-After` header.

    Register it for `TooManyRequests` on a blueprint: sanic 21.12's own JSON error page drops an exception's
    headers.
    """
    body = {"description": "Too Many Requests", "status": 429, "message": str(exception)}
    return json_response(body, status=429, headers=exception.headers)


@dataclasses.dataclass(frozen=True)
class LimitSettings:
    """The validated `limits` section: each policy's limits, and the trusted proxies."""

    policies: Mapping[str, Tuple[RateLimitItem, ...]]
    trusted_proxies: Tuple[Network, ...] = ()


def _parse(value: Any, key: str) -> Tuple[RateLimitItem, ...]:
    try:
        items = parse_many(value) if isinstance(value, str) else []
    except ValueError:
        items = []
    if not items or any(item.amount < 1 for item in items):
        raise SettingsError(
            f"settings: 'limits.{key}' must be limits like \"20 per 10 seconds; 60 per minute\", got {value!r}"
        )
    return tuple(items)


def validate(settings: Optional[Mapping[str, Any]]) -> LimitSettings:
    """Validate the `limits` section of the settings (a missing section or key takes its default).

    Args:
        settings: the whole settings mapping (as `bot.settings.load_settings()` returns it).

    Returns:
        The limit settings.

    Raises:
        SettingsError: a value is not in the rate notation, or a proxy is not an address or CIDR; the message
            names the key.
    """
    section = (settings or {}).get("limits") or {}
    if not isinstance(section, Mapping):
        raise SettingsError("settings: section 'limits' must be a mapping")
    unknown = set(section) - set(DEFAULTS) - {TRUSTED_PROXIES}
    if unknown:
        raise SettingsError(f"settings: unknown key(s) in 'limits': {', '.join(sorted(map(str, unknown)))}")
    policies = {key: _parse(section.get(key, default), key) for key, default in DEFAULTS.items()}
    proxies = section.get(TRUSTED_PROXIES) or []
    if not isinstance(proxies, list):
        raise SettingsError("settings: 'limits.trusted_proxies' must be a list of addresses or CIDRs")
    networks = []
    for proxy in proxies:
        try:
            networks.append(ipaddress.ip_network(str(proxy), strict=False))
        except ValueError as error:
            raise SettingsError(f"settings: 'limits.trusted_proxies': {proxy!r} is not an address or CIDR") from error
    return LimitSettings(policies=policies, trusted_proxies=tuple(networks))


def load(settings: Optional[Mapping[str, Any]] = None) -> LimitSettings:
    """Validate the given settings, or load and validate the settings file."""
    if settings is None:
        from bot.settings import load_settings

        settings = load_settings()
    return validate(settings)


# --- addresses ---------------------------------------------------------------------------------------------------


def _ip(text: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_address(peer: str, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The address to count a browser's requests under.

    Args:
        peer: the address of the TCP peer.
        forwarded_for: the values of every `X-Forwarded-For` header, in order.
        trusted: the trusted proxies (`limits.trusted_proxies`).

    Returns:
        The peer, unless the peer is a trusted proxy; then the rightmost hop of `X-Forwarded-For` that is not a
        trusted proxy (or the leftmost hop when all are). A hop that is not an address ends the walk at the last
        trusted one: what is left of it was written by the client.
    """
    address = _ip(peer)
    if address is None or not any(address in network for network in trusted):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            break
        address = ip
        if not any(ip in network for network in trusted):
            break
    return str(address)


def request_address(request: Any, trusted: Sequence[Network]) -> str:
    """`client_address` of a sanic request (its peer `ip` and its `X-Forwarded-For` headers)."""
    return client_address(request.ip or "", request.headers.getall("x-forwarded-for", []), trusted)


# --- the limiter -------------------------------------------------------------------------------------------------


def storage_uri(environ: Optional[Mapping[str, str]] = None) -> Tuple[str, Dict[str, Any]]:
    """Where the counts live, and the connection's options: production mode's Redis (`bot.redis_config`, with its
    password and TLS), else memory."""
    from bot.redis_config import redis_settings

    settings = redis_settings(environ)
    if settings is None:
        return "memory://", {}
    return settings.url, settings.options()


class Limiter:
    """Counts hits per policy and key; says when a caller is over a limit and for how long.

    Args:
        settings: the limit settings.
        uri: the `limits` storage (`memory://`, `redis://host:port/db`).
        clock: wall-clock seconds (tests inject one to follow Redis' clock).
    """

    def __init__(
        self,
        settings: LimitSettings,
        uri: str = "memory://",
        clock: Callable[[], float] = time.time,
        storage_options: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.settings = settings
        self.uri = uri
        options: Dict[str, Any] = dict(storage_options or {})
        if not uri.startswith("memory"):
            # called on the event loop (like Rasa's Redis lock store and the channels' shared state): short timeouts
            options.update(socket_timeout=0.5, socket_connect_timeout=0.5)
        self.storage = storage_from_string(uri, **options)  # the strategy holds only a weak reference to it
        self.strategy = FixedWindowRateLimiter(self.storage)
        self._clock = clock
        self._down_until = 0.0

    @classmethod
    def from_settings(
        cls, settings: Optional[Mapping[str, Any]] = None, environ: Optional[Mapping[str, str]] = None
    ) -> Limiter:
        """A limiter for the `limits` settings (`settings.yml` when None), counting where `storage_uri` says."""
        uri, options = storage_uri(environ)
        if not uri.startswith("memory"):
            logger.info("abuse limits counted in Redis, shared by every replica")
        return cls(load(settings), uri, storage_options=options)

    @property
    def trusted_proxies(self) -> Tuple[Network, ...]:
        """The trusted proxies (`limits.trusted_proxies`)."""
        return self.settings.trusted_proxies

    def _items(self, policy: str) -> Tuple[RateLimitItem, ...]:
        return self.settings.policies[policy]

    def _guard(self, what: str, action: Callable[[], Any], fallback: Any) -> Any:
        """Run a storage call; on a storage failure, log, let the caller through and retry after a pause."""
        if self._clock() < self._down_until:
            return fallback
        try:
            return action()
        except RedisError as error:  # the counts' storage failed: a failing Redis must lose no message
            logger.warning(
                "abuse limits: the counts' storage failed on %s (%s); not limiting for %.0f s",
                what, type(error).__name__, REDIS_RETRY_SECONDS,
            )
            self._down_until = self._clock() + REDIS_RETRY_SECONDS
            return fallback

    def _retry_after(self, policy: str, key: Tuple[str, ...], items: List[RateLimitItem]) -> int:
        now = self._clock()
        resets = [self._guard("a window", lambda i=item: self.strategy.get_window_stats(i, KEY_PREFIX, policy, *key)[0], now)
                  for item in items]
        return max(1, math.ceil(max(resets) - now))

    def hit(self, policy: str, *key: str) -> Optional[int]:
        """Count one hit of `key` under `policy`.

        Args:
            policy: one of the policies (`CONVERSATION`, `WIDGET_CONNECTIONS`, …).
            *key: what is counted (a channel and a conversation id, an address, an agent name).

        Returns:
            None when the hit is within every limit of the policy; else the seconds until it would be (the hit
            still counts: a flood keeps its sender out until the window ends).
        """
        over = [
            item for item in self._items(policy)
            if not self._guard("a hit", lambda i=item: self.strategy.hit(i, KEY_PREFIX, policy, *key), True)
        ]
        return self._retry_after(policy, key, over) if over else None

    def test(self, policy: str, *key: str) -> Optional[int]:
        """Like `hit`, without counting: None when one more hit would be within the limits, else the wait."""
        over = [
            item for item in self._items(policy)
            if not self._guard("a check", lambda i=item: self.strategy.test(i, KEY_PREFIX, policy, *key), True)
        ]
        return self._retry_after(policy, key, over) if over else None
