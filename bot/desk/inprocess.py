"""A desk app served over real HTTP on a free loopback port inside the running event loop.

`python -m bot desk simulate` drives the desk's own HTTP API from the same process, so the desk's clock, which it
pins per simulated moment (`FRONTLINE_NOW`, `bot.clock`), moves the served desk too; tests serve desk apps the
same way. The start and stop follow sanic 21.12's own sequence for `create_server(return_asyncio_server=True)`
(that of sanic-testing's reusable client): `_startup`, the `before_server_start` listeners (the store is
migrated), the server, the `after_server_start` listeners (the background work, `bot.desk.app`); on leaving,
`before_server_stop`, close, `after_server_stop`.

sanic rewrites its HTTP class from source at each app's start (`sanic.touchup`); the rewritten methods have no
source, so a second start in one process fails unless `Sanic.test_mode` keeps the originals. It is set here:
all it changes besides is that app names may repeat and a router that cannot finalise is not an error, neither of
which happens to the desk's uniquely named apps.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Optional

from sanic import Sanic

from bot.devtools import free_port


@contextlib.asynccontextmanager
async def serve(app: Any, port: Optional[int] = None) -> AsyncIterator[str]:
    """Serve a sanic app (a desk's, or Rasa's in tests) on loopback, on `port` or a free one, in the running loop
    (its listeners run: for a desk the store, the background work, the leader's rounds); yield its base URL
    (`http://127.0.0.1:<port>`)."""
    Sanic.test_mode = True
    loop = asyncio.get_running_loop()
    port = port or free_port()
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
