"""Mainland China public holidays and make-up working days (调休), from the `chinesecalendar` package.

The package only knows the years the State Council has announced. For any other year `ChinaHolidays` answers
"no data" (None) instead of raising, and `covered(year)` tells the caller so it can warn.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from typing import Optional, Tuple

logger = logging.getLogger(__name__)

HOLIDAY = "holiday"
WORKDAY = "workday"


@dataclasses.dataclass(frozen=True)
class HolidayName:
    """A public holiday's names.

    Attributes:
        key: a stable identifier, e.g. "national_day".
        zh: the holiday in Simplified Chinese, e.g. "国庆节".
        zh_break: the days off in Simplified Chinese, e.g. "国庆假期".
        en: the holiday in English, e.g. "National Day".
    """

    key: str
    zh: str
    zh_break: str
    en: str


# chinesecalendar's English names -> our names.
HOLIDAY_NAMES = {
    "New Year's Day": HolidayName("new_years_day", "元旦", "元旦假期", "New Year's Day"),
    "Spring Festival": HolidayName("spring_festival", "春节", "春节假期", "Spring Festival"),
    "Tomb-sweeping Day": HolidayName("tomb_sweeping_day", "清明节", "清明假期", "Qingming Festival"),
    "Labour Day": HolidayName("labour_day", "劳动节", "劳动节假期", "Labour Day"),
    "Dragon Boat Festival": HolidayName("dragon_boat_festival", "端午节", "端午假期", "Dragon Boat Festival"),
    "Mid-autumn Festival": HolidayName("mid_autumn_festival", "中秋节", "中秋假期", "Mid-Autumn Festival"),
    "National Day": HolidayName("national_day", "国庆节", "国庆假期", "National Day"),
    "Anti-Fascist 70th Day": HolidayName(
        "anti_fascist_70th_day", "抗战胜利70周年纪念日", "纪念日假期", "Victory Day (70th anniversary)"
    ),
}


def holiday_name_for(package_name: str) -> HolidayName:
    """Return our names for a holiday name of the chinesecalendar package (unknown names pass through)."""
    known = HOLIDAY_NAMES.get(package_name)
    if known:
        return known
    import chinese_calendar

    for holiday in chinese_calendar.Holiday:
        if holiday.value == package_name:
            chinese = getattr(holiday, "chinese", package_name)
            return HolidayName(holiday.name, chinese, f"{chinese}假期", package_name)
    return HolidayName(package_name.lower().replace(" ", "_"), package_name, package_name, package_name)


class ChinaHolidays:
    """Look up one date in the chinesecalendar data, never raising for years it does not cover."""

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one instance per calendar, a handful of years
    def covered(self, year: int) -> bool:
        """True when the installed chinesecalendar has the holiday data of `year`."""
        import chinese_calendar

        try:
            chinese_calendar.get_holiday_detail(dt.date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def detail(self, day: dt.date) -> Optional[Tuple[str, HolidayName]]:
        """Return (HOLIDAY or WORKDAY, names) for a public holiday or make-up working day, else None.

        None also for an ordinary day and for a year without data (check `covered`).
        """
        if not self.covered(day.year):
            return None
        import chinese_calendar

        try:
            is_holiday, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            return None
        if not name:
            return None
        return (HOLIDAY if is_holiday else WORKDAY), holiday_name_for(str(name))

    def version(self) -> str:
        """The installed chinesecalendar version, for log messages."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("chinesecalendar")
        except PackageNotFoundError:  # pragma: no cover - installed without metadata
            return "unknown"
