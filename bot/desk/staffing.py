"""`GET /api/staffing`: the forecast of the desk's own history and the agents needed, beside agents online.

The history is read from the store (tickets created: handoffs; conversations first seen on the event stream:
the assistant's load) for `staffing.history_weeks` weeks back from the current local hour, starting at the
first hour the desk saw anything (a young desk is not diluted by empty weeks before it existed). The maths is
`bot.staffing.plan` (pure); settings `settings.yml: staffing` (`bot.staffing.config`). The agents scheduled
beside them come from `staffing.rota` (`bot.staffing.rota`), each date's row chosen by the business calendar
built from the same settings (`calendar`: public holidays, make-up working days, extra dates).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import zoneinfo
from typing import Any, Dict, Optional

from bot.calendar import BusinessCalendar
from bot.desk import records
from bot.desk.errors import DeskError
from bot.desk.presence import Presence
from bot.desk.store import Store
from bot.desk.views import iso
from bot.staffing import config
from bot.staffing.config import MAX_FORECAST_DAYS, StaffingSettings
from bot.staffing.forecast import WEEK
from bot.staffing.plan import bucket, plan_hours, staffing_plan
from bot.staffing.rota import DayKind, scheduled

logger = logging.getLogger(__name__)

# `desk_state` key where `python -m bot desk simulate` records what it stored (`bot.desk.simulate`).
SIMULATED_STATE = "simulated"


def parse_days(raw: Optional[str], default: int) -> int:
    """The `days` query parameter: a whole number from 1 to `MAX_FORECAST_DAYS` (default when absent).

    Raises:
        DeskError: 400 naming the parameter.
    """
    if raw is None or raw == "":
        return default
    if not raw.strip().isdigit() or not 1 <= int(raw) <= MAX_FORECAST_DAYS:
        raise DeskError(400, f"'days' must be a whole number from 1 to {MAX_FORECAST_DAYS}")
    return int(raw)


class StaffingReport:
    """The staffing plan over the desk's store.

    Args:
        store: the desk store.
        raw_settings: the whole settings mapping (sections `staffing`, `desk`, `calendar`).
        presence: who is online now.
    """

    def __init__(self, store: Store, raw_settings: Any, presence: Presence) -> None:
        self.store = store
        self.settings: StaffingSettings = config.validate(raw_settings)
        timezone = ((raw_settings.get("calendar") or {}).get("timezone")) or "UTC"
        self.timezone = zoneinfo.ZoneInfo(str(timezone))
        self.presence = presence
        self.day_kind: DayKind = lambda day: None  # without a calendar: every date is its weekday
        if self.settings.rota is not None and raw_settings.get("calendar"):
            self.day_kind = BusinessCalendar.from_settings(raw_settings).day_kind

    def plan(self, days: int) -> Dict[str, Any]:
        """The plan for `days` days from the current local hour (see `bot.staffing.plan.staffing_plan`) beside the
        rota, with
        `agents_online`, `agents` (known), `simulated` (what `python -m bot desk simulate` stored, or None) and
        `timezone`."""
        now = records.now()
        first_hour = dt.datetime.fromtimestamp(now, self.timezone).replace(minute=0, second=0, microsecond=0)
        earliest = first_hour - dt.timedelta(hours=self.settings.history_weeks * WEEK)
        first = self.store.first_activity()
        if first is None or first >= first_hour.timestamp():
            earliest = first_hour  # nothing seen before this hour: no history
        elif first > earliest.timestamp():  # a young desk: its history starts at the hour of its first contact
            earliest = dt.datetime.fromtimestamp(first, self.timezone).replace(minute=0, second=0, microsecond=0)
        hours = int((first_hour - earliest).total_seconds() // 3600)
        since, until = earliest.timestamp(), first_hour.timestamp()
        handoffs = bucket(self.store.ticket_times(since, until), earliest, hours)
        conversations = bucket(self.store.conversation_times(since, until), earliest, hours)
        rota = self.settings.rota
        on_rota = scheduled(rota, plan_hours(first_hour, days), self.day_kind) if rota is not None else None
        result = staffing_plan(handoffs, conversations, first_hour, days, self.settings, on_rota)
        agents = self.store.list_agents()
        simulated = self.store.get_state(SIMULATED_STATE)
        result.update({
            "generated_at": iso(now),
            "timezone": str(self.timezone),
            "history_from": earliest.isoformat(),
            "agents_online": sum(1 for agent in agents if self.presence.is_online(agent.name, now)),
            "agents": len(agents),
            "simulated": json.loads(simulated) if simulated else None,
        })
        return result
