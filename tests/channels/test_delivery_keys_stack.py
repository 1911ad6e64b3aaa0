"""Delivery keys and widget replay on the real stack: the desk's agent replies posted through Rasa's
`POST /conversations/{id}/tracker/events?execute_side_effects=true&output_channel=…`, the real channels, the
fake WeChat API (the real protocol on a loopback port) and a python-socketio client speaking like rasa-webchat.

- the same `delivery_key` posted twice: one customer-service message, one `bot_uttered`; another key is sent;
- a failed send records nothing: the retry with the same key is sent;
- a reply posted while the widget is closed arrives once when the session reconnects, not on the next reconnect,
  and also after a Rasa restart in between (the missed record and the tracker are on disk, not in memory).

The module runs its own stack (WeChat's API pointed at the fake one), restarted once on the same `var/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import tempfile
import uuid
from typing import Any, AsyncIterator, Dict, Iterator, List

import aiohttp
import pytest
import socketio

from bot.devtools import free_port
from bot.run import Ports, Stack, latest_model, start
from bot.settings import repo_root
from fake_wechat_api import FakeWeChatApi

pytestmark = pytest.mark.stack


class StackHolder:
    """This module's stack, which a test may restart on the same `var/`."""

    def __init__(self, var: pathlib.Path, env: Dict[str, str]) -> None:
        self.var = var
        self.env = env
        self.stack = self._start()

    def _start(self) -> Stack:
        model = latest_model(repo_root())
        if model is None:
            pytest.fail("no trained model under models/: run `make train` first")
        return start(
            root=repo_root(), var=self.var, ports=Ports(rasa=free_port(), actions=free_port(), desk=free_port()),
            model=model, extra_env=self.env, log_dir=self.var / "logs",
        )

    def restart(self) -> None:
        self.stack.stop()
        self.stack = self._start()


@pytest.fixture(scope="module")
def wechat_api(stack_extra_env: Dict[str, str]) -> Iterator[FakeWeChatApi]:
    with FakeWeChatApi(app_id=stack_extra_env["WECHAT_APP_ID"], app_secret=stack_extra_env["WECHAT_APP_SECRET"]) as api:
        yield api


@pytest.fixture(scope="module")
def holder(stack_extra_env: Dict[str, str], wechat_api: FakeWeChatApi) -> Iterator[StackHolder]:
    with tempfile.TemporaryDirectory(prefix="frontline-keys-") as tmp:
        running = StackHolder(pathlib.Path(tmp), {**stack_extra_env, "WECHAT_API_BASE": wechat_api.base_url})
        try:
            yield running
        finally:
            running.stack.stop()


async def post_reply(stack: Stack, conversation_id: str, channel: str, text: str, key: str) -> aiohttp.ClientResponse:
    """Post an agent reply the way the desk does (`bot/desk/rasa_client.py`)."""
    event = {"event": "bot", "text": text, "metadata": {"agent": "alice", "delivery_key": key}}
    params = {"execute_side_effects": "true", "output_channel": channel, "token": stack.token}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        async with http.post(
            f"{stack.rasa_url}/conversations/{conversation_id}/tracker/events", params=params, json=[event]
        ) as response:
            await response.read()
            return response


async def bot_texts(stack: Stack, conversation_id: str) -> List[str]:
    params = {"token": stack.token, "include_events": "ALL"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack.rasa_url}/conversations/{conversation_id}/tracker", params=params) as response:
            assert response.status == 200, await response.text()
            return [e.get("text") for e in (await response.json())["events"] if e["event"] == "bot"]


