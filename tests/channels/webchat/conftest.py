"""Fixtures for the widget tests (the harness is in `widget_harness.py`)."""

from __future__ import annotations

from typing import AsyncIterator

import pytest
from widget_harness import ChannelServer, channel_server


@pytest.fixture
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ChannelServer]:
    """A running Rasa app with the widget channel and the test identity secret."""
    async with channel_server(monkeypatch) as running:
        yield running
