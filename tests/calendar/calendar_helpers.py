"""Settings and helpers shared by the business-calendar tests (a uniquely named module, not `conftest`)."""

from __future__ import annotations

import copy
import datetime as dt
import zoneinfo
from typing import Any, Dict

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
WEEKDAY_HOURS = ["09:00-12:00", "13:30-18:00"]

# Mirrors the shipped settings.yml, so the texts asserted in the tests do not move when it is edited.
BASE_SETTINGS: Dict[str, Any] = {
    "version": 1,
    "calendar": {
        "timezone": "Asia/Shanghai",
        "hours": {
            "mon": WEEKDAY_HOURS,
            "tue": WEEKDAY_HOURS,
            "wed": WEEKDAY_HOURS,
            "thu": WEEKDAY_HOURS,
            "fri": WEEKDAY_HOURS,
            "sat": [],
            "sun": [],
        },
        "use_china_holidays": True,
        "extra_closed": [],
        "extra_open": [],
        "teams": {
            "emergency": {"always_open": True},
            # A split shift that runs across midnight: 06:00-10:00, 16:00-20:00 and 22:00-02:00.
            "night": {
                "hours": {
                    day: ["00:00-02:00", "06:00-10:00", "16:00-20:00", "22:00-24:00"]
                    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                }
            },
            # A zone with DST, to check the arithmetic across the clock changes.
            "berlin": {
                "timezone": "Europe/Berlin",
                "use_china_holidays": False,
                "hours": {"mon": ["08:00-17:00"], "sat": ["10:00-12:00"], "sun": ["01:00-04:00"]},
            },
        },
    },
    "emergency": {
        "contact_zh": "24小时紧急热线 400-820-0000",
        "contact_en": "our 24/7 emergency line +86 400-820-0000",
        "intents": ["faq_emergency", "faq_lost_card", "faq_fraud", "faq_account_stolen"],
        "entry_payload": "/faq_emergency",
        "menu_keys": ["EMERGENCY"],
    },
}


def at(text: str) -> dt.datetime:
    """A Shanghai-time moment from "YYYY-MM-DD HH:MM"."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)


def settings_with(**calendar_changes: Any) -> Dict[str, Any]:
    """A deep copy of BASE_SETTINGS with keys of the `calendar:` section replaced."""
    settings = copy.deepcopy(BASE_SETTINGS)
    settings["calendar"].update(calendar_changes)
    return settings
