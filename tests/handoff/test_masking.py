"""Masking of personal data: each kind, and numbers that must stay as they are."""

from __future__ import annotations

import pytest

from bot.handoff import masking

MASKED = [
    # mobile numbers
    ("我的手机 13812345678", "我的手机 138****5678", "mobile"),
    ("电话：15900001111。", "电话：159****1111。", "mobile"),
    ("+86 138-1234-5678", "+86 138****5678", "mobile"),
    ("call 86 139 1234 5678 please", "call 86 139****5678 please", "mobile"),
    # landlines
    ("座机 010-62345678", "座机 010-****5678", "landline"),
    ("(0755)23456789 转 8", "(0755)****6789 转 8", "landline"),
    ("0571 8765 4321", "0571 ****4321", "landline"),
    # ID numbers
    ("身份证11010519491231002X", "身份证**************002X", "id_number"),
    ("ID 11010519491231002x ok", "ID **************002x ok", "id_number"),
    ("证件号 110105194912310021", "证件号 **************0021", "id_number"),
    # bank cards (13-19 digits, keep the last 4)
    ("卡号 6222021234567890", "卡号 ************7890", "bank_card"),
    ("卡号 6222 0212 3456 7890 123", "卡号 ***************0123", "bank_card"),
    ("card 4111-1111-1111-1111", "card ************1111", "bank_card"),
    ("4000123456788", "*********6788", "bank_card"),  # Luhn-valid: a card even without a card word
    ("6217000000000000004", "***************0004", "bank_card"),
    # e-mail addresses
    ("邮箱 zhang.san@example.com 谢谢", "邮箱 z***@example.com 谢谢", "email"),
    ("mail me: li+shop@mail.example.cn", "mail me: l***@mail.example.cn", "email"),
]

UNCHANGED = [
    "订单号 202510031234",  # 12 digits: an order number, not a card
    "order 8123456",
    "价格 ¥1299.00 元",
    "1,299元，优惠 50.5 元",
    "2025-10-03 20:15 下单",
    "2025年10月3日 09:00-18:00",
    "退款 3-5 个工作日",
    "快递单号 SF1234567890",
    "version 1.2.3, room 1203",
    "第 12345678 号",  # 8 digits with no area code
    "ORDER-20251003-0012",
    "4000123456789",  # 13 digits failing the Luhn check, no card word: not a card
    "6217000000000000000",  # 19 digits failing the Luhn check
    "订单号是 20251103123456",  # 14 digits after an order word (Luhn-valid, yet an order number)
]


@pytest.mark.parametrize(("text", "expected", "kind"), MASKED)
def test_each_kind_is_masked(text: str, expected: str, kind: str) -> None:
    masked, found = masking.mask_with_report(text)
    assert masked == expected
    assert dict(found) == {kind: 1}


@pytest.mark.parametrize("text", UNCHANGED)
def test_what_is_not_personal_data_stays(text: str) -> None:
    masked, found = masking.mask_with_report(text)
    assert masked == text
    assert not found


def test_several_kinds_in_one_message() -> None:
    text = "手机13812345678，邮箱a.b@example.com，卡6222021234567890，订单202510031234"
    masked, found = masking.mask_with_report(text)
    assert masked == "手机138****5678，邮箱a***@example.com，卡************7890，订单202510031234"
    assert dict(found) == {"mobile": 1, "email": 1, "bank_card": 1}


def test_masking_twice_changes_nothing() -> None:
    once, found = masking.mask_with_report(
        "13812345678 / 11010519491231002X / 6222021234567894 / x@y.com / 010-62345678"
    )
    assert sum(found.values()) == 5
    assert masking.mask(once) == once


def test_id_checksum() -> None:
    assert masking.id_checksum_ok("11010519491231002X")
    assert not masking.id_checksum_ok("110105194912310021")
    assert not masking.id_checksum_ok("1101051949123100")


def test_an_18_digit_number_without_a_birth_date_is_a_card() -> None:
    masked, found = masking.mask_with_report("622202123456789012")
    assert masked == "**************9012"
    assert dict(found) == {"bank_card": 1}


def test_mask_value_walks_json() -> None:
    value = {"a": ["13812345678", 3, None], "b": {"c": "x@y.com"}, "d": 1.5}
    assert masking.mask_value(value) == {"a": ["138****5678", 3, None], "b": {"c": "x***@y.com"}, "d": 1.5}
