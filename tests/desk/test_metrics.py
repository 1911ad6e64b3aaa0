"""Dashboard figures: SQL aggregates over the stored tickets (SQLite and PostgreSQL), the same figures the
dashboard showed when it read every ticket into Python."""

from __future__ import annotations

import itertools
import json
from typing import Any

from bot.desk.metrics import dashboard
from bot.desk.store import Store
from bot.desk.store.tables import tickets

_IDS = itertools.count(1)


def add(store: Store, status: str, created: float, first: float | None = None, closed: float | None = None,
        grade: str = "A", skill: str = "general", reason: str = "anger", rating: int | None = None) -> None:
    """Insert one ticket row as the desk stores it (due in 120 s / 1 h, warned at 90 s / 45 min)."""
    number = next(_IDS)
    values: dict[str, Any] = {
        "conversation_id": f"c{number}", "open_key": f"c{number}" if status in ("queued", "assigned") else None,
        "channel": "rest", "status": status, "grade": grade, "reason": reason, "topic": None, "skill": skill,
        "team": None, "requires_senior": False, "customer_id": None, "customer_name": None, "tier": None,
        "language": "zh", "vip": False, "anger": 0.0, "assignee": "alice" if status == "assigned" else None,
        "context": json.dumps({}), "created_at": created, "created_real": created, "skill_since": created,
        "claimed_at": None, "first_response_at": first, "closed_at": closed, "rating": rating,
        "due_first_response": created + 120, "warn_first_response": created + 90,
        "due_resolution": created + 3600, "warn_resolution": created + 2700,
    }
    with store.engine.begin() as conn:
        conn.execute(tickets.insert().values(**values))


def test_dashboard_figures(store: Store) -> None:
    now = 10_000.0
    add(store, "queued", now - 50, grade="A", skill="orders")
    add(store, "queued", now - 500, grade="C", skill="general", reason="asked_for_human")  # first response breached
    add(store, "assigned", now - 100, first=now - 80)
    add(store, "resolved", 0.0, first=60.0, closed=1000.0, rating=5)  # met
    add(store, "resolved", 0.0, first=200.0, closed=1000.0, rating=2)  # first response late
    add(store, "handed_back", 0.0, first=30.0, closed=5000.0)  # resolution late
    board = dashboard(store.ticket_figures(now), now, conversations=10, conversations_with_ticket=4)
    assert board["queue"] == {"length": 2, "by_grade": {"A": 1, "C": 1}, "by_skill": {"general": 1, "orders": 1}}
    assert board["oldest_wait_seconds"] == 500
    # judged: 3 closed + 1 open in breach; met: 1.
    assert board["sla_met_percent"] == 25.0
    assert board["sla_lights"] == {"green": 2, "yellow": 0, "red": 1}
    assert board["first_response_seconds"] == {"p50": 30.0, "p90": 200.0, "count": 4}
    assert board["containment"] == {"rate": 0.6, "conversations": 10, "with_ticket": 4}
    assert board["handoffs_by_reason"] == {"anger": 5, "asked_for_human": 1}
    assert board["csat"] == {"average": 3.5, "count": 2, "distribution": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}}
    assert board["tickets"] == {"queued": 2, "assigned": 1, "resolved": 2, "handed_back": 1}


def test_a_yellow_light_and_nearest_rank_percentiles(store: Store) -> None:
    now = 100_000.0
    add(store, "queued", now - 100)  # past the warning (90 s), before the due time (120 s): yellow
    for seconds in [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]:
        add(store, "resolved", 0.0, first=float(seconds), closed=500.0)
    figures = store.ticket_figures(now)
    board = dashboard(figures, now, 0, 0)
    assert board["sla_lights"] == {"green": 0, "yellow": 1, "red": 0}
    # nearest rank: p50 is the 5th of 10, p90 the 9th
    assert board["first_response_seconds"] == {"p50": 50.0, "p90": 90.0, "count": 10}
    assert board["sla_met_percent"] == 100.0


def test_empty_dashboard(store: Store) -> None:
    board = dashboard(store.ticket_figures(0.0), 0.0, 0, 0)
    assert board["sla_met_percent"] is None and board["containment"]["rate"] is None
    assert board["csat"]["average"] is None and board["oldest_wait_seconds"] is None
    assert board["first_response_seconds"] == {"p50": None, "p90": None, "count": 0}
    assert board["queue"] == {"length": 0, "by_grade": {}, "by_skill": {}}
