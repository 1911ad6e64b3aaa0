"""Supervisor dashboard figures, computed from the stored tickets and the conversations seen on the broker.

- queue length by grade and by skill, oldest wait: queued tickets now;
- SLA met %: closed tickets that met both clocks (first response and resolution) / (closed tickets + open
  tickets already in breach), in percent;
- first-response p50/p90: seconds (wall time) from ticket creation to the first delivered agent reply,
  nearest-rank percentiles;
- containment rate: conversations seen on the event stream with no ticket / all conversations seen;
- handoffs by reason: tickets per reason code; CSAT: the average survey rating (1–5).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence

from bot.desk import records
from bot.desk.records import CLOSED_STATUSES, OPEN_STATUSES, Ticket, TicketStatus
from bot.desk.sla import GREEN, RED, YELLOW, ticket_sla
from bot.desk.store import Store
from bot.desk.views import iso

logger = logging.getLogger(__name__)


def percentile(values: Sequence[float], share: float) -> Optional[float]:
    """Nearest-rank percentile (`share` in 0..1) of `values`, or None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return float(ordered[rank - 1])


def dashboard(
    tickets: List[Ticket], now: float, conversations: int, conversations_with_ticket: int
) -> Dict[str, Any]:
    """Compute the dashboard.

    Args:
        tickets: the tickets (the store's `all_tickets()`).
        now: the current time (epoch seconds).
        conversations: conversations seen on the event broker.
        conversations_with_ticket: of those, how many got a ticket.

    Returns:
        The figures, as the `GET /api/dashboard` JSON.
    """
    queued = [t for t in tickets if t.status is TicketStatus.QUEUED]
    open_tickets = [t for t in tickets if t.status in OPEN_STATUSES]
    closed = [t for t in tickets if t.status in CLOSED_STATUSES]

    met = sum(1 for t in closed if ticket_sla(t, now)["overall"] == GREEN)
    breached_open = sum(1 for t in open_tickets if ticket_sla(t, now)["overall"] == RED)
    judged = len(closed) + breached_open
    lights = Counter(ticket_sla(t, now)["overall"] for t in open_tickets)

    first = [t.first_response_at - t.created_at for t in tickets if t.first_response_at is not None]
    ratings = [int(t.rating) for t in tickets if t.rating is not None]
    oldest = max((now - t.created_at for t in queued), default=None)
    contained = conversations - conversations_with_ticket
    return {
        "generated_at": iso(now),
        "queue": {
            "length": len(queued),
            "by_grade": dict(sorted(Counter(t.grade for t in queued).items())),
            "by_skill": dict(sorted(Counter(t.skill for t in queued).items())),
        },
        "oldest_wait_seconds": int(oldest) if oldest is not None else None,
        "tickets": {status.value: sum(1 for t in tickets if t.status is status) for status in TicketStatus},
        "sla_lights": {color: lights.get(color, 0) for color in (GREEN, YELLOW, RED)},
        "sla_met_percent": round(100.0 * met / judged, 1) if judged else None,
        "first_response_seconds": {
            "p50": percentile(first, 0.5),
            "p90": percentile(first, 0.9),
            "count": len(first),
        },
        "containment": {
            "rate": round(contained / conversations, 4) if conversations else None,
            "conversations": conversations,
            "with_ticket": conversations_with_ticket,
        },
        "handoffs_by_reason": dict(sorted(Counter(t.reason for t in tickets).items())),
        "csat": {
            "average": round(sum(ratings) / len(ratings), 2) if ratings else None,
            "count": len(ratings),
            "distribution": {str(n): ratings.count(n) for n in range(1, 6)},
        },
    }


class Reports:
    """The supervisor's figures over the desk's store (`GET /api/dashboard`).

    Args:
        store: the desk store.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def dashboard(self) -> Dict[str, Any]:
        """The dashboard figures now."""
        total, with_ticket = self.store.containment_counts()
        return dashboard(self.store.all_tickets(), records.now(), total, with_ticket)
