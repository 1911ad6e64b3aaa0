"""A ticket flood against a running stack of its own (security review, finding 3): a script asks for a human
600 times, then a customer reports a lost card over REST. The emergency must still be first in the console, its
customer must be told a place in the queue (not "nobody is online"), and every ticket must be reachable.

The 600 tickets are opened the way 600 handoffs open them, through the desk's door for the action server
(`POST /internal/tickets` with the handoff's context packet): 600 REST turns through Rasa and the action server
take minutes on the test machine. The emergency goes the whole way, REST → Rasa → action server → desk."""

from __future__ import annotations

import asyncio
import pathlib
import tempfile
import uuid
from typing import Any, Dict, Iterator, List

import aiohttp
import pytest

from bot.conversations import conversation_id
from bot.devtools import free_port
from bot.run import Ports, Stack, latest_model, start
from bot.settings import repo_root
from desk_harness import stack_agent

pytestmark = pytest.mark.stack

FLOOD = 600  # the console's list was cut at 500 rows, oldest first


@pytest.fixture(scope="module")
def flood_stack(stack_extra_env: Dict[str, str]) -> Iterator[Stack]:
    """A stack for this module alone: the flood's 600 queued tickets must not stand in other tests' queues."""
    model = latest_model(repo_root())
    if model is None:
        pytest.fail("no trained model under models/: run `make train` first")
    with tempfile.TemporaryDirectory(prefix="frontline-flood-") as tmp:
        var = pathlib.Path(tmp)
        started = start(
            root=repo_root(), var=var, ports=Ports(rasa=free_port(), actions=free_port(), desk=free_port()),
            model=model, extra_env=stack_extra_env, log_dir=var / "logs",
        )
        try:
            yield started
        finally:
            started.stop()




def handoff_packet(conversation_id: str) -> Dict[str, Any]:
    """The context packet `action_handoff` sends for a REST customer who asked for a human (`/request_human`)."""
    return {
        "version": 1,
        "conversation_id": conversation_id,
        "channel": "rest",
        "customer": {"id": None, "display_name": None, "tier": None, "vip": False, "language": "zh",
                     "earlier_tickets": []},
        "reason": "asked_for_human",
        "grade": "B",
        "topic": None,
        "anger_history": [0.0],
        "intents": [{"turn": 1, "at": "2025-12-01T02:00:00+00:00", "name": "request_human", "confidence": 1.0,
                     "anger": 0.0}],
        "transcript": [{"role": "customer", "text": "/request_human", "at": "2025-12-01T02:00:00+00:00"}],
        "slots": {"language": "zh"},
        "created_at": "2025-12-01T02:00:00+00:00",
    }


async def test_600_handoffs_leave_a_new_emergency_first_in_the_console(flood_stack: Stack) -> None:
    stack = flood_stack
    agent = stack_agent(stack, "night-shift", "general,emergency")
    headers = {"Authorization": f"Bearer {agent['token']}"}
    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    script = uuid.uuid4().hex[:6]
    internal = {"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]}
    gate = asyncio.Semaphore(8)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:

        async def ask_for_human(n: int) -> int:
            packet = handoff_packet(conversation_id("rest", f"bot-{script}-{n}"))
            async with gate, http.post(f"{stack.desk_url}/internal/tickets", json=packet, headers=internal) as r:
                await r.read()
                return r.status

        assert await asyncio.gather(*(ask_for_human(n) for n in range(FLOOD))) == [201] * FLOOD

        async with http.get(f"{stack.desk_url}/api/me", headers=headers) as r:  # the agent is online
            assert r.status == 200
        victim = f"lost-card-{uuid.uuid4().hex[:6]}"
        async with http.post(url, json={"sender": victim, "message": "我的银行卡丢了怎么办"}) as r:
            assert r.status == 200
            told = " ".join(m.get("text", "") for m in await r.json())
        assert "客服暂时都不在线" not in told and "No agent is online" not in told
        assert "队列" in told or "queue" in told

        async with http.get(f"{stack.desk_url}/api/tickets", headers=headers) as r:
            assert r.status == 200
            first_page: List[Dict[str, Any]] = await r.json()
            cursor = r.headers.get("X-Next-Cursor")
        assert first_page[0]["conversation_id"] == conversation_id("rest", victim) and first_page[0]["grade"] == "A"
        assert first_page[0]["position"] == 1

        # nothing is hidden by a cap: the pages hold every ticket once
        seen = [t["id"] for t in first_page]
        while cursor:
            async with http.get(f"{stack.desk_url}/api/tickets", params={"cursor": cursor, "limit": "250"},
                                headers=headers) as r:
                assert r.status == 200
                seen += [t["id"] for t in await r.json()]
                cursor = r.headers.get("X-Next-Cursor")
        assert len(seen) == len(set(seen)) == FLOOD + 1
