"""Parse and validate the `calendar:` section of `settings.yml` into immutable schedules.

Every mistake raises `bot.settings.SettingsError` with a message naming the key, for example
`calendar.hours.mon[1]: "13:30-12:00" ends before it starts`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import zoneinfo
from typing import Any, Callable, Dict, FrozenSet, Mapping, Optional, Tuple

from bot.settings import SettingsError

logger = logging.getLogger(__name__)

WEEKDAYS: Tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIMEZONE = "Asia/Shanghai"
MINUTES_PER_DAY = 24 * 60

# An opening period as minutes after local midnight: [start, end), end may be 1440 ("24:00").
Period = Tuple[int, int]
DayHours = Tuple[Period, ...]

_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_MAIN_KEYS = ("timezone", "hours", "use_china_holidays", "extra_closed", "extra_open", "teams")
_TEAM_KEYS = ("always_open", "timezone", "hours", "use_china_holidays", "extra_closed", "extra_open")


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The opening hours of the service team, or of one team with its own schedule.

    Attributes:
        timezone: the time zone the hours are given in.
        timezone_name: the name as written in the settings (e.g. "Asia/Shanghai", "+05:30").
        weekly: opening periods for Monday (index 0) to Sunday (index 6); an empty tuple means closed.
        use_china_holidays: close on mainland China public holidays and open on make-up working days (调休).
        extra_closed: dates closed whatever the holiday data says.
        extra_open: dates open whatever the holiday data says.
        always_open: open around the clock, every day (e.g. an emergency team).
    """

    timezone: dt.tzinfo
    timezone_name: str
    weekly: Tuple[DayHours, ...]
    use_china_holidays: bool = True
    extra_closed: FrozenSet[dt.date] = frozenset()
    extra_open: FrozenSet[dt.date] = frozenset()
    always_open: bool = False

    @property
    def workday_hours(self) -> DayHours:
        """Hours of a working day that has none of its own (a make-up Saturday, an `extra_open` Sunday).

        These are the hours of the first weekday, Monday to Friday, that has opening periods; failing that, of
        the first day of the week that has any.
        """
        for hours in self.weekly:
            if hours:
                return hours
        return ()


@dataclasses.dataclass(frozen=True)
class CalendarSettings:
    """The validated `calendar:` section: the main schedule and the teams with their own."""

    main: Schedule
    teams: Mapping[str, Schedule]


def parse_timezone(value: Any, key: str) -> dt.tzinfo:
    """Return the time zone for an IANA name ("Asia/Shanghai"), "UTC" or a fixed offset ("+05:30", "UTC+8").

    Args:
        value: the setting.
        key: the settings key, for the error message.

    Raises:
        SettingsError: the value is not a known time zone.
    """
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{key}: expected a time zone name such as {DEFAULT_TIMEZONE!r}, got {value!r}")
    name = value.strip()
    match = _OFFSET.match(name)
    if match:
        sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        if hours > 14 or minutes > 59:
            raise SettingsError(f"{key}: {value!r} is not a valid UTC offset (from -14:00 to +14:00)")
        delta = dt.timedelta(hours=hours, minutes=minutes)
        return dt.timezone(-delta if sign == "-" else delta, name)
    if name.upper() in ("UTC", "GMT", "Z"):
        return dt.timezone.utc
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise SettingsError(
            f"{key}: unknown time zone {value!r}; use an IANA name such as {DEFAULT_TIMEZONE!r} "
            "or a fixed offset such as '+08:00'"
        ) from error


