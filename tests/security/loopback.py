"""Clients that come from an address of their own: each attack test uses its own loopback address (127.0.0.0/8
all reaches the servers on 127.0.0.1), so per-address limits count that test's requests alone."""

from __future__ import annotations

import aiohttp
import socketio


def address(n: int) -> str:
    """The loopback address `127.0.0.<n>` (use one per test: 10..250)."""
    return f"127.0.0.{n}"


def http_session(source: str, timeout: float = 60.0) -> aiohttp.ClientSession:
    """An aiohttp session whose connections leave from `source`."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(source, 0), force_close=True),
        timeout=aiohttp.ClientTimeout(total=timeout),
    )


def widget_client(session: aiohttp.ClientSession) -> socketio.AsyncClient:
    """A socket.io client (as the widget) whose connections go through `session`."""
    return socketio.AsyncClient(reconnection=False, http_session=session)
