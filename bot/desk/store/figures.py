"""The dashboard's figures as SQL aggregates over `desk_tickets`: counts, an oldest time, percentiles by rank.

Nothing here reads ticket rows into Python: each figure is one aggregate query (a count per group, a minimum,
an average, or one value at a rank), so the dashboard's cost does not grow with the rows it would have read.
The SLA lights are `bot.desk.sla.sla_light` written as SQL (`_light`), the same rule over the same columns.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any, Dict, Optional

import sqlalchemy as sa

from bot.desk.records import CLOSED_STATUSES, OPEN_STATUSES, TicketStatus
from bot.desk.store.database import Database
from bot.desk.store.tables import tickets

logger = logging.getLogger(__name__)

GREEN, YELLOW, RED = 0, 1, 2  # light codes in SQL; `bot.desk.sla` names them green, yellow, red


@dataclasses.dataclass(frozen=True)
class TicketFigures:
    """The ticket figures of the dashboard at one moment.

    Attributes:
        by_status: tickets per status.
        queued_by_grade: queued tickets per grade.
        queued_by_skill: queued tickets per skill.
        oldest_queued_at: creation time of the oldest queued ticket (None: nothing queued).
        open_lights: open tickets per overall SLA light (0 green, 1 yellow, 2 red).
        closed: closed tickets; closed_met: of those, the ones whose overall light is green.
        first_response_count: tickets with a first response; first_response_p50/p90: seconds from creation
            to it, nearest-rank percentiles (None when there are none).
        by_reason: tickets per reason code.
        ratings: survey ratings per value (1–5); rating_average: their average (None without ratings).
    """

    by_status: Dict[str, int]
    queued_by_grade: Dict[str, int]
    queued_by_skill: Dict[str, int]
    oldest_queued_at: Optional[float]
    open_lights: Dict[int, int]
    closed: int
    closed_met: int
    first_response_count: int
    first_response_p50: Optional[float]
    first_response_p90: Optional[float]
    by_reason: Dict[str, int]
    ratings: Dict[int, int]
    rating_average: Optional[float]


def _light(due: Any, warn: Any, done_at: Any, now: float) -> Any:
    """`bot.desk.sla.sla_light` in SQL: met or breached once `done_at` is set, else by `now`."""
    at = sa.literal(now, sa.Float)
    return sa.case(
        (done_at.is_not(None), sa.case((done_at <= due, GREEN), else_=RED)),
        (at > due, RED),
        (at >= warn, YELLOW),
        else_=GREEN,
    )


def _overall(now: float) -> Any:
    """The worse of a ticket's two lights (`bot.desk.sla.ticket_sla`'s `overall`), in SQL."""
    c = tickets.c
    first = _light(c.due_first_response, c.warn_first_response, c.first_response_at, now)
    resolution = _light(c.due_resolution, c.warn_resolution, c.closed_at, now)
    return sa.case((first > resolution, first), else_=resolution)


class FigureRows(Database):
    """Aggregate reads of `desk_tickets` for the dashboard."""

    def _counts(self, conn: Any, column: Any, *where: Any) -> Dict[Any, int]:
        # grouped by the output name: PostgreSQL does not match an expression's bound values in GROUP BY
        query = sa.select(column.label("grouped"), sa.func.count()).where(*where).group_by(sa.literal_column("grouped"))
        return {key: int(count) for key, count in conn.execute(query)}

    def _percentile(self, conn: Any, value: Any, count: int, share: float, *where: Any) -> Optional[float]:
        """The nearest-rank percentile of `value`: the row at rank ceil(share x count), read by offset."""
        if not count:
            return None
        rank = max(1, math.ceil(share * count))
        query = sa.select(value).where(*where).order_by(value).offset(rank - 1).limit(1)
        return float(conn.execute(query).scalar())

    def ticket_figures(self, now: float) -> TicketFigures:
        """The dashboard's ticket figures at `now` (see `TicketFigures`), one aggregate query each."""
        c = tickets.c
        queued = c.status == TicketStatus.QUEUED.value
        is_open = c.status.in_([s.value for s in OPEN_STATUSES])
        is_closed = c.status.in_([s.value for s in CLOSED_STATUSES])
        overall = _overall(now)
        answered = c.first_response_at.is_not(None)
        first_wait = c.first_response_at - c.created_at
        with self.engine.connect() as conn:
            first_count = int(conn.execute(sa.select(sa.func.count()).where(answered)).scalar() or 0)
            closed = conn.execute(
                sa.select(sa.func.count(), sa.func.sum(sa.case((overall == GREEN, 1), else_=0))).where(is_closed)
            ).one()
            rated = c.rating.is_not(None)
            average = conn.execute(sa.select(sa.func.avg(c.rating)).where(rated)).scalar()
            return TicketFigures(
                by_status={str(k): v for k, v in self._counts(conn, c.status).items()},
                queued_by_grade={str(k): v for k, v in self._counts(conn, c.grade, queued).items()},
                queued_by_skill={str(k): v for k, v in self._counts(conn, c.skill, queued).items()},
                oldest_queued_at=conn.execute(sa.select(sa.func.min(c.created_at)).where(queued)).scalar(),
                open_lights={int(k): v for k, v in self._counts(conn, overall, is_open).items()},
                closed=int(closed[0] or 0),
                closed_met=int(closed[1] or 0),
                first_response_count=first_count,
                first_response_p50=self._percentile(conn, first_wait, first_count, 0.5, answered),
                first_response_p90=self._percentile(conn, first_wait, first_count, 0.9, answered),
                by_reason={str(k): v for k, v in self._counts(conn, c.reason).items()},
                ratings={int(k): v for k, v in self._counts(conn, c.rating, rated).items()},
                rating_average=float(average) if average is not None else None,
            )
