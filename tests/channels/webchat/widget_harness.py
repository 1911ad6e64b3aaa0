"""Harness for the widget tests: a real Rasa sanic app serving the widget channel, with a fake agent.

`configure_app` (rasa/core/run.py) builds the same app `rasa run` builds and registers the channel exactly as
Rasa does; only `app.ctx.agent` is a fake whose `handle_message` records each `UserMessage` and answers
through the message's own output channel, like a model would. The server listens on a free loopback port in
the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any, AsyncIterator, Callable, List, Optional

import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.desk.inprocess import serve
from bot.devtools import free_port

SECRET = "widget-test-secret-0123456789abcdef"
# The widget session secret (`FRONTLINE_SESSION_SECRET`): session ids the channel issues are signed with it.
SESSION_SECRET = "widget-test-session-secret-0123456789abcdef"

Sanic.test_mode = True  # several apps with the same name in one test process


@dataclasses.dataclass
class FakeAgent:
    """Stands in for `rasa.core.agent.Agent`: records messages and answers `reply(text)` on their channel (through
    `send_response` with the conversation id, as Rasa's processor does)."""

    reply: Optional[Callable[[str], str]] = None
    messages: List[UserMessage] = dataclasses.field(default_factory=list)
    arrived: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    async def handle_message(self, message: UserMessage) -> Any:
        self.messages.append(message)
        self.arrived.set()
        if self.reply is not None:
            await message.output_channel.send_response(message.sender_id, {"text": self.reply(message.text or "")})
        return None

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        """Wait until `count` messages have arrived."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.messages) < count:
            self.arrived.clear()
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"expected {count} messages, got {len(self.messages)}")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)


@dataclasses.dataclass
class ChannelServer:
    """A running Rasa app with the widget channel."""

    url: str
    agent: FakeAgent
    channel: Any
    app: Sanic


def faq_reply(text: str) -> str:
    """A stand-in FAQ answer in the customer's script."""
    if "退款" in text:
        return "退款一般在审核通过后3到7个工作日内原路退回。"
    return f"收到：{text}"


@contextlib.asynccontextmanager
async def channel_server(
    monkeypatch: pytest.MonkeyPatch, secret: Optional[str] = SECRET, cors: Optional[str] = None
) -> AsyncIterator[ChannelServer]:
    """Start Rasa's app with `bot.channels.webchat.WebchatInput` built from credentials like Rasa does."""
    from rasa.core import run

    monkeypatch.setenv("FRONTLINE_SESSION_SECRET", SESSION_SECRET)
    if secret is None:
        monkeypatch.delenv("FRONTLINE_IDENTITY_SECRET", raising=False)
    else:
        monkeypatch.setenv("FRONTLINE_IDENTITY_SECRET", secret)
    channel = run._create_single_channel(
        "bot.channels.webchat.WebchatInput",
        {
            "user_message_evt": "user_uttered",
            "bot_message_evt": "bot_uttered",
            "session_persistence": True,
            "metadata_key": "customData",
        },
    )
    app = run.configure_app([channel], cors=cors, enable_api=False, port=0)
    agent = FakeAgent(reply=faq_reply)
    app.ctx.agent = agent
    async with serve(app, free_port()) as url:
        yield ChannelServer(url=url, agent=agent, channel=channel, app=app)
