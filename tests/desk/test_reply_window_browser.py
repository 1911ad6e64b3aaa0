"""The reply window in the console, in a real headless Chromium against a real desk process with its clock pinned
(`FRONTLINE_NOW`) to the eve of National Day, 30 September 2026 20:00 in Beijing (the API is tested in
`test_reply_window.py`):

- a WeChat ticket opened that evening shows when its window closes (2 October 20:00) and no warning;
- a WeChat ticket the agent took two evenings before, whose window closes within `reply_window.warn_hours`, is
  marked in the list and warns the agent in its SLA card;
- a web ticket shows no window at all.

The old ticket is opened and claimed on the same desk (the same database) run first with its clock on 28 September
(a queued ticket that old would have been abandoned: `desk.abandon_after_minutes`).
"""

from __future__ import annotations

import datetime as dt
import pathlib
from typing import Any, Dict

import pytest
import requests

from bot.reply_window import WindowRule
from bot.settings import load_settings
from cluster_helpers import SECRET
from desk_harness import chromium, desk_cli, desk_env, desk_process, open_console, require_chromium
from test_console_reconnect import settle_password

pytestmark = pytest.mark.browser

PASSWORD = "Console-test-pass-1"
TIMEOUT = 20_000  # ms
BEIJING = dt.timezone(dt.timedelta(hours=8))
EVE = dt.datetime(2026, 9, 30, 20, 0, tzinfo=BEIJING)
RULE = WindowRule.from_settings(load_settings())
# two evenings before: its window closes at 22:00 on the eve, within `warn_hours` (4) of the eve's 20:00
EARLIER = dt.datetime(2026, 9, 28, 22, 0, tzinfo=BEIJING)


def open_tickets(url: str, make_packet: Any, *packets: Dict[str, Any]) -> Dict[str, str]:
    """Create tickets through the internal API (as the handoff does) on the desk at `url`: {conversation: code}."""
    codes = {}
    for packet in packets:
        # faq_lost_card: the emergency team's, open around the clock, which alice is in
        body = make_packet(packet["conversation"], topic="faq_lost_card", channel=packet["channel"])
        response = requests.post(f"{url}/internal/tickets", json=body, headers={"X-Frontline-Secret": SECRET}, timeout=10)
        assert response.status_code == 201, response.text
        codes[packet["conversation"]] = response.json()["id"]
    return codes


def test_the_console_shows_the_window_and_warns_before_it_closes(tmp_path: pathlib.Path, make_packet: Any) -> None:
    from playwright.sync_api import expect

    require_chromium()
    assert RULE.applies("wechat") and not RULE.applies("socketio") and RULE.hours == 48
    assert dt.timedelta(0) < RULE.closes_at(EARLIER) - EVE <= dt.timedelta(hours=RULE.warn_hours)
    env = desk_env(tmp_path, FRONTLINE_DESK_SECRET=SECRET)
    desk_cli(env, "add-agent", "alice", "--skills", "emergency", "--password", PASSWORD)
    with desk_process({**env, "FRONTLINE_NOW": EARLIER.isoformat()}, tmp_path / "desk-earlier.log") as url:
        codes = open_tickets(url, make_packet, {"conversation": "rw-old", "channel": "wechat"})
        settle_password(url, "alice", PASSWORD)
        token = requests.post(f"{url}/api/login", json={"name": "alice", "password": PASSWORD}, timeout=10).json()["token"]
        claimed = requests.post(f"{url}/api/tickets/{codes['rw-old']}/claim", headers={"Authorization": f"Bearer {token}"},
                                timeout=10)
        assert claimed.status_code == 200, claimed.text
    with desk_process({**env, "FRONTLINE_NOW": EVE.isoformat()}, tmp_path / "desk-eve.log") as url:
        codes.update(open_tickets(url, make_packet, {"conversation": "rw-new", "channel": "wechat"},
                                  {"conversation": "rw-web", "channel": "socketio"}))
        with chromium() as browser:
            # the agent's browser in Beijing: times are shown in its own zone
            page = browser.new_context(timezone_id="Asia/Shanghai", locale="en-GB").new_page()
            open_console(page, url, "alice", PASSWORD, TIMEOUT)

            def item(conversation: str) -> Any:
                return page.locator(f"[data-testid=queue-item][data-ticket-id='{codes[conversation]}']")

            def show(conversation: str) -> Any:
                item(conversation).locator("button").first.click()
                expect(page.locator("[data-testid=ticket-id]")).to_have_text(codes[conversation], timeout=TIMEOUT)
                expect(page.locator("[data-testid=sla-overall]")).to_be_visible()
                return page.locator("[data-testid=reply-window]")

            for conversation in codes:
                expect(item(conversation)).to_be_visible(timeout=TIMEOUT)
            # in the list, only the ticket whose window closes soon is marked
            expect(item("rw-old").locator("[data-testid=reply-window-badge]")).to_have_text("window closing")
            assert item("rw-new").locator("[data-testid=reply-window-badge]").count() == 0
            assert item("rw-web").locator("[data-testid=reply-window-badge]").count() == 0

            fresh = show("rw-new")  # opened on the eve: closes on 2 October at 20:00 (48 hours), no warning yet
            expect(fresh).to_have_attribute("data-state", "open")
            expect(fresh).to_contain_text("closes 02/10, 20:00:00")
            assert fresh.locator("[data-testid=reply-window-warning]").count() == 0

            closing = show("rw-old")  # taken on the 28th at 22:00: closes tonight at 22:00, within warn_hours
            expect(closing).to_have_attribute("data-state", "closing")
            expect(closing).to_contain_text("closes 30/09, 22:00:00")
            expect(closing.locator("[data-testid=reply-window-warning]")).to_have_text(
                "closes soon: reply now, or ask for a phone number or e-mail")

            show("rw-web")  # the web has no window: nothing to show
            expect(page.locator("[data-testid=reply-window]")).to_have_count(0)
