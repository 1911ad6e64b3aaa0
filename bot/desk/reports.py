"""Period reports: the figures of `bot.desk.kpis` for a range of dates, with the dashboard's lights.

`GET /api/reports?from=YYYY-MM-DD&to=YYYY-MM-DD[&group_by=…]` and `python -m bot report` both call
`PeriodReports.report`. The dates are local dates of the calendar's time zone (`calendar.timezone`), both
included: from 00:00 of `from` to 24:00 of `to`; a query naming neither is the last week up to the desk's today
(`PeriodReports.default_period`). The lights compare figures with `reports.lights` of the
settings (green / yellow / red), so no threshold lives in the dashboard's code.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Dict, List, Mapping, Optional, Tuple

from bot.desk import records
from bot.desk.complaints import DAY_SECONDS
from bot.desk.config import DeskSettings
from bot.desk.errors import DeskError
from bot.desk.kpis import (
    CONTACT_GAP_SECONDS, GROUP_BY, REPEAT_TICKET_DAYS, RETURN_WINDOW_SECONDS, Figures, PeriodData, Turn, light,
)
from bot.desk.sla import BusinessHours
from bot.desk.store import Store
from bot.desk.views import iso

logger = logging.getLogger(__name__)

MAX_DAYS = 366
DEFAULT_DAYS = 7  # a query naming neither date: the last week, today included
# light name -> where its value is in the report
LIGHT_FIGURES: Dict[str, Tuple[str, ...]] = {
    "first_response_within_target_percent": ("first_response", "within_target_percent"),
    "sla_met_percent": ("sla", "met_percent"),
    "csat_share_4_5_percent": ("csat", "share_4_5_percent"),
    "abandonment_percent": ("abandonment", "percent"),
    "assistant_resolution_percent": ("assistant", "resolution", "percent"),
    "one_contact_resolution_percent": ("one_contact_resolution", "percent"),
    "nps": ("nps", "score"),  # -100..100, None without answers (a grey light, not a red 0)
}


def parse_day(value: Optional[str], name: str) -> dt.date:
    """A `YYYY-MM-DD` date of a query (400 with the reason when missing or malformed)."""
    if not value:
        raise DeskError(400, f"'{name}' is required: a date YYYY-MM-DD")
    try:
        if len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise DeskError(400, f"'{name}' must be a date YYYY-MM-DD, got {value[:40]!r}") from error


def parse_period(start: Optional[str], end: Optional[str]) -> Tuple[dt.date, dt.date]:
    """The `from` and `to` dates of a query, checked (400: missing, malformed, reversed, over a year)."""
    first, last = parse_day(start, "from"), parse_day(end, "to")
    if last < first:
        raise DeskError(400, f"'to' ({last}) is before 'from' ({first})")
    if (last - first).days + 1 > MAX_DAYS:
        raise DeskError(400, f"a report covers at most {MAX_DAYS} days")
    return first, last


class PeriodReports:
    """The figures of a period over the desk's store.

    Args:
        store: the desk store.
        settings: the desk settings (targets, windows, lights).
        calendar: the business calendar (`business_seconds_between`, `timezone`).
    """

    def __init__(self, store: Store, settings: DeskSettings, calendar: BusinessHours) -> None:
        self.store = store
        self.settings = settings
        self.calendar = calendar

    def bounds(self, first: dt.date, last: dt.date) -> Tuple[float, float]:
        """Epoch seconds of 00:00 of `first` and 24:00 of `last` in the calendar's zone."""
        tz = self.calendar.timezone
        start = dt.datetime.combine(first, dt.time(0), tzinfo=tz)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
        return start.timestamp(), end.timestamp()

    def data(self, first: dt.date, last: dt.date, now: Optional[float] = None) -> PeriodData:
        """The rows a report of `first`..`last` reads (with the margins its windows need)."""
        start, end = self.bounds(first, last)
        before = self.settings.repeat_complaint_days * DAY_SECONDS
        tickets = self.store.tickets_created_between(start - before, end + REPEAT_TICKET_DAYS * DAY_SECONDS)
        turns = [
            Turn(*row) for row in self.store.turns_between(
                start - CONTACT_GAP_SECONDS, end + RETURN_WINDOW_SECONDS + CONTACT_GAP_SECONDS
            )
        ]
        return PeriodData(
            start=start, end=end, now=records.now() if now is None else now, tickets=tickets, turns=turns,
            first_response_targets=self.settings.first_response_seconds,
            repeat_complaint_days=self.settings.repeat_complaint_days,
            qa_scores=self.qa_scores(start, end),
        )

    def default_period(self, now: Optional[float] = None) -> Tuple[dt.date, dt.date]:
        """The last `DEFAULT_DAYS` days, today included, in the calendar's zone (the desk's today, not the
        browser's or UTC's: at 20:00 UTC it is already tomorrow in Shanghai)."""
        moment = dt.datetime.fromtimestamp(records.now() if now is None else now, tz=self.calendar.timezone)
        return moment.date() - dt.timedelta(days=DEFAULT_DAYS - 1), moment.date()

    def qa_scores(self, start: float, end: float) -> Dict[str, float]:
        """Agent -> the average QA score of the reviews scored in [start, end) (each review: the mean of its
        criteria; `bot.desk.qa`)."""
        per_agent: Dict[str, List[float]] = {}
        for row in self.store.list_qa(scored=True, since=start, until=end, limit=100_000):
            scores = list((row["scores"] or {}).values())
            if row["agent"] and scores:
                per_agent.setdefault(row["agent"], []).append(sum(scores) / len(scores))
        return {agent: round(sum(means) / len(means), 2) for agent, means in per_agent.items()}

    def report(self, first: dt.date, last: dt.date, group_by: Optional[str] = None,
               now: Optional[float] = None) -> Dict[str, Any]:
        """The report of `first`..`last` (local dates, both included): `period`, the figures, `lights`.

        Raises:
            DeskError: 400 for an unknown `group_by`.
        """
        if group_by is not None and group_by not in GROUP_BY:
            raise DeskError(400, f"'group_by' must be one of {', '.join(GROUP_BY)}, got {group_by[:40]!r}")
        figures = Figures(self.data(first, last, now), self.calendar).report(group_by)
        start, end = self.bounds(first, last)
        return {
            "period": {"from": first.isoformat(), "to": last.isoformat(), "timezone": str(self.calendar.timezone),
                       "start": iso(start), "end": iso(end)},
            "generated_at": iso(records.now() if now is None else now),
            **figures,
            "lights": self.lights(figures),
        }

    def lights(self, figures: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
        """Each configured light: the figure's value, its thresholds and its colour (None without a value)."""
        result = {}
        for name, threshold in self.settings.lights.items():
            path = LIGHT_FIGURES.get(name)
            if path is None:
                logger.warning("reports.lights.%s names no figure; known: %s", name, ", ".join(LIGHT_FIGURES))
                continue
            value: Any = figures
            for part in path:
                value = value.get(part) if isinstance(value, Mapping) else None
            result[name] = {"value": value, **threshold, "color": light(value, threshold)}
        return result
