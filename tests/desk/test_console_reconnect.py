"""The console resumes its event stream where it stopped: in a real headless Chromium against the real desk, a
stream that ends (its desk process died) is reopened with `Last-Event-ID`, and the events made meanwhile show."""

from __future__ import annotations

import pathlib
import time
from typing import Any, Dict, Iterator

import pytest
import requests

from bot.desk.store import Store
from cluster_helpers import SECRET
from desk_harness import CHROMIUM  # noqa: F401 - for the modules that use this module's desk
from desk_harness import chromium, desk_cli, desk_env, desk_process, open_console, require_chromium

pytestmark = pytest.mark.browser

PASSWORD = "Console-test-pass-1"
TIMEOUT = 10_000  # ms
# Records each stream request's headers; the first stream ends right after its first `ticket` event, as when
# the desk process serving it is killed.
CUT_FIRST_STREAM = """(() => {
  window.__streams = [];
  const orig = window.fetch;
  window.fetch = async (u, o) => {
    if (!String(u).startsWith('/api/stream?')) return orig(u, o);
    window.__streams.push(Object.assign({}, (o && o.headers) || {}));
    const response = await orig(u, o);
    if (window.__streams.length > 1) return response;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let seen = '';
    const body = new ReadableStream({
      async pull(controller) {
        if (seen.includes('event: ticket')) { reader.cancel(); controller.close(); return; }
        const { value, done } = await reader.read();
        if (done) { controller.close(); return; }
        seen += decoder.decode(value, { stream: true });
        controller.enqueue(value);
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
})()"""


@pytest.fixture
def desk(tmp_path: pathlib.Path, make_packet: Any) -> Iterator[Dict[str, Any]]:
    require_chromium()
    env = desk_env(tmp_path, FRONTLINE_DESK_SECRET=SECRET)
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


def settle_password(url: str, name: str, password: str) -> None:
    """Change an agent's one-time password (to the same words) so the console opens at once: a session on a one-time
    password can do nothing else (`test_roles`)."""
    token = requests.post(f"{url}/api/login", json={"name": name, "password": password}, timeout=10).json()["token"]
    changed = requests.post(f"{url}/api/me/password", json={"old_password": password, "password": password},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert changed.status_code == 204, changed.text


def test_the_console_reconnects_with_last_event_id(desk: Dict[str, Any]) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = browser.new_page()
        page.add_init_script(CUT_FIRST_STREAM)
        open_console(page, desk["url"], "alice", PASSWORD, TIMEOUT)
        assert page.evaluate("window.__streams.length") == 1
        assert "Last-Event-ID" not in page.evaluate("window.__streams[0]")
        first = desk["create"]("reconnect-1")
        first_event = desk["store"].feed_last_id()
        expect(page.locator(f"[data-testid=queue-item][data-ticket-id='{first}']")).to_be_visible(timeout=TIMEOUT)
        # The first stream ended after that event; a ticket is made before the console is back.
        second = desk["create"]("reconnect-2")
        deadline = time.monotonic() + TIMEOUT / 1000
        while page.evaluate("window.__streams.length") < 2:  # (wait_for_function would need 'unsafe-eval')
            assert time.monotonic() < deadline, "the console did not reconnect"
            time.sleep(0.05)
        assert page.evaluate("window.__streams[1]['Last-Event-ID']") == str(first_event)
        expect(page.locator(f"[data-testid=queue-item][data-ticket-id='{second}']")).to_be_visible(timeout=TIMEOUT)
        page.wait_for_selector("[data-testid=live][data-state=live]", timeout=TIMEOUT)
        third = desk["create"]("reconnect-3")  # live again, on the resumed stream
        expect(page.locator(f"[data-testid=queue-item][data-ticket-id='{third}']")).to_be_visible(timeout=TIMEOUT)
        assert page.evaluate("window.__streams.length") == 2
