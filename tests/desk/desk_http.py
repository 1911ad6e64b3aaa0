"""A desk app served over real HTTP inside the test's event loop (its listeners run: the store, the background
work, the leader's rounds)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any, AsyncIterator

from sanic import Sanic

Sanic.test_mode = True  # sanic rewrites its HTTP class once per start; test mode lets it start again


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve a desk app on a free loopback port in the running loop (its listeners run: store, background work,
    the leader's rounds); yield its base URL. The start/stop sequence of sanic-testing's reusable client."""
    loop = asyncio.get_running_loop()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await app._startup()
    await app._server_event("init", "before", loop=loop)
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    await app._server_event("init", "after", loop=loop)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await app._server_event("shutdown", "before", loop=loop)
        server.close()
        await server.wait_closed()
        await app._server_event("shutdown", "after", loop=loop)
