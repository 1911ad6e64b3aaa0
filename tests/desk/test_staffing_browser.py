"""The dashboard's staffing view in a real headless Chromium against the real desk process, on a desk filled by
`python -m bot desk simulate`: agents needed per hour for the coming days beside agents online."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time
from typing import Any, Dict, Iterator

import pytest
import requests

from bot.settings import repo_root
from cluster_helpers import SECRET, free_port
from test_console_reconnect import settle_password

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "Staffing-test-pass-1"
TIMEOUT = 15_000  # ms


@pytest.fixture
def desk(tmp_path: pathlib.Path) -> Iterator[Dict[str, Any]]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    port = free_port()
    env = {**os.environ, "FRONTLINE_DESK_PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}",
           "FRONTLINE_BROKER": "none", "FRONTLINE_VAR": str(tmp_path / "var"), "FRONTLINE_DESK_SECRET": SECRET,
           "FRONTLINE_RASA_URL": f"http://127.0.0.1:{free_port()}", "FRONTLINE_LOG_LEVEL": "WARNING"}
    env.pop("FRONTLINE_NOW", None)
    for argv in (["simulate", "--days", "8", "--per-day", "20", "--seed", "4"],
                 ["add-agent", "alice", "--password", PASSWORD, "--role", "supervisor"]):
        done = subprocess.run([sys.executable, "-m", "bot", "desk", *argv], env=env, cwd=repo_root(),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    with open(tmp_path / "desk.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "bot", "desk"], env=env, cwd=repo_root(), stdout=log,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "desk.log").read_text()
            time.sleep(0.2)
        settle_password(url, "alice", PASSWORD)  # the console asks for a one-time password's change first
        yield {"url": url}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_dashboard_shows_agents_needed_per_hour_beside_agents_online(desk: Dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(f"{desk['url']}/dashboard")
            expect(page.locator("[data-testid=staffing]")).to_be_hidden()  # nothing before signing in
            page.fill("#login-name", "alice")
            page.fill("#login-password", PASSWORD)
            page.click("[data-testid=login-submit]")
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
        finally:
            browser.close()
