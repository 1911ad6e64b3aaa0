"""The survey answered by mail in the running system (real Rasa with the trained model, action server, desk, SMTP
listener and relay), with the recommendation question on (settings.yml `survey.nps: true`): the agent resolves,
the survey goes out in the thread as lines with their own numbers, "5 非常满意" is the rating, "ten" is asked
again, "9" is the recommendation score; both are stored on the ticket and no survey answer becomes a ticket."""

from __future__ import annotations

import asyncio
import time
import uuid
from email.message import Message
from typing import Any, Dict

import aiohttp
import pytest

from tests.channels.email.mail_helpers import Relay, body_of, conversation_of, customer_mail, deliver
from tests.desk_harness import stack_agent as add_agent

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def mail_settings() -> Dict[str, Any]:
    """The recommendation question on."""
    return {"survey": {"nps": True}}


def answer(mail_stack: Dict[str, Any], relay: Relay, customer: str, last: Message, body: str) -> Message:
    """The customer replies `body` to the mail `last`; return the next mail the customer gets."""
    before = len(relay.to(customer))
    deliver(mail_stack["listen"], customer_mail(
        customer, "Re: " + last["Subject"], f"{body}\n\nOn Mon, Support wrote:\n> {body_of(last)[:40]}",
        f"<{uuid.uuid4().hex}@example.com>", in_reply_to=last["Message-ID"], references=last["References"]))
    relay.wait_for(lambda m: m["To"] == customer and len(relay.to(customer)) > before)
    return relay.to(customer)[before]


async def test_the_survey_and_the_recommendation_answered_by_mail(mail_stack: Dict[str, Any], relay: Relay) -> None:
    stack = mail_stack["stack"]
    customer = f"s-{uuid.uuid4().hex[:6]}@example.com"
    first_id = f"<{uuid.uuid4().hex}@example.com>"
    deliver(mail_stack["listen"], customer_mail(
        customer, "关于我上个月的订单", "你好，我上个月买的东西包装上有个奇怪的标签，想问问是怎么回事。", first_id))
    ack = relay.wait_for(lambda m: m["To"] == customer)
    internal = {"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        code = ack["Subject"].split("[")[-1].rstrip("]")
        agent = add_agent(stack, f"survey-{customer[2:8]}", "general,orders,after_sales,payments")
        headers = {"Authorization": f"Bearer {agent['token']}"}
        async with http.post(f"{stack.desk_url}/api/tickets/{code}/claim", headers=headers) as r:
            assert r.status == 200, await r.text()
        async with http.post(f"{stack.desk_url}/api/tickets/{code}/resolve", headers=headers) as r:
            assert r.status == 200, await r.text()
        survey = relay.wait_for(lambda m: m["To"] == customer and "5 ⭐ 非常满意" in body_of(m))
        assert "1. 5" not in body_of(survey) and "1 ⭐ 非常不满意" in body_of(survey)

        question = answer(mail_stack, relay, customer, survey, "5 非常满意")
        assert "感谢您的评价" in body_of(question) and "推荐" in body_of(question), body_of(question)
        assert "10 非常愿意" in body_of(question) and "0 完全不会" in body_of(question)
        again = answer(mail_stack, relay, customer, question, "ten")  # English: asked again in English
        assert "one number from 0 to 10" in body_of(again) and "10 Extremely likely" in body_of(again), body_of(again)
        thanks = answer(mail_stack, relay, customer, again, "9")
        assert "Thank you for your answer" in body_of(thanks) or "感谢您的反馈" in body_of(thanks), body_of(thanks)

        deadline = time.monotonic() + 15
        while True:
            async with http.get(f"{stack.desk_url}/api/tickets/{code}", headers=headers) as r:
                detail = await r.json()
            if detail["nps"] is not None or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert (detail["status"], detail["rating"], detail["nps"]) == ("resolved", 5, 9)
        # no survey answer became a ticket: the thread's conversation has no open ticket
        conversation = conversation_of(mail_stack, first_id)
        async with http.get(f"{stack.desk_url}/internal/conversations/{conversation}/ticket", headers=internal) as r:
            assert r.status == 404, await r.text()


async def test_two_bad_recommendation_answers_end_the_survey_without_a_handoff(mail_stack: Dict[str, Any]) -> None:
    """On the REST channel: a typed "4" is the rating, "11" is asked again, "不知道" ends the survey politely;
    nothing is stored for the question, no ticket is opened and the conversation is not handed over."""
    from tests.desk.test_stack import say, tracker

    stack = mail_stack["stack"]
    sender = f"nps-{uuid.uuid4().hex[:8]}"
    internal = {"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]}
    agent = add_agent(stack, f"nps-{sender[-6:]}", "general,orders,after_sales,payments")
    headers = {"Authorization": f"Bearer {agent['token']}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        await say(http, stack, sender, "/request_human")
        async with http.get(f"{stack.desk_url}/internal/conversations/rest:{sender}/ticket", headers=internal) as r:
            code = (await r.json())["id"]
        for step in ("claim", "resolve"):
            async with http.post(f"{stack.desk_url}/api/tickets/{code}/{step}", headers=headers) as r:
                assert r.status == 200, await r.text()

        question = await say(http, stack, sender, "4")
        assert [len(m.get("buttons") or []) for m in question] == [0, 11]
        again = await say(http, stack, sender, "11")
        assert again[0]["text"] == "请回复 0 到 10 之间的一个数字（10 表示非常愿意推荐）。" and len(again[1]["buttons"]) == 11
        ended = await say(http, stack, sender, "不知道")
        assert [m["text"] for m in ended] == ["没关系，感谢您参与评价！如果还有其他问题，随时可以问我。"]

        state = await tracker(http, stack, sender)
        assert state["paused"] is False and state["slots"]["nps_pending"] is False
        assert not any(e["event"] == "action" and e["name"] == "action_handoff" for e in state["events"][-12:])
        async with http.get(f"{stack.desk_url}/internal/conversations/rest:{sender}/ticket", headers=internal) as r:
            assert r.status == 404  # no new ticket
        async with http.get(f"{stack.desk_url}/api/tickets/{code}", headers=headers) as r:
            detail = await r.json()
        assert (detail["rating"], detail["nps"]) == (4, None)
