"""The acknowledgement follows the ticket, with the real NLU in the running system: a lost card told in the body
gets the 24/7 line, the assistant's own answer and the grade-A time on the 24/7 team's calendar; an angry mail the
apology and grade A's hour of business time; an urgent subject the 24/7 line and grade A's hour; a plain question
the e-mail budget (one business day). And with `email.answer_faq: suggest` a confident FAQ is not mailed: the
customer gets the acknowledgement, the agent finds the answer in the ticket's transcript.

The stack's clock is pinned at Monday 1 December 2025, 17:30 Beijing time, half an hour before the main hours close
(09:00-12:00, 13:30-18:00), so each promise lands on a different moment: the 24/7 team's hour is 18:30 the same
day, the main hours' hour is 09:30 on Tuesday, the 7.5 business hours of e-mail are 17:30 on Tuesday. The
acknowledgements do not depend on `answer_faq` (no FAQ answer is mailed with them); `suggest` is this module's
setting so the same stack shows both."""

from __future__ import annotations

import uuid
from typing import Any, Dict, Tuple

import aiohttp
import pytest
import yaml

from bot.settings import repo_root
from tests.channels.email.mail_helpers import Relay, body_of, conversation_of, customer_mail, deliver
from tests.channels.email.test_email_stack import ticket_of
from tests.desk_harness import stack_agent as add_agent

pytestmark = pytest.mark.stack

EMERGENCY_LINE = "400-820-0000"  # settings.yml emergency.contact_zh
APOLOGY = "非常抱歉"
SAME_DAY_HOUR = "12月1日（周一）18:30"  # 24/7 team: 17:30 + 1 h
NEXT_MORNING = "12月2日（周二）09:30"  # main hours: 30 min on Monday, 30 min on Tuesday from 09:00
NEXT_DAY = "12月2日（周二）17:30"  # main hours: 27,000 s = 7.5 business hours
PROMISES = (SAME_DAY_HOUR, NEXT_MORNING, NEXT_DAY)


@pytest.fixture(scope="module")
def mail_now() -> str:
    return "2025-12-01T17:30:00+08:00"


@pytest.fixture(scope="module")
def mail_settings() -> Dict[str, Any]:
    settings = yaml.safe_load((repo_root() / "settings.yml").read_text(encoding="utf-8"))
    return {"email": {**settings["email"], "answer_faq": "suggest"}}


async def mail_and_ticket(mail_stack: Dict[str, Any], relay: Relay, subject: str, body: str) -> Tuple[str, Dict[str, Any]]:
    """Send one mail from a new customer; return the text of the one mail they got back, and the ticket."""
    customer = f"k-{uuid.uuid4().hex[:8]}@example.com"
    message_id = f"<{uuid.uuid4().hex}@example.com>"
    deliver(mail_stack["listen"], customer_mail(customer, subject, body, message_id))
    text = body_of(relay.wait_for(lambda m: m["To"] == customer))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        ticket = await ticket_of(http, mail_stack["stack"], conversation_of(mail_stack, message_id))
    assert ticket["id"] in text and len(relay.to(customer)) == 1
    return text, ticket


def promised(text: str) -> list:
    return [moment for moment in PROMISES if moment in text]


async def test_a_lost_card_in_the_body_gets_the_emergency_line_its_answer_and_the_24_7_hour(
    mail_stack: Dict[str, Any], relay: Relay
) -> None:
    text, ticket = await mail_and_ticket(mail_stack, relay, "求助", "我的信用卡丢了，怎么办？")
    assert (ticket["reason"], ticket["grade"]) == ("emergency", "A")
    assert EMERGENCY_LINE in text and text.index(EMERGENCY_LINE) < text.index(ticket["id"])
    assert "挂失" in text  # the assistant's own answer: what to do right now
    assert promised(text) == [SAME_DAY_HOUR] and APOLOGY not in text


async def test_an_angry_mail_gets_the_apology_and_grade_a_hour_of_business_time(
    mail_stack: Dict[str, Any], relay: Relay
) -> None:
    text, ticket = await mail_and_ticket(
        mail_stack, relay, "投诉", "你们这什么垃圾服务！！！气死我了，我要打12315投诉你们！！！")
    assert (ticket["reason"], ticket["grade"]) == ("anger", "A")
    assert text.startswith(APOLOGY) and EMERGENCY_LINE not in text
    assert promised(text) == [NEXT_MORNING]


async def test_an_urgent_subject_gets_the_emergency_line_and_the_24_7_hour(mail_stack: Dict[str, Any], relay: Relay) -> None:
    text, ticket = await mail_and_ticket(mail_stack, relay, "紧急！请尽快处理", "我的账户好像有问题")
    assert (ticket["reason"], ticket["grade"]) == ("emergency", "A")
    assert text.startswith("您的情况很紧急") and EMERGENCY_LINE in text
    assert promised(text) == [SAME_DAY_HOUR]


async def test_a_plain_question_gets_one_business_day(mail_stack: Dict[str, Any], relay: Relay) -> None:
    text, ticket = await mail_and_ticket(
        mail_stack, relay, "关于我上个月的订单", "你好，我上个月买的东西包装上有个奇怪的标签，想问问是怎么回事。")
    assert (ticket["reason"], ticket["grade"]) == ("email", "C")
    assert EMERGENCY_LINE not in text and APOLOGY not in text
    assert promised(text) == [NEXT_DAY]


async def test_suggest_puts_a_confident_faq_answer_on_the_ticket_and_mails_only_the_acknowledgement(
    mail_stack: Dict[str, Any], relay: Relay
) -> None:
    text, ticket = await mail_and_ticket(mail_stack, relay, "退款", "退款多久到账？")
    assert (ticket["reason"], ticket["grade"], ticket["topic"]) == ("email", "C", "faq_refund_status")
    assert "原路退回" not in text and "工单号" in text and promised(text) == [NEXT_DAY]
    stack = mail_stack["stack"]
    agent = add_agent(stack, f"sugg-{uuid.uuid4().hex[:6]}", "general,orders,after_sales,payments")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        async with http.get(f"{stack.desk_url}/api/tickets/{ticket['id']}",
                            headers={"Authorization": f"Bearer {agent['token']}"}) as r:
            assert r.status == 200, await r.text()
            detail = await r.json()
    said = [line["text"] for line in detail["context"]["transcript"] if line["role"] == "bot"]
    assert any("原路退回" in line for line in said), said  # the answer, for the agent to send or adapt
