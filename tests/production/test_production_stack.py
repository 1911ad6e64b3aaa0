"""Production mode for real: Rasa on PostgreSQL (tracker store), Redis (lock store) and RabbitMQ (event broker),
the desk on PostgreSQL consuming RabbitMQ. Uses the services on 127.0.0.1 (PostgreSQL 5432 trust, Redis 6379,
RabbitMQ 5672 guest/guest); a fresh database is created for the run and dropped afterwards.

A second Rasa replica on the same services stands for a load-balanced deployment: WeChat callbacks of one
customer alternate between the two, as Tencent's POSTs would behind a load balancer.
"""

from __future__ import annotations

import asyncio
import pathlib
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any, Dict, Iterator, List

import aiohttp
import pytest
import requests
import xmltodict
from wechatpy.crypto import WeChatCrypto as PeerCrypto
from wechatpy.utils import WeChatSigner

from bot.devtools.postgres import run_sql as psql
from bot.amqp import QUEUE_ARGUMENTS
from bot.data_keys import generate_key
from bot.devtools import free_port
from bot.run import Ports, Stack, latest_model, process_env, rasa_command, start, wait_http
from bot.settings import repo_root
from desk_harness import agent_token
from tests.channels.fake_wechat_api import FakeWeChatApi
from tests.conftest import STACK_NOW, TEST_CHANNEL_ENV

pytestmark = [pytest.mark.stack, pytest.mark.postgres]

ROOT = repo_root()
QUEUE = "frontline_events_ordered"


def purge_queue() -> None:
    import aio_pika

    async def purge() -> None:
        connection = await aio_pika.connect_robust("amqp://guest:guest@127.0.0.1:5672/")
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(QUEUE, durable=True, arguments=QUEUE_ARGUMENTS)
            await queue.purge()

    asyncio.run(purge())


@pytest.fixture(scope="module")
def wechat_api() -> Iterator[FakeWeChatApi]:
    """The fake WeChat API (the real protocol on a loopback port): where replies that are not passive go."""
    with FakeWeChatApi(app_id=TEST_CHANNEL_ENV["WECHAT_APP_ID"], app_secret=TEST_CHANNEL_ENV["WECHAT_APP_SECRET"]) as api:
        yield api


@pytest.fixture(scope="module")
def prod_stack(wechat_api: FakeWeChatApi) -> Iterator[Stack]:
    model = latest_model(ROOT)
    if model is None:
        pytest.fail("no trained model under models/: run `make train` first")
    database = f"frontline_prod_{uuid.uuid4().hex[:8]}"
    psql(f'CREATE DATABASE "{database}"')
    purge_queue()
    env: Dict[str, str] = {
        **TEST_CHANNEL_ENV,
        "FRONTLINE_NOW": STACK_NOW,
        "FRONTLINE_ENDPOINTS": "endpoints.prod.yml",
        "FRONTLINE_PG_HOST": "127.0.0.1",
        "FRONTLINE_PG_PORT": "5432",
        "FRONTLINE_PG_DB": database,
        "FRONTLINE_PG_USER": "postgres",
        "FRONTLINE_PG_PASSWORD": "",
        # every Redis use (lock store, WeChat state, socket.io) from the one URL (bot/redis_config.py)
        "FRONTLINE_REDIS_URL": "redis://127.0.0.1:6379/1",
        # widget session ids signed alike on every replica
        "FRONTLINE_SESSION_SECRET": f"prod-session-secret-{uuid.uuid4().hex}",
        "FRONTLINE_RABBITMQ_HOST": "127.0.0.1",
        "FRONTLINE_RABBITMQ_USER": "guest",
        "FRONTLINE_RABBITMQ_PASSWORD": "guest",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "WECHAT_API_BASE": wechat_api.base_url,
        # production mode refuses to start without it (docs/security/data.md)
        "FRONTLINE_DATA_KEYS": generate_key(),
    }
    with tempfile.TemporaryDirectory(prefix="frontline-prod-") as tmp:
        var = pathlib.Path(tmp)
        stack = start(
            root=ROOT, var=var, ports=Ports(rasa=free_port(), actions=free_port(), desk=free_port()),
            model=model, extra_env=env, log_dir=var / "logs",
        )
        try:
            yield stack
        finally:
            stack.stop()
            psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def redis_lock_commands() -> int:
    import redis

    stats = redis.Redis(host="127.0.0.1", port=6379).info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("set", "get", "del"))


