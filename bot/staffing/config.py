"""The `staffing` section of `settings.yml`, validated (a wrong key raises `SettingsError` naming it)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict, Mapping, Optional

from bot.settings import SettingsError, load_settings
from bot.staffing.erlang_c import DEFAULT_EFFICIENCY
from bot.staffing.rota import Rota, parse_rota

logger = logging.getLogger(__name__)

DEFAULT_SERVICE_LEVEL = 0.8
DEFAULT_SHRINKAGE = 0.3
DEFAULT_CONCURRENCY = 1
DEFAULT_HISTORY_WEEKS = 8
DEFAULT_BACKTEST_WEEKS = 2
DEFAULT_FORECAST_DAYS = 14
MAX_FORECAST_DAYS = 28


@dataclasses.dataclass(frozen=True)
class StaffingSettings:
    """What the staffing plan needs (see the comments of `settings.yml: staffing`).

    Attributes:
        service_level: the share of handoffs to answer within `target_seconds`.
        target_seconds: the first-response target (by default the strictest of `desk.first_response_seconds`).
        handle_seconds: the average handle time of a handoff (by default `desk.average_handle_seconds`).
        shrinkage: the share of paid time agents are not on the queue.
        concurrency: chats an agent serves at once.
        efficiency: chats' worth of work per agent at each concurrency.
        history_weeks: weeks of history the forecast reads.
        backtest_weeks: the last weeks the backtest forecasts again to measure the error.
        forecast_days: days ahead `GET /api/staffing` plans when not asked.
        rota: the agents scheduled (`bot.staffing.rota`); None: no rota to compare with.
    """

    service_level: float = DEFAULT_SERVICE_LEVEL
    target_seconds: float = 120.0
    handle_seconds: float = 240.0
    shrinkage: float = DEFAULT_SHRINKAGE
    concurrency: int = DEFAULT_CONCURRENCY
    efficiency: Mapping[int, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_EFFICIENCY))
    history_weeks: int = DEFAULT_HISTORY_WEEKS
    backtest_weeks: int = DEFAULT_BACKTEST_WEEKS
    forecast_days: int = DEFAULT_FORECAST_DAYS
    rota: Optional[Rota] = None


def _number(value: Any, key: str, low: float, high: Optional[float] = None, *, strict_high: bool = True) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and value >= low
    if ok and high is not None:
        ok = value < high if strict_high else value <= high
    if not ok:
        upper = f" and {'below' if strict_high else 'at most'} {high}" if high is not None else ""
        raise SettingsError(f"settings: 'staffing.{key}' must be a number >= {low}{upper}, got {value!r}")
    return float(value)


def _whole(value: Any, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SettingsError(f"settings: 'staffing.{key}' must be a whole number from {low} to {high}, got {value!r}")
    return value


def _efficiency(raw: Any) -> Dict[int, float]:
    if raw is None:
        return dict(DEFAULT_EFFICIENCY)
    if not isinstance(raw, Mapping) or not raw:
        raise SettingsError("settings: 'staffing.efficiency' must map concurrency (1, 2, …) -> chats' worth of work")
    table: Dict[int, float] = {}
    for key, value in raw.items():
        try:
            concurrency = int(key)
        except (TypeError, ValueError) as error:
            raise SettingsError(f"settings: 'staffing.efficiency' key {key!r} is not a whole number") from error
        if concurrency < 1:
            raise SettingsError(f"settings: 'staffing.efficiency' key {key!r} must be 1 or more")
        table[concurrency] = _number(value, f"efficiency.{key}", 0.01)
    return table


def validate(settings: Mapping[str, Any]) -> StaffingSettings:
    """Validate `staffing` (absent: the defaults) against the whole settings mapping.

    Raises:
        SettingsError: a key has a wrong value; the message names it.
    """
    section = settings.get("staffing") or {}
    if not isinstance(section, Mapping):
        raise SettingsError("settings: section 'staffing' must be a mapping")
    desk = settings.get("desk") if isinstance(settings.get("desk"), Mapping) else {}
    targets = [v for v in (desk.get("first_response_seconds") or {}).values() if isinstance(v, (int, float))]
    target = section.get("target_seconds")
    handle = section.get("handle_seconds")
    efficiency = _efficiency(section.get("efficiency"))
    concurrency = _whole(section.get("concurrency", DEFAULT_CONCURRENCY), "concurrency", 1, 100)
    if concurrency not in efficiency:
        raise SettingsError(f"settings: 'staffing.efficiency' has no factor for 'staffing.concurrency' {concurrency}")
    return StaffingSettings(
        service_level=_number(section.get("service_level", DEFAULT_SERVICE_LEVEL), "service_level", 0.01, 1),
        target_seconds=_number(target if target is not None else min(targets or [120]), "target_seconds", 0),
        handle_seconds=_number(
            handle if handle is not None else desk.get("average_handle_seconds", 240), "handle_seconds", 1
        ),
        shrinkage=_number(section.get("shrinkage", DEFAULT_SHRINKAGE), "shrinkage", 0, 1),
        concurrency=concurrency,
        efficiency=efficiency,
        history_weeks=_whole(section.get("history_weeks", DEFAULT_HISTORY_WEEKS), "history_weeks", 1, 104),
        backtest_weeks=_whole(section.get("backtest_weeks", DEFAULT_BACKTEST_WEEKS), "backtest_weeks", 0, 52),
        forecast_days=_whole(section.get("forecast_days", DEFAULT_FORECAST_DAYS), "forecast_days", 1, MAX_FORECAST_DAYS),
        rota=parse_rota(section.get("rota")),
    )


def load(settings: Optional[Mapping[str, Any]] = None) -> StaffingSettings:
    """Validate the given settings, or load and validate the settings file."""
    return validate(settings if settings is not None else load_settings())
