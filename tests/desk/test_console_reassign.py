"""A supervisor reassigns an agent's ticket in the console, in a real headless Chromium against the real desk
process; an agent's console offers no such thing, and an agent on a one-time password must choose its own first."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
import requests

from bot.desk import auth
from bot.desk.records import Role
from cluster_helpers import SECRET
from test_console_reconnect import CHROMIUM, PASSWORD, TIMEOUT, desk, settle_password  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser


def api_login(url: str, name: str, password: str) -> Dict[str, str]:
    token = requests.post(f"{url}/api/login", json={"name": name, "password": password}, timeout=10).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def sign_in(page: Any, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/console")
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    page.click("[data-testid=login-submit]")


def test_a_supervisor_reassigns_an_agents_ticket_in_the_console(desk: Dict[str, Any], make_packet: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    url, store = desk["url"], desk["store"]
    auth.create_agent(store, "sam", ["general"], False, 3, 0.0, PASSWORD, role=Role.SUPERVISOR)
    auth.create_agent(store, "bob", ["general"], False, 3, 0.0, "bob-one-time-1")
    settle_password(url, "sam", PASSWORD)
    created = requests.post(f"{url}/internal/tickets", json=make_packet("socketio:reassign-1", topic=None),
                            headers={"X-Frontline-Secret": SECRET}, timeout=10)
    assert created.status_code == 201, created.text
    code = created.json()["id"]  # skill general: alice's and bob's queue; alice claims it, out of bob's reach
    alice = api_login(url, "alice", PASSWORD)
    assert requests.post(f"{url}/api/tickets/{code}/claim", headers=alice, timeout=10).status_code == 200
    streams: List[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            # bob's one-time password: the console asks for his own before anything else.
            page = browser.new_page()
            sign_in(page, url, "bob", "bob-one-time-1")
            page.fill("#old-password", "bob-one-time-1")
            page.fill("#new-password", "bob-chosen-pass-1")
            page.click("[data-testid=password-submit]")
            page.wait_for_selector("[data-testid=live][data-state=live]", timeout=TIMEOUT)
            expect(page.locator("[data-testid=queue-item]")).to_have_count(0)  # alice's ticket: outside his reach
            expect(page.locator("a[href='/dashboard']")).to_be_hidden()
            page.close()

            # alice (an agent) has no reassign button on her own ticket.
            page = browser.new_page()
            sign_in(page, url, "alice", PASSWORD)
            page.click(f"[data-testid=queue-item][data-ticket-id='{code}']", timeout=TIMEOUT)
            expect(page.locator("[data-testid=ticket-assignee]")).to_have_text(" → alice", timeout=TIMEOUT)
            expect(page.locator("[data-action=reassign]")).to_have_count(0)
            page.close()

            # sam (a supervisor) gives it to bob.
            page = browser.new_page()
            page.on("request", lambda request: streams.append(request.url) if "/api/stream?" in request.url else None)
            sign_in(page, url, "sam", PASSWORD)
            page.wait_for_selector("[data-testid=live][data-state=live]", timeout=TIMEOUT)
            expect(page.locator("a[href='/dashboard']")).to_be_visible()
            page.click(f"[data-testid=queue-item][data-ticket-id='{code}']", timeout=TIMEOUT)
            page.click("[data-action=reassign]", timeout=TIMEOUT)
            page.select_option("[data-testid=reassign-target]", "bob")
            page.click("[data-testid=reassign-submit]")
            expect(page.locator("[data-testid=ticket-assignee]")).to_have_text(" → bob", timeout=TIMEOUT)
            expect(page.locator("[data-testid=reassign-form]")).to_be_hidden()
            expect(page.locator("[data-testid=conversation] [data-role=note] .msg-text").last).to_have_text(
                "Reassigned by sam to agent bob", timeout=TIMEOUT)
        finally:
            browser.close()

    bob = api_login(url, "bob", "bob-chosen-pass-1")
    detail = requests.get(f"{url}/api/tickets/{code}", headers=bob, timeout=10)
    assert detail.status_code == 200 and detail.json()["assignee"] == "bob"
    sam = api_login(url, "sam", PASSWORD)
    audit = requests.get(f"{url}/api/audit", params={"ticket": code, "agent": "sam"}, headers=sam, timeout=10).json()
    assert [(e["action"], e["target"]) for e in audit if e["action"] != "view"] == [("reassign", "bob")]
    # The console opened its streams with one-use tickets: no token in any stream URL.
    assert streams and all("ticket=" in s and "token=" not in s for s in streams), streams
