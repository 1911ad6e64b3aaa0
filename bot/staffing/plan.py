"""The staffing plan: the forecast per hour ahead, and the agents each hour needs by Erlang C.

Pure: it takes hourly histories (oldest first, the last complete hour last) and the staffing settings, and
gives the JSON `GET /api/staffing` serves (documented in `docs/desk-api.md` and `docs/kpis.md`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Dict, List, Optional, Sequence

from bot.staffing import forecast
from bot.staffing.config import StaffingSettings
from bot.staffing.erlang_c import StaffingRequest, required
from bot.staffing.rota import Scheduled

logger = logging.getLogger(__name__)

HOUR = dt.timedelta(hours=1)


def bucket(times: Sequence[float], start: dt.datetime, hours: int) -> List[int]:
    """Count `times` (epoch seconds) into the `hours` hours from `start` (aware, on the hour); others ignored."""
    counts = [0] * hours
    origin = start.timestamp()
    for at in times:
        index = int((at - origin) // 3600)
        if 0 <= index < hours:
            counts[index] += 1
    return counts


def plan_hours(first_hour: dt.datetime, days: int) -> List[dt.datetime]:
    """The starts of the hours a plan of `days` days from `first_hour` covers (the rota is laid on the same)."""
    return [first_hour + step * HOUR for step in range(days * 24)]


def staffing_plan(
    handoffs: Sequence[float], conversations: Sequence[float], first_hour: dt.datetime, days: int,
    settings: StaffingSettings, scheduled: Optional[Scheduled] = None,
) -> Dict[str, Any]:
    """Forecast `days` days of hours from `first_hour` and staff each hour.

    Args:
        handoffs: tickets created per hour, the hours before `first_hour` (oldest first).
        conversations: conversations first seen per hour, aligned with `handoffs`.
        first_hour: the first hour forecast (aware, local, on the hour).
        days: days ahead.
        settings: the staffing settings.
        scheduled: the agents the rota schedules in these hours (`bot.staffing.rota.scheduled`), or None.

    Returns:
        `{"settings", "history_hours", "backtest": {"handoffs", "conversations"}, "rota", "hours": [...],
        "days": [...]}`; each hour: `start`, `handoffs`, `conversations` (expected counts), `agents`,
        `agents_with_shrinkage`, `service_level`, `occupancy`, `agents_scheduled` and `gap` (scheduled minus
        needed with shrinkage: below 0 the hour is short; both None without a rota); each day: its date, expected
        handoffs, the most agents any hour needs, the rota's row (`rota`), the hours short and the largest shortage.
    """
    hours = days * 24
    expected_handoffs = forecast.forecast(handoffs, hours, settings.history_weeks)
    expected_conversations = forecast.forecast(conversations, hours, settings.history_weeks)
    rows = []
    for step, start in enumerate(plan_hours(first_hour, days)):
        staffing = required(
            StaffingRequest(
                volume=expected_handoffs[step], interval_minutes=60, handle_seconds=settings.handle_seconds,
                target_seconds=settings.target_seconds, service_level=settings.service_level,
                concurrency=settings.concurrency, shrinkage=settings.shrinkage,
            ),
            settings.efficiency,
        )
        rows.append({
            "start": start.isoformat(),
            "handoffs": round(expected_handoffs[step], 2),
            "conversations": round(expected_conversations[step], 2),
            "agents": staffing.agents,
            "agents_with_shrinkage": staffing.agents_with_shrinkage,
            "service_level": round(staffing.service_level, 4),
            "occupancy": round(staffing.occupancy, 4),
            "agents_scheduled": scheduled.hours[step] if scheduled else None,
            "gap": round(scheduled.hours[step] - staffing.agents_with_shrinkage, 2) if scheduled else None,
        })
    by_day: Dict[str, Dict[str, Any]] = {}
    for row in rows:
        day = by_day.setdefault(row["start"][:10], {"date": row["start"][:10], "handoffs": 0.0, "conversations": 0.0,
                                                     "peak_agents": 0, "peak_agents_with_shrinkage": 0,
                                                     "rota": scheduled.rows.get(row["start"][:10]) if scheduled else None,
                                                     "short_hours": None, "largest_shortage": None})
        day["handoffs"] += row["handoffs"]
        day["conversations"] += row["conversations"]
        day["peak_agents"] = max(day["peak_agents"], row["agents"])
        day["peak_agents_with_shrinkage"] = max(day["peak_agents_with_shrinkage"], row["agents_with_shrinkage"])
        if row["gap"] is not None:
            day["short_hours"] = (day["short_hours"] or 0) + (row["gap"] < 0)
            day["largest_shortage"] = round(max(day["largest_shortage"] or 0, -row["gap"]), 2)
    for day in by_day.values():
        day["handoffs"] = round(day["handoffs"], 1)
        day["conversations"] = round(day["conversations"], 1)
    return {
        "settings": {
            "service_level": settings.service_level,
            "target_seconds": settings.target_seconds,
            "handle_seconds": settings.handle_seconds,
            "shrinkage": settings.shrinkage,
            "concurrency": settings.concurrency,
            "efficiency": settings.efficiency[settings.concurrency],
            "interval_minutes": 60,
        },
        "history_hours": len(handoffs),
        "backtest": {
            "handoffs": forecast.backtest(handoffs, settings.backtest_weeks, settings.history_weeks).as_json(),
            "conversations": forecast.backtest(conversations, settings.backtest_weeks, settings.history_weeks).as_json(),
        },
        "rota": scheduled is not None,
        "hours": rows,
        "days": list(by_day.values()),
    }
