"""The dashboard's period view in a real headless Chromium against the real desk process: the date range, the
lights as the desk computed them from `reports.lights` (nothing hard-coded in dashboard.js), the NPS tile ("no
answers" until someone answers, then its score and light), the charts, and a bad range refused with the desk's
reason."""

from __future__ import annotations

import datetime as dt
import pathlib
from typing import Any, Dict, Iterator
from zoneinfo import ZoneInfo

import pytest
import requests

from bot.desk.config import load
from bot.desk import auth
from bot.desk.records import Role
from bot.settings import load_settings
from cluster_helpers import SECRET
from desk_harness import chromium, desk_cli, desk_env, desk_process, require_chromium, sign_in
from test_console_reconnect import PASSWORD, TIMEOUT, desk, settle_password  # noqa: F401 - the desk fixture

pytestmark = pytest.mark.browser


def test_the_period_view_shows_lights_and_charts_for_a_date_range(desk: Dict[str, Any]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    for n in range(3):
        desk["create"](f"socketio:dash-{n}")
    # the dashboard and the reports are for supervisors
    auth.create_agent(desk["store"], "sam", ["general"], False, 3, 0.0, PASSWORD, role=Role.SUPERVISOR)
    settle_password(desk["url"], "sam", PASSWORD)
    token = requests.post(f"{desk['url']}/api/login", json={"name": "sam", "password": PASSWORD}, timeout=5).json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    # the desk's today is the calendar's (Asia/Shanghai), not UTC's: from 16:00 UTC they are different days
    today = dt.datetime.now(ZoneInfo(load_settings()["calendar"]["timezone"])).date()
    week = f"from={(today - dt.timedelta(days=6)).isoformat()}&to={today.isoformat()}&group_by=day"
    expected = requests.get(f"{desk['url']}/api/reports?{week}", headers=headers, timeout=10).json()
    assert expected["tickets"]["created"] == 3
    # the first view names no dates: the desk's own last week
    default = requests.get(f"{desk['url']}/api/reports?group_by=day", headers=headers, timeout=10).json()
    assert default["period"] == expected["period"]
    lights = load().lights
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{desk['url']}/dashboard")
        sign_in(page, "sam", PASSWORD)
        expect(page.locator("[data-testid=period-summary]")).to_contain_text("3 tickets", timeout=TIMEOUT)
        expect(page.locator("[data-testid=period-to]")).to_have_value(today.isoformat())
        # first response is shown in business time (the period's light and chart), never as a wall-clock tile
        expect(page.locator("[data-testid=tile-first-response]")).to_have_count(0)
        assert "nps" in expected["lights"]
        for key, light in expected["lights"].items():
            tile = page.locator(f"[data-testid=tile-light-{key}]")
            expect(tile).to_have_attribute("data-light", light["color"] or "grey")
            unit = "" if key == "nps" else "%"  # the NPS is a score from -100 to 100, not a percent
            better = "≥" if lights[key]["higher_is_better"] else "≤"
            assert f"green {better} {lights[key]['green']:g}{unit} · yellow" in tile.inner_text()  # settings.yml's
        # nobody answered the recommendation question: "no answers", grey, not a red 0
        expect(page.locator("[data-testid=value-light-nps]")).to_have_text("no answers")
        expect(page.locator("[data-testid=tile-light-nps]")).to_contain_text("0 answers")
        expect(page.locator("[data-testid=chart-volume-hour] li")).to_have_count(24)
        expect(page.locator("[data-testid=chart-first-response-days] li")).to_have_count(7)
        expect(page.locator("[data-testid=chart-csat-days] li")).to_have_count(7)
        expect(page.locator("[data-testid=chart-period-reason] li[data-label=anger] .bar-value")).to_have_text("3")
        # another range: nothing in it
        page.fill("[data-testid=period-from]", "2020-01-01")
        page.fill("[data-testid=period-to]", "2020-01-02")
        page.click("[data-testid=period-apply]")
        expect(page.locator("[data-testid=period-summary]")).to_contain_text("0 tickets", timeout=TIMEOUT)
        expect(page.locator("[data-testid=chart-first-response-days] li")).to_have_count(2)
        # a reversed range: the desk's reason, shown
        page.fill("[data-testid=period-from]", "2020-01-05")
        page.click("[data-testid=period-apply]")
        expect(page.locator("[data-testid=period-error]")).to_contain_text("is before", timeout=TIMEOUT)


@pytest.fixture
def answered(tmp_path: pathlib.Path) -> Iterator[Dict[str, Any]]:
    """A desk filled by `python -m bot desk simulate` (its customers answer the recommendation question), with a
    supervisor."""
    require_chromium()
    env = desk_env(tmp_path, FRONTLINE_DESK_SECRET=SECRET)
    desk_cli(env, "simulate", "--days", "3", "--per-day", "30", "--seed", "7", timeout=300)
    desk_cli(env, "add-agent", "sam", "--password", PASSWORD, "--role", "supervisor")
    with desk_process(env, tmp_path / "desk.log") as url:
        settle_password(url, "sam", PASSWORD)
        yield {"url": url}


def test_the_nps_tile_shows_the_score_of_the_answers_with_its_light(answered: Dict[str, Any]) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{answered['url']}/dashboard")
        sign_in(page, "sam", PASSWORD)
        expect(page.locator("[data-testid=period-summary]")).to_be_visible(timeout=TIMEOUT)
        token = page.evaluate("sessionStorage.getItem('frontline.desk.token')")
        # the dashboard's first view: the desk's own last week (no dates named)
        report = requests.get(f"{answered['url']}/api/reports?group_by=day",
                              headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        nps = report["lights"]["nps"]
        assert report["nps"]["count"] > 0 and nps["value"] == report["nps"]["score"] and nps["color"] is not None
        tile = page.locator("[data-testid=tile-light-nps]")
        expect(tile).to_have_attribute("data-light", nps["color"])
        expect(page.locator("[data-testid=value-light-nps]")).to_have_text(f"{nps['value']:.1f}")  # a score, no %
        expect(tile).to_contain_text(f"{report['nps']['count']} answers")
        expect(tile).to_contain_text("green ≥ 30 · yellow ≥ 0")
