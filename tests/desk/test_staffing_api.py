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
