"""The widget's socket.io channel over a real socket (python-socketio AsyncClient → Rasa's sanic app)."""

from __future__ import annotations

import asyncio
import contextlib
import types
import uuid
from typing import Any, AsyncIterator

import pytest
import socketio
import yaml
from rasa.core.channels.socketio import SocketIOOutput

from bot import identity
from bot.channels.webchat import WebchatInput, WebchatOutput
from bot.channels.webchat_sessions import SessionIds
from bot.conversations import ForeignConversation
from bot.settings import repo_root

from widget_harness import SECRET, SESSION_SECRET, ChannelServer, channel_server

SESSIONS = SessionIds(SESSION_SECRET)


def valid_session_id(value: Any) -> bool:
    """True for a session id the test channel issued."""
    return SESSIONS.valid(value)


class WidgetClient:
    """Talks to the channel the way rasa-webchat 1.0.1 does (session_request, user_uttered, bot_uttered)."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.confirmed: asyncio.Queue = asyncio.Queue()
        self.bot: asyncio.Queue = asyncio.Queue()
        self.sio.on("session_confirm", self._on_confirm)
        self.sio.on("bot_uttered", self._on_bot)

    async def _on_confirm(self, data: Any) -> None:
        await self.confirmed.put(data)

    async def _on_bot(self, data: Any) -> None:
        await self.bot.put(data)

    async def start(self, url: str, session_id: Any = None) -> str:
        await self.sio.connect(url, socketio_path="/socket.io")
        await self.sio.emit("session_request", {"session_id": session_id})
        return await asyncio.wait_for(self.confirmed.get(), 5)

    async def say(self, session_id: str, message: str, custom_data: Any = None) -> None:
        payload = {"message": message, "session_id": session_id}
        if custom_data is not None:
            payload["customData"] = custom_data
        await self.sio.emit("user_uttered", payload)

    async def next_bot(self, timeout: float = 5.0) -> Any:
        return await asyncio.wait_for(self.bot.get(), timeout)


@contextlib.asynccontextmanager
async def widget(url: str) -> AsyncIterator[WidgetClient]:
    client = WidgetClient()
    try:
        yield client
    finally:
        await client.sio.disconnect()


def test_channel_keeps_the_socketio_name_and_defaults() -> None:
    channel = WebchatInput.from_credentials({})
    assert WebchatInput.name() == "socketio"
    assert channel.session_persistence is True
    assert channel.metadata_key == "customData"
    assert channel.url_prefix() == "socketio"


def test_credentials_yml_registers_the_widget_channel() -> None:
    """The project's credentials.yml mounts WebchatInput (and not also the built-in socketio)."""
    credentials = yaml.safe_load((repo_root() / "credentials.yml").read_text(encoding="utf-8"))
    assert "socketio" not in credentials
    section = credentials["bot.channels.webchat.WebchatInput"]
    assert section == {
        "user_message_evt": "user_uttered",
        "bot_message_evt": "bot_uttered",
        "session_persistence": True,
        "metadata_key": "customData",
        "max_message_chars": 10000,
    }
    assert WebchatInput.from_credentials(section).max_message_chars == 10000
    assert WebchatInput.from_credentials({"max_message_chars": 50}).max_message_chars == 50
    assert WebchatInput.from_credentials({}).max_message_chars == 10000


def test_only_issued_session_ids_are_valid() -> None:
    issued = SESSIONS.issue()
    random_part, signature = issued.split(".")
    assert SESSIONS.valid(issued) and issued != SESSIONS.issue()
    forged = f"{random_part}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}"
    other_server = SessionIds("another-server-secret-0123456789abcdef").issue()
    for value in (uuid.uuid4().hex, "oWeChatOpenId0123456789abcd", forged, other_server, f"{uuid.uuid4().hex}.",
                  "abc", None, "../../etc", "a" * 129, issued + "x"):
        assert not SESSIONS.valid(value), value


