"""Fixtures for the WeChat / WeCom channel tests: the fake API, real servers and an HTTP client."""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable, Iterator, List

import aiohttp
import pytest
from rasa.core.channels.channel import InputChannel

from fake_wechat_api import FakeWeChatApi
from wechat_helpers import APP_ID, APP_SECRET, CORP_ID, CORP_SECRET, RunningServer

@pytest.fixture
def fake_api() -> Iterator[FakeWeChatApi]:
    """The fake WeChat/WeCom API on a loopback port."""
    with FakeWeChatApi(app_id=APP_ID, app_secret=APP_SECRET, corp_id=CORP_ID, corp_secret=CORP_SECRET) as api:
        yield api


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[InputChannel, Any], Any]]:
    """Start real servers for (channel, assistant) pairs; all are stopped after the test."""
    servers: List[RunningServer] = []

    async def _serve(channel: InputChannel, assistant: Any) -> RunningServer:
        server = RunningServer(channel, assistant)
        await server.start()
        servers.append(server)
        return server

    yield _serve
    for server in servers:
        await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session."""
    async with aiohttp.ClientSession() as session:
        yield session