class Widget:
    """A socket.io client that talks like rasa-webchat 1.0.1 (session_request, session_confirm, bot_uttered)."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.confirmed: asyncio.Queue = asyncio.Queue()
        self.bot: asyncio.Queue = asyncio.Queue()
        self.sio.on("session_confirm", self.confirmed.put)
        self.sio.on("bot_uttered", self.bot.put)

    async def open(self, url: str, session_id: Any = None) -> str:
        await self.sio.connect(url, socketio_path="/socket.io", transports=["websocket"])
        await self.sio.emit("session_request", {"session_id": session_id})
        return await asyncio.wait_for(self.confirmed.get(), 10)

    async def received(self, expected: int, quiet: float = 1.5) -> List[str]:
        """The `bot_uttered` texts: `expected` of them (waiting up to 20 s each on a busy machine), then any more
        that come before `quiet` seconds pass without one."""
        texts = []
        while True:
            wait = 20.0 if len(texts) < expected else quiet
            try:
                texts.append((await asyncio.wait_for(self.bot.get(), wait))["text"])
            except asyncio.TimeoutError:
                return texts


async def closed(client: Widget) -> None:
    """Close the widget, and give the server a moment to see the disconnect (a tab closed a moment ago may
    still count as open: docs/reliability.md, "Limits")."""
    await client.sio.disconnect()
    await asyncio.sleep(1.0)


@contextlib.asynccontextmanager
async def widget(url: str, session_id: Any = None) -> AsyncIterator[tuple]:
    client = Widget()
    try:
        yield client, await client.open(url, session_id)
    finally:
        await client.sio.disconnect()


async def test_wechat_sends_a_key_once_and_a_failed_send_can_be_retried(
    holder: StackHolder, wechat_api: FakeWeChatApi
) -> None:
    stack = holder.stack
    conversation = f"wechat:oKeys{uuid.uuid4().hex[:16]}"
    key = f"desk-T{uuid.uuid4().hex[:6]}-1"
    before = len(wechat_api.sent)
    for _ in range(2):
        response = await post_reply(stack, conversation, "wechat", "您好，退款已为您加急。", key)
        assert response.status == 200
    await asyncio.sleep(0.5)
    assert wechat_api.texts()[before:] == ["您好，退款已为您加急。"]

    await post_reply(stack, conversation, "wechat", "还有什么可以帮您？", f"{key}-other")
    assert wechat_api.texts()[before:] == ["您好，退款已为您加急。", "还有什么可以帮您？"]

    # the API refuses (45015, the 48-hour window): nothing recorded, so the desk's retry with the key is sent
    wechat_api.fail_next("send", 45015)
    failed_key = f"desk-T{uuid.uuid4().hex[:6]}-2"
    refused = await post_reply(stack, conversation, "wechat", "请问还在吗？", failed_key)
    assert refused.status == 500
    retried = await post_reply(stack, conversation, "wechat", "请问还在吗？", failed_key)
    assert retried.status == 200
    again = await post_reply(stack, conversation, "wechat", "请问还在吗？", failed_key)
    assert again.status == 200
    assert wechat_api.texts()[before:] == ["您好，退款已为您加急。", "还有什么可以帮您？", "请问还在吗？"]


async def test_widget_gets_one_bot_uttered_per_key(holder: StackHolder) -> None:
    stack = holder.stack
    async with widget(stack.rasa_url) as (client, session_id):
        conversation = f"socketio:{session_id}"
        key = f"desk-T{uuid.uuid4().hex[:6]}-1"
        for _ in range(2):
            assert (await post_reply(stack, conversation, "socketio", "您好，我是客服小李。", key)).status == 200
        assert (await post_reply(stack, conversation, "socketio", "请稍等。", f"{key}-b")).status == 200
        assert await client.received(2) == ["您好，我是客服小李。", "请稍等。"]


async def test_a_reply_sent_while_the_widget_is_closed_is_replayed_once(holder: StackHolder) -> None:
    stack = holder.stack
    async with widget(stack.rasa_url) as (client, session_id):
        await closed(client)  # the customer closes the tab
    conversation = f"socketio:{session_id}"
    key = f"desk-T{uuid.uuid4().hex[:6]}-1"
    assert (await post_reply(stack, conversation, "socketio", "您的退款已到账，请查收。", key)).status == 200
    assert (await post_reply(stack, conversation, "socketio", "您的退款已到账，请查收。", key)).status == 200

    async with widget(stack.rasa_url, session_id) as (client, again):
        assert again == session_id
        assert await client.received(1) == ["您的退款已到账，请查收。"]
        # while the widget is open, a new reply arrives directly, and nothing is replayed later
        assert (await post_reply(stack, conversation, "socketio", "还有别的问题吗？", f"{key}-b")).status == 200
        assert await client.received(1) == ["还有别的问题吗？"]
        await closed(client)
    async with widget(stack.rasa_url, session_id) as (client, _):
        assert await client.received(0) == []
    assert (await bot_texts(stack, conversation)).count("您的退款已到账，请查收。") >= 1


async def test_a_missed_reply_survives_a_rasa_restart(holder: StackHolder) -> None:
    async with widget(holder.stack.rasa_url) as (client, session_id):
        await closed(client)
    conversation = f"socketio:{session_id}"
    key = f"desk-T{uuid.uuid4().hex[:6]}-1"
    assert (await post_reply(holder.stack, conversation, "socketio", "工单已处理完毕。", key)).status == 200
    await asyncio.get_running_loop().run_in_executor(None, holder.restart)
    async with widget(holder.stack.rasa_url, session_id) as (client, again):
        assert again == session_id
        assert await client.received(1) == ["工单已处理完毕。"]
        await closed(client)
    # and the key is still known as sent: the desk's resend after the restart sends nothing
    async with widget(holder.stack.rasa_url, session_id) as (client, _):
        assert (await post_reply(holder.stack, conversation, "socketio", "工单已处理完毕。", key)).status == 200
        assert await client.received(0) == []
