"""`bot.texts`: the queue is told one way, and each text exists in every language."""

from __future__ import annotations

import inspect

import pytest

from bot import i18n, texts


@pytest.mark.parametrize(("lang", "minutes"), [("zh", "约 3 分钟"), ("zh_hant", "約 3 分鐘"), ("en", "about 3 minutes")])
def test_150_seconds_is_3_minutes_in_the_queue_reply_and_in_the_update(lang: str, minutes: str) -> None:
    update = texts.queue_position(lang, 2, 150)
    joined = texts.queue_joined(lang, 2, 150)
    assert minutes in update
    assert joined.endswith(update)


@pytest.mark.parametrize(
    ("lang", "position", "expected"),
    [
        ("zh", 1, "您是下一位，预计等待约 1 分钟。"),
        ("zh", 3, "前面还有 2 位，预计等待约 1 分钟。"),
        ("zh", 0, "您是下一位，预计等待约 1 分钟。"),
        ("en", 1, "You're next in the queue; expected wait about 1 minute."),
        ("en", 3, "You're number 3 in the queue; expected wait about 1 minute."),
    ],
)
def test_queue_position(lang: str, position: int, expected: str) -> None:
    assert texts.queue_position(lang, position, None) == expected


# Language-neutral values (what goes into a sentence is formatted by the caller, not translated here).
SAMPLE_ARGUMENTS = {
    "back_from": "12-01 09:00",
    "expected_by": "10:00",
    "closes_at": "10-02 20:00",
    "hours": 48,
    "ticket_id": "T-000123",
    "zone": "UTC+8",
    "open_parts": ["1-5 09:00-18:00"],
    "closed_days": "6, 7",
    "public_holidays": True,
    "name_zh": "National Day",
    "name_en": "National Day",
    "dates": "10-01/10-08",
    "days": "10-09",
    "contact": "400-820-0000",
    "contact_zh": "400-820-0000",
    "contact_en": "400-820-0000",
    "topic_zh": "refund",
    "topic_en": "refund",
    "position": 2,
    "wait_seconds": 150,
    "rating": 5,
    "length": 12000,
    "limit": 10000,
}


def public_text_functions():  # type: ignore[no-untyped-def]
    return [
        (name, function)
        for name, function in inspect.getmembers(texts, inspect.isfunction)
        if not name.startswith("_") and function.__module__ == texts.__name__
    ]


@pytest.mark.parametrize(("name", "function"), public_text_functions())
def test_each_text_is_simplified_for_zh_traditional_for_zh_hant_and_english_for_en(name, function) -> None:
    parameters = list(inspect.signature(function).parameters)[1:]
    arguments = {key: SAMPLE_ARGUMENTS[key] for key in parameters if key in SAMPLE_ARGUMENTS}
    zh, hant, en = (function(lang, **arguments) for lang in ("zh", "zh_hant", "en"))
    assert zh and hant and en
    assert zh != en
    assert function(None, **arguments) == zh == function("xx", **arguments)  # unknown languages get Simplified
    if isinstance(zh, str):
        assert hant == i18n.to_traditional(zh)
        assert any("\u4e00" <= char <= "\u9fff" for char in zh)
        assert not any("\u4e00" <= char <= "\u9fff" for char in en)
