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

from bot.desk.service import iso, ticket_sla

logger = logging.getLogger(__name__)


def percentile(values: Sequence[float], share: float) -> Optional[float]:
    """Nearest-rank percentile (`share` in 0..1) of `values`, or None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return float(ordered[rank - 1])


def dashboard(
    tickets: List[Dict[str, Any]], now: float, conversations: int, conversations_with_ticket: int
) -> Dict[str, Any]:
    """Compute the dashboard.

    Args:
        tickets: ticket rows (the store's `all_tickets()`).
        now: the current time (epoch seconds).
        conversations: conversations seen on the event broker.
        conversations_with_ticket: of those, how many got a ticket.

    Returns:
        The figures, as the `GET /api/dashboard` JSON.
    """
    queued = [t for t in tickets if t["status"] == "queued"]
    open_tickets = [t for t in tickets if t["status"] in ("queued", "assigned")]
    closed = [t for t in tickets if t["status"] in ("resolved", "handed_back")]

    met = sum(1 for t in closed if ticket_sla(t, now)["overall"] == "green")
    breached_open = sum(1 for t in open_tickets if ticket_sla(t, now)["overall"] == "red")
    judged = len(closed) + breached_open
    lights = Counter(ticket_sla(t, now)["overall"] for t in open_tickets)

    first = [t["first_response_at"] - t["created_at"] for t in tickets if t["first_response_at"] is not None]
    ratings = [int(t["rating"]) for t in tickets if t["rating"] is not None]
    oldest = max((now - t["created_at"] for t in queued), default=None)
    contained = conversations - conversations_with_ticket
    return {
        "generated_at": iso(now),
        "queue": {
            "length": len(queued),
            "by_grade": dict(sorted(Counter(t["grade"] for t in queued).items())),
            "by_skill": dict(sorted(Counter(t["skill"] for t in queued).items())),
        },
        "oldest_wait_seconds": int(oldest) if oldest is not None else None,
        "tickets": {
            status: sum(1 for t in tickets if t["status"] == status)
            for status in ("queued", "assigned", "resolved", "handed_back")
        },
        "sla_lights": {color: lights.get(color, 0) for color in ("green", "yellow", "red")},
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
        "handoffs_by_reason": dict(sorted(Counter(t["reason"] for t in tickets).items())),
        "csat": {
            "average": round(sum(ratings) / len(ratings), 2) if ratings else None,
            "count": len(ratings),
            "distribution": {str(n): ratings.count(n) for n in range(1, 6)},
        },
    }
