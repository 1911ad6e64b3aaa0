"""Floods against the running stack (security review, findings 3 and 4): messages, widget connections and
conversations, desk sign-in. Each attack comes from its own loopback address (`loopback.py`), as an outsider's
script would, with the limits of the shipped settings.yml."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any, Dict, List

import aiohttp
import pytest
import socketio

from bot.conversations import conversation_id
from bot.settings import repo_root
from loopback import address, http_session, widget_client

pytestmark = pytest.mark.stack

BURST = 20  # settings.yml: limits.conversation_messages "20 per 10 seconds; …"


def add_agent(stack: Any, name: str, skills: str = "general") -> Dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "desk", "add-agent", name, "--skills", skills], env=stack.env,
        cwd=repo_root(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dict(line.split(": ", 1) for line in result.stdout.splitlines())  # name and one-time password


async def user_events(http: aiohttp.ClientSession, stack: Any, sender: str) -> List[Dict[str, Any]]:
    """The user events Rasa stored for a REST sender (its conversation: `rest:<sender>`)."""
    url = f"{stack.rasa_url}/conversations/{conversation_id('rest', sender)}/tracker"
    async with http.get(url, params={"token": stack.token}) as r:
        assert r.status == 200
        return [e for e in (await r.json())["events"] if e["event"] == "user"]


async def test_a_rest_flood_on_one_conversation_gets_429_with_retry_after_while_another_is_served(stack: Any) -> None:
    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    flooded, other = f"flood-{uuid.uuid4().hex[:8]}", f"calm-{uuid.uuid4().hex[:8]}"
    async with http_session(address(31)) as http:

        async def send(sender: str) -> aiohttp.ClientResponse:
            async with http.post(url, json={"sender": sender, "message": "/faq_order_status"}) as response:
                await response.read()
                return response

        answers = await asyncio.gather(*(send(flooded) for _ in range(BURST + 10)))
        statuses = sorted(r.status for r in answers)
        assert statuses == [200] * BURST + [429] * 10
        refused = [r for r in answers if r.status == 429]
        assert all(1 <= int(r.headers["Retry-After"]) <= 10 for r in refused)
        # the refused messages started no turn and were not stored
        assert len(await user_events(http, stack, flooded)) == BURST
        # the same caller's other conversation is served (REST is never limited per address)
        async with http.post(url, json={"sender": other, "message": "/faq_order_status"}) as response:
            assert response.status == 200 and await response.json()


async def test_a_widget_message_flood_gets_the_polite_reply_and_no_turn(stack: Any) -> None:
    async with http_session(address(32)) as http:
        client = widget_client(http)
        confirmed: asyncio.Queue = asyncio.Queue()
        replies: List[str] = []
        client.on("session_confirm", confirmed.put)
        client.on("bot_uttered", lambda data: replies.append(data.get("text", "")))
        await client.connect(stack.rasa_url, socketio_path="/socket.io")
        try:
            await client.emit("session_request", {"session_id": None})
            session_id = await asyncio.wait_for(confirmed.get(), 10)
            for _ in range(BURST + 5):
                await client.emit("user_uttered", {"session_id": session_id, "message": "你好，我想问一下"})
            polite = "您发送消息太频繁了，这条消息没有收到。"  # bot/texts.py: too_many_messages
            deadline = time.monotonic() + 20
            while sum(polite in r for r in replies) < 5 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert sum(polite in r for r in replies) == 5
            await asyncio.sleep(2)
            assert len(await user_events(http, stack, session_id)) <= BURST
        finally:
            await client.disconnect()


async def test_a_widget_connection_flood_from_one_address_is_refused_even_with_forged_forwarding(stack: Any) -> None:
    limit = 60  # settings.yml: limits.widget_connections_per_address
    refused: List[int] = []
    reasons: List[Any] = []
    async with http_session(address(33)) as http:
        for n in range(limit + 5):
            client = widget_client(http)
            client.on("connect_error", reasons.append)
            try:
                # a forged X-Forwarded-For from an untrusted peer is not believed: every connection counts for 127.0.0.33
                await client.connect(stack.rasa_url, socketio_path="/socket.io",
                                     headers={"X-Forwarded-For": f"198.51.100.{n}"}, wait_timeout=5)
            except socketio.exceptions.ConnectionError:
                refused.append(n)
            finally:
                await client.disconnect()
    assert refused == list(range(limit, limit + 5))
    assert all("太多对话" in str(reason) for reason in reasons) and len(reasons) == 5


async def test_a_new_conversation_flood_from_one_address_gets_the_polite_text_instead_of_a_session(stack: Any) -> None:
    limit = 30  # settings.yml: limits.widget_conversations_per_address "30 per minute; …"
    async with http_session(address(34)) as http:
        client = widget_client(http)
        confirmed: asyncio.Queue = asyncio.Queue()
        told: asyncio.Queue = asyncio.Queue()
        client.on("session_confirm", confirmed.put)
        client.on("bot_uttered", told.put)
        await client.connect(stack.rasa_url, socketio_path="/socket.io", headers={"Accept-Language": "en-US,en"})
        try:
            sessions = set()
            for _ in range(limit):
                await client.emit("session_request", {"session_id": None})
                sessions.add(await asyncio.wait_for(confirmed.get(), 10))
            assert len(sessions) == limit
            await client.emit("session_request", {"session_id": None})
            reply = await asyncio.wait_for(told.get(), 10)
            assert reply["text"].startswith("Sorry, too many chats were started from your network")
            assert confirmed.empty()
        finally:
            await client.disconnect()


async def login(http: aiohttp.ClientSession, stack: Any, name: str, password: str,
                headers: Dict[str, str] | None = None) -> aiohttp.ClientResponse:
    async with http.post(f"{stack.desk_url}/api/login", json={"name": name, "password": password},
                         headers=headers) as response:
        await response.read()
        return response


async def test_desk_login_brute_force_is_limited_per_name_and_per_address(stack: Any) -> None:
    agent = add_agent(stack, f"brute-{uuid.uuid4().hex[:6]}")
    name = agent["agent"]
    # per name (10 failures in 15 minutes), from any address
    async with http_session(address(35)) as http:
        statuses = [(await login(http, stack, name, f"guess-{i}")).status for i in range(12)]
        assert statuses == [401] * 10 + [429] * 2
    async with http_session(address(36)) as http:
        locked = await login(http, stack, name, agent["password"])  # even the right password, from elsewhere
        assert locked.status == 429 and int(locked.headers["Retry-After"]) > 0
    # per address (30 attempts a minute), whatever the names and the forged forwarding
    async with http_session(address(37)) as http:
        statuses = [
            (await login(http, stack, f"nobody-{i}", "x", {"X-Forwarded-For": f"203.0.113.{i}"})).status
            for i in range(32)
        ]
        assert statuses == [401] * 30 + [429] * 2


async def test_twenty_logins_at_once_do_not_freeze_the_desk(stack: Any) -> None:
    agent = add_agent(stack, f"rush-{uuid.uuid4().hex[:6]}")
    async with http_session(address(38)) as http, aiohttp.ClientSession() as probe:
        slowest = 0.0
        logins = asyncio.gather(*(login(http, stack, agent["agent"], agent["password"]) for _ in range(20)))
        task = asyncio.ensure_future(logins)
        while not task.done():
            started = time.perf_counter()
            async with probe.get(f"{stack.desk_url}/health") as response:
                assert response.status == 200
            slowest = max(slowest, time.perf_counter() - started)
            await asyncio.sleep(0.02)
        assert [r.status for r in await task] == [200] * 20
    assert slowest < 0.1, f"/health took {slowest * 1000:.0f} ms while logins ran"


async def test_unknown_names_and_wrong_passwords_take_the_same_time(stack: Any) -> None:
    agent = add_agent(stack, f"timed-{uuid.uuid4().hex[:6]}")
    unknown: List[float] = []
    wrong: List[float] = []
    async with http_session(address(39)) as http:
        await login(http, stack, f"warm-{uuid.uuid4().hex[:6]}", "x")
        for i in range(7):
            for name, times in ((f"ghost-{uuid.uuid4().hex[:6]}", unknown), (agent["agent"], wrong)):
                started = time.perf_counter()
                assert (await login(http, stack, name, f"wrong-{i}")).status == 401
                times.append(time.perf_counter() - started)
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.67 < ratio < 1.5, f"median unknown {statistics.median(unknown):.3f} s, wrong {statistics.median(wrong):.3f} s"