def parse_period(value: Any, key: str) -> Period:
    """Parse one opening period "HH:MM-HH:MM" (end may be "24:00") into minutes after midnight.

    Raises:
        SettingsError: the period is malformed, out of range or ends before it starts.
    """
    if not isinstance(value, str):
        raise SettingsError(f'{key}: expected a period such as "09:00-12:00", got {value!r}')
    match = _PERIOD.match(value)
    if not match:
        raise SettingsError(f'{key}: {value!r} is not a period such as "09:00-12:00" (HH:MM-HH:MM)')
    h1, m1, h2, m2 = (int(group) for group in match.groups())
    if h1 > 23 or m1 > 59:
        raise SettingsError(f"{key}: {value!r} starts at an impossible time (00:00 to 23:59)")
    if h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise SettingsError(f"{key}: {value!r} ends at an impossible time (00:01 to 24:00)")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        raise SettingsError(
            f"{key}: {value!r} ends before it starts (periods cannot run past midnight; "
            'split them, e.g. "22:00-24:00" and next day "00:00-06:00")'
        )
    return start, end


def parse_day_hours(value: Any, key: str) -> DayHours:
    """Parse the list of periods of one weekday; overlapping periods are an error, touching ones merge.

    Raises:
        SettingsError: the value is not a list of periods, or two periods overlap.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise SettingsError(f'{key}: expected a list of periods such as ["09:00-12:00"], got {value!r}')
    periods = sorted((parse_period(item, f"{key}[{index}]"), item) for index, item in enumerate(value))
    merged: list[list[int]] = []
    previous_text = ""
    for (start, end), text in periods:
        if merged and start < merged[-1][1]:
            raise SettingsError(f"{key}: periods {previous_text!r} and {text!r} overlap")
        if merged and start == merged[-1][1]:
            merged[-1][1] = end
        else:
            merged.append([start, end])
        previous_text = text
    return tuple((start, end) for start, end in merged)


def parse_weekly(value: Any, key: str) -> Tuple[DayHours, ...]:
    """Parse the `hours:` mapping (mon..sun -> periods); a weekday left out is closed.

    Raises:
        SettingsError: an unknown weekday, a bad period, or no opening period in the whole week.
    """
    if not isinstance(value, dict):
        raise SettingsError(
            f'{key}: expected a mapping of weekdays, e.g. mon: ["09:00-18:00"], got {value!r}'
        )
    weekly: Dict[int, DayHours] = {}
    for day, periods in value.items():
        name = str(day).strip().lower()
        if name not in WEEKDAYS:
            raise SettingsError(f"{key}: unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
        weekly[WEEKDAYS.index(name)] = parse_day_hours(periods, f"{key}.{name}")
    result = tuple(weekly.get(index, ()) for index in range(7))
    if not any(result):
        raise SettingsError(f"{key}: no opening period on any weekday (use always_open: true for 24/7)")
    return result


def parse_date(value: Any, key: str) -> dt.date:
    """Parse a date given as YAML date or "YYYY-MM-DD" string.

    Raises:
        SettingsError: the value is not a valid date.
    """
    if isinstance(value, dt.datetime):
        raise SettingsError(f"{key}: expected a date YYYY-MM-DD without a time, got {value!r}")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as error:
            raise SettingsError(f"{key}: {value!r} is not a valid date") from error
    raise SettingsError(f"{key}: expected a date YYYY-MM-DD, got {value!r}")


def parse_dates(value: Any, key: str) -> FrozenSet[dt.date]:
    """Parse a list of dates (`extra_closed`, `extra_open`).

    Raises:
        SettingsError: the value is not a list, or one of its items is not a date.
    """
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise SettingsError(f"{key}: expected a list of dates YYYY-MM-DD, got {value!r}")
    return frozenset(parse_date(item, f"{key}[{index}]") for index, item in enumerate(value))


def _parse_bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{key}: expected true or false, got {value!r}")
    return value


def _check_keys(section: Mapping[str, Any], known: Tuple[str, ...], key: str) -> None:
    for name in section:
        if name not in known:
            raise SettingsError(f"{key}: unknown key {name!r} (known keys: {', '.join(known)})")


def _check_disjoint(closed: FrozenSet[dt.date], opened: FrozenSet[dt.date], key: str) -> None:
    both = sorted(closed & opened)
    if both:
        raise SettingsError(
            f"{key}.extra_closed and {key}.extra_open both list {', '.join(d.isoformat() for d in both)}"
        )


def _own(section: Mapping[str, Any], key: str, name: str, parse: Callable[[Any, str], Any], inherited: Any) -> Any:
    """The section's own `name`, parsed (a mistake names `key.name`), or `inherited` when it gives none."""
    return parse(section[name], f"{key}.{name}") if name in section else inherited


