"""Conversation ids shared between channels (security review, finding 2; and from finding 1, the desk's check
that a ticket's channel is where its conversation lives), attacked on the running stack.

Before: a widget visitor picked its own `session_id`, checked only against `[A-Za-z0-9_-]{8,128}`, which a WeChat
follower's OpenID matches, so it wrote into that follower's conversation and their open ticket; a REST caller did
the same by naming the OpenID as `sender`; the desk took a ticket for any conversation id on any channel; and a
widget conversation's earlier sealed identity (a VIP customer) carried over to whoever wrote in it next.

Each test finds the victim's ticket through the agents' API, by the follower's OpenID, whatever the form of the
conversation id, so that it attacks the old code the same way.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import subprocess
import sys
import time
import uuid
from typing import Any, AsyncIterator, Dict, List, Optional

import pytest
import requests
import socketio
from rasa_sdk import Tracker

from bot import identity
from bot.handoff import context
from bot.settings import repo_root
from desk_harness import agent_token
from tests.channels.wechat_helpers import safe_request

pytestmark = pytest.mark.stack

ACCOUNT = "gh_frontline_security"
SKILLS = "general,orders,after_sales,payments"


def wechat_says(stack: Any, openid: str, text: str) -> requests.Response:
    """One safe-mode WeChat callback from follower `openid`, encrypted and signed as Tencent's servers do."""
    env = stack.env
    created = str(int(time.time()))
    inbound = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{uuid.uuid4().int % 10**18}</MsgId></xml>"
    )
    query, body = safe_request(
        inbound, env["WECHAT_TOKEN"], env["WECHAT_ENCODING_AES_KEY"], env["WECHAT_APP_ID"], timestamp=created,
        openid=openid, account=ACCOUNT,
    )
    return requests.post(f"{stack.rasa_url}/webhooks/wechat/webhook", params=query, data=body.encode("utf-8"), timeout=15)


@pytest.fixture(scope="module")
def agent(stack: Any) -> Dict[str, str]:
    """Headers of a desk agent, to look tickets up as the console does."""
    name = f"sec-{uuid.uuid4().hex[:6]}"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "desk", "add-agent", name, "--skills", SKILLS], env=stack.env, cwd=repo_root(),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    password = dict(line.split(": ", 1) for line in result.stdout.splitlines())["password"]
    token = agent_token(stack.desk_url, name, password)  # add-agent prints no token
    return {"Authorization": f"Bearer {token}"}


def tickets_of(stack: Any, agent: Dict[str, str], raw_id: str, channel: str) -> List[Dict[str, Any]]:
    """The tickets on `channel` whose conversation is the customer `raw_id` (old ids or namespaced ones)."""
    response = requests.get(f"{stack.desk_url}/api/tickets", params={"status": "all"}, headers=agent, timeout=10)
    assert response.status_code == 200, response.text
    return [t for t in response.json() if t["channel"] == channel and t["conversation_id"].endswith(raw_id)]


def customer_texts(stack: Any, agent: Dict[str, str], code: str) -> List[str]:
    response = requests.get(f"{stack.desk_url}/api/tickets/{code}", headers=agent, timeout=10)
    assert response.status_code == 200, response.text
    return [m["text"] for m in response.json()["messages"] if m["role"] == "customer"]


def tracker_texts(stack: Any, conversation_id: str) -> List[str]:
    response = requests.get(
        f"{stack.rasa_url}/conversations/{conversation_id}/tracker", params={"token": stack.token}, timeout=10
    )
    assert response.status_code == 200, response.text
    return [e.get("text") for e in response.json()["events"] if e["event"] == "user"]


def wait_for_ticket(stack: Any, agent: Dict[str, str], raw_id: str, channel: str) -> Dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = tickets_of(stack, agent, raw_id, channel)
        if found:
            return found[0]
        time.sleep(0.3)
    raise AssertionError(f"no {channel} ticket for {raw_id}")


@pytest.fixture
def victim(stack: Any, agent: Dict[str, str]) -> Dict[str, Any]:
    """A WeChat follower who asked for a human: their OpenID and their open ticket (the assistant paused)."""
    openid = f"oVictim{uuid.uuid4().hex[:21]}"  # 28 characters, like a real OpenID
    assert wechat_says(stack, openid, "转人工").status_code == 200
    ticket = wait_for_ticket(stack, agent, openid, "wechat")
    return {"openid": openid, "ticket": ticket}


def assert_never_reaches(stack: Any, agent: Dict[str, str], victim: Dict[str, Any], marker: str) -> None:
    """Within 3 seconds (the desk forwards a paused conversation's messages within one), nothing with `marker`
    reaches the victim's ticket or conversation."""
    ticket = victim["ticket"]
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        texts = customer_texts(stack, agent, ticket["id"])
        assert not [t for t in texts if marker in t], f"written into the victim's ticket: {texts}"
        time.sleep(0.2)
    assert not [t for t in tracker_texts(stack, ticket["conversation_id"]) if t and marker in t]


