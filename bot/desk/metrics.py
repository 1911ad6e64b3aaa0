"""Supervisor dashboard figures, computed by SQL aggregates over the stored tickets (`bot.desk.store.figures`)
and the conversations seen on the broker; no ticket row is read into Python, so the cost of the dashboard
(refreshed every 5 s by each open dashboard) does not grow with the history.

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
from typing import Any, Dict

from bot.desk import records
from bot.desk.records import CLOSED_STATUSES, OPEN_STATUSES, TicketStatus
from bot.desk.sla import GREEN, RED, YELLOW
from bot.desk.store import Store
from bot.desk.store.figures import TicketFigures
from bot.desk.views import iso

logger = logging.getLogger(__name__)

_LIGHTS = (GREEN, YELLOW, RED)  # by the light codes of `bot.desk.store.figures` (0, 1, 2)


def dashboard(figures: TicketFigures, now: float, conversations: int, conversations_with_ticket: int) -> Dict[str, Any]:
    """Shape the dashboard.

    Args:
        figures: the ticket figures (the store's `ticket_figures(now)`).
        now: the current time (epoch seconds).
        conversations: conversations seen on the event broker.
        conversations_with_ticket: of those, how many got a ticket.

    Returns:
        The figures, as the `GET /api/dashboard` JSON.
    """
    lights = {color: figures.open_lights.get(code, 0) for code, color in enumerate(_LIGHTS)}
    judged = figures.closed + lights[RED]
    oldest = now - figures.oldest_queued_at if figures.oldest_queued_at is not None else None
    contained = conversations - conversations_with_ticket
    rated = sum(figures.ratings.values())
    return {
        "generated_at": iso(now),
        "queue": {
            "length": figures.by_status.get(TicketStatus.QUEUED.value, 0),
            "by_grade": dict(sorted(figures.queued_by_grade.items())),
            "by_skill": dict(sorted(figures.queued_by_skill.items())),
        },
        "oldest_wait_seconds": int(oldest) if oldest is not None else None,
        # the lasting statuses; a ticket being closed (for at most Rasa's timeout) shows up once it is closed
        "tickets": {status.value: figures.by_status.get(status.value, 0) for status in (*OPEN_STATUSES, *CLOSED_STATUSES)},
        "sla_lights": lights,
        "sla_met_percent": round(100.0 * figures.closed_met / judged, 1) if judged else None,
        "first_response_seconds": {
            "p50": figures.first_response_p50,
            "p90": figures.first_response_p90,
            "count": figures.first_response_count,
        },
        "containment": {
            "rate": round(contained / conversations, 4) if conversations else None,
            "conversations": conversations,
            "with_ticket": conversations_with_ticket,
        },
        "handoffs_by_reason": dict(sorted(figures.by_reason.items())),
        "csat": {
            "average": round(figures.rating_average, 2) if figures.rating_average is not None else None,
            "count": rated,
            "distribution": {str(n): figures.ratings.get(n, 0) for n in range(1, 6)},
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
        now = records.now()
        total, with_ticket = self.store.containment_counts()
        return dashboard(self.store.ticket_figures(now), now, total, with_ticket)
