"""python-socketio's client manager, swapped on a socket.io server Rasa has built.

In production mode the widget channel (`bot.channels.webchat`) makes the socket.io server emit through a Redis
client manager, so that a push from any Rasa replica reaches a widget connected to another one. `install()`
puts that manager on the server before any client connects.

Why not the public API: python-socketio takes the manager only as `AsyncServer(client_manager=…)`, and Rasa's
`SocketIOInput.blueprint` builds its `AsyncServer` itself without one.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.patches.versions import pin

logger = logging.getLogger(__name__)

PIN = pin("python-socketio", "==5.9.0", __name__, recheck=(
    "socketio/server.py Server.__init__ (manager, manager.set_server(self), manager_initialized: the manager "
    "is initialised on first use) and rasa/core/channels/socketio.py SocketIOInput.blueprint (does it take a "
    "client manager now?)"
))


def install(sio: Any, manager: Any) -> None:
    """Make the socket.io server `sio` use `manager`, as if it had been built with it (once).

    Args:
        sio: the `socketio.AsyncServer`, before any client connected.
        manager: the client manager to use, e.g. a `socketio.AsyncRedisManager`.
    """
    PIN.check()
    if sio.manager is manager:
        return
    manager.set_server(sio)
    sio.manager = manager
