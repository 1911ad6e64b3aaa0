"""Acting before the breach, in a real headless Chromium against a real desk process: when a ticket the agent
could take turns yellow, then red (detected by the desk's leader round, no request involved), the console lists
it under "At risk", moves it up the queue, creates a browser notification (permission granted to the page) and
chimes, unless the agent turned the sound off; a ticket the agent could not take (it needs a senior) is listed
but not notified. And auto-assignment's offer: notified, marked, accepted from the console."""

from __future__ import annotations

import copy

import contextlib
import pathlib
import time
from typing import Any, Dict, Iterator

import pytest
import requests
import yaml

from bot.settings import load_settings
from cluster_helpers import SECRET
from desk_harness import chromium, desk_cli, desk_env, desk_process, open_console, require_chromium
from desk_harness import sign_in as sign_in_as
from test_console_reconnect import settle_password

pytestmark = pytest.mark.browser

PASSWORD = "Console-test-pass-1"
FIRST_RESPONSE = 20  # seconds: yellow at 15 s (warn_at 0.75), red at 20 s; the leader looks every 5 s
TIMEOUT = 20_000  # ms
# Records every Notification the page creates (the real permission decides, as the console reads it) and every
# oscillator the chime starts.
SPY = """(() => {
  window.__notes = [];
  const Real = window.Notification;
  class Spy {
    constructor(title, options) { window.__notes.push({ title, body: (options || {}).body, tag: (options || {}).tag }); }
    close() {}
    static get permission() { return Real.permission; }
    static requestPermission() { return Real.requestPermission(); }
  }
  window.Notification = Spy;
  window.__chimes = 0;
  const createOscillator = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () { window.__chimes += 1; return createOscillator.call(this); };
})()"""


@pytest.fixture
def desk(tmp_path: pathlib.Path, make_packet: Any) -> Iterator[Dict[str, Any]]:
    with running_desk(tmp_path, make_packet, {"first_response_seconds": {"socketio": FIRST_RESPONSE}}) as started:
        yield started


