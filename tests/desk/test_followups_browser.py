"""The follow-ups page and the dashboard's overdue section in a real headless Chromium against the real desk
process: an agent adds a follow-up for a ticket, sees how to reach the customer, sends the customer a message on
their channel (to a Rasa stand-in on loopback), records the outcome; an overdue one shows on the dashboard."""

from __future__ import annotations

import asyncio
import datetime as dt
import pathlib
import threading
import time
from typing import Any, Dict, Iterator

import pytest
import requests

from bot.desk.store import Store
from cluster_helpers import SECRET, RecordingRasa
from desk_harness import desk_cli, desk_env, desk_process, require_chromium
from test_console_reconnect import CHROMIUM, PASSWORD, TIMEOUT, settle_password

pytestmark = pytest.mark.browser


@pytest.fixture
def rasa() -> Iterator[RecordingRasa]:
    """Rasa's tracker-events endpoint on loopback, served from its own thread (the browser test is synchronous)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = RecordingRasa()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def desk(tmp_path: pathlib.Path, make_packet: Any, rasa: RecordingRasa) -> Iterator[Dict[str, Any]]:
    """A real desk process talking to the Rasa stand-in; alice (password settled); `create` makes a ticket."""
    require_chromium()
    env = desk_env(tmp_path, FRONTLINE_DESK_SECRET=SECRET, FRONTLINE_RASA_URL=rasa.url)
    desk_cli(env, "add-agent", "alice", "--password", PASSWORD, "--skills", "general,orders")
    store = Store(env["DATABASE_URL"])
    try:
        with desk_process(env, tmp_path / "desk.log") as url:
            settle_password(url, "alice", PASSWORD)

            def create(conversation_id: str) -> str:
                response = requests.post(f"{url}/internal/tickets", json=make_packet(conversation_id),
                                         headers={"X-Frontline-Secret": SECRET}, timeout=5)
                assert response.status_code == 201, response.text
                return response.json()["id"]

            yield {"url": url, "store": store, "create": create}
    finally:
        store.close()


def sign_in(page: Any, url: str) -> None:
    page.goto(url)
    page.fill("#login-name", "alice")
    page.fill("#login-password", PASSWORD)
    page.click("[data-testid=login-submit]")


def test_an_agent_adds_a_follow_up_sends_the_customer_a_message_records_its_outcome_and_the_dashboard_shows_the_overdue(
    desk: Dict[str, Any], rasa: RecordingRasa,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    code = desk["create"]("followup-browser-1")
    token = requests.post(f"{desk['url']}/api/login", json={"name": "alice", "password": PASSWORD},
                          timeout=5).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            sign_in(page, f"{desk['url']}/followups")
            expect(page.locator("[data-testid=followup-list]")).to_contain_text("No follow-ups.", timeout=TIMEOUT)
            page.fill("[data-testid=new-followup-ticket]", code)
            page.fill("[data-testid=new-followup-note]", "客户要求下午回电")
            page.click("[data-testid=new-followup] button[type=submit]")
            item = page.locator("[data-testid=followup]")
            expect(item).to_have_count(1, timeout=TIMEOUT)
            expect(item).to_contain_text(code)
            expect(item.locator("[data-testid=note]")).to_have_text("客户要求下午回电")
            expect(item.locator("[data-testid=contact]")).to_have_text("On socketio")  # the widget: no window
            followup_id = item.get_attribute("data-followup-id")

            # On the widget the customer can be written to: a text box, and what was sent shows on the follow-up.
            item.locator("[data-testid=followup-message-text]").fill("您好，上次的问题解决了吗？")
            item.locator("[data-testid=followup-message-send]").click()
            sent = page.locator(f"[data-followup-id='{followup_id}'] [data-testid=followup-message]")
            expect(sent).to_have_count(1, timeout=TIMEOUT)
            expect(sent).to_have_attribute("data-status", "sent")
            expect(sent).to_contain_text("alice · sent: 您好，上次的问题解决了吗？")
            calls = [(cid, event) for cid, body in rasa.calls for event in body
                     if (event.get("metadata") or {}).get("followup") == followup_id]
            assert [(cid, event["text"], event["metadata"]["delivery_key"]) for cid, event in calls] == [
                ("socketio:followup-browser-1", "您好，上次的问题解决了吗？", f"desk-{followup_id}-1")
            ]
            page.click("[data-filter=mine]")
            expect(page.locator(f"[data-followup-id='{followup_id}']")).to_be_visible(timeout=TIMEOUT)
            page.select_option("[data-testid=outcome-select]", "reached")
            page.fill("[data-testid=outcome-note]", "已联系，问题已解决")
            page.click("[data-testid=outcome-submit]")
            expect(page.locator("[data-testid=followup-list]")).to_contain_text("No follow-ups.", timeout=TIMEOUT)
            page.click("[data-filter=done]")
            done = page.locator(f"[data-followup-id='{followup_id}']")
            expect(done.locator("[data-testid=outcome]")).to_have_text("Outcome: reached (alice)", timeout=TIMEOUT)
            expect(done.locator("[data-testid=note]")).to_have_text("已联系，问题已解决")

            # An overdue one (due in 1 s) on the dashboard's own section; the done one is not there.
            due = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)).isoformat()
            made = requests.post(f"{desk['url']}/api/followups", json={"ticket": code, "due_at": due},
                                 headers=headers, timeout=5)
            assert made.status_code == 201, made.text
            time.sleep(1.5)
            page.goto(f"{desk['url']}/dashboard")
            overdue = page.locator("[data-testid=overdue-followup]")
            expect(overdue).to_have_count(1, timeout=TIMEOUT)
            expect(overdue).to_have_attribute("data-followup-id", made.json()["id"])
            expect(page.locator("[data-testid=overdue-count]")).to_have_text("1")
            expect(page.locator("[data-testid=tile-queue]")).to_be_visible(timeout=TIMEOUT)  # the figures still show
        finally:
            browser.close()
