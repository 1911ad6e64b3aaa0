"""Forged satisfaction ratings (security review, finding 12): a customer rates only when a survey is pending.

The survey buttons send `/survey_rating{"rating": N}`, and anyone can type that. Before the fix it rated the
conversation's ticket at any time: a handed-back ticket (never surveyed), or a rated ticket again (1 star over
the 5 given), and the desk's `/internal` survey route took a rating for an open ticket.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
import pytest

from tests.security.data_helpers import add_agent, internal, open_ticket, say, ticket_status

pytestmark = pytest.mark.stack

FORGED = "/survey_rating" + json.dumps({"rating": 1})


async def test_typed_rating_of_a_handed_back_ticket_is_ignored(stack: Any) -> None:
    sender = f"forge-back-{uuid.uuid4().hex[:8]}"
    agent = add_agent(stack)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        code = (await open_ticket(http, stack, sender))["id"]
        # The desk refuses to rate an open ticket: no survey was sent for it.
        async with http.post(f"{stack.desk_url}/internal/tickets/{code}/survey", headers=internal(stack),
                             json={"rating": 1}) as r:
            assert r.status == 409, await r.text()
        for step in ("claim", "handback"):
            async with http.post(f"{stack.desk_url}/api/tickets/{code}/{step}", headers=agent["headers"]) as r:
                assert r.status == 200, await r.text()
        assert await say(http, stack, sender, FORGED) == []  # ignored: no thanks, no comment invitation
        assert (await ticket_status(http, stack, code))["rating"] is None
        # Nor does the next message become a "comment".
        await say(http, stack, sender, "你们太差了")
        assert (await ticket_status(http, stack, code))["rating_comment"] is None
        async with http.post(f"{stack.desk_url}/internal/tickets/{code}/survey", headers=internal(stack),
                             json={"rating": 1}) as r:
            assert r.status == 409, await r.text()


async def test_a_rated_ticket_cannot_be_rated_again_by_typing(stack: Any) -> None:
    sender = f"forge-twice-{uuid.uuid4().hex[:8]}"
    agent = add_agent(stack)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        code = (await open_ticket(http, stack, sender))["id"]
        for step in ("claim", "resolve"):
            async with http.post(f"{stack.desk_url}/api/tickets/{code}/{step}", headers=agent["headers"]) as r:
                assert r.status == 200, await r.text()
        assert await say(http, stack, sender, "/survey_rating" + json.dumps({"rating": 5}))  # the survey's answer
        assert (await ticket_status(http, stack, code))["rating"] == 5
        await say(http, stack, sender, "/faq_order_status")  # the customer carries on
        assert await say(http, stack, sender, FORGED) == []
        assert (await ticket_status(http, stack, code))["rating"] == 5
