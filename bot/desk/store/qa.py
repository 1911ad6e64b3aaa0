"""The QA queue (`desk_qa`): closed tickets picked for a supervisor's review, and their scores.

A ticket enters once (its id is the key; a low rating after sampling only changes the reason); a score is one
conditional UPDATE of an unscored row, so two supervisors scoring at once do not both count.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.desk.store.database import Database
from bot.desk.store.tables import qa_reviews, tickets

logger = logging.getLogger(__name__)

SAMPLED = "sampled"
LOW_RATING = "low_rating"


class QaRows(Database):
    """Reads and writes of `desk_qa`."""

    def enqueue_qa(self, ticket_id: int, agent: Optional[str], reason: str, now: float) -> bool:
        """Put a closed ticket in the QA queue; True when it entered now (a low rating of a sampled, unscored
        ticket changes its reason)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(qa_reviews.insert().values(ticket_id=ticket_id, agent=agent, reason=reason, queued_at=now))
            return True
        except IntegrityError:
            if reason == LOW_RATING:
                with self.engine.begin() as conn:
                    conn.execute(qa_reviews.update().where(
                        qa_reviews.c.ticket_id == ticket_id, qa_reviews.c.scored_at.is_(None)).values(reason=reason))
            return False

    def list_qa(self, scored: Optional[bool] = None, agent: Optional[str] = None,
                   since: Optional[float] = None, until: Optional[float] = None, limit: int = 500) -> List[Dict[str, Any]]:
        """QA rows with their ticket's grade, reason, rating and close time: unscored first by entry (scored:
        by score time). `since`/`until` bound the score time."""
        query = sa.select(
            qa_reviews, tickets.c.grade, tickets.c.reason.label("ticket_reason"), tickets.c.rating,
            tickets.c.closed_at, tickets.c.status,
        ).select_from(qa_reviews.join(tickets, tickets.c.id == qa_reviews.c.ticket_id))
        if scored is True:
            query = query.where(qa_reviews.c.scored_at.is_not(None)).order_by(qa_reviews.c.scored_at)
        elif scored is False:
            query = query.where(qa_reviews.c.scored_at.is_(None)).order_by(qa_reviews.c.queued_at, qa_reviews.c.ticket_id)
        else:
            query = query.order_by(qa_reviews.c.queued_at, qa_reviews.c.ticket_id)
        if agent:
            query = query.where(qa_reviews.c.agent == agent)
        if since is not None:
            query = query.where(qa_reviews.c.scored_at >= since)
        if until is not None:
            query = query.where(qa_reviews.c.scored_at < until)
        cipher = self.cipher
        with self.engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query.limit(limit))]
        for row in rows:
            row["scores"] = json.loads(row["scores"]) if row["scores"] else None
            row["comment"] = cipher.decrypt(row["comment"]) if row["comment"] else None
        return rows

    def get_qa(self, ticket_id: int) -> Optional[Dict[str, Any]]:
        """The QA row of a ticket, or None when it is not in the QA queue."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(qa_reviews).where(qa_reviews.c.ticket_id == ticket_id)).first()
        return dict(row._mapping) if row else None

    def score_qa(self, ticket_id: int, scorer: str, scores: Dict[str, int], comment: Optional[str], now: float) -> bool:
        """Record a supervisor's scores of an unscored QA ticket; True when this call scored it."""
        stmt = qa_reviews.update().where(qa_reviews.c.ticket_id == ticket_id, qa_reviews.c.scored_at.is_(None)).values(
            scored_by=scorer, scored_at=now, scores=json.dumps(scores, sort_keys=True),
            comment=self.cipher.encrypt(comment) if comment else None,
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1
