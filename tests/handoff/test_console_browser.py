"""The agent console and the dashboard in a real headless Chromium, against the real desk.

The desk runs as `python -m bot desk` on a free loopback port with a temporary SQLite database, a temporary
SQL event-broker table (where this test writes customer messages the way Rasa's SQL broker does) and a fake
Rasa (a loopback HTTP server recording the events the desk posts). Agents are created with the CLI; tickets
come from `POST /internal/tickets` with a context packet built from a realistic tracker.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import re
import shutil
import sqlite3
import time
from typing import Any, Dict, Iterator

import pytest
import requests
from rasa_sdk import Tracker

from bot.handoff import context
from bot.handoff.client import DeskClient
from desk_harness import chromium, desk_cli, desk_env, desk_process, open_console, require_chromium

from .conftest import FakeDesk, load_state

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
SECRET = "browser-test-desk-secret"
RASA_TOKEN = "browser-test-rasa-token"
NOW = "2025-12-01T10:00:00+08:00"  # a Monday morning: the team is open
PASSWORD = "Console-test-pass-1"
TIMEOUT = 10_000  # ms
# Set FRONTLINE_SCREENSHOTS=<folder> to keep screenshots of the pages for a look.
SHOTS = os.environ.get("FRONTLINE_SCREENSHOTS")


def shot(page: Any, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(pathlib.Path(SHOTS) / f"{name}.png"), full_page=True)


class RunningDesk:
    def __init__(self, url: str, env: Dict[str, str], events_db: pathlib.Path, rasa: FakeDesk) -> None:
        self.url = url
        self.env = env
        self.events_db = events_db
        self.rasa = rasa
        self.sequence = 0  # Rasa's sequence (the tracker row id) that the outbox publishes with each event
        self.handed_over: set = set()

    def client(self) -> DeskClient:
        return DeskClient(self.url, SECRET, timeout=(2, 10))

    def add_agent(self, name: str, skills: str, role: str = "agent") -> None:
        """Add an agent and change its one-time password (to the same words): the console opens at once."""
        shown = desk_cli(self.env, "add-agent", name, "--skills", skills, "--password", PASSWORD, "--role", role)
        assert f"password: {PASSWORD}" in shown and "token" not in shown  # a one-time password, no token
        token = requests.post(f"{self.url}/api/login", json={"name": name, "password": PASSWORD}, timeout=10).json()
        changed = requests.post(f"{self.url}/api/me/password", json={"old_password": PASSWORD, "password": PASSWORD},
                                headers={"Authorization": f"Bearer {token['token']}"}, timeout=10)
        assert changed.status_code == 204, changed.text

    def publish(self, conversation_id: str, event: Dict[str, Any]) -> None:
        """Append an event to the broker table as the tracker store's outbox publishes it (with Rasa's sequence)."""
        self.sequence += 1
        event = {**event, "sender_id": conversation_id, "timestamp": time.time(), "sequence": self.sequence}
        with sqlite3.connect(self.events_db) as db:
            db.execute("INSERT INTO events (sender_id, data) VALUES (?, ?)", (conversation_id, json.dumps(event)))

    def customer_says(self, conversation_id: str, text: str, message_id: str) -> None:
        """A customer message of a paused chat in the broker table, after the handoff turn that opened its ticket
        (a ticket takes the messages that follow its `action_handoff` event)."""
        if conversation_id not in self.handed_over:
            self.publish(conversation_id, {"event": "action", "name": "action_handoff", "confidence": 1.0,
                                           "policy": "policy_1_EscalationPolicy"})
            self.handed_over.add(conversation_id)
        self.publish(conversation_id, {
            "event": "user", "text": text, "message_id": message_id, "input_channel": "socketio",
            "parse_data": {"intent": {"name": "complain", "confidence": 0.8}, "anger": {"score": 0.42, "label": "annoyed"}},
        })


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDesk]:
    require_chromium()
    tmp = tmp_path_factory.mktemp("desk")
    events_db = tmp / "events.db"
    with sqlite3.connect(events_db) as db:
        db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, sender_id VARCHAR(255), data TEXT)")
    rasa = FakeDesk()
    rasa.default = (200, {"events": []})
    rasa.start()
    env = desk_env(tmp, FRONTLINE_DESK_HOST="127.0.0.1", FRONTLINE_BROKER=f"sqlite:///{events_db}",
                   FRONTLINE_RASA_URL=rasa.url, RASA_TOKEN=RASA_TOKEN, FRONTLINE_DESK_SECRET=SECRET,
                   FRONTLINE_NOW=NOW)
    try:
        with desk_process(env, tmp / "desk.log") as url:
            running = RunningDesk(url, env, events_db, rasa)
            running.add_agent("alice", "general,after_sales,orders,payments")
            running.add_agent("bob", "general,after_sales")
            running.add_agent("sue", "general", role="supervisor")
            yield running
    finally:
        rasa.stop()
        if os.environ.get("FRONTLINE_KEEP_LOGS"):
            print((tmp / "desk.log").read_text()[-5000:])
        shutil.rmtree(tmp / "var", ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(*CHROMIUM_ARGS) as instance:
        yield instance


def packet_for(conversation_id: str, reason: str = "anger", grade: str = "A") -> Dict[str, Any]:
    state = load_state("angry_refund")
    state["sender_id"] = conversation_id
    at = dt.datetime.fromisoformat(NOW)
    packet = context.build_packet(Tracker.from_dict(state), reason=reason, grade=grade, created_at=at)
    # a customer of its own per conversation: the recorded state's customer complains, and a second complaint of
    # one customer goes to senior agents only (bot/desk/complaints.py)
    packet["customer"]["id"] = f"u-{conversation_id.split(':')[-1]}"
    return packet


def sign_in(page: Any, url: str, name: str = "alice") -> None:
    open_console(page, url, name, PASSWORD, TIMEOUT)


def test_agent_handles_a_ticket_in_the_console(desk: RunningDesk, browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    console_errors = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.goto(desk.url + "/")
    assert page.url.endswith("/console")

    # a wrong password is refused on the page
    page.fill("#login-name", "alice")
    page.fill("#login-password", "wrong-password")
    page.click("[data-testid=login-submit]")
    expect(page.locator("[data-testid=login-error]")).to_have_text("Wrong name or password.", timeout=TIMEOUT)

    sign_in(page, desk.url)
    assert page.evaluate("sessionStorage.getItem('frontline.desk.token')")
    expect(page.locator("[data-testid=me]")).to_contain_text("alice")
    page.evaluate("window.__noReload = 'still here'")

    # a ticket created by the action server appears in the queue, pushed, without a reload
    answer = desk.client().create_ticket(packet_for("socketio:browser-conv-1"))
    assert answer["created"] and answer["position"] == 1
    ticket_id = answer["id"]
    item = page.locator(f"[data-testid=queue-item][data-ticket-id='{ticket_id}']")
    expect(item).to_be_visible(timeout=TIMEOUT)
    expect(item).to_contain_text("anger")
    expect(item).to_contain_text("VIP")
    assert page.evaluate("window.__noReload") == "still here"

    # the context packet, laid out
    item.locator("button").click()
    expect(page.locator("[data-testid=ticket-id]")).to_have_text(ticket_id)
    profile = page.locator("[data-testid=profile]")
    expect(profile).to_contain_text("u-browser-conv-1")
    expect(profile).to_contain_text("VIP")
    expect(page.locator("[data-testid=reason-code]")).to_have_text("anger")
    expect(page.locator("[data-testid=grade]")).to_have_text("Grade A")
    expect(page.locator("[data-testid=anger-sparkline] circle")).to_have_count(3)
    expect(page.locator("[data-testid=intents] tbody tr")).to_have_count(3)
    expect(page.locator("[data-testid=intents]")).to_contain_text("faq_refund_status")
    expect(page.locator("[data-testid=slots]")).to_contain_text("handoff_reason")
    expect(page.locator("[data-testid=countdown-first_response]")).to_contain_text("left")
    expect(page.locator("[data-testid=sla] [data-light]").first).to_have_attribute("data-light", "green")
    conversation = page.locator("[data-testid=conversation]")
    expect(conversation).to_contain_text("我的手机 138****5678")
    assert "13812345678" not in conversation.inner_text()
    expect(page.locator("[data-testid=reply-text]")).to_be_disabled()

    # claim
    page.click("button[data-action=claim]")
    expect(page.locator("[data-testid=ticket-status]")).to_have_text("assigned", timeout=TIMEOUT)
    expect(page.locator("[data-testid=ticket-assignee]")).to_contain_text("alice")
    expect(page.locator("[data-testid=reply-text]")).to_be_enabled()

    # the customer writes while the agent has the ticket open: pushed into the view
    desk.customer_says("socketio:browser-conv-1", "还在吗？我等了好久", "m-browser-1")
    expect(conversation.locator("li[data-role=customer][data-source=desk]")).to_contain_text(
        "还在吗？我等了好久", timeout=TIMEOUT
    )
    expect(page.locator("[data-testid=anger-sparkline] circle")).to_have_count(4)

    # reply with a canned reply plus free text
    page.click("[data-testid=canned] button[data-canned-id=wait_zh]")
    page.fill("[data-testid=reply-text]", page.input_value("[data-testid=reply-text]") + " 退款单号已找到。")
    page.click("[data-testid=reply-send]")
    sent = conversation.locator("li[data-role=agent]")
    expect(sent).to_contain_text("我正在为您查询，请稍候片刻。 退款单号已找到。", timeout=TIMEOUT)
    expect(sent).to_have_attribute("data-status", "sent")
    expect(page.locator("[data-testid=reply-text]")).to_have_value("")
    bot_events = [
        (r["path"], e) for r in desk.rasa.requests if r["method"] == "POST"
        for e in (r["json"] if isinstance(r["json"], list) else [r["json"]])
    ]
    replies = [e for _, e in bot_events if e.get("event") == "bot" and "退款单号已找到" in (e.get("text") or "")]
    assert replies and replies[0]["metadata"]["agent"] == "alice"
    assert re.fullmatch(r"desk-T-000001-\d+", replies[0]["metadata"]["delivery_key"])  # the channel sends it once
    assert set(replies[0]["metadata"]) == {"agent", "delivery_key"}
    assert any(path.startswith("/conversations/socketio:browser-conv-1/tracker/events") for path, _ in bot_events)

    shot(page, "console-ticket")

    # resolve: the ticket closes, the survey goes to the customer, the conversation is resumed
    page.click("button[data-action=resolve]")
    expect(page.locator("[data-testid=ticket-status]")).to_have_text("resolved", timeout=TIMEOUT)
    expect(item).to_have_count(0, timeout=TIMEOUT)  # gone from the open queue
    posted = [e for r in desk.rasa.requests if r["method"] == "POST"
              for e in (r["json"] if isinstance(r["json"], list) else [r["json"]])]
    assert any(e.get("event") == "resume" for e in posted)
    assert any((e.get("data") or {}).get("buttons") for e in posted if e.get("event") == "bot")
    assert page.evaluate("window.__noReload") == "still here"
    assert not [e for e in console_errors if "Content Security Policy" in e]
    page.close()


def test_claim_race_shows_the_desk_error(desk: RunningDesk, browser: Any) -> None:
    from playwright.sync_api import expect

    answer = desk.client().create_ticket(packet_for("socketio:browser-conv-2", reason="asked_for_human", grade="B"))
    ticket_id = answer["id"]
    page = browser.new_page()
    # alice's page gets no pushes (her stream never connects), so her view is stale when bob claims first
    page.add_init_script(
        "(() => { const orig = window.fetch; window.fetch = (u, o) => String(u).startsWith('/api/stream?')"
        " ? new Promise(() => {}) : orig(u, o); })()"
    )
    page.goto(f"{desk.url}/console")
    page.fill("#login-name", "alice")
    page.fill("#login-password", PASSWORD)
    page.click("[data-testid=login-submit]")
    item = page.locator(f"[data-testid=queue-item][data-ticket-id='{ticket_id}']")
    expect(item).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("[data-testid=live]")).to_have_attribute("data-state", "connecting")
    item.locator("button").click()
    expect(page.locator("[data-testid=ticket-status]")).to_have_text("queued")

    bob = requests.post(f"{desk.url}/api/login", json={"name": "bob", "password": PASSWORD}, timeout=5).json()
    response = requests.post(
        f"{desk.url}/api/tickets/{ticket_id}/claim", headers={"Authorization": f"Bearer {bob['token']}"}, timeout=5
    )
    assert response.status_code == 200, response.text

    page.click("button[data-action=claim]")
    expect(page.locator("[data-testid=ticket-error]")).to_have_text(
        f"ticket {ticket_id} is already assigned by bob", timeout=TIMEOUT
    )
    # the view refreshes after the failed action: bob's ticket is outside alice's reach now, so it says so and
    # every control is off (and the queue drops it)
    expect(page.locator("[data-testid=ticket-gone]")).to_contain_text(ticket_id, timeout=TIMEOUT)
    expect(page.locator("[data-testid=ticket-error]")).to_have_text(f"ticket {ticket_id} is already assigned by bob")
    expect(page.locator("button[data-action=handback]")).to_be_disabled()
    expect(page.locator("[data-testid=reply-text]")).to_be_disabled()
    expect(item).to_have_count(0)
    page.close()


def test_transfer_with_a_note_then_hand_back(desk: RunningDesk, browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    sign_in(page, desk.url)
    ticket_id = desk.client().create_ticket(packet_for("socketio:browser-conv-3", reason="asked_for_human", grade="C"))["id"]
    item = page.locator(f"[data-testid=queue-item][data-ticket-id='{ticket_id}']")
    expect(item).to_be_visible(timeout=TIMEOUT)
    item.locator("button").click()
    page.click("button[data-action=claim]")
    expect(page.locator("[data-testid=ticket-assignee]")).to_contain_text("alice", timeout=TIMEOUT)

    # transfer to the orders skill with a note: back in the queue, the note travels with the ticket
    page.click("button[data-action=transfer]")
    page.select_option("[data-testid=transfer-kind]", "skill")
    page.select_option("[data-testid=transfer-target]", "orders")
    page.fill("[data-testid=transfer-note]", "客户要查物流，转订单组")
    page.click("[data-testid=transfer-form] button[type=submit]")
    expect(page.locator("[data-testid=ticket-status]")).to_have_text("queued", timeout=TIMEOUT)
    expect(page.locator("[data-testid=reason]")).to_contain_text("orders")
    expect(page.locator("[data-testid=conversation] li[data-role=note]")).to_contain_text(
        "Transferred by alice to skill orders: 客户要查物流，转订单组", timeout=TIMEOUT
    )
    expect(page.locator("[data-testid=transfer-form]")).to_be_hidden()

    # alice has the orders skill: she claims it again and hands it back to the assistant
    page.click("button[data-action=claim]")
    expect(page.locator("[data-testid=ticket-status]")).to_have_text("assigned", timeout=TIMEOUT)
    page.click("button[data-action=handback]")
    expect(page.locator("[data-testid=ticket-status]")).to_have_text("handed_back", timeout=TIMEOUT)
    posted = [e for r in desk.rasa.requests if r["method"] == "POST" and "socketio:browser-conv-3" in r["path"]
              for e in (r["json"] if isinstance(r["json"], list) else [r["json"]])]
    # Each claim pauses the assistant; handing back says so, resumes, and listens again.
    assert [e["event"] for e in posted] == ["pause", "pause", "bot", "resume", "action"]
    for name in ("claim", "transfer", "resolve", "handback"):
        expect(page.locator(f"button[data-action={name}]")).to_be_disabled()
    page.close()


def test_dashboard_shows_the_figures(desk: RunningDesk, browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    sign_in(page, desk.url, "sue")  # the dashboard is for supervisors
    page.goto(desk.url + "/dashboard")  # same tab: the token in sessionStorage carries over
    expect(page.locator("[data-testid=tile-queue]")).to_be_visible(timeout=TIMEOUT)
    figures = requests.get(
        f"{desk.url}/api/dashboard",
        headers={"Authorization": "Bearer " + page.evaluate("sessionStorage.getItem('frontline.desk.token')")},
        timeout=5,
    ).json()
    expect(page.locator("[data-testid=value-queue]")).to_have_text(str(figures["queue"]["length"]))
    for reason, count in figures["handoffs_by_reason"].items():
        row = page.locator(f"[data-testid=chart-reason] li[data-label='{reason}']")
        expect(row).to_contain_text(str(count))
    expect(page.locator("[data-testid=chart-grade] li")).to_have_count(3)
    assert page.locator("[data-testid=tile-sla]").get_attribute("data-light") in ("green", "yellow", "red", "grey")
    shot(page, "dashboard")
    page.close()


def test_agent_sets_the_topic_in_the_console(desk: RunningDesk, browser: Any) -> None:
    from playwright.sync_api import expect

    ticket_id = desk.client().create_ticket(packet_for("socketio:browser-conv-4", reason="asked_for_human", grade="B"))["id"]
    page = browser.new_page()
    sign_in(page, desk.url)
    item = page.locator(f"[data-testid=queue-item][data-ticket-id='{ticket_id}']")
    expect(item).to_be_visible(timeout=TIMEOUT)
    item.locator("button").click()
    picker = page.locator("[data-testid=topic-select]")
    # the packet's topic is shown, but only the assignee may change it
    expect(picker).to_have_value("faq_refund_status", timeout=TIMEOUT)
    expect(picker).to_be_disabled()
    topics = requests.get(f"{desk.url}/api/topics", headers={
        "Authorization": "Bearer " + page.evaluate("sessionStorage.getItem('frontline.desk.token')")}, timeout=5).json()
    expect(picker.locator("option")).to_have_count(len(topics))

    page.click("button[data-action=claim]")
    expect(page.locator("[data-testid=ticket-assignee]")).to_contain_text("alice", timeout=TIMEOUT)
    expect(picker).to_be_enabled()
    page.select_option("[data-testid=topic-select]", "faq_exchange")
    expect(page.locator("[data-testid=reason]")).to_contain_text("faq_exchange", timeout=TIMEOUT)
    expect(item).to_contain_text("faq_exchange", timeout=TIMEOUT)
    internal = {"X-Frontline-Secret": SECRET}
    stored = requests.get(f"{desk.url}/internal/tickets/{ticket_id}", headers=internal, timeout=5).json()
    assert stored["topic"] == "faq_exchange"

    # sue (a supervisor: bob no longer reaches alice's ticket) sees it and cannot change it
    other = browser.new_page()
    sign_in(other, desk.url, name="sue")
    other.locator(f"[data-testid=queue-item][data-ticket-id='{ticket_id}'] button").click()
    expect(other.locator("[data-testid=ticket-id]")).to_have_text(ticket_id, timeout=TIMEOUT)
    expect(other.locator("[data-testid=topic-select]")).to_have_value("faq_exchange")
    expect(other.locator("[data-testid=topic-select]")).to_be_disabled()
    other.close()

    # once handed back the picker is off
    page.click("button[data-action=handback]")
    expect(page.locator("[data-testid=ticket-status]")).to_have_text("handed_back", timeout=TIMEOUT)
    expect(picker).to_be_disabled()
    shot(page, "console-topic")
    page.close()