async def say(http: aiohttp.ClientSession, stack: Stack, sender: str, text: str) -> List[Dict[str, Any]]:
    async with http.post(f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_handoff_over_postgresql_redis_and_rabbitmq(prod_stack: Stack) -> None:
    import psycopg2

    stack = prod_stack
    sender = f"prod-{uuid.uuid4().hex[:8]}"
    before_redis = redis_lock_commands()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        answer = await say(http, stack, sender, "退款多久到账")
        assert answer and answer[0]["text"]
        await say(http, stack, sender, "/request_human")
        internal = {"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]}
        async with http.get(f"{stack.desk_url}/internal/conversations/rest:{sender}/ticket", headers=internal) as r:
            assert r.status == 200, await r.text()
            code = (await r.json())["id"]

        result = subprocess.run(
            [sys.executable, "-m", "bot", "desk", "add-agent", f"prod-{sender[-4:]}", "--skills", "general,after_sales"],
            env=stack.env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr
        password = dict(line.split(": ", 1) for line in result.stdout.splitlines())["password"]
        token = agent_token(stack.desk_url, f"prod-{sender[-4:]}", password)  # add-agent prints no token
        headers = {"Authorization": f"Bearer {token}"}

        # Paused: the assistant is silent; the messages travel through RabbitMQ to the desk on PostgreSQL.
        for text in ("还在吗", "请尽快"):
            assert await say(http, stack, sender, text) == []
        deadline = time.monotonic() + 5
        texts: List[str] = []
        while time.monotonic() < deadline:
            async with http.get(f"{stack.desk_url}/api/tickets/{code}", headers=headers) as r:
                texts = [m["text"] for m in (await r.json())["messages"] if m["role"] == "customer"]
            if texts[-2:] == ["还在吗", "请尽快"]:
                break
            await asyncio.sleep(0.2)
        assert texts[-2:] == ["还在吗", "请尽快"]

        async with http.post(f"{stack.desk_url}/api/tickets/{code}/claim", headers=headers) as r:
            assert r.status == 200, await r.text()
        async with http.post(f"{stack.desk_url}/api/tickets/{code}/messages", headers=headers,
                             json={"text": "您好，我来处理"}) as r:
            assert r.status == 201, await r.text()
        async with http.get(f"{stack.rasa_url}/conversations/rest:{sender}/tracker", params={"token": stack.token}) as r:
            events = (await r.json())["events"]
        assert any(e["event"] == "bot" and e.get("text") == "您好，我来处理" for e in events)

    # The conversation lives in PostgreSQL; Rasa took its conversation locks in Redis.
    connection = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=stack.env["FRONTLINE_PG_DB"])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM events WHERE sender_id = %s AND type_name = 'user'", (f"rest:{sender}",))
            assert cursor.fetchone()[0] >= 4
    finally:
        connection.close()
    assert redis_lock_commands() > before_redis


@pytest.fixture(scope="module")
def second_replica(prod_stack: Stack) -> str:
    """A second Rasa server on the same PostgreSQL, Redis and RabbitMQ; stopped with the stack."""
    model = latest_model(ROOT)
    assert model is not None
    port = free_port()
    log = open(prod_stack.var / "logs" / "rasa-replica-2.log", "ab")
    process = subprocess.Popen(
        rasa_command(ROOT, port, model, prod_stack.var / "endpoints.run.yml"),
        cwd=ROOT, env=process_env(prod_stack.env, "rasa"), stdout=log, stderr=subprocess.STDOUT,
    )
    prod_stack.processes["rasa-replica-2"] = process
    wait_http(f"http://127.0.0.1:{port}/", process, "second Rasa replica", 180)
    return f"http://127.0.0.1:{port}"


def wechat_post(rasa_url: str, env: Dict[str, str], openid: str, text: str, msg_id: str) -> requests.Response:
    """One safe-mode callback, encrypted and signed by wechatpy as Tencent's servers would send it."""
    token, key, app_id = env["WECHAT_TOKEN"], env["WECHAT_ENCODING_AES_KEY"], env["WECHAT_APP_ID"]
    created = str(int(time.time()))
    inbound = (
        f"<xml><ToUserName><![CDATA[gh_frontline_prod]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
    nonce = "20251201"
    envelope = xmltodict.parse(PeerCrypto(token, key, app_id).encrypt_message(inbound, nonce, created))["xml"]
    signer = WeChatSigner()
    signer.add_data(token, created, nonce)
    query = {"signature": signer.signature, "timestamp": created, "nonce": nonce, "openid": openid,
             "encrypt_type": "aes", "msg_signature": envelope["MsgSignature"]}
    body = f"<xml><ToUserName><![CDATA[gh_frontline_prod]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    return requests.post(f"{rasa_url}/webhooks/wechat/webhook", params=query, data=body.encode("utf-8"), timeout=15)


def test_wechat_customer_across_two_replicas(
    prod_stack: Stack, second_replica: str, wechat_api: FakeWeChatApi
) -> None:
    stack, env = prod_stack, prod_stack.env
    openid = f"oProd{uuid.uuid4().hex[:12]}"
    internal = {"X-Frontline-Secret": env["FRONTLINE_DESK_SECRET"]}
    base = int(time.time()) * 1000

    # The customer asks for a human on replica 1; WeChat's retry of that message lands on replica 2.
    first = wechat_post(stack.rasa_url, env, openid, "转人工", f"{base}1")
    assert first.status_code == 200, first.text
    retry = wechat_post(second_replica, env, openid, "转人工", f"{base}1")
    assert (retry.status_code, retry.text) == (200, "success")
    ticket = requests.get(f"{stack.desk_url}/internal/conversations/wechat:{openid}/ticket", headers=internal, timeout=10)
    assert ticket.status_code == 200, ticket.text
    code = ticket.json()["id"]

    result = subprocess.run(
        [sys.executable, "-m", "bot", "desk", "add-agent", f"wx-{openid[-4:]}", "--skills", "general,after_sales"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    password = dict(line.split(": ", 1) for line in result.stdout.splitlines())["password"]
    headers = {"Authorization": "Bearer " + agent_token(stack.desk_url, f"wx-{openid[-4:]}", password)}
    for step in ("claim", "resolve"):
        answer = requests.post(f"{stack.desk_url}/api/tickets/{code}/{step}", headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
    # The survey went out through replica 1's customer-service API call, each rating on a line of its own number.
    survey = [t for t in wechat_api.texts() if "\n4 ⭐" in t]
    assert survey, wechat_api.texts()

    # The customer answers "4" (rating 4); the callback reaches replica 2, which reads it as the rating.
    choice = wechat_post(second_replica, env, openid, "4", f"{base}2")
    assert choice.status_code == 200, choice.text
    deadline = time.monotonic() + 10
    rating = None
    while time.monotonic() < deadline and rating is None:
        rating = requests.get(f"{stack.desk_url}/internal/tickets/{code}", headers=internal, timeout=10).json()["rating"]
        time.sleep(0.2)
    assert rating == 4

    # One turn for the retried message: the tracker (PostgreSQL, shared) holds it once.
    tracker = requests.get(f"{stack.rasa_url}/conversations/wechat:{openid}/tracker", params={"token": stack.token}, timeout=10)
    texts = [e.get("text") for e in tracker.json()["events"] if e["event"] == "user"]
    assert texts.count("转人工") == 1, texts


async def test_widget_gets_a_push_sent_through_the_other_replica(prod_stack: Stack, second_replica: str) -> None:
    import socketio

    stack = prod_stack
    client = socketio.AsyncClient(reconnection=False)
    received: asyncio.Queue = asyncio.Queue()
    confirmed: asyncio.Queue = asyncio.Queue()
    client.on("bot_uttered", lambda data: received.put_nowait(data))
    client.on("session_confirm", lambda data: confirmed.put_nowait(data))
    await client.connect(stack.rasa_url, socketio_path="/socket.io", transports=["websocket"])
    try:
        await client.emit("session_request", {"session_id": None})
        session = await asyncio.wait_for(confirmed.get(), 10)  # issued (signed) by replica 1
        # The widget talks to replica 1 and is answered there.
        await client.emit("user_uttered", {"message": "退款多久到账", "session_id": session, "customData": {}})
        first = await asyncio.wait_for(received.get(), 20)
        assert first.get("text")
        # An agent reply delivered the way the desk delivers it, through replica 2's HTTP API.
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            async with http.post(
                f"{second_replica}/conversations/socketio:{session}/tracker/events",
                params={"token": stack.token, "output_channel": "socketio", "execute_side_effects": "true"},
                json=[{"event": "bot", "text": "您好，我是客服小李", "metadata": {"agent": "li"}}],
            ) as r:
                assert r.status == 200, await r.text()
        pushed = await asyncio.wait_for(received.get(), 10)
        assert pushed.get("text") == "您好，我是客服小李"
    finally:
        await client.disconnect()
