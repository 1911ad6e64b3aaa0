"""Quality assurance (`desk.qa`): closed tickets picked for review, scored by supervisors, reported per agent.

What enters the QA queue (`desk_qa`, `bot.desk.store.qa`):
- a share (`desk.qa.share`) of the tickets an agent closed (resolved or handed back): the pick is a hash of the
  ticket id, so it is the same on every desk process and on a retry, and spread evenly;
- every ticket the customer rated one of `desk.qa.low_ratings` (1 or 2), whether picked or not.

A supervisor scores each criterion of `desk.qa.criteria` from 1 to `desk.qa.scale` (`POST /api/qa/{id}/score`),
once. `GET /api/qa/agents` gives each agent's averages per criterion, overall, and per day or week.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any, Dict, List, Mapping, Optional

from bot.desk import records
from bot.desk.config import MAX_TEXT
from bot.desk.errors import DeskError
from bot.desk.oversight_config import QaSettings
from bot.desk.records import Agent, Ticket, parse_ticket_code, ticket_code
from bot.desk.store import Store
from bot.desk.store.qa import LOW_RATING, SAMPLED
from bot.desk.views import iso

logger = logging.getLogger(__name__)

PERIODS = ("day", "week")


def picked(ticket_id: int, share: float) -> bool:
    """True when a closed ticket falls in the sampled share (a hash of its id: stable, evenly spread)."""
    digest = hashlib.sha256(f"qa:{ticket_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def _time(raw: Optional[str], name: str) -> Optional[float]:
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as error:
        raise DeskError(400, f"'{name}' must be an ISO 8601 date or time, such as 2026-11-23") from error
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.timestamp()


def _period(at: float, period: str) -> str:
    day = dt.datetime.fromtimestamp(at, tz=dt.timezone.utc).date()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


class QualityReviews:
    """The QA queue and its scores.

    Args:
        store: the desk store.
        settings: `desk.qa`.
    """

    def __init__(self, store: Store, settings: QaSettings) -> None:
        self.store = store
        self.settings = settings

    # ------------------------------------------------------------------ entering the queue

    def closed(self, ticket: Ticket, agent: str) -> None:
        """A ticket was closed by `agent`: it enters the queue when it falls in the sampled share."""
        if picked(ticket.id, self.settings.share):
            if self.store.enqueue_qa(ticket.id, ticket.assignee or agent, SAMPLED, records.now()):
                logger.info("ticket %s sampled for QA", ticket.code)

    def rated(self, ticket: Ticket, rating: int) -> None:
        """The customer rated a ticket: a low rating always enters the queue."""
        if rating in self.settings.low_ratings:
            if self.store.enqueue_qa(ticket.id, ticket.assignee, LOW_RATING, records.now()):
                logger.info("ticket %s rated %d: in the QA queue", ticket.code, rating)

    # ------------------------------------------------------------------ the API

    def criteria(self) -> Dict[str, Any]:
        """The criteria and scale supervisors score with."""
        return {"criteria": list(self.settings.criteria), "scale": self.settings.scale}

    def queue(self, args: Mapping[str, str]) -> Dict[str, Any]:
        """`GET /api/qa?status=open|scored|all&agent=…`: the QA tickets, with the criteria and scale."""
        status = args.get("status") or "open"
        if status not in ("open", "scored", "all"):
            raise DeskError(400, "'status' must be open, scored or all")
        scored = {"open": False, "scored": True, "all": None}[status]
        rows = self.store.list_qa(scored=scored, agent=args.get("agent") or None)
        return {**self.criteria(), "items": [self._json(row) for row in rows]}

    def score(self, code: str, agent: Agent, body: Any) -> Dict[str, Any]:
        """`POST /api/qa/{id}/score {"scores": {criterion: 1..scale}, "comment": …}`: score a QA ticket once.

        Raises:
            DeskError: 400 a criterion missing, unknown or out of the scale, a bad comment; 404 not in the QA
                queue; 409 scored already.
        """
        ticket_id = parse_ticket_code(code)
        if ticket_id is None or self.store.get_qa(ticket_id) is None:
            raise DeskError(404, f"ticket {code} is not in the QA queue")
        scores = body.get("scores") if isinstance(body, dict) else None
        if not isinstance(scores, dict):
            raise DeskError(400, "send {\"scores\": {criterion: score, …}, \"comment\": …}")
        wanted = set(self.settings.criteria)
        missing, unknown = sorted(wanted - set(scores)), sorted(set(scores) - wanted)
        if missing or unknown:
            raise DeskError(400, f"score every criterion of {list(self.settings.criteria)}"
                                 + (f"; missing {missing}" if missing else "") + (f"; unknown {unknown}" if unknown else ""))
        top = self.settings.scale
        for name, value in scores.items():
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise DeskError(400, f"'{name}' must be a whole number from 1 to {top}")
        comment = body.get("comment")
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_TEXT):
            raise DeskError(400, f"'comment' must be a string of at most {MAX_TEXT} characters")
        if not self.store.score_qa(ticket_id, agent.name, dict(scores), (comment or "").strip() or None, records.now()):
            raise DeskError(409, f"ticket {ticket_code(ticket_id)} was scored already")
        logger.info("ticket %s scored for QA by %s", ticket_code(ticket_id), agent.name)
        row = next(r for r in self.store.list_qa(scored=True) if r["ticket_id"] == ticket_id)
        return self._json(row)

    def agents(self, args: Mapping[str, str]) -> Dict[str, Any]:
        """`GET /api/qa/agents?from=…&to=…&period=day|week`: per agent, the scored tickets' count, average per
        criterion and overall, and the same per period (oldest first)."""
        period = args.get("period") or "week"
        if period not in PERIODS:
            raise DeskError(400, "'period' must be day or week")
        rows = self.store.list_qa(scored=True, since=_time(args.get("from"), "from"), until=_time(args.get("to"), "to"),
                                  limit=100_000)
        per_agent: Dict[str, List[Dict[str, Any]]] = {}
        for row in rows:
            per_agent.setdefault(row["agent"] or "", []).append(row)
        report = []
        for name, scored in sorted(per_agent.items()):
            periods: Dict[str, List[Dict[str, Any]]] = {}
            for row in scored:
                periods.setdefault(_period(row["scored_at"], period), []).append(row)
            report.append({
                "agent": name or None,
                **self._averages(scored),
                "periods": [{"period": key, **self._averages(items)} for key, items in sorted(periods.items())],
            })
        return {**self.criteria(), "period": period, "agents": report}

    def _averages(self, rows: List[Dict[str, Any]]) -> Dict[str, Any]:
        criteria = self.settings.criteria
        per = {c: round(sum(r["scores"].get(c, 0) for r in rows) / len(rows), 2) for c in criteria}
        overall = round(sum(per.values()) / len(per), 2)
        return {"count": len(rows), "average": overall, "criteria": per}

    @staticmethod
    def _json(row: Dict[str, Any]) -> Dict[str, Any]:
        return {
            "ticket": ticket_code(row["ticket_id"]),
            "agent": row["agent"],
            "reason": row["reason"],
            "queued_at": iso(row["queued_at"]),
            "grade": row["grade"],
            "ticket_reason": row["ticket_reason"],
            "rating": row["rating"],
            "closed_at": iso(row["closed_at"]),
            "scored_by": row["scored_by"],
            "scored_at": iso(row["scored_at"]),
            "scores": row["scores"],
            "comment": row["comment"],
        }
