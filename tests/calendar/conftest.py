"""Fixtures for the business-calendar tests: calendars built from test settings, a pinned clock."""

from __future__ import annotations

import copy
import pathlib
from typing import Any, Callable, Iterator

import pytest
import yaml

from bot.calendar import BusinessCalendar, reset_calendar

from calendar_helpers import BASE_SETTINGS, settings_with


@pytest.fixture
def pinned_now(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Pin `bot.clock.now()` through FRONTLINE_NOW, e.g. pinned_now("2025-11-30T20:00:00+08:00")."""

    def pin(value: str) -> None:
        monkeypatch.setenv("FRONTLINE_NOW", value)

    monkeypatch.delenv("FRONTLINE_NOW", raising=False)
    return pin


@pytest.fixture
def make_calendar(pinned_now: Callable[[str], None]) -> Callable[..., BusinessCalendar]:
    """Build a calendar from BASE_SETTINGS with `calendar:` keys replaced (clock pinned to 2025-06-01)."""

    def make(**calendar_changes: Any) -> BusinessCalendar:
        pinned_now("2025-06-01T12:00:00+08:00")
        return BusinessCalendar.from_settings(settings_with(**calendar_changes))

    return make


@pytest.fixture(scope="session")
def calendar() -> BusinessCalendar:
    """The calendar of BASE_SETTINGS (built once: its day cache makes the property tests fast)."""
    return BusinessCalendar.from_settings(copy.deepcopy(BASE_SETTINGS))


@pytest.fixture
def settings_file(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pathlib.Path]:
    """BASE_SETTINGS written to a file that FRONTLINE_SETTINGS points at; the cached calendar is reset."""
    path = tmp_path / "settings.yml"
    path.write_text(yaml.safe_dump(BASE_SETTINGS, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("FRONTLINE_SETTINGS", str(path))
    reset_calendar()
    yield path
    reset_calendar()
