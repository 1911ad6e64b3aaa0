"""The JSON Redis client manager's listener on the real Redis: an error that is not Redis' own is logged and
listened through after a back-off (python-socketio's own loop would retry it at once, for ever: 100% CPU and a
flood of tracebacks), and `stop()` ends the listener task a server started."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, AsyncIterator, Dict, List

import pytest
import redis.asyncio as aioredis
import socketio

from bot.patches import socketio_manager as patch

pytestmark = pytest.mark.redis

URL = "redis://127.0.0.1:6379/1"


async def test_an_unexpected_listener_error_is_retried_after_a_back_off_not_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patch, "LISTEN_RETRY_SECONDS", 0.3)
    channel = f"frontline-test-{uuid.uuid4().hex}"
    manager = patch.JsonRedisManager(URL, channel)
    starts: List[float] = []
    original = socketio.AsyncRedisManager._listen

    async def flaky(self: Any) -> AsyncIterator[Any]:
        starts.append(time.monotonic())
        if len(starts) == 1:  # what a second reader on the same connection gets from asyncio's streams
            raise RuntimeError("readuntil() called while another coroutine is already waiting for incoming data")
        async for raw in original(self):
            yield raw

    monkeypatch.setattr(socketio.AsyncRedisManager, "_listen", flaky)
    received: List[Dict[str, Any]] = []

    async def first_message() -> None:
        async for message in manager._listen():
            received.append(message)
            return

    listening = asyncio.get_running_loop().create_task(first_message())
    publisher = aioredis.Redis.from_url(URL)
    try:
        deadline = time.monotonic() + 10
        while not listening.done() and time.monotonic() < deadline:
            await publisher.publish(channel, json.dumps({"method": "emit", "event": "bot_uttered"}))
            await asyncio.sleep(0.1)
        await asyncio.wait_for(listening, 1)  # raises what the listener raised
    finally:
        listening.cancel()
        await publisher.close()
        await manager.stop()
    assert received == [{"method": "emit", "event": "bot_uttered"}]
    assert len(starts) == 2 and starts[1] - starts[0] >= 0.3  # once more, after the back-off


async def test_stop_ends_the_listener_task() -> None:
    manager = patch.JsonRedisManager(URL, f"frontline-test-{uuid.uuid4().hex}")
    manager.thread = asyncio.get_running_loop().create_task(manager._thread())  # as `initialize()` starts it
    await asyncio.sleep(0.2)
    await manager.stop()
    assert manager.thread.done()
