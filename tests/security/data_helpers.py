"""What the data attacks (findings 9-12) do on the running stack: talk over REST, act as an agent, read files."""

from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess
import sys
import time
import uuid
from typing import Any, Dict, List, Optional

import aiohttp

from bot.conversations import conversation_id
from bot.settings import repo_root
from desk_harness import stack_agent


def internal(stack: Any) -> Dict[str, str]:
    """The action server's header for the desk's `/internal` API."""
    return {"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]}


def add_agent(stack: Any, skills: str = "general,orders,after_sales,payments,emergency") -> Dict[str, str]:
    """A new agent of the stack's desk (`python -m bot desk add-agent`): {name, password, token, headers}."""
    agent = stack_agent(stack, f"sec-{uuid.uuid4().hex[:8]}", skills)
    agent["headers"] = {"Authorization": f"Bearer {agent['token']}"}  # type: ignore[assignment]
    return agent


def rest_conversation(sender: str) -> str:
    """The conversation id Rasa and the desk keep for a REST sender (`rest:<sender>`)."""
    return conversation_id("rest", sender)


async def say(http: aiohttp.ClientSession, stack: Any, sender: str, text: str) -> List[Dict[str, Any]]:
    """One customer message over the REST channel; the assistant's answer."""
    async with http.post(f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def open_ticket(http: aiohttp.ClientSession, stack: Any, sender: str) -> Dict[str, Any]:
    """Ask for a human over REST; the open ticket the desk made (looked up by the real conversation id)."""
    await say(http, stack, sender, "/request_human")
    url = f"{stack.desk_url}/internal/conversations/{rest_conversation(sender)}/ticket"
    async with http.get(url, headers=internal(stack)) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def ticket_status(http: aiohttp.ClientSession, stack: Any, code: str) -> Dict[str, Any]:
    """A ticket as the action server reads it (`GET /internal/tickets/{id}`)."""
    async with http.get(f"{stack.desk_url}/internal/tickets/{code}", headers=internal(stack)) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def detail_with(
    http: aiohttp.ClientSession, stack: Any, agent: Dict[str, Any], code: str, role: str, count: int
) -> Dict[str, Any]:
    """The ticket detail an agent sees, once it holds `count` messages of `role` (or after 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        async with http.get(f"{stack.desk_url}/api/tickets/{code}", headers=agent["headers"]) as r:
            assert r.status == 200, await r.text()
            detail = await r.json()
        if sum(m["role"] == role for m in detail["messages"]) >= count or time.monotonic() > deadline:
            return detail
        await asyncio.sleep(0.1)


async def tracker(http: aiohttp.ClientSession, stack: Any, sender: str) -> Dict[str, Any]:
    """The conversation as Rasa's HTTP API gives it (decrypted by the tracker store)."""
    url = f"{stack.rasa_url}/conversations/{rest_conversation(sender)}/tracker"
    async with http.get(url, params={"token": stack.token}) as r:
        assert r.status == 200, await r.text()
        return await r.json()


def database_bytes(var: pathlib.Path) -> Dict[str, bytes]:
    """Every SQLite file of a run as a copy of `var/` would hold it (databases and their write-ahead logs)."""
    return {path.name: path.read_bytes() for path in sorted(var.glob("*.db*")) if path.is_file()}


def run_command(stack: Any, *args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """`python -m bot …` as cron would run it next to the stack (its environment, its var folder)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env={**stack.env, **(env or {})}, cwd=repo_root(),
        capture_output=True, text=True, timeout=120,
    )


def env_without(name: str) -> Dict[str, str]:
    """This process's environment without one variable."""
    return {key: value for key, value in os.environ.items() if key != name}
