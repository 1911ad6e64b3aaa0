"""Dashboard figures from ticket rows."""

from __future__ import annotations

from bot.desk.metrics import dashboard, percentile
from bot.desk.records import Ticket


def row(status: str, created: float, first: float | None = None, closed: float | None = None, grade: str = "A",
        skill: str = "general", reason: str = "anger", rating: int | None = None) -> Ticket:
    return Ticket.from_row({
        "id": 1, "conversation_id": "c", "channel": "rest", "topic": None, "team": None, "requires_senior": False,
        "customer_id": None, "customer_name": None, "tier": None, "language": "zh", "vip": False, "anger": 0.0,
        "assignee": None, "created_real": created, "skill_since": created, "claimed_at": None,
        "status": status, "created_at": created, "first_response_at": first, "closed_at": closed, "grade": grade,
        "skill": skill, "reason": reason, "rating": rating,
        "due_first_response": created + 120, "warn_first_response": created + 90,
        "due_resolution": created + 3600, "warn_resolution": created + 2700,
    })


def test_percentile_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([30, 10, 20], 0.5) == 20
    assert percentile(list(range(1, 11)), 0.9) == 9
    assert percentile([5], 0.9) == 5


def test_dashboard_figures() -> None:
    now = 10_000.0
    tickets = [
        row("queued", now - 50, grade="A", skill="orders"),
        row("queued", now - 500, grade="C", skill="general", reason="asked_for_human"),  # first response breached
        row("assigned", now - 100, first=now - 80),
        row("resolved", 0.0, first=60.0, closed=1000.0, rating=5),  # met
        row("resolved", 0.0, first=200.0, closed=1000.0, rating=2),  # first response late
        row("handed_back", 0.0, first=30.0, closed=5000.0),  # resolution late
    ]
    board = dashboard(tickets, now, conversations=10, conversations_with_ticket=4)
    assert board["queue"] == {"length": 2, "by_grade": {"A": 1, "C": 1}, "by_skill": {"general": 1, "orders": 1}}
    assert board["oldest_wait_seconds"] == 500
    # judged: 3 closed + 1 open in breach; met: 1.
    assert board["sla_met_percent"] == 25.0
    assert board["sla_lights"] == {"green": 2, "yellow": 0, "red": 1}
    assert board["first_response_seconds"] == {"p50": 30.0, "p90": 200.0, "count": 4}
    assert board["containment"] == {"rate": 0.6, "conversations": 10, "with_ticket": 4}
    assert board["handoffs_by_reason"] == {"anger": 5, "asked_for_human": 1}
    assert board["csat"]["average"] == 3.5 and board["csat"]["count"] == 2
    assert board["tickets"] == {"queued": 2, "assigned": 1, "resolved": 2, "handed_back": 1}


def test_empty_dashboard() -> None:
    board = dashboard([], 0.0, 0, 0)
    assert board["sla_met_percent"] is None and board["containment"]["rate"] is None
    assert board["csat"]["average"] is None and board["oldest_wait_seconds"] is None
