"""The staffing plan: the forecast per hour ahead, and the agents each hour needs by Erlang C.

Pure: it takes hourly histories (oldest first, the last complete hour last) and the staffing settings, and
gives the JSON `GET /api/staffing` serves (documented in `docs/desk-api.md` and `docs/kpis.md`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Dict, List, Sequence

from bot.staffing import forecast
from bot.staffing.config import StaffingSettings
from bot.staffing.erlang_c import StaffingRequest, required

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


def staffing_plan(
    handoffs: Sequence[float], conversations: Sequence[float], first_hour: dt.datetime, days: int,
    settings: StaffingSettings,
) -> Dict[str, Any]:
    """Forecast `days` days of hours from `first_hour` and staff each hour.

    Args:
        handoffs: tickets created per hour, the hours before `first_hour` (oldest first).
        conversations: conversations first seen per hour, aligned with `handoffs`.
        first_hour: the first hour forecast (aware, local, on the hour).
        days: days ahead.
        settings: the staffing settings.

    Returns:
        `{"settings", "history_hours", "backtest": {"handoffs", "conversations"}, "hours": [...], "days": [...]}`;
        each hour: `start`, `handoffs`, `conversations` (expected counts), `agents`, `agents_with_shrinkage`,
        `service_level`, `occupancy`; each day: its date, expected handoffs and the most agents any hour needs.
    """
    hours = days * 24
    expected_handoffs = forecast.forecast(handoffs, hours, settings.history_weeks)
    expected_conversations = forecast.forecast(conversations, hours, settings.history_weeks)
    rows = []
    for step in range(hours):
        start = first_hour + step * HOUR
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
        })
    by_day: Dict[str, Dict[str, Any]] = {}
    for row in rows:
        day = by_day.setdefault(row["start"][:10], {"date": row["start"][:10], "handoffs": 0.0, "conversations": 0.0,
                                                     "peak_agents": 0, "peak_agents_with_shrinkage": 0})
        day["handoffs"] += row["handoffs"]
        day["conversations"] += row["conversations"]
        day["peak_agents"] = max(day["peak_agents"], row["agents"])
        day["peak_agents_with_shrinkage"] = max(day["peak_agents_with_shrinkage"], row["agents_with_shrinkage"])
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
        "hours": rows,
        "days": list(by_day.values()),
    }