@contextlib.contextmanager
def running_desk(tmp_path: pathlib.Path, make_packet: Any, desk_settings: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    """`python -m bot desk` on a temporary SQLite database with these `desk` settings changed, and alice
    (emergency) and sue (a supervisor) added; yields its URL and a ticket factory."""
    require_chromium()
    settings = copy.deepcopy(load_settings())  # the cached settings are shared: never change them in place
    settings["desk"].update(desk_settings)
    (tmp_path / "settings.yml").write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    env = desk_env(tmp_path, FRONTLINE_DESK_SECRET=SECRET, FRONTLINE_SETTINGS=str(tmp_path / "settings.yml"))
    desk_cli(env, "add-agent", "alice", "--skills", "emergency", "--password", PASSWORD)
    desk_cli(env, "add-agent", "sue", "--skills", "emergency", "--password", PASSWORD, "--role", "supervisor")
    with desk_process(env, tmp_path / "desk.log") as url:
        for name in ("alice", "sue"):  # the console asks for a one-time password's change first
            settle_password(url, name, PASSWORD)

        def create(conversation_id: str, **overrides: Any) -> str:
            # faq_lost_card: the emergency team, open around the clock (SLA in plain time whatever the hour).
            packet = make_packet(conversation_id, **{"topic": "faq_lost_card", **overrides})
            response = requests.post(f"{url}/internal/tickets", json=packet, headers={"X-Frontline-Secret": SECRET},
                                     timeout=5)
            assert response.status_code == 201, response.text
            return response.json()["id"]

        yield {"url": url, "create": create}


def wait_until(check: Any, what: str, seconds: float = TIMEOUT / 1000) -> Any:
    """Poll `check()` until truthy (wait_for_function would need 'unsafe-eval', which the page's CSP refuses)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def sign_in(page: Any, url: str) -> None:
    page.add_init_script(SPY)
    open_console(page, url, "alice", PASSWORD, TIMEOUT)


def test_a_ticket_turning_yellow_then_red_is_notified_listed_and_moved_up(desk: Dict[str, Any]) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        context = browser.new_context(permissions=["notifications"])
        page = context.new_page()
        sign_in(page, desk["url"])
        expect(page.locator("[data-testid=notify-state]")).to_have_text("Notifications on")
        mine = desk["create"]("risk-mine")
        other = desk["create"]("risk-other", reason="repeat_complaint")  # needs a senior: alice cannot take it
        created = time.monotonic()
        time.sleep(6)  # `fresh` turns yellow at least a leader round after `mine`
        fresh = desk["create"]("risk-fresh", customer={  # a VIP: above `mine` in the queue while both are green
            "id": "vip-1", "display_name": "V", "tier": "vip", "vip": True, "language": "zh", "earlier_tickets": []})
        queue = page.locator("[data-testid=queue-item]")
        expect(queue.first).to_have_attribute("data-ticket-id", fresh, timeout=TIMEOUT)

        notes = wait_until(lambda: page.evaluate("window.__notes"), "no notification for the yellow ticket")
        assert time.monotonic() - created >= FIRST_RESPONSE * 0.75 - 1  # not before its warning time
        assert notes[0]["title"] == f"{mine} is close to its SLA"
        assert page.evaluate("window.__chimes") > 0
        page.click("[data-testid=sound-toggle]")  # the agent turns the sound off before the ticket turns red
        expect(page.locator("[data-testid=sound-toggle]")).to_have_text("Sound: off")
        chimes = page.evaluate("window.__chimes")
        expect(page.locator(f"[data-testid=at-risk-item][data-ticket-id='{mine}']")).to_be_visible()
        expect(page.locator(f"[data-testid=at-risk-item][data-ticket-id='{other}']")).to_be_visible()
        expect(queue.first).to_have_attribute("data-ticket-id", mine)  # moved up, above the VIP

        wait_until(lambda: len(page.evaluate("window.__notes")) > 1, "no notification for the red ticket")
        titles = [n["title"] for n in page.evaluate("window.__notes")]
        assert [t for t in titles if t.startswith(f"{mine} ")][:2] == [
            f"{mine} is close to its SLA", f"{mine} is overdue"]
        # Escalation alerts (desk.on_red: grade A alerts the supervisors) may follow; never one for `other`
        # as an at-risk notice: alice could not take it.
        assert not any(t.startswith(f"{other} ") for t in titles)
        assert page.evaluate("window.__chimes") == chimes  # the sound is off
        expect(page.locator(f"[data-testid=at-risk-item][data-ticket-id='{mine}']")).to_have_attribute(
            "data-light", "red")
        listed = page.locator("[data-testid=at-risk-item]")
        assert listed.count() >= 2  # `fresh` joins when it turns yellow too
        expect(page.locator("[data-testid=at-risk-count]")).to_have_text(str(listed.count()))
        # The dashboard's supervisor panel lists them too, red first (the dashboard is for supervisors).
        page = context.new_page()  # a tab of its own: its own session
        page.goto(f"{desk['url']}/dashboard")
        sign_in_as(page, "sue", PASSWORD)
        board = page.locator("[data-testid=dashboard-at-risk] li")
        expect(board.first).to_have_attribute("data-light", "red", timeout=TIMEOUT)
        expect(page.locator(f"[data-testid=dashboard-at-risk] li[data-ticket-id='{mine}']")).to_be_visible()
        expect(page.locator("[data-testid=qa-queue]")).to_contain_text("Nothing to review.")


def test_an_offered_ticket_is_notified_and_accepted_in_the_console(tmp_path: pathlib.Path, make_packet: Any) -> None:
    """Auto-assignment in the console: alice sets herself online, the leader offers her a ticket of her team,
    the console notifies her and marks it; she accepts it and it is hers."""
    from playwright.sync_api import expect

    changes = {"auto_assign": {"teams": ["emergency"], "offer_seconds": 60}}
    with running_desk(tmp_path, make_packet, changes) as desk, chromium() as browser:
        page = browser.new_context(permissions=["notifications"]).new_page()
        sign_in(page, desk["url"])
        code = desk["create"]("offer-1")
        time.sleep(6)  # a leader round passes: alice is offline, nothing is offered
        item = page.locator(f"[data-testid=queue-item][data-ticket-id='{code}']")
        expect(item).to_be_visible()
        assert item.locator("[data-testid=offered]").count() == 0
        assert page.evaluate("window.__notes") == []
        page.select_option("[data-testid=status-select]", "online")
        expect(item.locator("[data-testid=offered]")).to_be_visible(timeout=TIMEOUT)
        notes = wait_until(lambda: page.evaluate("window.__notes"), "no notification of the offer")
        assert notes[0]["title"] == f"Ticket {code} is offered to you"
        item.locator("button").first.click()
        page.click("[data-action=accept]")
        expect(page.locator("[data-testid=ticket-status]")).to_have_text("assigned", timeout=TIMEOUT)
        expect(page.locator("[data-testid=ticket-assignee]")).to_have_text(" → alice")
