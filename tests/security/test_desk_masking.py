"""The desk's side of masking (security review, finding 9): what agents see and what the desk keeps.

Before the fix a REST sender that is a phone number was shown whole to every agent (ticket lists, details, the
console push), and agents' replies and notes were stored and shown raw. Now the desk shows the conversation id
masked (keeping the real one to deliver replies), and keeps and shows agents' words masked, while the customer
still receives exactly what the agent wrote.
"""

from __future__ import annotations

import json
import random
from typing import Any

import aiohttp
import pytest

from bot.desk.store import Store
from tests.security.data_helpers import add_agent, detail_with, open_ticket, say, tracker

pytestmark = pytest.mark.stack


async def test_agents_never_see_a_phone_number_sender_or_their_own_raw_numbers(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone = "13" + "".join(random.choice("0123456789") for _ in range(9))  # a REST sender id that is a mobile
    reply_phone, note_phone = "13912345678", "13712345678"
    agent = add_agent(stack)
    colleague = add_agent(stack)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        ticket = await open_ticket(http, stack, phone)
        code = ticket["id"]
        await say(http, stack, phone, "在吗")
        async with http.post(f"{stack.desk_url}/api/tickets/{code}/claim", headers=agent["headers"]) as r:
            assert r.status == 200, await r.text()
        async with http.post(f"{stack.desk_url}/api/tickets/{code}/messages", headers=agent["headers"],
                             json={"text": f"请拨打 {reply_phone} 联系专员"}) as r:
            assert r.status == 201, await r.text()
            sent = await r.json()
        assert sent["text"] == "请拨打 139****5678 联系专员" and sent["status"] == "sent"
        # The customer got what the agent wrote, on the real conversation.
        bots = [e for e in (await tracker(http, stack, phone))["events"] if e["event"] == "bot"]
        assert bots[-1]["text"] == f"请拨打 {reply_phone} 联系专员"
        async with http.post(f"{stack.desk_url}/api/tickets/{code}/transfer", headers=agent["headers"],
                             json={"agent": colleague["agent"], "note": f"客户另一个电话 {note_phone}"}) as r:
            assert r.status == 200, await r.text()

        # Everything an agent can read: the list, the detail (with its context packet), as JSON text.
        async with http.get(f"{stack.desk_url}/api/tickets", headers=colleague["headers"],
                            params={"status": "assigned"}) as r:
            assert r.status == 200, await r.text()
            listed = [t for t in await r.json() if t["id"] == code]
        detail = await detail_with(http, stack, colleague, code, "note", 1)
    seen = json.dumps([listed, detail], ensure_ascii=False)
    for number in (phone, reply_phone, note_phone):
        assert number not in seen, number
    assert listed and listed[0]["conversation_id"] == detail["conversation_id"] == f"rest:{phone[:3]}****{phone[-4:]}"
    assert detail["context"]["conversation_id"] == detail["conversation_id"]
    assert [m["text"] for m in detail["messages"] if m["role"] in ("agent", "note")] == [
        "请拨打 139****5678 联系专员",
        f"Transferred by {agent['agent']} to agent {colleague['agent']}: 客户另一个电话 137****5678",
    ]

    # And what the desk keeps (read through its store, which decrypts with the stack's key): masked as well.
    monkeypatch.setenv("FRONTLINE_VAR", str(stack.var))
    store = Store(f"sqlite:///{stack.var / 'desk.db'}")
    try:
        kept = [m.text for m in store.messages(int(code.split("-")[1])) if m.role.value in ("agent", "note")]
    finally:
        store.close()
    assert all(reply_phone not in text and note_phone not in text for text in kept) and len(kept) == 2
