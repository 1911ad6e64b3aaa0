"""The desk as a real process: `python -m bot desk add-agent`, `python -m bot desk`, the broker tail, SSE."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Dict

import aiohttp
import pytest

from bot.settings import repo_root
from desk_harness import agent_token

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def desk_env(tmp_path: pathlib.Path, fake_rasa: Any) -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.pop("FRONTLINE_NOW", None)
    env.update(
        FRONTLINE_VAR=str(tmp_path / "var"),
        FRONTLINE_BROKER=f"sqlite:///{tmp_path / 'events.db'}",
        FRONTLINE_DESK_PORT=str(free_port()),
        FRONTLINE_DESK_SECRET="process-secret",
        FRONTLINE_RASA_URL=fake_rasa.url,
        RASA_TOKEN="rasa-token",
    )
    return env


def add_agent(env: Dict[str, str], *args: str) -> Dict[str, str]:
    result = subprocess.run(
        [PYTHON, "-m", "bot", "desk", "add-agent", *args], env=env, cwd=repo_root(), capture_output=True,
        text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dict(line.split(": ", 1) for line in result.stdout.splitlines())


def test_add_agent_prints_a_one_time_password_and_no_token(desk_env: Dict[str, str]) -> None:
    out = add_agent(desk_env, "alice", "--skills", "orders,general", "--senior")
    assert "token" not in out and len(out["password"]) >= 12  # nobody but the agent holds a token of it
    assert out["skills"] == "orders,general" and out["senior"] == "yes"
    again = subprocess.run([PYTHON, "-m", "bot", "desk", "add-agent", "alice"], env=desk_env, cwd=repo_root(),
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "exists" in again.stderr
    bad = subprocess.run([PYTHON, "-m", "bot", "desk", "add-agent", "zed", "--skills", "Bad Skill"], env=desk_env,
                         cwd=repo_root(), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "skill" in bad.stderr
    assert (pathlib.Path(desk_env["FRONTLINE_VAR"]) / "desk.db").exists()


async def test_running_desk_end_to_end(desk_env: Dict[str, str], fake_rasa: Any, make_packet: Any) -> None:
    from rasa.core.brokers.sql import SQLEventBroker

    creds = add_agent(desk_env, "alice", "--skills", "orders,general")
    base = f"http://127.0.0.1:{desk_env['FRONTLINE_DESK_PORT']}"
    process = subprocess.Popen([PYTHON, "-m", "bot", "desk"], env=desk_env, cwd=repo_root(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    headers: Dict[str, str] = {}
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                try:
                    async with http.get(f"{base}/health") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the desk did not start")
            token = await asyncio.get_running_loop().run_in_executor(None, agent_token, base, "alice", creds["password"])
            headers["Authorization"] = f"Bearer {token}"
            # Rasa's broker file appears after the desk started: the tail picks it up.
            broker = SQLEventBroker(dialect="sqlite", db=desk_env["FRONTLINE_BROKER"][len("sqlite:///"):])
            async with http.post(f"{base}/internal/tickets", json=make_packet("socketio:conv-e2e"),
                                 headers={"X-Frontline-Secret": "process-secret"}) as response:
                assert response.status == 201
                code = (await response.json())["id"]
            async with http.post(f"{base}/api/tickets/{code}/claim", headers=headers) as response:
                assert response.status == 200

            async with http.post(f"{base}/api/stream-tickets", headers=headers) as response:
                assert response.status == 201
                ticket = (await response.json())["ticket"]
            stream = await http.get(f"{base}/api/stream?ticket={ticket}&max_seconds=5")
            assert stream.status == 200
            first_line = await asyncio.wait_for(stream.content.readline(), 3)
            assert first_line.startswith(b"retry:")
            sent_at = time.monotonic()
            # As the tracker store's outbox publishes (bot.outbox): with Rasa's sequence, the handoff event first.
            broker.publish({"sender_id": "socketio:conv-e2e", "event": "action", "timestamp": time.time(),
                            "name": "action_handoff", "sequence": 10})
            for i, text in enumerate(["我还在等", "快点", "third"]):
                broker.publish({"sender_id": "socketio:conv-e2e", "event": "user", "timestamp": time.time(), "text": text,
                                "parse_data": {}, "input_channel": "socketio", "message_id": f"e2e-{i}",
                                "metadata": {}, "sequence": 11 + i})
            pushed = []
            while len(pushed) < 3:
                line = await asyncio.wait_for(stream.content.readline(), 3)
                if line.startswith(b"data: ") and b'"message"' in line:
                    pushed.append(json.loads(line[6:])["message"]["text"])
            assert time.monotonic() - sent_at < 1.5
            assert pushed == ["我还在等", "快点", "third"]
            stream.close()

            async with http.get(f"{base}/api/tickets/{code}", headers=headers) as response:
                detail = await response.json()
            assert [m["text"] for m in detail["messages"] if m["role"] == "customer"] == ["我还在等", "快点", "third"]
            async with http.post(f"{base}/api/tickets/{code}/messages", json={"text": "马上处理"},
                                 headers=headers) as response:
                assert response.status == 201
                reply = await response.json()
            key = f"desk-{code}-{reply['id']}"
            assert fake_rasa.events()[-1] == {
                "event": "bot", "text": "马上处理", "metadata": {"agent": "alice", "delivery_key": key}
            }
            async with http.get(f"{base}/health") as response:
                assert (await response.json())["broker"] is True
            broker.engine.dispose()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code_ = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        output = process.stdout.read().decode() if process.stdout else ""
    assert code_ == 0, output
    for secret in ("马上处理", "我还在等", creds["password"], headers["Authorization"][7:]):
        assert secret not in output  # never log message texts or tokens
