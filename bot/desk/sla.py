"""SLA clocks: due times counted in business time, and the green / yellow / red lights.

Due times: first response = `desk.first_response_seconds[channel]` (120 s for a channel not listed), or the
resolution budget when that is shorter (an e-mail's 7.5 business hours become grade A's 1 hour: the reply the
acknowledgement promised, `bot.channels.email_turns.expected_reply_time`), resolution =
`escalation.grade_hours[grade]`, both counted in business time from the ticket's creation on
the calendar of the ticket's team (the skill's team when `calendar.teams` lists it, e.g. `emergency`; the main
hours otherwise). The yellow light comes at `escalation.warn_at` of each budget (also business time), red
after the due time. The calendar is `bot.calendar.get_calendar()`, or anything with the same three methods
(`BusinessHours`); a calendar error is an error, not plain time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Dict, Optional, Protocol, Tuple

from bot.desk.config import DeskSettings
from bot.desk.records import Ticket

logger = logging.getLogger(__name__)

DEFAULT_FIRST_RESPONSE = 120
GREEN, YELLOW, RED = "green", "yellow", "red"
_ORDER = {GREEN: 0, YELLOW: 1, RED: 2}


class BusinessHours(Protocol):
    """What the desk asks of a business calendar (`bot.calendar.BusinessCalendar` is one)."""

    def add_business_time(
        self, start: dt.datetime, duration: dt.timedelta, team: Optional[str] = None
    ) -> dt.datetime:
        """`start` plus `duration` of the team's business time."""

    def is_open(self, at: Optional[dt.datetime] = None, team: Optional[str] = None) -> bool:
        """True when the team is open at `at`."""

    def next_opening(
        self, at: Optional[dt.datetime] = None, team: Optional[str] = None
    ) -> Tuple[dt.datetime, dt.datetime]:
        """(start, end) of the open period containing `at`, or else of the next one."""

    def business_seconds_between(self, a: dt.datetime, b: dt.datetime, team: Optional[str] = None) -> float:
        """Seconds of the team's business time from `a` to `b` (the reports, abandonment)."""

    @property
    def timezone(self) -> dt.tzinfo:
        """The main schedule's time zone (the reports' days and hours)."""


@dataclasses.dataclass(frozen=True)
class DueTimes:
    """The four SLA times of a new ticket, in epoch seconds."""

    due_first_response: float
    warn_first_response: float
    due_resolution: float
    warn_resolution: float


def due_times(
    calendar: BusinessHours, settings: DeskSettings, channel: str, grade: str, team: Optional[str],
    start: dt.datetime,
) -> DueTimes:
    """Return the due and warning times of a ticket created at `start` (see the module docstring).

    Args:
        calendar: the business calendar.
        settings: the desk settings (budgets, `warn_at`).
        channel: the ticket's channel (the first-response budget).
        grade: the ticket's grade (the resolution budget); one of `settings.grade_hours`.
        team: the calendar team whose hours count (None: the main hours).
        start: the creation time, timezone-aware.
    """
    resolution = settings.grade_hours[grade] * 3600
    first = min(settings.first_response_seconds.get(channel, DEFAULT_FIRST_RESPONSE), resolution)
    warn = settings.warn_at

    def after(seconds: float) -> float:
        return calendar.add_business_time(start, dt.timedelta(seconds=seconds), team=team).timestamp()

    return DueTimes(
        due_first_response=after(first),
        warn_first_response=after(first * warn),
        due_resolution=after(resolution),
        warn_resolution=after(resolution * warn),
    )


def sla_light(due: float, warn: float, done_at: Optional[float], now: float) -> str:
    """Return green / yellow / red for one SLA clock (met or breached once `done_at` is set)."""
    if done_at is not None:
        return GREEN if done_at <= due else RED
    if now > due:
        return RED
    if now >= warn:
        return YELLOW
    return GREEN


def ticket_sla(ticket: Ticket, now: float) -> Dict[str, str]:
    """Return the lights of a ticket: `first_response`, `resolution`, and the worst of both as `overall`."""
    first = sla_light(ticket.due_first_response, ticket.warn_first_response, ticket.first_response_at, now)
    resolution = sla_light(ticket.due_resolution, ticket.warn_resolution, ticket.closed_at, now)
    overall = max(first, resolution, key=lambda c: _ORDER[c])
    return {"first_response": first, "resolution": resolution, "overall": overall}
