"""The rota (`settings.yml: staffing.rota`): agents scheduled per hour, to set beside the agents the plan needs.

A row is a mapping of periods to agents, `{"09:00-12:00": 3, "13:30-18:00": 3}`; a date takes the row of, in
this order: its own (`dates`), `holiday` on a public holiday or `calendar.extra_closed` date, `workday` on a
make-up working day (调休) or `calendar.extra_open` date, else its weekday's (`mon`..`sun`). What a date is comes
from `BusinessCalendar.day_kind`, so the rota and the opening hours never disagree.

An hour partly covered counts its share: 3 agents from 13:30 are 1.5 agents' worth in 13:00-14:00 (agent-hours),
which is what the hour's traffic gets.

Pure: the calendar's answer is passed in as a function.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from bot.calendar.holidays import HOLIDAY, WORKDAY
from bot.calendar.schedule import WEEKDAYS, parse_date, parse_period
from bot.settings import SettingsError

logger = logging.getLogger(__name__)

MAX_AGENTS = 10_000
ROW_KEYS = (*WEEKDAYS, "holiday", "workday")
KEYS = (*ROW_KEYS, "dates")

# (start, end, agents): minutes after local midnight, [start, end), end may be 1440
Shift = Tuple[int, int, int]
Row = Tuple[Shift, ...]
# a local date -> HOLIDAY, WORKDAY or None (`BusinessCalendar.day_kind`)
DayKind = Callable[[dt.date], Optional[str]]


@dataclasses.dataclass(frozen=True)
class Rota:
    """The validated rota.

    Attributes:
        weekly: the rows of Monday (index 0) to Sunday (6).
        holiday: the row of public holidays and `calendar.extra_closed` dates.
        workday: the row of make-up working days and `calendar.extra_open` dates.
        dates: rows of given dates, before everything else.
    """

    weekly: Tuple[Row, ...]
    holiday: Row
    workday: Row
    dates: Mapping[dt.date, Row]

    def row(self, day: dt.date, kind: Optional[str]) -> Tuple[str, Row]:
        """(which row, the row) for a date of the given kind: "date", "holiday", "workday" or the weekday."""
        if day in self.dates:
            return "date", self.dates[day]
        if kind == HOLIDAY:
            return "holiday", self.holiday
        if kind == WORKDAY:
            return "workday", self.workday
        return WEEKDAYS[day.weekday()], self.weekly[day.weekday()]


def agents_in(row: Row, hour: int) -> float:
    """Agents' worth in the local hour `hour` (0..23) of a row: each shift weighs the share of the hour it covers."""
    begin, end = hour * 60, hour * 60 + 60
    return sum(agents * max(0, min(end, last) - max(begin, first)) / 60 for first, last, agents in row)


@dataclasses.dataclass(frozen=True)
class Scheduled:
    """Agents scheduled per hour of a plan and the row each date used.

    Attributes:
        hours: agents' worth per hour, aligned with the plan's hours.
        rows: local date (ISO) -> the row it used ("mon".."sun", "holiday", "workday", "date").
    """

    hours: Tuple[float, ...]
    rows: Mapping[str, str]


def scheduled(rota: Rota, starts: List[dt.datetime], kind_of: DayKind) -> Scheduled:
    """Agents scheduled in each hour starting at `starts` (aware, local, on the hour).

    Args:
        rota: the rota.
        starts: the plan's hours.
        kind_of: what a local date is (`BusinessCalendar.day_kind`; `lambda day: None` without a calendar).
    """
    hours: List[float] = []
    rows: Dict[str, str] = {}
    for start in starts:
        day = start.date()
        name, row = rota.row(day, kind_of(day))
        rows[day.isoformat()] = name
        hours.append(round(agents_in(row, start.hour), 2))
    return Scheduled(tuple(hours), rows)


def _row(value: Any, key: str) -> Row:
    """One row: {"HH:MM-HH:MM": agents}; empty or null: nobody. Overlapping periods are refused."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise SettingsError(f'settings: {key}: expected periods -> agents, e.g. {{"09:00-12:00": 3}}, got {value!r}')
    shifts = []
    for period, agents in value.items():
        first, last = parse_period(period, f"settings: {key}")
        if isinstance(agents, bool) or not isinstance(agents, int) or not 0 <= agents <= MAX_AGENTS:
            raise SettingsError(
                f"settings: {key}.{period!r}: agents must be a whole number from 0 to {MAX_AGENTS}, got {agents!r}"
            )
        shifts.append((first, last, agents, str(period)))
    shifts.sort()
    for before, after in zip(shifts, shifts[1:]):
        if after[0] < before[1]:
            raise SettingsError(
                f"settings: {key}: periods {before[3]!r} and {after[3]!r} overlap (give one period the total)"
            )
    return tuple((first, last, agents) for first, last, agents, _ in shifts)


def parse_rota(value: Any, key: str = "staffing.rota") -> Optional[Rota]:
    """Validate `staffing.rota` (None when absent: no agents scheduled to compare with).

    Raises:
        SettingsError: naming the key that is wrong.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise SettingsError(f"settings: {key}: expected a mapping of mon..sun, holiday, workday, dates, got {value!r}")
    for name in value:
        if name not in KEYS:
            raise SettingsError(f"settings: {key}: unknown key {name!r} (known keys: {', '.join(KEYS)})")
    weekly = tuple(_row(value.get(day), f"{key}.{day}") for day in WEEKDAYS)
    dates_value = value.get("dates") or {}
    if not isinstance(dates_value, Mapping):
        raise SettingsError(f"settings: {key}.dates: expected YYYY-MM-DD -> periods -> agents, got {dates_value!r}")
    dates = {}
    for day, row in dates_value.items():
        date = parse_date(day, f"settings: {key}.dates")
        dates[date] = _row(row, f"{key}.dates.{date.isoformat()}")
    if "workday" in value:
        workday = _row(value["workday"], f"{key}.workday")
    else:  # like the calendar's make-up days: the first of Monday..Friday with anyone on it
        workday = next((row for row in weekly[:5] if row), ())
    return Rota(weekly=weekly, holiday=_row(value.get("holiday"), f"{key}.holiday"), workday=workday, dates=dates)