def _schedule(section: Mapping[str, Any], key: str, inherited: Schedule, always_open: bool = False) -> Schedule:
    """A schedule from a settings section: its own `hours` (or round the clock when `always_open`), and its own
    time zone, holiday switch and extra dates, else those of `inherited`.

    Raises:
        SettingsError: naming the key that is wrong.
    """
    timezone = _own(section, key, "timezone", parse_timezone, inherited.timezone)
    if always_open:
        weekly: Tuple[DayHours, ...] = tuple(((0, MINUTES_PER_DAY),) for _ in range(7))
    elif "hours" in section:
        weekly = parse_weekly(section["hours"], f"{key}.hours")
    else:
        raise SettingsError(f"{key}.hours: missing; give the opening periods per weekday (mon..sun)")
    use_holidays = _own(section, key, "use_china_holidays", _parse_bool, inherited.use_china_holidays)
    extra_closed = _own(section, key, "extra_closed", parse_dates, inherited.extra_closed)
    extra_open = _own(section, key, "extra_open", parse_dates, inherited.extra_open)
    _check_disjoint(extra_closed, extra_open, key)
    return Schedule(
        timezone=timezone,
        timezone_name=str(section.get("timezone", inherited.timezone_name)).strip(),
        weekly=weekly,
        use_china_holidays=use_holidays,
        extra_closed=extra_closed,
        extra_open=extra_open,
        always_open=always_open,
    )


def parse_team(name: str, value: Any, main: Schedule, key: str) -> Schedule:
    """Parse one team: `always_open: true`, or its own `hours` (other keys default to the main schedule).

    Raises:
        SettingsError: naming the team's key that is wrong.
    """
    if not isinstance(value, dict):
        raise SettingsError(f"{key}: expected a mapping with always_open: true or hours, got {value!r}")
    _check_keys(value, _TEAM_KEYS, key)
    always_open = _parse_bool(value.get("always_open", False), f"{key}.always_open")
    if always_open and "hours" in value:
        raise SettingsError(f"{key}: give either always_open: true or hours, not both")
    if not always_open and "hours" not in value:
        raise SettingsError(f"{key}: give either always_open: true or its own hours")
    return _schedule(value, key, main, always_open)


def parse_calendar_settings(section: Optional[Mapping[str, Any]], key: str = "calendar") -> CalendarSettings:
    """Validate the `calendar:` section of the settings.

    Args:
        section: the section as read from YAML.
        key: the section's name, used in error messages.

    Returns:
        The validated settings.

    Raises:
        SettingsError: with a message naming the key that is wrong.
    """
    if not isinstance(section, dict):
        raise SettingsError(f"{key}: the section is missing or is not a mapping")
    _check_keys(section, _MAIN_KEYS, key)
    defaults = Schedule(
        timezone=parse_timezone(DEFAULT_TIMEZONE, f"{key}.timezone"), timezone_name=DEFAULT_TIMEZONE, weekly=()
    )
    main = _schedule(section, key, defaults)
    teams_value = section.get("teams") or {}
    if not isinstance(teams_value, dict):
        raise SettingsError(f"{key}.teams: expected a mapping of team names, got {teams_value!r}")
    teams = {
        str(name): parse_team(str(name), value, main, f"{key}.teams.{name}")
        for name, value in teams_value.items()
    }
    return CalendarSettings(main=main, teams=teams)
