"""A guard for sanic 21.12's HTTP/1.1 request framing, installed in every server of ours.

Sanic 21.12.2 (the version Rasa 3.6 pins) takes `Content-Length` as `int(...)` without more checks:

- a negative value (`Content-Length: -1`) makes its body reader loop forever: one request freezes the whole
  server, every other customer, every endpoint and the health check, at 100% CPU;
- a value that is not a number (`Content-Length: abc`) escapes as a `ValueError` and gets a 500.

The Rasa server takes WeChat's and WeCom's callbacks from the internet, so one such request could stop the
assistant. `install()` makes sanic's servers in the process use `GuardedHttp`, its connection handler with
the header parser checked, so that both get a 400 and the connection is closed, as newer sanic releases do. It
is idempotent; the channels (in the Rasa server), the action server's launcher and the desk call it when they
set up.

Why not the public API: sanic 21.12 has no hook between parsing a request header and reading its body, and its
server builds connections from the module global `sanic.server.protocols.http_protocol.Http`.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.patches.versions import pin

PIN = pin("sanic", "==21.12.*", __name__, recheck=(
    "sanic/http.py (Http.http1_request_header, its int() of Content-Length, request_bytes_left, __touchup__) and "
    "sanic/server/protocols/http_protocol.py (the module global Http its connections are built from); if the new "
    "sanic answers a negative or non-numeric Content-Length with a 400 itself, drop this patch"
))

from sanic.exceptions import InvalidUsage  # noqa: E402 - imported after the version check
from sanic.http import Http  # noqa: E402 - imported after the version check

logger = logging.getLogger(__name__)


def check_framing(http: Any) -> None:
    """Refuse a request whose body length, as sanic parsed it, is negative.

    Args:
        http: sanic's `Http` state of the connection, after its request header was parsed.

    Raises:
        InvalidUsage: the `Content-Length` is negative (the connection will be closed).
    """
    if http.request_bytes_left is not None and http.request_bytes_left < 0:
        _no_body(http)
        raise InvalidUsage("Bad Request: Content-Length must not be negative")


def _no_body(http: Any) -> None:
    """Answer the error without reading a body (sanic drains a request's body after an error response, and its
    reader never ends on a negative length), then close the connection."""
    http.request_body = None
    http.request_bytes_left = http.request_bytes = 0
    http.keep_alive = False


class GuardedHttp(Http):
    """sanic's HTTP/1.1 connection state with `Content-Length` checked after the request header is parsed."""

    # sanic re-compiles the methods its `Http` lists in `__touchup__` from their source when a server starts;
    # this subclass lists none, so its override runs as written and calls the base's (touched-up) parser.
    async def http1_request_header(self) -> None:
        """Parse the request header as sanic does; refuse a negative or non-numeric `Content-Length`."""
        try:
            await Http.http1_request_header(self)
        except ValueError:
            # the one unguarded conversion in sanic's header parser: int() of Content-Length
            _no_body(self)
            raise InvalidUsage("Bad Request: Content-Length must be a number") from None
        check_framing(self)


def install() -> None:
    """Make sanic's servers in this process use `GuardedHttp` (once; see the module docstring)."""
    from sanic.server.protocols import http_protocol

    PIN.check()
    if http_protocol.Http is not GuardedHttp:
        http_protocol.Http = GuardedHttp
        logger.debug("sanic request framing guard installed")
