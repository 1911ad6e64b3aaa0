"""Key facts on the console's context card, in a real headless Chromium against the real desk (`python -m bot desk`).

The packet's facts come from entities the real NLU component put on the tracker's user turns; a message the
customer writes after the handoff reaches the desk through the broker table and adds its facts to the card, live.
Phones are shown masked only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict

import pytest
import requests
from rasa.engine.graph import ExecutionContext
from rasa.engine.graph import GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa_sdk import Tracker

from bot.handoff import context
from bot.nlu.key_facts import KeyFactExtractor

from .conftest import load_state
# the desk and browser fixtures of the console's browser tests (one desk process for this module)
from .test_console_browser import NOW, PASSWORD, TIMEOUT, RunningDesk, browser, desk, shot, sign_in  # noqa: F401

pytestmark = pytest.mark.browser


def packet_with_facts(conversation_id: str, tmp_path) -> Dict[str, Any]:
    """The angry refund conversation, with a first message naming the order, each user turn parsed by the real
    key-fact component (as Rasa stores `parse_data`)."""
    storage = LocalModelStorage.create(tmp_path)
    component = KeyFactExtractor.create({}, storage, Resource("key_facts"), ExecutionContext(GraphSchema({}), "t"))
    state = load_state("angry_refund")
    state["sender_id"] = conversation_id
    first = next(e for e in state["events"] if e.get("event") == "user")
    first["text"] = "你好，我想查一下退款，订单号 20251103123456，付了 ¥1,299.00"
    for event in state["events"]:
        if event.get("event") == "user":
            message = Message(data={"text": event["text"]})
            component.process([message])
            event.setdefault("parse_data", {})["entities"] = message.get("entities", [])
    return context.build_packet(Tracker.from_dict(state), reason="anger", grade="A",
                                created_at=dt.datetime.fromisoformat(NOW))


def test_the_context_card_lists_the_key_facts_of_the_whole_conversation(
    desk: RunningDesk, browser: Any, tmp_path  # noqa: F811 - the imported fixtures
) -> None:
    from playwright.sync_api import expect

    packet = packet_with_facts("socketio:facts-1", tmp_path)
    assert [f["kind"] for f in packet["key_facts"]] == ["order_number", "amount", "phone"]
    ticket_id = desk.client().create_ticket(packet)["id"]

    page = browser.new_page()
    sign_in(page, desk.url)
    page.locator(f"[data-testid=queue-item][data-ticket-id='{ticket_id}'] button").click()
    expect(page.locator("[data-testid=ticket-id]")).to_have_text(ticket_id)
    card = page.locator("[data-testid=key-facts]")
    expect(card.locator("[data-kind=order_number]")).to_have_text("20251103123456", timeout=TIMEOUT)
    expect(card.locator("[data-kind=amount]")).to_have_text("¥1,299.00")
    expect(card.locator("[data-kind=phone]")).to_have_text("138****5678")
    expect(card.locator("[data-testid=key-fact]")).to_have_count(3)

    # the customer writes after the handoff: the card adds the new facts, pushed, and counts a repeated one
    desk.customer_says("socketio:facts-1", "运单号 SF1234567890123，我的电话 139 1234 5678，订单号 20251103123456",
                       "m-facts-1")
    expect(card.locator("[data-kind=tracking_number]")).to_have_text("SF1234567890123", timeout=TIMEOUT)
    expect(card.locator("[data-kind=phone]").nth(1)).to_have_text("139****5678")
    expect(card.locator("[data-kind=order_number]")).to_have_text("20251103123456 ×2")
    expect(card.locator("[data-testid=key-fact]")).to_have_count(5)
    text = card.inner_text()
    assert "13812345678" not in text and "1234 5678" not in text
    shot(page, "console-key-facts")

    # the same facts in the API's JSON: the packet's and each customer message's
    token = requests.post(f"{desk.url}/api/login", json={"name": "alice", "password": PASSWORD}, timeout=5).json()
    detail = requests.get(f"{desk.url}/api/tickets/{ticket_id}",
                          headers={"Authorization": f"Bearer {token['token']}"}, timeout=5).json()
    assert [f["value"] for f in detail["context"]["key_facts"]] == ["20251103123456", "¥1,299.00", "138****5678"]
    said = [m for m in detail["messages"] if m["role"] == "customer"]
    assert said[-1]["key_facts"] == [
        {"kind": "tracking_number", "value": "SF1234567890123"},
        {"kind": "phone", "value": "139****5678"},
        {"kind": "order_number", "value": "20251103123456"},
    ]
    page.close()


def test_a_conversation_without_facts_says_so(desk: RunningDesk, browser: Any) -> None:  # noqa: F811 - fixtures
    from playwright.sync_api import expect

    state = load_state("angry_refund")
    state["sender_id"] = "socketio:facts-2"
    state["events"] = [e for e in state["events"] if e.get("event") != "user" or "手机" not in e.get("text", "")]
    packet = context.build_packet(Tracker.from_dict(state), reason="asked_for_human", grade="B",
                                  created_at=dt.datetime.fromisoformat(NOW))
    ticket_id = desk.client().create_ticket(packet)["id"]
    page = browser.new_page()
    sign_in(page, desk.url)
    page.locator(f"[data-testid=queue-item][data-ticket-id='{ticket_id}'] button").click()
    expect(page.locator("[data-testid=ticket-id]")).to_have_text(ticket_id)
    expect(page.locator("[data-testid=key-facts]")).to_contain_text("No order numbers, amounts, dates or phones")
    page.close()
