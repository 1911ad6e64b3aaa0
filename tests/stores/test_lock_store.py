"""The Redis lock store when Redis goes away at the end of a turn: the turn is not failed (its events are stored;
REST would answer 500 and the caller store the message twice), and the lock is released once Redis is back.
Real Redis behind a proxy the test cuts (`tests/faults/proxy.py`)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid

import pytest

from bot.lock_store import RedisLockStore
from tests.faults.proxy import CuttableProxy


def redis_available() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
        return True
    except OSError:
        return False


pytestmark = [pytest.mark.redis, pytest.mark.skipif(not redis_available(), reason="needs Redis on 127.0.0.1:6379")]


async def test_a_lock_whose_release_meets_redis_cut_is_released_when_redis_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = CuttableProxy(("127.0.0.1", 6379)).start()
    monkeypatch.delenv("FRONTLINE_REDIS_URL", raising=False)
    monkeypatch.setenv("FRONTLINE_REDIS_HOST", "127.0.0.1")
    monkeypatch.setenv("FRONTLINE_REDIS_PORT", str(proxy.port))
    store = RedisLockStore()
    conversation = f"rest:lock-{uuid.uuid4().hex[:8]}"
    try:
        async with store.lock(conversation):
            assert store.get_lock(conversation) is not None  # the turn holds its ticket
            proxy.cut()  # Redis goes away before the turn releases it: leaving the block must not raise
        proxy.restore()
        deadline = time.monotonic() + 10
        while store.get_lock(conversation) is not None:
            assert time.monotonic() < deadline, "the lock was never released"
            await asyncio.sleep(0.2)
        async with store.lock(conversation, wait_time_in_seconds=0.1):  # the next turn goes at once
            pass
    finally:
        proxy.close()
