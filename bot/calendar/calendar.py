"""The business calendar: is the team open, when does it open next, and SLA due times in business time.

All datetimes given to the calendar must be timezone-aware (a naive datetime raises `ValueError`); results
are returned in the calendar's (or team's) time zone. Internally every period is converted to UTC, so the
arithmetic is exact across DST changes. Callers: subtracting two datetimes that share a DST zone is wall-clock
arithmetic in Python; convert to UTC first (or use `business_seconds_between`).

A day's opening periods come from, in this order:
1. `extra_closed` (closed) and `extra_open` (open) of the settings;
2. mainland China public holidays (closed) and make-up working days (open), when `use_china_holidays`;
   a year the chinesecalendar package does not cover falls back to step 3, with a warning in the log;
3. the weekly hours.
An open day whose weekday has no hours of its own (a make-up Saturday) uses `Schedule.workday_hours`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
from collections import Counter
from typing import Any, Dict, Iterator, List, Mapping, Optional, Set, Tuple

from bot import clock
from bot.calendar.holidays import HOLIDAY, WORKDAY, ChinaHolidays, HolidayName
from bot.calendar.schedule import CalendarSettings, DayHours, Schedule, parse_calendar_settings
from bot.i18n import ZH, localise

logger = logging.getLogger(__name__)

UTC = dt.timezone.utc
# How far ahead the calendar looks for an opening before giving up (validated settings always open sooner).
HORIZON_DAYS = 3 * 366

Interval = Tuple[dt.datetime, dt.datetime]


class CalendarError(RuntimeError):
    """The calendar cannot answer, e.g. no opening period at all within the look-ahead horizon."""


@dataclasses.dataclass(frozen=True)
class HolidayPeriod:
    """A run of consecutive public-holiday days off.

    Attributes:
        names: the holiday's names (the one most days of the run are named after).
        first: the first day off.
        last: the last day off.
        resume: the first day after `last` with opening hours (main schedule), or None if none within a year.
    """

    names: HolidayName
    first: dt.date
    last: dt.date
    resume: Optional[dt.date]

    def name(self, lang: str = ZH) -> str:
        """The holiday's name in `zh`, `zh_hant` or `en`."""
        return localise(lang, zh=self.names.zh, en=self.names.en)

    def contains(self, day: dt.date) -> bool:
        """True when `day` is one of the days off."""
        return self.first <= day <= self.last


def _require_aware(value: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name}={value.isoformat()} is naive; the calendar needs a timezone-aware datetime")
    return value.astimezone(UTC)


