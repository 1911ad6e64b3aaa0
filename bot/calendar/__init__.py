"""The business calendar: opening hours, China public holidays, SLA due times in business time.

Public API (import from `bot.calendar`):
- `get_calendar()` / `reset_calendar()`: the calendar built from `settings.yml` (`calendar:` section), cached.
- `BusinessCalendar`: `is_open`, `next_opening`, `reply_from`, `add_business_time`, `day_kind`,
  `business_seconds_between`, `holiday_name`, `holiday_period`, `holiday_periods_between`.
- `bot.calendar.messages`: the customer-facing texts (off-hours reply, hours answer, greeting, emergency).
"""

from __future__ import annotations

import logging

from bot.calendar.calendar import (
    BusinessCalendar,
    CalendarError,
    HolidayPeriod,
    get_calendar,
    reset_calendar,
)
from bot.calendar.schedule import CalendarSettings, Schedule, parse_calendar_settings

logger = logging.getLogger(__name__)

__all__ = [
    "BusinessCalendar",
    "CalendarError",
    "CalendarSettings",
    "HolidayPeriod",
    "Schedule",
    "get_calendar",
    "parse_calendar_settings",
    "reset_calendar",
]