async def test_output_channel_socketio_resolves_to_the_widget_channel(server: ChannelServer) -> None:
    """What `POST /conversations/{id}/tracker/events?output_channel=socketio` picks (rasa/server.py)."""
    from rasa.server import _get_output_channel

    request = types.SimpleNamespace(args={"output_channel": "socketio"}, app=server.app)
    output = _get_output_channel(request, None)
    assert isinstance(output, WebchatOutput) and isinstance(output, SocketIOOutput)
    assert output.sio is server.channel.sio
    with pytest.raises(ForeignConversation):  # it sends to widget conversations only
        await output.send_response("wechat:oVictimOpenId0123456789", {"text": "x"})


async def test_health_route_is_served(server: ChannelServer) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/webhooks/socketio/") as response:
            assert response.status == 200
            assert await response.json() == {"status": "ok"}


async def test_message_round_trip_with_chinese_answer(server: ChannelServer) -> None:
    async with widget(server.url) as client:
        session_id = await client.start(server.url)
        assert valid_session_id(session_id)
        await client.say(session_id, "退款多久到账？", {"source": "demo"})
        assert await client.next_bot() == {"text": "退款一般在审核通过后3到7个工作日内原路退回。"}
    message = server.agent.messages[-1]
    assert message.sender_id == f"socketio:{session_id}"
    assert message.input_channel == "socketio"
    assert message.text == "退款多久到账？"
    assert message.metadata == {"source": "demo"}


async def test_forged_claims_are_stripped_before_the_assistant_sees_them(server: ChannelServer) -> None:
    forged_token = identity.sign_identity({"customer_id": "c-1", "tier": "vip"}, "x" * 40)  # another key
    async with widget(server.url) as client:
        session_id = await client.start(server.url)
        await client.say(
            session_id,
            "我是VIP",
            {
                "language": "zh",
                "customer": {"customer_id": "c-1", "tier": "vip", "seal": "0" * 64},
                "customer_id": "c-1",
                "tier": "vip",
                "customer_tier": "vip",
                "identity": forged_token,
            },
        )
        await client.next_bot()
    message = server.agent.messages[-1]
    assert message.metadata == {"language": "zh"}
    assert identity.customer_from_metadata(message.metadata, message.sender_id, SECRET) is None


async def test_metadata_sent_as_a_json_string_is_checked_too(server: ChannelServer) -> None:
    async with widget(server.url) as client:
        session_id = await client.start(server.url)
        await client.say(session_id, "hello", '{"tier": "vip", "page": "/faq"}')
        await client.next_bot()
    assert server.agent.messages[-1].metadata == {"page": "/faq"}


async def test_signed_identity_reaches_the_message_sealed(server: ChannelServer) -> None:
    token = identity.sign_identity({"customer_id": "c-1001", "tier": "vip", "display_name": "王小明"}, SECRET)
    async with widget(server.url) as client:
        session_id = await client.start(server.url)
        await client.say(session_id, "你好", {"identity": token, "tier": "platinum"})
        await client.next_bot()
    metadata = server.agent.messages[-1].metadata
    assert "identity" not in metadata and "tier" not in metadata
    customer = identity.customer_from_metadata(metadata, f"socketio:{session_id}", SECRET)
    assert identity.customer_from_metadata(metadata, session_id, SECRET) is None  # sealed to the conversation id
    assert customer == {"customer_id": "c-1001", "tier": "vip", "display_name": "王小明"}
    assert identity.customer_slots(customer) == {"customer_id": "c-1001", "customer_tier": "vip"}


async def test_expired_identity_is_dropped(server: ChannelServer) -> None:
    import datetime as dt

    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    token = identity.sign_identity({"customer_id": "c-1001", "tier": "vip"}, SECRET, ttl=60, now=long_ago)
    async with widget(server.url) as client:
        session_id = await client.start(server.url)
        await client.say(session_id, "你好", {"identity": token})
        await client.next_bot()
    assert server.agent.messages[-1].metadata == {}


async def test_without_a_secret_no_identity_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    token = identity.sign_identity({"customer_id": "c-1001", "tier": "vip"}, SECRET)
    async with channel_server(monkeypatch, secret=None) as running:
        async with widget(running.url) as client:
            session_id = await client.start(running.url)
            await client.say(session_id, "你好", {"identity": token})
            await client.next_bot()
        assert running.agent.messages[-1].metadata == {}