class BusinessCalendar:
    """Opening hours, holidays and business-time arithmetic for the main schedule and each team.

    `team` arguments name a team of `calendar.teams`; a team not listed there (or None) follows the main hours.
    """

    def __init__(self, settings: CalendarSettings, holidays: Optional[ChinaHolidays] = None) -> None:
        """Build the calendar and warn once if the current or next year has no holiday data.

        Args:
            settings: the validated `calendar:` section (see `from_settings`).
            holidays: the holiday data (a default `ChinaHolidays` when None).
        """
        self.settings = settings
        self.holidays = holidays or ChinaHolidays()
        self._day_cache: Dict[Tuple[int, dt.date], DayHours] = {}
        self._warned_years: Set[int] = set()
        self._check_coverage(clock.now())

    @classmethod
    def from_settings(cls, settings: Optional[Mapping[str, Any]] = None) -> BusinessCalendar:
        """Build the calendar from the settings (the `calendar:` section of `settings.yml` when None).

        Raises:
            bot.settings.SettingsError: the section is invalid; the message names the key.
        """
        if settings is None:
            from bot.settings import load_settings

            settings = load_settings()
        return cls(parse_calendar_settings(settings.get("calendar")))

    # --- configuration -------------------------------------------------------------------------------------

    @property
    def timezone(self) -> dt.tzinfo:
        """The main schedule's time zone."""
        return self.settings.main.timezone

    @property
    def teams(self) -> Tuple[str, ...]:
        """The names of the teams with their own schedule."""
        return tuple(self.settings.teams)

    def schedule(self, team: Optional[str] = None) -> Schedule:
        """The schedule a team follows (the main one for None or a team without its own)."""
        if team is not None and team in self.settings.teams:
            return self.settings.teams[team]
        return self.settings.main

    def _check_coverage(self, now: dt.datetime) -> None:
        schedules = [self.settings.main, *self.settings.teams.values()]
        if not any(s.use_china_holidays and not s.always_open for s in schedules):
            return
        year = now.astimezone(self.timezone).year
        missing = [y for y in (year, year + 1) if not self.holidays.covered(y)]
        if missing:
            self._warned_years.update(missing)
            logger.warning(
                "chinesecalendar %s has no mainland China holiday data for %s: those years use the weekly "
                "hours plus calendar.extra_closed/extra_open of settings.yml only (no public holidays, no "
                "make-up working days). Upgrade chinesecalendar or list the holidays in extra_closed.",
                self.holidays.version(),
                ", ".join(str(y) for y in missing),
            )

    # --- days -------------------------------------------------------------------------------------------------

    def day_hours(self, day: dt.date, team: Optional[str] = None) -> DayHours:
        """The opening periods of one local date, as (start, end) minutes after midnight (end may be 1440)."""
        schedule = self.schedule(team)
        key = (id(schedule), day)
        cached = self._day_cache.get(key)
        if cached is None:
            cached = self._compute_day_hours(day, schedule)
            self._day_cache[key] = cached
        return cached

    def _compute_day_hours(self, day: dt.date, schedule: Schedule) -> DayHours:
        if schedule.always_open:
            return schedule.weekly[day.weekday()]
        own = schedule.weekly[day.weekday()]
        kind = self._day_kind(day, schedule)
        if kind == HOLIDAY:
            return ()
        if kind == WORKDAY:
            return own or schedule.workday_hours
        return own

    def day_kind(self, day: dt.date, team: Optional[str] = None) -> Optional[str]:
        """`HOLIDAY` (a public holiday or an `extra_closed` date), `WORKDAY` (a make-up working day or an
        `extra_open` date) or None (an ordinary day: its weekday's hours), as the opening hours decide it.

        The staffing rota (`bot.staffing.rota`) picks its row with this, so the rota and the opening hours never
        disagree about what a date is. An always-open team has only ordinary days.
        """
        schedule = self.schedule(team)
        return None if schedule.always_open else self._day_kind(_as_date(day), schedule)

    def _day_kind(self, day: dt.date, schedule: Schedule) -> Optional[str]:
        if day in schedule.extra_closed:
            return HOLIDAY
        if day in schedule.extra_open:
            return WORKDAY
        if not schedule.use_china_holidays:
            return None
        if not self.holidays.covered(day.year):
            if day.year not in self._warned_years:
                self._warned_years.add(day.year)
                logger.warning(
                    "no mainland China holiday data for %s: using the weekly hours and settings only", day.year
                )
            return None
        detail = self.holidays.detail(day)
        return detail[0] if detail is not None else None

    def is_working_day(self, day: dt.date, team: Optional[str] = None) -> bool:
        """True when the date has at least one opening period."""
        return bool(self.day_hours(day, team))

    def _day_intervals(self, day: dt.date, schedule_team: Optional[str]) -> List[Interval]:
        tz = self.schedule(schedule_team).timezone
        intervals: List[Interval] = []
        for start, end in self.day_hours(day, schedule_team):
            begin = _local(day, start, tz)
            finish = _local(day, end, tz)
            if finish > begin:
                intervals.append((begin, finish))
        return intervals

    def _intervals_from(
        self, at_utc: dt.datetime, team: Optional[str], touching: bool = False
    ) -> Iterator[Interval]:
        """Yield the opening periods (UTC) that end after `at_utc` (or at it, when `touching`), in order."""
        tz = self.schedule(team).timezone
        day = at_utc.astimezone(tz).date() - dt.timedelta(days=1)
        for _ in range(HORIZON_DAYS):
            for begin, finish in self._day_intervals(day, team):
                if finish > at_utc or (touching and finish == at_utc):
                    yield begin, finish
            day += dt.timedelta(days=1)
        raise CalendarError(
            f"no opening period within {HORIZON_DAYS} days after {at_utc.isoformat()} (team {team!r}); "
            "check calendar.extra_closed in settings.yml"
        )

    # --- the API ----------------------------------------------------------------------------------------------

    def is_open(self, at: Optional[dt.datetime] = None, team: Optional[str] = None) -> bool:
        """True when `at` (default: `bot.clock.now()`) falls inside an opening period of the team.

        Periods are half-open: open at 09:00:00, closed at 12:00:00 for "09:00-12:00".
        """
        at_utc = _require_aware(at if at is not None else clock.now(), "at")
        tz = self.schedule(team).timezone
        local_day = at_utc.astimezone(tz).date()
        for day in (local_day - dt.timedelta(days=1), local_day):
            for begin, finish in self._day_intervals(day, team):
                if begin <= at_utc < finish:
                    return True
        return False

    def next_opening(
        self, at: Optional[dt.datetime] = None, team: Optional[str] = None
    ) -> Tuple[dt.datetime, dt.datetime]:
        """The open period containing `at`, or else the next one to start (default `at`: `bot.clock.now()`).

        Returns:
            (start, end) in the team's time zone. When open at `at`, `start` is the current period's start
            (not later than `at`); periods are per day, so a 24/7 team's period ends at local midnight.

        Raises:
            CalendarError: no opening within the look-ahead horizon (cannot happen with validated settings
                unless `extra_closed` lists years of dates).
        """
        at_utc = _require_aware(at if at is not None else clock.now(), "at")
        tz = self.schedule(team).timezone
        begin, finish = next(self._intervals_from(at_utc, team))
        return begin.astimezone(tz), finish.astimezone(tz)

    def reply_from(self, at: Optional[dt.datetime] = None, team: Optional[str] = None) -> dt.datetime:
        """The first moment at or after `at` when the team is open: `at` itself when open now."""
        at_utc = _require_aware(at if at is not None else clock.now(), "at")
        begin, _finish = self.next_opening(at_utc, team)
        return max(begin, at_utc).astimezone(self.schedule(team).timezone)

    def add_business_time(
        self, start: dt.datetime, duration: dt.timedelta, team: Optional[str] = None
    ) -> dt.datetime:
        """The due time: `start` plus `duration` counted in business time only.

        Counting starts at `start` when it is open, else at the next opening. A due time that lands exactly on
        a period's end stays there (a 3-hour SLA from 09:00 is due 12:00, not 13:30). A zero duration from a
        closed moment gives the next opening.

        Args:
            start: timezone-aware start.
            duration: non-negative business time to add.
            team: the team whose hours count.

        Returns:
            The due time in the team's time zone.

        Raises:
            ValueError: `start` is naive or `duration` is negative.
        """
        start_utc = _require_aware(start, "start")
        if duration < dt.timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        tz = self.schedule(team).timezone
        remaining = duration
        for begin, finish in self._intervals_from(start_utc, team, touching=True):
            begin = max(begin, start_utc)
            available = finish - begin
            if remaining <= available:
                return (begin + remaining).astimezone(tz)
            remaining -= available
        raise CalendarError("unreachable")  # pragma: no cover - _intervals_from raises first

    def business_seconds_between(self, a: dt.datetime, b: dt.datetime, team: Optional[str] = None) -> float:
        """Seconds of business time from `a` to `b` (negative when `b` is before `a`).

        `business_seconds_between(s, add_business_time(s, d)) == d.total_seconds()`.
        """
        a_utc, b_utc = _require_aware(a, "a"), _require_aware(b, "b")
        if b_utc < a_utc:
            return -self.business_seconds_between(b_utc, a_utc, team)
        total = dt.timedelta(0)
        for begin, finish in self._intervals_from(a_utc, team):
            if begin >= b_utc:
                break
            total += min(finish, b_utc) - max(begin, a_utc)
        return total.total_seconds()

    # --- holidays ---------------------------------------------------------------------------------------------

    def _holiday_names(self, day: dt.date) -> Optional[HolidayName]:
        if not self.settings.main.use_china_holidays:
            return None
        detail = self.holidays.detail(day)
        if detail is None or detail[0] != HOLIDAY:
            return None
        return detail[1]

    def holiday_name(self, day: dt.date, lang: str = ZH) -> Optional[str]:
        """The public holiday `day` is a day off for ("国庆节" / "National Day"), or None.

        None for ordinary days, make-up working days, years without data, or when holidays are turned off.
        """
        names = self._holiday_names(_as_date(day))
        return localise(lang, zh=names.zh, en=names.en) if names else None

    def holiday_period(self, day: dt.date) -> Optional[HolidayPeriod]:
        """The run of holiday days off containing `day` (e.g. 2025-10-01..2025-10-08), or None."""
        day = _as_date(day)
        if self._holiday_names(day) is None:
            return None
        first = last = day
        while self._holiday_names(first - dt.timedelta(days=1)) is not None:
            first -= dt.timedelta(days=1)
        while self._holiday_names(last + dt.timedelta(days=1)) is not None:
            last += dt.timedelta(days=1)
        counts = Counter(
            self._holiday_names(first + dt.timedelta(days=offset))
            for offset in range((last - first).days + 1)
        )
        # The name most days carry (the first one on a tie): 2025-10-01..08 is National Day, not Mid-Autumn.
        names = counts.most_common(1)[0][0]
        resume = None
        probe = last + dt.timedelta(days=1)
        for _ in range(366):
            if self.is_working_day(probe):
                resume = probe
                break
            probe += dt.timedelta(days=1)
        assert names is not None  # every day of the run has a holiday name
        return HolidayPeriod(names=names, first=first, last=last, resume=resume)

    def holiday_periods_between(self, first: dt.date, last: dt.date) -> List[HolidayPeriod]:
        """The holiday periods overlapping the dates `first`..`last` (inclusive), in order."""
        periods: List[HolidayPeriod] = []
        day = _as_date(first)
        last = _as_date(last)
        while day <= last:
            period = self.holiday_period(day)
            if period is not None:
                periods.append(period)
                day = period.last + dt.timedelta(days=1)
            else:
                day += dt.timedelta(days=1)
        return periods


def _as_date(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _local(day: dt.date, minutes: int, tz: dt.tzinfo) -> dt.datetime:
    """The UTC instant of `minutes` after local midnight of `day` (1440 = next midnight)."""
    extra, minutes = divmod(minutes, 24 * 60)
    local = dt.datetime.combine(
        day + dt.timedelta(days=extra), dt.time(minutes // 60, minutes % 60), tzinfo=tz
    )
    return local.astimezone(UTC)


_cached: Optional[Tuple[Tuple[str, float], BusinessCalendar]] = None


def get_calendar() -> BusinessCalendar:
    """The calendar built from the settings file in use, cached until the file changes.

    Raises:
        bot.settings.SettingsError: the settings file or its `calendar:` section is invalid.
    """
    global _cached
    from bot.settings import load_settings, settings_path

    path = settings_path()
    try:
        key = (str(path), os.stat(path).st_mtime)
    except OSError:
        key = (str(path), -1.0)
    if _cached is None or _cached[0] != key:
        _cached = (key, BusinessCalendar.from_settings(load_settings()))
    return _cached[1]


def reset_calendar() -> None:
    """Forget the cached calendar (tests, or after changing `FRONTLINE_SETTINGS`)."""
    global _cached
    _cached = None
