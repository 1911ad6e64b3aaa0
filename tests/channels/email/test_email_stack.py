"""The e-mail channel in the running system: a mail forwarded to the SMTP listener goes through the assistant,
becomes a desk ticket with an acknowledgement in the thread, the agent's reply goes out through the relay in the
same thread, the customer's answer lands on the same ticket; a confident FAQ is answered at once; an urgent
subject takes the 24/7 lane; auto mail is never answered."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Dict

import aiohttp
import pytest

from bot.run import Stack
from tests.channels.email.mail_helpers import SUPPORT, Relay, body_of, conversation_of, customer_mail, deliver
from tests.desk_harness import stack_agent as add_agent

pytestmark = pytest.mark.stack


async def ticket_of(http: aiohttp.ClientSession, stack: Stack, conversation: str) -> Dict[str, Any]:
    internal = {"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]}
    async with http.get(f"{stack.desk_url}/internal/conversations/{conversation}/ticket", headers=internal) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_mail_to_ticket_agent_reply_in_thread_and_customer_answer_on_same_ticket(
    mail_stack: Dict[str, Any], relay: Relay
) -> None:
    stack = mail_stack["stack"]
    customer = f"c-{uuid.uuid4().hex[:6]}@example.com"
    first_id = f"<{uuid.uuid4().hex}@example.com>"
    deliver(mail_stack["listen"], customer_mail(
        customer, "关于我上个月的订单", "你好，我上个月买的东西包装上有个奇怪的标签，想问问是怎么回事。\n\n-- \n张三", first_id))
    ack = relay.wait_for(lambda m: m["To"] == customer)
    assert ack["In-Reply-To"] == first_id and first_id in ack["References"]
    assert ack["Auto-Submitted"] == "auto-replied" and ack["From"] == SUPPORT
    conversation = conversation_of(mail_stack, first_id)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        ticket = await ticket_of(http, stack, conversation)
        code = ticket["id"]
        assert ticket["channel"] == "email" and ticket["grade"] == "C"
        assert f"[{code}]" in ack["Subject"] and code in body_of(ack)
        assert "12月1日" in body_of(ack) or "12月2日" in body_of(ack)  # expected reply time from the calendar

        agent = add_agent(stack, f"mail-{customer[2:8]}", "general,orders,after_sales,payments")
        headers = {"Authorization": f"Bearer {agent['token']}"}
        async with http.post(f"{stack.desk_url}/api/tickets/{code}/claim", headers=headers) as r:
            assert r.status == 200, await r.text()
        async with http.post(f"{stack.desk_url}/api/tickets/{code}/messages", headers=headers,
                             json={"text": "您好，那是物流公司的分拣标签，不影响使用。"}) as r:
            assert r.status == 201, await r.text()
        reply = relay.wait_for(lambda m: m["To"] == customer and "分拣标签" in body_of(m))
        assert reply["In-Reply-To"] == ack["Message-ID"]
        assert first_id in reply["References"] and ack["Message-ID"] in reply["References"]
        assert f"[{code}]" in reply["Subject"] and reply["Auto-Submitted"] is None

        # The customer answers the agent's mail: the same ticket gets it, and no second acknowledgement goes out.
        deliver(mail_stack["listen"], customer_mail(
            customer, reply["Subject"].replace("Re: ", "Re: Re: ", 1), "明白了，谢谢！\n\nOn Mon, Support wrote:\n> 您好",
            f"<{uuid.uuid4().hex}@example.com>", in_reply_to=reply["Message-ID"], references=reply["References"]))
        deadline = time.monotonic() + 10
        while True:
            async with http.get(f"{stack.desk_url}/api/tickets/{code}", headers=headers) as r:
                detail = await r.json()
            said = [m["text"] for m in detail["messages"] if m["role"] == "customer"]
            if any("明白了" in t for t in said) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert any("明白了，谢谢" in t and "您好" not in t for t in said), said
        assert len(relay.to(customer)) == 2  # the acknowledgement and the agent's reply: nothing automatic again
        # Each message carries the kept mail it came as (its attachments go under it in the console).
        first_mail, answer_mail = [mail["id"] for mail in detail["mails"]]
        assert [line.get("mail") for line in detail["context"]["transcript"] if line["role"] == "customer"] == \
            [first_mail]
        assert [m.get("mail") for m in detail["messages"] if m["role"] == "customer"] == [answer_mail]


async def test_confident_faq_is_answered_at_once_with_a_way_to_a_person(mail_stack: Dict[str, Any], relay: Relay) -> None:
    customer = f"f-{uuid.uuid4().hex[:6]}@example.com"
    deliver(mail_stack["listen"], customer_mail(customer, "退款", "退款多久到账？", f"<{uuid.uuid4().hex}@example.com>"))
    answer = relay.wait_for(lambda m: m["To"] == customer)
    text = body_of(answer)
    assert "人工" in text and "工单号" not in text and answer["Auto-Submitted"] == "auto-replied"


async def test_urgent_subject_takes_the_emergency_lane(mail_stack: Dict[str, Any], relay: Relay) -> None:
    stack = mail_stack["stack"]
    customer = f"u-{uuid.uuid4().hex[:6]}@example.com"
    message_id = f"<{uuid.uuid4().hex}@example.com>"
    deliver(mail_stack["listen"], customer_mail(customer, "紧急！请尽快处理", "我的账户好像有问题", message_id))
    ack = relay.wait_for(lambda m: m["To"] == customer)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        ticket = await ticket_of(http, stack, conversation_of(mail_stack, message_id))
    assert ticket["grade"] == "A" and ticket["reason"] == "emergency"
    assert "400-820-0000" in body_of(ack)


@pytest.mark.parametrize(
    "headers, mail_from",
    [({"Auto_Submitted": "auto-replied"}, None), ({"Precedence": "bulk"}, None), ({}, "")],
    ids=["auto-submitted", "bulk", "bounce"],
)
def test_auto_mail_is_never_answered(mail_stack: Dict[str, Any], relay: Relay, headers: Dict[str, str], mail_from: Any) -> None:
    customer = f"a-{uuid.uuid4().hex[:6]}@example.com"
    deliver(mail_stack["listen"], customer_mail(customer, "Out of office", "I am away", f"<{uuid.uuid4().hex}@x>", **headers),
            mail_from=mail_from)
    # a control mail after it is answered, so by then the auto mail was handled
    control = f"k-{uuid.uuid4().hex[:6]}@example.com"
    deliver(mail_stack["listen"], customer_mail(control, "退款", "退款多久到账？", f"<{uuid.uuid4().hex}@example.com>"))
    relay.wait_for(lambda m: m["To"] == control)
    assert relay.to(customer) == []


async def test_the_lone_rasa_server_reads_the_mail(mail_stack: Dict[str, Any]) -> None:
    """One Rasa server without Redis holds the readers (`bot.channels.email_readers.LocalLease`) and says so."""
    stack: Stack = mail_stack["stack"]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack.rasa_url}/webhooks/email/") as response:
            assert response.status == 200
            health = await response.json()
    assert health == {
        "status": "ok", "configured": True, "smtp_listener": True, "imap": False, "reading": True, "can_send": True,
    }
