"""The dashboard's staffing view in a real headless Chromium against the real desk process, on a desk filled by
`python -m bot desk simulate`: agents needed per hour for the coming days beside agents scheduled by the rota
(settings.yml: staffing.rota, tomorrow made a holiday by calendar.extra_closed) and agents online."""

from __future__ import annotations

import datetime as dt
import pathlib
import zoneinfo
from typing import Any, Dict, Iterator

import pytest
import requests
import yaml

from bot.settings import load_settings

from cluster_helpers import SECRET
from desk_harness import chromium, desk_cli, desk_env, desk_process, require_chromium, sign_in
from test_console_reconnect import settle_password

pytestmark = pytest.mark.browser

PASSWORD = "Staffing-test-pass-1"
TIMEOUT = 15_000  # ms


@pytest.fixture
def desk(tmp_path: pathlib.Path) -> Iterator[Dict[str, Any]]:
    require_chromium()
    settings = load_settings()
    tomorrow = (dt.datetime.now(zoneinfo.ZoneInfo(settings["calendar"]["timezone"])) + dt.timedelta(days=1)).date()
    changed = {**settings, "calendar": {**settings["calendar"], "extra_closed": [tomorrow.isoformat()]}}
    path = tmp_path / "settings.yml"
    path.write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")
    env = desk_env(tmp_path, FRONTLINE_DESK_SECRET=SECRET, FRONTLINE_SETTINGS=str(path))
    desk_cli(env, "simulate", "--days", "8", "--per-day", "20", "--seed", "4", timeout=300)
    desk_cli(env, "add-agent", "alice", "--password", PASSWORD, "--role", "supervisor")
    with desk_process(env, tmp_path / "desk.log") as url:
        settle_password(url, "alice", PASSWORD)  # the console asks for a one-time password's change first
        yield {"url": url, "holiday": tomorrow.isoformat()}


def test_the_dashboard_shows_agents_needed_per_hour_beside_agents_scheduled(desk: Dict[str, Any]) -> None:
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
        cells = page.locator("[data-testid=staffing-cell]").all()
        shown = {cell.get_attribute("data-start"): (
            int(cell.locator("[data-testid=staffing-need]").inner_text()),
            float(cell.locator("[data-testid=staffing-scheduled]").inner_text()),
            "staff-short" in (cell.get_attribute("class") or "").split(),
        ) for cell in cells}
        assert shown == {hour["start"]: (hour["agents_with_shrinkage"], round(hour["agents_scheduled"], 1), hour["gap"] < 0)
                         for hour in plan["hours"]}
        assert max(need for need, _, _ in shown.values()) >= 1  # the simulated office hours need someone
        assert max(scheduled for _, scheduled, _ in shown.values()) == 3  # settings.yml's rota: 3 in office hours
        assert any(short for _, _, short in shown.values())  # some hour is short of staff, and outlined
        assert not all(short for _, _, short in shown.values())
        # tomorrow, closed by calendar.extra_closed, takes the rota's holiday row: nobody scheduled
        holiday = page.locator(f"[data-testid=staffing-day][data-day='{desk['holiday']}']")
        expect(holiday).to_have_attribute("data-rota", "holiday")
        expect(holiday.locator("[data-testid=staffing-kind]")).to_contain_text("holiday")
        assert {scheduled for start, (_, scheduled, _) in shown.items() if start.startswith(desk["holiday"])} == {0}
        short_hours = {day["date"]: day["short_hours"] for day in plan["days"]}
        for row in page.locator("[data-testid=staffing-day]").all():
            expected_short = str(short_hours[row.get_attribute("data-day")])
            assert row.locator("[data-testid=staffing-short-hours]").inner_text() == expected_short
        expect(page.locator("[data-testid=staffing-legend]")).to_contain_text("fewer scheduled than needed")
        assert "null" not in page.locator("[data-testid=staffing]").inner_text()  # no part left out shows as "null"

        page.select_option("[data-testid=staffing-days]", "14")
        expect(page.locator("[data-testid=staffing-cell]")).to_have_count(14 * 24, timeout=TIMEOUT)
