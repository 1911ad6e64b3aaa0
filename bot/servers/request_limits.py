"""The largest request body each server reads (`settings.yml: servers.request_max_bytes`).

sanic's default is 100 MB on every server, so one request could hold 100 MB of memory before any check of
ours ran (the REST channel's 10,000-character limit looks at a message only once its whole body is parsed).
With `REQUEST_MAX_SIZE` set, sanic answers 413 as soon as it sees a larger `Content-Length`, before reading
the body, and stops reading a chunked body at the limit. For the Rasa server the same number caps a websocket
frame (`WEBSOCKET_MAX_SIZE`) and the widget's socket.io messages (engine.io's `max_http_buffer_size`, 1 MB by
default).

How each default was sized: `docs/security/perimeter.md`.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Mapping, Optional

from bot.settings import SettingsError, load_settings

logger = logging.getLogger(__name__)

SECTION = "servers"
KEY = "request_max_bytes"
# Below this a server could not take even an ordinary request with its headers' worth of JSON.
MIN_BYTES = 4096
DEFAULTS = {"rasa": 262_144, "actions": 16_777_216, "desk": 2_097_152}


@dataclasses.dataclass(frozen=True)
class RequestLimits:
    """The largest request body, in bytes, of each server."""

    rasa: int
    actions: int
    desk: int


def validate(settings: Mapping[str, Any]) -> RequestLimits:
    """Read `servers.request_max_bytes` (each server's default when the key or the section is absent).

    Args:
        settings: the whole settings mapping.

    Returns:
        The limits.

    Raises:
        SettingsError: a value is not a whole number of at least 4096, or names an unknown server.
    """
    section = settings.get(SECTION) or {}
    if not isinstance(section, Mapping):
        raise SettingsError(f"settings: section '{SECTION}' must be a mapping")
    given = section.get(KEY) or {}
    if not isinstance(given, Mapping):
        raise SettingsError(f"settings: '{SECTION}.{KEY}' must map rasa, actions, desk -> bytes")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise SettingsError(f"settings: '{SECTION}.{KEY}.{unknown[0]}': no such server (rasa, actions, desk)")
    values = {}
    for server, default in DEFAULTS.items():
        value = given.get(server, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < MIN_BYTES:
            raise SettingsError(
                f"settings: '{SECTION}.{KEY}.{server}' must be a whole number of bytes >= {MIN_BYTES}, got {value!r}"
            )
        values[server] = value
    return RequestLimits(**values)


def request_limits(settings: Optional[Mapping[str, Any]] = None) -> RequestLimits:
    """The limits of the given settings, or of the settings file."""
    return validate(settings if settings is not None else load_settings())


def apply(app: Any, max_bytes: int) -> None:
    """Make a sanic app refuse request bodies (and websocket frames) over `max_bytes` with 413.

    Call it before the server starts (sanic reads the websocket limit when it starts serving, the body limit
    for each new connection).

    Args:
        app: the sanic app.
        max_bytes: the largest body accepted.
    """
    app.config.REQUEST_MAX_SIZE = max_bytes
    app.config.WEBSOCKET_MAX_SIZE = max_bytes
