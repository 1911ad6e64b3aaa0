"""`bot.reply_window`: the rule read from the settings, and the state of a window at a moment."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.reply_window import WindowRule
from bot.settings import SettingsError, load_settings


def test_the_shipped_settings_cover_every_wechat_channel() -> None:
    rule = WindowRule.from_settings(load_settings())
    assert (rule.hours, rule.warn_hours) == (48.0, 4.0)
    assert all(rule.applies(c) for c in ("wechat", "wecom", "wechat_kf"))
    assert not rule.applies("socketio") and not rule.applies("rest") and not rule.applies(None)


def test_closing_time_and_state() -> None:
    rule = WindowRule()
    last = dt.datetime(2025, 9, 30, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert rule.closes_at(last) == dt.datetime(2025, 10, 2, 20, 0, tzinfo=last.tzinfo)
    closes = rule.closes_at_ts(last.timestamp())
    assert rule.state(closes, closes - 5 * 3600) == "open"
    assert rule.state(closes, closes - 4 * 3600) == "closing"
    assert rule.state(closes, closes) == "closed"


@pytest.mark.parametrize(("section", "names"), [
    ({"hours": 0}, "reply_window.hours"),
    ({"hours": "48"}, "reply_window.hours"),
    ({"warn_hours": True}, "reply_window.warn_hours"),
    ({"hours": 4, "warn_hours": 6}, "reply_window.warn_hours"),
    ({"channels": "wechat"}, "reply_window.channels"),
    ([], "reply_window: must be a mapping"),
])
def test_bad_settings_name_the_key(section: object, names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        WindowRule.from_settings({"reply_window": section})


def test_absent_section_means_wechat_defaults() -> None:
    assert WindowRule.from_settings({}) == WindowRule()