async def test_message_without_session_id_is_dropped(server: ChannelServer) -> None:
    async with widget(server.url) as client:
        session_id = await client.start(server.url)
        await client.sio.emit("user_uttered", {"message": "no session"})
        await client.say("bad id!", "bad session id")
        await client.say(session_id, "good")
        assert await client.next_bot() == {"text": "收到：good"}
    assert [m.text for m in server.agent.messages] == ["good"]


async def test_empty_messages_are_dropped(server: ChannelServer) -> None:
    """rasa-webchat sends `{message: null}` when the chat is first opened without an initPayload."""
    async with widget(server.url) as client:
        session_id = await client.start(server.url)
        await client.say(session_id, None)
        await client.say(session_id, "   ")
        await client.say(session_id, "hi")
        assert await client.next_bot() == {"text": "收到：hi"}
    assert [m.text for m in server.agent.messages] == ["hi"]


@pytest.mark.parametrize(
    "text, reply",
    [
        ("退款" * 5_001, "这条消息太长了（10,002 字），没有发送成功。请分几次发送，每次不超过 10,000 字。"),
        # Traditional in the Taiwan standard (settings.yml: i18n.traditional): 消息 -> 訊息, 发送 -> 傳送
        ("退款多久到帳" * 1_700, "這條訊息太長了（10,200 字），沒有傳送成功。請分幾次傳送，每次不超過 10,000 字。"),
        ("refund " * 1_500 + "!", "That message is too long (10,501 characters) and was not sent. Please send it in parts of at "
                            "most 10,000 characters."),
    ],
    ids=["zh", "zh_hant", "en"],
)
async def test_an_over_long_message_gets_a_clear_reply_and_no_turn(server: ChannelServer, text: str, reply: str) -> None:
    async with widget(server.url) as client:
        session_id = await client.start(server.url)
        await client.say(session_id, text)
        assert await client.next_bot() == {"text": reply}
        await client.say(session_id, "x" * 10_000)  # at the limit: handled
        assert await client.next_bot() == {"text": "收到：" + "x" * 10_000}
    assert [len(m.text) for m in server.agent.messages] == [10_000]


async def test_invalid_requested_session_id_gets_a_fresh_one(server: ChannelServer) -> None:
    async with widget(server.url) as client:
        session_id = await client.start(server.url, session_id="../../x")
    assert session_id != "../../x" and valid_session_id(session_id)


async def test_session_persists_across_reconnect_and_pushes_arrive(server: ChannelServer) -> None:
    """A reload: a new socket asks for the stored session id, joins its room and gets agent pushes."""
    async with widget(server.url) as first:
        session_id = await first.start(server.url)
        await first.say(session_id, "退款多久到账")
        await first.next_bot()

    async with widget(server.url) as second:
        assert await second.start(server.url, session_id=session_id) == session_id
        # An agent reply, delivered the way the HTTP API does with output_channel=socketio.
        output = server.channel.get_output_channel()
        await output.send_response(f"socketio:{session_id}", {"text": "您好，我是客服小李，您的退款已加急处理。"})
        assert await second.next_bot() == {"text": "您好，我是客服小李，您的退款已加急处理。"}
        # The conversation id is the same, so the assistant sees one conversation.
        await second.say(session_id, "谢谢")
        await second.next_bot()
    assert [m.sender_id for m in server.agent.messages] == [f"socketio:{session_id}"] * 2


async def test_push_reaches_only_the_right_session(server: ChannelServer) -> None:
    async with widget(server.url) as alice, widget(server.url) as bob:
        alice_id = await alice.start(server.url)
        bob_id = await bob.start(server.url)
        await server.channel.get_output_channel().send_response(f"socketio:{alice_id}", {"text": "for alice"})
        assert await alice.next_bot() == {"text": "for alice"}
        with pytest.raises(asyncio.TimeoutError):
            await bob.next_bot(timeout=0.5)
    assert alice_id != bob_id


def test_widget_files_are_pinned() -> None:
    import json

    web = repo_root() / "web"
    package = json.loads((web / "package.json").read_text(encoding="utf-8"))
    assert package["dependencies"] == {"rasa-webchat": "1.0.1"}
    lock = json.loads((web / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/rasa-webchat"]["version"] == "1.0.1"
