"""The desk in the running system: handoff over REST, paused messages, race, reply, resolve, survey, FAQ again."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, Dict, List

import aiohttp
import pytest

from desk_harness import stack_agent

pytestmark = pytest.mark.stack




async def say(http: aiohttp.ClientSession, stack: Any, sender: str, text: str) -> List[Dict[str, Any]]:
    async with http.post(f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}) as r:
        assert r.status == 200
        return await r.json()


async def tracker(http: aiohttp.ClientSession, stack: Any, sender: str) -> Dict[str, Any]:
    async with http.get(f"{stack.rasa_url}/conversations/rest:{sender}/tracker",
                        params={"token": stack.token}) as r:
        assert r.status == 200
        return await r.json()


async def test_handoff_round_trip_on_the_rest_channel(stack: Any) -> None:
    sender = f"desk-stack-{uuid.uuid4().hex[:8]}"
    internal = {"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]}
    agents = [stack_agent(stack, f"racer{i}-{sender[-4:]}", "general,orders,after_sales,payments") for i in range(2)]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        await say(http, stack, sender, "/request_human")
        async with http.get(f"{stack.desk_url}/internal/conversations/rest:{sender}/ticket", headers=internal) as r:
            assert r.status == 200, await r.text()
            ticket = await r.json()
        code = ticket["id"]
        assert ticket["channel"] == "rest" and ticket["status"] == "queued"

        # The customer keeps writing: the assistant stays silent, the desk gets every message, in order.
        texts = ["我还在等", "请快一点", "third message"]
        for text in texts:
            assert await say(http, stack, sender, text) == []
        deadline = time.monotonic() + 1.0  # every message reaches the agent within a second
        headers = {"Authorization": f"Bearer {agents[0]['token']}"}
        while True:
            async with http.get(f"{stack.desk_url}/api/tickets/{code}", headers=headers) as r:
                detail = await r.json()
            got = [m["text"] for m in detail["messages"] if m["role"] == "customer"]
            if got == texts or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert got == texts
        assert detail["context"]["conversation_id"] == f"rest:{sender}"

        # Two agents race for the ticket: one winner.
        async def claim(agent: Dict[str, str]) -> int:
            async with http.post(f"{stack.desk_url}/api/tickets/{code}/claim",
                                 headers={"Authorization": f"Bearer {agent['token']}"}) as r:
                return r.status

        statuses = await asyncio.gather(*(claim(a) for a in agents))
        assert sorted(statuses) == [200, 409]
        winner = agents[statuses.index(200)]
        headers = {"Authorization": f"Bearer {winner['token']}"}

        async with http.post(f"{stack.desk_url}/api/tickets/{code}/messages", headers=headers,
                             json={"text": "您好，我是客服小王"}) as r:
            assert r.status == 201, await r.text()
        events = (await tracker(http, stack, sender))["events"]
        bots = [e for e in events if e["event"] == "bot"]
        assert bots[-1]["text"] == "您好，我是客服小王"
        assert bots[-1]["metadata"]["agent"] == winner["agent"]

        async with http.post(f"{stack.desk_url}/api/tickets/{code}/resolve", headers=headers) as r:
            assert r.status == 200, await r.text()
        state = await tracker(http, stack, sender)
        assert state["paused"] is False
        assert state["slots"]["survey_pending"] is True and state["slots"]["ticket_id"] == code
        survey = [e for e in state["events"] if e["event"] == "bot"][-1]
        assert len(survey["data"]["buttons"]) == 5

        thanks = await say(http, stack, sender, "/survey_rating" + json.dumps({"rating": 5}))
        assert thanks and "queue" not in thanks[0].get("text", "")
        async with http.get(f"{stack.desk_url}/internal/tickets/{code}", headers=internal) as r:
            assert (await r.json())["rating"] == 5
        # The free-text message right after the rating is its optional comment, recorded on the ticket.
        noted = await say(http, stack, sender, "小王服务很耐心，点赞")
        assert noted and "留言" in noted[0]["text"]
        async with http.get(f"{stack.desk_url}/internal/tickets/{code}", headers=internal) as r:
            rated = await r.json()
        assert rated["rating"] == 5 and rated["rating_comment"] == "小王服务很耐心，点赞"
        # The assistant answers FAQ questions again.
        answer = await say(http, stack, sender, "/faq_order_status")
        assert answer and answer[0].get("text")
