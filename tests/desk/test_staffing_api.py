"""`GET /api/staffing`: the forecast of the desk's own (simulated) history, agents per hour, agents online."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, Dict

from bot.desk import config
from bot.desk.simulate import Plan, simulate
from bot.desk.store import Store

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


async def test_the_plan_follows_the_history_and_shows_who_is_online(
    app: Any, agents: Dict[str, Any], staff: Dict[str, Any], settings: Dict[str, Any], sqlite_store: Store
) -> None:
    _, refused = await app.asgi_client.get("/api/staffing?days=1", headers=agents["alice"]["headers"])
    assert refused.status == 403 and "supervisor" in refused.json["error"]  # staffing is for supervisors
    _, empty = await app.asgi_client.get("/api/staffing?days=1", headers=staff["sam"]["headers"])
    assert empty.status == 200 and empty.json["history_hours"] == 0 and empty.json["simulated"] is None
    assert all(hour["agents"] == 0 for hour in empty.json["hours"])

    await simulate(sqlite_store, config.load(settings), Plan(days=15, per_day=20, seed=2))
    _, response = await app.asgi_client.get("/api/staffing?days=2", headers=staff["sam"]["headers"])
    assert response.status == 200, response.text
    plan = response.json
    assert len(plan["hours"]) == 48 and len(plan["days"]) in (2, 3)
    assert plan["history_hours"] >= 15 * 24 - 1 and plan["simulated"]["tickets"] > 0
    assert plan["agents_online"] >= 1  # sam, asking
    assert plan["agents"] == 4 + 2 + 4  # the fixtures' and the simulation's
    assert plan["backtest"]["handoffs"]["wape"] is not None and len(plan["backtest"]["handoffs"]["weeks"]) == 1
    by_hour: Dict[int, list] = {}
    for hour in plan["hours"]:
        by_hour.setdefault(dt.datetime.fromisoformat(hour["start"]).astimezone(SHANGHAI).hour, []).append(hour)
    assert max(h["agents"] for h in by_hour[10]) > max(h["agents"] for h in by_hour[3])
    assert plan["settings"]["concurrency"] == 2 and plan["settings"]["target_seconds"] == 120


async def test_bad_days_and_no_token_are_refused(app: Any, staff: Dict[str, Any]) -> None:
    for days in ("0", "29", "x", "-1", "1.5"):
        _, response = await app.asgi_client.get(f"/api/staffing?days={days}", headers=staff["sam"]["headers"])
        assert response.status == 400 and "'days' must be a whole number from 1 to 28" in response.json["error"]
    _, response = await app.asgi_client.get("/api/staffing")
    assert response.status == 401


async def test_the_rota_is_set_beside_the_plan_on_holidays_and_make_up_days(
    app: Any, staff: Dict[str, Any], settings: Dict[str, Any], sqlite_store: Store, monkeypatch: Any
) -> None:
    """Asked on 2026-10-07 10:30, the last day of National Day: four days ahead are a holiday (the rota's holiday
    row: nobody), Thursday and Friday (3 agents 09:00-12:00 and 13:30-18:00), the make-up Saturday 10-10 (the
    working day's row) and Sunday's first hours (nobody). Numbers of settings.yml: staffing.rota."""
    now = dt.datetime(2026, 10, 7, 10, 30, tzinfo=SHANGHAI)
    await simulate(sqlite_store, config.load(settings), Plan(days=15, per_day=20, seed=2), end=now)
    monkeypatch.setenv("FRONTLINE_NOW", now.isoformat())
    _, response = await app.asgi_client.get("/api/staffing?days=4", headers=staff["sam"]["headers"])
    assert response.status == 200, response.text
    plan = response.json
    assert plan["rota"] is True
    assert {day["date"]: day["rota"] for day in plan["days"]} == {
        "2026-10-07": "holiday", "2026-10-08": "thu", "2026-10-09": "fri", "2026-10-10": "workday", "2026-10-11": "sun",
    }
    working = [0] * 9 + [3, 3, 3, 0, 1.5] + [3] * 4 + [0] * 6  # 13:30: half an hour of 3 agents
    expected = {"2026-10-07": [0] * 24, "2026-10-08": working, "2026-10-09": working, "2026-10-10": working,
                "2026-10-11": [0] * 24}
    for hour in plan["hours"]:
        start = dt.datetime.fromisoformat(hour["start"]).astimezone(SHANGHAI)
        assert hour["agents_scheduled"] == expected[start.date().isoformat()][start.hour], hour
        assert hour["gap"] == round(hour["agents_scheduled"] - hour["agents_with_shrinkage"], 2), hour
    for day in plan["days"]:
        hours = [h for h in plan["hours"] if h["start"].startswith(day["date"])]
        assert day["short_hours"] == sum(1 for h in hours if h["gap"] < 0)
        assert day["largest_shortage"] == max(0, *(-h["gap"] for h in hours))
    holiday = [h for h in plan["hours"] if h["start"].startswith("2026-10-07")]
    assert any(h["agents_with_shrinkage"] > 0 and h["gap"] < 0 for h in holiday)  # handoffs expected, nobody on
