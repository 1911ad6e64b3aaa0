"""python-socketio's Redis client manager, speaking JSON instead of pickle, swapped on a server Rasa has built.

In production mode the widget channel (`bot.channels.webchat`) makes the socket.io server emit through a Redis
client manager, so that a push from any Rasa replica reaches a widget connected to another one.

- `JsonRedisManager`: python-socketio's `AsyncRedisManager` pickles every message it publishes on its Redis
  channel and unpickles every message it receives there, so anyone who can publish on that Redis (no password,
  a neighbour on the network) runs code in every Rasa replica. This one publishes JSON and hands the listener
  only what decodes as a JSON object: a pickle, or anything else, is dropped with a warning, never unpickled.
- `install()` puts the manager on the server before any client connects.

Why not the public API: python-socketio 5.9 has no serializer option (`AsyncRedisManager._publish` calls
`pickle.dumps`; `AsyncPubSubManager._thread` tries `pickle.loads` on every message that is not already a dict),
so the private `_publish` and `_listen` are overridden; and it takes a manager only as
`AsyncServer(client_manager=…)`, while Rasa's `SocketIOInput.blueprint` builds its `AsyncServer` itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, AsyncIterator, Dict, Optional

from bot.patches.versions import pin

logger = logging.getLogger(__name__)

LISTEN_RETRY_SECONDS = 1.0
LISTEN_RETRY_MAX_SECONDS = 30.0

PIN = pin("python-socketio", "==5.9.0", __name__, recheck=(
    "socketio/server.py Server.__init__ (manager, manager.set_server(self), manager_initialized: the manager "
    "is initialised on first use), rasa/core/channels/socketio.py SocketIOInput.blueprint (does it take a "
    "client manager now?), socketio/asyncio_redis_manager.py (_publish, _listen, _redis_connect, self.redis) "
    "and asyncio_pubsub_manager.py _thread (does a dict from _listen still skip pickle.loads? is there a "
    "JSON option now?)"
))

import socketio  # noqa: E402 - imported after the version check
from redis.exceptions import RedisError  # noqa: E402 - imported after the version check


def decode(raw: Any) -> Optional[Dict[str, Any]]:
    """A message from the Redis channel as the manager's listener takes it, or None when it is not ours.

    Args:
        raw: what Redis delivered (bytes).

    Returns:
        The JSON object with a `method`, or None (a pickle, other bytes, JSON that is not such an object).
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
        message = json.loads(text) if isinstance(text, str) else None
    except (UnicodeDecodeError, ValueError):
        message = None
    return message if isinstance(message, dict) and isinstance(message.get("method"), str) else None


class JsonRedisManager(socketio.AsyncRedisManager):
    """python-socketio's Redis client manager with JSON on the channel (see the module docstring).

    Args:
        url: the Redis URL (`redis://…` or `rediss://…`, password included).
        channel: the Redis channel, the same on every replica.
        redis_options: more keyword arguments for redis-py's `from_url` (TLS files).
    """

    def __init__(self, url: str, channel: str, redis_options: Optional[Dict[str, Any]] = None) -> None:
        PIN.check()
        super().__init__(url, channel=channel, redis_options=redis_options)

    async def _publish(self, data: Dict[str, Any]) -> Any:
        """Publish `data` as JSON (once more on a fresh connection when Redis fails, as python-socketio does)."""
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        for attempt in (1, 2):
            try:
                if attempt == 2:
                    self._redis_connect()
                return await self.redis.publish(self.channel, payload)
            except RedisError as error:
                logger.error("socket.io: cannot publish to Redis (%s)%s", type(error).__name__,
                             "; retrying" if attempt == 1 else "; giving up")
        return None

    async def _listen(self) -> AsyncIterator[Dict[str, Any]]:  # type: ignore[override]
        """The channel's messages that are JSON objects, decoded; anything else dropped (never unpickled).

        An error that is not Redis' own (python-socketio retries those with a back-off) would reach
        `AsyncPubSubManager._thread`, which prints it and listens again at once, for ever: one such error
        repeating is a process at 100% CPU and a flood of tracebacks. It is logged here and the listener starts
        again on a fresh connection after a back-off (`LISTEN_RETRY_SECONDS`, doubling up to
        `LISTEN_RETRY_MAX_SECONDS`)."""
        delay = LISTEN_RETRY_SECONDS
        while True:
            try:
                async for raw in super()._listen():
                    delay = LISTEN_RETRY_SECONDS
                    message = decode(raw)
                    if message is None:
                        logger.warning(
                            "socket.io: a message on the Redis channel that is not ours was dropped (%d bytes)",
                            len(raw) if isinstance(raw, (bytes, bytearray, str)) else 0,
                        )
                        continue
                    yield message
                return
            except Exception as error:  # boundary: python-socketio would spin on it (see above)
                logger.error("socket.io: the Redis listener failed (%s: %s); listening again in %.0f s",
                             type(error).__name__, error, delay)
                logger.debug("socket.io: the Redis listener's error", exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, LISTEN_RETRY_MAX_SECONDS)
                self._redis_connect()

    async def stop(self) -> None:
        """Stop listening (the server is stopping): cancel the listener task python-socketio started when the
        manager was first used, and close its Redis connections."""
        task = getattr(self, "thread", None)
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for closing in (getattr(self, "pubsub", None), getattr(self, "redis", None)):
            if closing is not None:
                try:
                    await closing.close()
                except (RedisError, OSError, RuntimeError):  # closing a connection that is already broken
                    logger.debug("socket.io: closing a Redis connection failed", exc_info=True)


def install(sio: Any, manager: Any) -> None:
    """Make the socket.io server `sio` use `manager`, as if it had been built with it (once).

    Args:
        sio: the `socketio.AsyncServer`, before any client connected.
        manager: the client manager to use, e.g. a `JsonRedisManager`.
    """
    PIN.check()
    if sio.manager is manager:
        return
    manager.set_server(sio)
    sio.manager = manager