class Widget:
    """A socket.io client speaking rasa-webchat's events, as a visitor's browser (or a script) does."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.confirmed: asyncio.Queue = asyncio.Queue()
        self.bot: asyncio.Queue = asyncio.Queue()
        self.sio.on("session_confirm", self.confirmed.put)
        self.sio.on("bot_uttered", self.bot.put)

    async def session(self, url: str, asked: Optional[str]) -> str:
        if not self.sio.connected:
            await self.sio.connect(url, socketio_path="/socket.io", transports=["websocket"])
        await self.sio.emit("session_request", {"session_id": asked})
        return await asyncio.wait_for(self.confirmed.get(), 10)

    async def say(self, session_id: str, text: str, custom_data: Optional[Dict[str, Any]] = None) -> None:
        await self.sio.emit("user_uttered", {"message": text, "session_id": session_id, "customData": custom_data or {}})

    async def answers(self, seconds: float) -> List[Any]:
        got: List[Any] = []
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                got.append(await asyncio.wait_for(self.bot.get(), left))
            except asyncio.TimeoutError:
                break
        return got


@pytest.fixture
async def widget() -> AsyncIterator[Widget]:
    client = Widget()
    try:
        yield client
    finally:
        await client.sio.disconnect()


async def test_a_widget_that_picks_a_wechat_followers_openid_cannot_reach_their_conversation(
    stack: Any, agent: Dict[str, str], victim: Dict[str, Any], widget: Widget
) -> None:
    openid = victim["openid"]
    marker = f"INJECTED-{uuid.uuid4().hex[:8]}"
    given = await widget.session(stack.rasa_url, openid)
    assert given != openid, "the server let the browser pick a WeChat follower's OpenID as its session"
    # the script writes as the follower anyway, with the id it picked and with the one it was given
    await widget.say(openid, f"{marker} 我是客服，请把验证码发给我")
    await widget.say(given, f"{marker} hello")
    await asyncio.to_thread(assert_never_reaches, stack, agent, victim, marker)


async def test_a_session_id_the_server_did_not_issue_is_replaced(stack: Any, widget: Widget) -> None:
    issued = await widget.session(stack.rasa_url, None)
    random_part, _, signature = issued.partition(".")
    unsigned = f"{uuid.uuid4().hex}.{base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).decode().rstrip('=')[:43]}"
    for forged in (uuid.uuid4().hex, unsigned, f"{uuid.uuid4().hex}.{signature}", f"{random_part}.{signature[::-1]}"):
        given = await widget.session(stack.rasa_url, forged)
        assert given != forged and given != issued
        assert await widget.session(stack.rasa_url, given) == given  # an issued one is kept (a reload)
        # a message under the forged id is dropped: no turn, no answer
        await widget.say(forged, "退款多久到账")
        assert await widget.answers(2.0) == []
    await widget.say(issued, "退款多久到账")
    assert await widget.answers(8.0), "the issued session gets answers"


def test_a_rest_sender_named_like_a_wechat_follower_lands_in_rest(
    stack: Any, agent: Dict[str, str], victim: Dict[str, Any]
) -> None:
    openid = victim["openid"]
    marker = f"INJECTED-REST-{uuid.uuid4().hex[:8]}"
    answer = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": openid, "message": f"{marker} 退款多久到账"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert_never_reaches(stack, agent, victim, marker)
    # the caller still sees its own sender as the recipient, and its conversation is a REST one
    assert answer.json() and {m["recipient_id"] for m in answer.json()} == {openid}
    assert marker in " ".join(t or "" for t in tracker_texts(stack, f"rest:{openid}"))
    requests.post(f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": openid, "message": "/request_human"},
                  timeout=30)
    ticket = wait_for_ticket(stack, agent, openid, "rest")
    assert ticket["conversation_id"] == f"rest:{openid}"


def packet(conversation_id: str, channel: str) -> Dict[str, Any]:
    """A context packet built by the action server's own code, then given another channel."""
    tracker = Tracker(
        conversation_id, {}, {}, [{"event": "user", "text": "转人工", "timestamp": time.time(), "parse_data": {}}],
        False, None, {}, "action_listen",
    )
    built = context.build_packet(tracker, reason="asked_for_human", grade="B", created_at=dt.datetime.now(dt.timezone.utc))
    built["channel"] = channel
    return built


@pytest.mark.parametrize(
    "conversation_id, channel",
    [
        ("socketio:{raw}", "wechat"),  # a widget session, delivered as WeChat messages
        ("{raw}", "wechat"),  # an OpenID without its namespace (the form every id had before)
        ("wechat:{raw}", "rest"),  # a follower's conversation on another channel's response time
    ],
)
def test_the_desk_refuses_a_ticket_whose_channel_is_not_where_the_conversation_lives(
    stack: Any, conversation_id: str, channel: str
) -> None:
    conversation = conversation_id.format(raw=f"o{uuid.uuid4().hex[:27]}")
    response = requests.post(
        f"{stack.desk_url}/internal/tickets", json=packet(conversation, channel),
        headers={"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]}, timeout=10,
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert f'"{channel}"' in error and f'"{conversation}"' in error
    # the same packet on the conversation's own channel is taken
    home = conversation.split(":", 1)[0] if ":" in conversation else None
    if home:
        taken = requests.post(
            f"{stack.desk_url}/internal/tickets", json=packet(conversation, home),
            headers={"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]}, timeout=10,
        )
        assert taken.status_code == 201, taken.text


async def test_a_later_sender_does_not_inherit_an_earlier_messages_sealed_identity(
    stack: Any, agent: Dict[str, str], widget: Widget
) -> None:
    """A VIP customer signed in on a shared computer; whoever writes next in that conversation, without the
    customer's token, opens a ticket as nobody: not as the VIP, and without their earlier tickets."""
    token = identity.sign_identity(
        {"customer_id": f"vip-{uuid.uuid4().hex[:6]}", "tier": "vip"}, stack.env["FRONTLINE_IDENTITY_SECRET"]
    )
    session = await widget.session(stack.rasa_url, None)
    await widget.say(session, "退款多久到账", {"identity": token})
    assert await widget.answers(8.0)
    await widget.say(session, "转人工", {})
    ticket = await asyncio.to_thread(wait_for_ticket, stack, agent, session, "socketio")
    assert (ticket["customer"]["id"], ticket["customer"]["tier"]) == (None, None)
