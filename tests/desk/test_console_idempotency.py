"""The console sends an `Idempotency-Key` on every state-changing call, one per agent action, and the same key
when it repeats an action whose answer it lost: in a real headless Chromium against the real desk process (Rasa
unreachable, so replies fail and closes are rolled back, each still a real request)."""

from __future__ import annotations

import re
from typing import Any, Dict, List

import pytest

from test_console_reconnect import CHROMIUM, PASSWORD, TIMEOUT, desk  # noqa: F401 - the desk fixture

pytestmark = pytest.mark.browser

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_every_state_changing_call_carries_a_key_and_a_lost_answer_is_repeated_with_the_same_key(
    desk: Dict[str, Any], make_packet: Any,  # noqa: F811 - the imported fixture
) -> None:
    import requests

    from cluster_helpers import SECRET

    from playwright.sync_api import Route, expect, sync_playwright

    calls: List[Dict[str, Any]] = []

    def record(route: Route) -> None:
        request = route.request
        if request.method != "POST":
            route.continue_()
            return
        action = request.url.split("/api/tickets/", 1)[1].split("/", 1)[1]
        response = route.fetch()
        calls.append({"action": action, "key": request.headers.get("idempotency-key"), "status": response.status,
                      "replayed": response.headers.get("idempotent-replayed")})
        if action == "messages" and sum(call["action"] == "messages" for call in calls) == 1:
            route.abort("connectionreset")  # the desk stored the reply; its answer never reaches the console
            return
        route.fulfill(response=response)

    def wait_for_calls(count: int) -> None:
        for _ in range(TIMEOUT // 50):
            if len(calls) >= count:
                return
            page.wait_for_timeout(50)  # lets Playwright run the route handler
        raise AssertionError(f"expected {count} calls, saw {calls}")

    packet = make_packet("socketio:console-idem-1", topic=None)  # skill "general": alice's
    created = requests.post(f"{desk['url']}/internal/tickets", json=packet, headers={"X-Frontline-Secret": SECRET},
                            timeout=5)
    assert created.status_code == 201, created.text
    code = created.json()["id"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.route("**/api/tickets/**", record)
            page.goto(f"{desk['url']}/console")
            page.fill("#login-name", "alice")
            page.fill("#login-password", PASSWORD)
            page.click("[data-testid=login-submit]")
            page.click(f"[data-testid=queue-item][data-ticket-id='{code}']", timeout=TIMEOUT)
            page.click("[data-action=claim]", timeout=TIMEOUT)
            wait_for_calls(1)
            expect(page.locator("[data-testid=ticket-status]")).to_have_text("assigned", timeout=TIMEOUT)
            topic = page.eval_on_selector("[data-testid=topic-select]",
                                          "s => Array.from(s.options).map(o => o.value).filter(Boolean)[0]")
            page.select_option("[data-testid=topic-select]", topic)
            wait_for_calls(2)
            page.fill("[data-testid=reply-text]", "您好，我来帮您查一下。")
            page.click("[data-testid=reply-send]")
            wait_for_calls(4)  # the lost answer, then the console's own repeat
            page.click(".retry", timeout=TIMEOUT)  # the reply failed (Rasa unreachable): the agent retries it
            wait_for_calls(5)
            for count, action in ((6, "resolve"), (7, "handback")):
                page.click(f"[data-action={action}]:not([disabled])", timeout=TIMEOUT)
                wait_for_calls(count)
            page.click("[data-action=transfer]", timeout=TIMEOUT)
            page.click("[data-testid=transfer-kind] ~ button[type=submit], form button[type=submit]:has-text('Transfer')",
                       timeout=TIMEOUT)
            wait_for_calls(8)
        finally:
            browser.close()

    actions = [call["action"] for call in calls]
    reply_id = actions[4].split("/")[1]
    assert actions == ["claim", "topic", "messages", "messages", f"messages/{reply_id}/retry", "resolve", "handback",
                       "transfer"], calls
    assert all(call["key"] and UUID4.match(call["key"]) for call in calls), calls
    assert calls[2]["key"] == calls[3]["key"] and calls[3]["replayed"] == "true", calls  # the repeat: same key
    keys = [call["key"] for index, call in enumerate(calls) if index != 3]
    assert len(set(keys)) == len(keys), calls  # one key per action
    # The desk stored the reply once (read through its API: the texts are encrypted with the desk's own key).
    token = requests.post(f"{desk['url']}/api/login", json={"name": "alice", "password": PASSWORD}, timeout=5).json()["token"]
    detail = requests.get(f"{desk['url']}/api/tickets/{code}", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert [m["text"] for m in detail.json()["messages"] if m["role"] == "agent"] == ["您好，我来帮您查一下。"]
