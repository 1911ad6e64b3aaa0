"""The follow-ups page and the dashboard's overdue section in a real headless Chromium against the real desk
process: an agent adds a follow-up for a ticket, sees how to reach the customer, records the outcome; an
overdue one shows on the dashboard."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Dict

import pytest
import requests

from test_console_reconnect import CHROMIUM, PASSWORD, TIMEOUT, desk  # noqa: F401 - the desk fixture

pytestmark = pytest.mark.browser


def sign_in(page: Any, url: str) -> None:
    page.goto(url)
    page.fill("#login-name", "alice")
    page.fill("#login-password", PASSWORD)
    page.click("[data-testid=login-submit]")


def test_an_agent_adds_a_follow_up_and_records_its_outcome_and_the_dashboard_shows_the_overdue(
    desk: Dict[str, Any],  # noqa: F811 - the imported fixture
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
