"""`make run` refuses to start on a wrong setting, naming the key, before starting any process."""

from __future__ import annotations

import pathlib

import pytest

from bot import run
from bot.settings import repo_root


def test_wrong_setting_stops_start_up_with_the_key_named(tmp_path: pathlib.Path, monkeypatch, capsys) -> None:
    text = (repo_root() / "settings.yml").read_text(encoding="utf-8")
    broken = tmp_path / "settings.yml"
    broken.write_text(text.replace('mon: ["09:00-12:00", "13:30-18:00"]', 'mon: ["09:00-12:00", "13:30-12:00"]'))
    monkeypatch.setenv("FRONTLINE_SETTINGS", str(broken))
    monkeypatch.setattr(run, "start", lambda **kwargs: pytest.fail("nothing may start on a wrong setting"))
    from bot.calendar import reset_calendar

    reset_calendar()
    try:
        assert run.main([]) == 1
    finally:
        monkeypatch.delenv("FRONTLINE_SETTINGS")
        reset_calendar()
    assert "calendar.hours.mon[1]" in capsys.readouterr().err


def test_shipped_settings_pass() -> None:
    run.check_settings()
