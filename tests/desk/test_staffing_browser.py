"""The dashboard's staffing view in a real headless Chromium against the real desk process, on a desk filled by
`python -m bot desk simulate`: agents needed per hour for the coming days beside agents online."""

from __future__ import annotations

import pathlib
from typing import Any, Dict, Iterator

import pytest
import requests

from cluster_helpers import SECRET
from desk_harness import chromium, desk_cli, desk_env, desk_process, require_chromium, sign_in
from test_console_reconnect import settle_password

pytestmark = pytest.mark.browser

PASSWORD = "Staffing-test-pass-1"
TIMEOUT = 15_000  # ms


@pytest.fixture
def desk(tmp_path: pathlib.Path) -> Iterator[Dict[str, Any]]:
    require_chromium()
    env = desk_env(tmp_path, FRONTLINE_DESK_SECRET=SECRET)
    desk_cli(env, "simulate", "--days", "8", "--per-day", "20", "--seed", "4", timeout=300)
    desk_cli(env, "add-agent", "alice", "--password", PASSWORD, "--role", "supervisor")
    with desk_process(env, tmp_path / "desk.log") as url:
        settle_password(url, "alice", PASSWORD)  # the console asks for a one-time password's change first
        yield {"url": url}


def test_the_dashboard_shows_agents_needed_per_hour_beside_agents_online(desk: Dict[str, Any]) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{desk['url']}/dashboard")
        expect(page.locator("[data-testid=staffing]")).to_be_hidden()  # nothing before signing in
        sign_in(page, "alice", PASSWORD)
        expect(page.locator("[data-testid=staffing-table]")).to_be_visible(timeout=TIMEOUT)
        expect(page.locator("[data-testid=staffing-cell]")).to_have_count(7 * 24)
        expect(page.locator("[data-testid=staffing-simulated]")).to_contain_text("Simulated data")
        expect(page.locator("[data-testid=staffing-online]")).to_have_text("1")  # alice, on the dashboard
        expect(page.locator("[data-testid=tile-queue]")).to_be_visible()  # the dashboard's own figures stay

        token = page.evaluate("sessionStorage.getItem('frontline.desk.token')")
        plan = requests.get(f"{desk['url']}/api/staffing?days=7", headers={"Authorization": f"Bearer {token}"},
                            timeout=10).json()
        shown = {cell.get_attribute("data-start"): int(cell.inner_text())
                 for cell in page.locator("[data-testid=staffing-cell]").all()}
        assert shown == {hour["start"]: hour["agents_with_shrinkage"] for hour in plan["hours"]}
        assert max(shown.values()) >= 1  # the simulated office hours need someone

        page.select_option("[data-testid=staffing-days]", "14")
        expect(page.locator("[data-testid=staffing-cell]")).to_have_count(14 * 24, timeout=TIMEOUT)
