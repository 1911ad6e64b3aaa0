"""Widget replay across two Rasa replicas sharing the real Redis (socket.io pushes, delivery keys, presence):
a reply sent through replica A to a widget connected to replica B reaches it and is not counted as missed; a
reply sent through A while the widget is closed is replayed by B from the (shared) tracker store, once.

Each replica is Rasa's own app with the widget channel (`widget_harness.channel_server`), both in this process,
the tracker store one Rasa `InMemoryTrackerStore` standing for the shared database.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any, AsyncIterator, List

import pytest
import socketio
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered
from rasa.core.tracker_store import InMemoryTrackerStore

from widget_harness import channel_server

pytestmark = pytest.mark.redis


class Widget:
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

    async def received(self, quiet: float = 1.0) -> List[str]:
        texts = []
        while True:
            try:
                texts.append((await asyncio.wait_for(self.bot.get(), quiet))["text"])
            except asyncio.TimeoutError:
                return texts


@contextlib.asynccontextmanager
async def widget(url: str, session_id: Any = None) -> AsyncIterator[tuple]:
    client = Widget()
    try:
        yield client, await client.open(url, session_id)
    finally:
        await client.sio.disconnect()


async def agent_reply(replica: Any, store: InMemoryTrackerStore, conversation: str, text: str, key: str) -> None:
    """What Rasa's tracker/events endpoint does on `replica`: send through its output channel, then save."""
    event = BotUttered(text, metadata={"agent": "alice", "delivery_key": key})
    tracker = await store.get_or_create_tracker(conversation)
    tracker.update(event)
    await replica.channel.get_output_channel().send_response(conversation, event.message())
    await store.save(tracker)


async def test_replicas_share_presence_and_replay_from_the_tracker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTLINE_REDIS_URL", "redis://127.0.0.1:6379/1")
    store = InMemoryTrackerStore(Domain.empty())
    async with channel_server(monkeypatch) as replica_a, channel_server(monkeypatch) as replica_b:
        for replica in (replica_a, replica_b):
            replica.agent.tracker_store = store
        key = f"desk-T{uuid.uuid4().hex[:6]}"

        async with widget(replica_b.url) as (client, session_id):
            conversation = f"socketio:{session_id}"
            await agent_reply(replica_a, store, conversation, "您好，我是客服小李。", f"{key}-1")
            assert await client.received() == ["您好，我是客服小李。"]  # through Redis, from the other replica
        assert replica_a.channel.keys.missed(conversation) == []  # B held the socket: nothing missed

        await asyncio.sleep(0.2)  # B has seen the disconnect
        await agent_reply(replica_a, store, conversation, "退款已到账。", f"{key}-2")
        await agent_reply(replica_a, store, conversation, "退款已到账。", f"{key}-2")  # the desk's resend
        assert replica_b.channel.keys.missed(conversation) == [f"{key}-2"]

        async with widget(replica_b.url, session_id) as (client, again):
            assert again == session_id
            assert await client.received() == ["退款已到账。"]
        async with widget(replica_a.url, session_id) as (client, _):
            assert await client.received() == []
        assert replica_a.channel.keys.missed(conversation) == []
