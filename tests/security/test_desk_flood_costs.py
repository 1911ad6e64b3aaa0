"""What a ticket flood costs the desk's background work (security review, findings 3 and 12), on the desk's
own parts over a real SQLite store: every SQL statement is counted.

- Queue-position updates (every 5 s, on the event loop) cost a few queries, not tickets × agents.
- The dashboard (every 5 s per open dashboard) reads aggregates, never every ticket ever.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Iterator, List, Optional

import pytest
import sqlalchemy as sa

from bot.desk import auth
from bot.desk.config import load
from bot.desk.rasa_client import RasaClient
from bot.desk.service import Desk
from bot.desk.store import Store
from bot.desk.store.tables import tickets

NOW = 1_764_554_400.0  # a Monday morning


class OpenCalendar:
    """Always open; plain time."""

    def add_business_time(self, start: dt.datetime, delta: dt.timedelta, team: Optional[str] = None) -> dt.datetime:
        return start + delta

    def is_open(self, at: dt.datetime, team: Optional[str] = None) -> bool:
        return True

    def next_opening(self, at: dt.datetime, team: Optional[str] = None) -> Any:
        return at, at + dt.timedelta(hours=1)


@pytest.fixture
def desk(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    monkeypatch.setenv("FRONTLINE_NOW", dt.datetime.fromtimestamp(NOW, dt.timezone.utc).isoformat())
    store = Store(f"sqlite:///{tmp_path / 'desk.db'}")
    store.migrate()
    yield Desk(store, load(), RasaClient("http://127.0.0.1:9", ""), calendar=OpenCalendar())
    store.close()


def flood(store: Store, count: int, status: str = "queued", start: int = 0) -> None:
    """`count` tickets as a flood of handoffs leaves them (grade B, asked for a human)."""
    rows = [
        {
            "conversation_id": f"flood-{n}", "open_key": f"flood-{n}" if status == "queued" else None,
            "channel": "rest", "status": status, "grade": "B", "reason": "asked_for_human", "skill": "general",
            "requires_senior": False, "language": "zh", "vip": False, "anger": 0.0, "context": json.dumps({}),
            "created_at": NOW - 600 + n * 0.01, "created_real": NOW, "skill_since": NOW - 600 + n * 0.01,
            "due_first_response": NOW + 60, "warn_first_response": NOW, "due_resolution": NOW + 9000,
            "warn_resolution": NOW + 8000, "closed_at": NOW - 10 if status != "queued" else None,
        }
        for n in range(start, start + count)
    ]
    with store.engine.begin() as conn:
        conn.execute(tickets.insert(), rows)


def statements(store: Store) -> List[str]:
    """The SQL statements the store runs from now on (the list fills as they run)."""
    seen: List[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda _c, _cur, sql, *rest: seen.append(sql))
    return seen


def online_agents(desk: Desk, count: int) -> None:
    for n in range(count):
        auth.create_agent(desk.store, f"agent-{n}", ["general"], False, 3, NOW)
        desk.presence.seen(f"agent-{n}")


@pytest.mark.parametrize("queued", [40, 200])
async def test_a_position_round_under_a_ticket_flood_costs_a_few_queries(desk: Desk, queued: int) -> None:
    online_agents(desk, 5)
    flood(desk.store, queued)
    seen = statements(desk.store)
    # the round computes every waiting customer's standing (none was told a place yet, so none is told now)
    assert await desk.delivery.notify_positions() == 0
    assert len(seen) <= 4, seen  # the queued tickets, the agents, their load: whatever the queue and the agents


def test_the_dashboard_reads_aggregates_not_every_ticket_ever(desk: Desk) -> None:
    flood(desk.store, 300, status="resolved")
    flood(desk.store, 20, start=300)
    seen = statements(desk.store)
    board = desk.reports.dashboard()
    assert board["tickets"]["resolved"] == 300 and board["queue"]["length"] == 20
    reads = [sql for sql in seen if re.search(r"\bFROM desk_tickets\b", sql)]
    assert reads
    for sql in reads:  # every read of the tickets is an aggregate or a single value at a rank
        assert re.search(r"\b(count|min|max|avg|sum)\(", sql, re.IGNORECASE) or re.search(r"\bLIMIT\b", sql), sql
