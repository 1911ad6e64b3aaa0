"""Anger end to end on the running system: an angry customer is apologised to and handed over with the full
context; a calm complaint is answered by the assistant and opens no ticket."""

from __future__ import annotations

import uuid

import pytest
import requests

pytestmark = pytest.mark.stack


def say(stack, sender: str, text: str) -> list:
    response = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
    )
    assert response.status_code == 200, response.text
    return [m.get("text") or "" for m in response.json()]


def open_ticket(stack, sender: str):
    return requests.get(
        f"{stack.desk_url}/internal/conversations/rest:{sender}/ticket",
        headers={"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]},
        timeout=10,
    )


@pytest.mark.parametrize(
    "text, apology_word",
    [
        ("退款拖了两个星期还没到账！！！你们到底管不管？再不处理我就去12315投诉你们", "抱歉"),
        ("THIS IS THE THIRD TIME I ASK!!! Where is my refund??? I will report you to the regulator", "sorry"),
    ],
)
def test_angry_customer_gets_an_apology_and_a_ticket_with_context(stack, text, apology_word) -> None:
    sender = f"angry-{uuid.uuid4().hex[:8]}"
    replies = say(stack, sender, text)
    assert apology_word in replies[0].lower(), replies
    response = open_ticket(stack, sender)
    assert response.status_code == 200, response.text
    ticket = response.json()
    assert ticket["reason"] == "anger" and ticket["grade"] == "A"
    # The assistant stays silent now: the next message goes to the desk, not to the bot.
    assert say(stack, sender, "还要等多久") == []


def test_calm_complaint_is_answered_not_escalated(stack) -> None:
    sender = f"calm-{uuid.uuid4().hex[:8]}"
    replies = say(stack, sender, "退款还没到账，请问一般要多久？")
    assert replies and "退款" in replies[0]
    assert open_ticket(stack, sender).status_code == 404
