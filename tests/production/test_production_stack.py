"""Production mode for real: Rasa on PostgreSQL (tracker store), Redis (lock store) and RabbitMQ (event broker),
the desk on PostgreSQL consuming RabbitMQ. Uses the services on 127.0.0.1 (PostgreSQL 5432 trust, Redis 6379,
RabbitMQ 5672 guest/guest); a fresh database is created for the run and dropped afterwards.
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

from bot.devtools import free_port
from bot.run import Ports, Stack, latest_model, start
from bot.settings import repo_root
from tests.conftest import STACK_NOW, TEST_CHANNEL_ENV

pytestmark = [pytest.mark.stack, pytest.mark.postgres]

ROOT = repo_root()
QUEUE = "frontline_events"


def psql(sql: str, database: str = "test") -> None:
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=database)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


def purge_queue() -> None:
    import aio_pika

    async def purge() -> None:
        connection = await aio_pika.connect_robust("amqp://guest:guest@127.0.0.1:5672/")
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(QUEUE, durable=True)
            await queue.purge()

    asyncio.run(purge())


@pytest.fixture(scope="module")
def prod_stack() -> Iterator[Stack]:
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
        "FRONTLINE_REDIS_HOST": "127.0.0.1",
        "FRONTLINE_REDIS_PORT": "6379",
        "FRONTLINE_RABBITMQ_HOST": "127.0.0.1",
        "FRONTLINE_RABBITMQ_USER": "guest",
        "FRONTLINE_RABBITMQ_PASSWORD": "guest",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
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
        async with http.get(f"{stack.desk_url}/internal/conversations/{sender}/ticket", headers=internal) as r:
            assert r.status == 200, await r.text()
            code = (await r.json())["id"]

        result = subprocess.run(
            [sys.executable, "-m", "bot", "desk", "add-agent", f"prod-{sender[-4:]}", "--skills", "general,after_sales"],
            env=stack.env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr
        token = dict(line.split(": ", 1) for line in result.stdout.splitlines())["token"]
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
        async with http.get(f"{stack.rasa_url}/conversations/{sender}/tracker", params={"token": stack.token}) as r:
            events = (await r.json())["events"]
        assert any(e["event"] == "bot" and e.get("text") == "您好，我来处理" for e in events)

    # The conversation lives in PostgreSQL; Rasa took its conversation locks in Redis.
    connection = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=stack.env["FRONTLINE_PG_DB"])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM events WHERE sender_id = %s AND type_name = 'user'", (sender,))
            assert cursor.fetchone()[0] >= 4
    finally:
        connection.close()
    assert redis_lock_commands() > before_redis
