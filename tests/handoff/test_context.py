"""The context packet built from a realistic tracker validates against the published JSON schema."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any, Dict

import jsonschema
import pytest
from rasa_sdk import Tracker

from bot import identity
from bot.handoff import context
from bot.settings import repo_root

AT = dt.datetime(2025, 12, 1, 10, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))
IDENTITY_SECRET = "x" * 40


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((repo_root() / "docs" / "context-packet.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_packet_from_a_real_conversation(angry_tracker: Tracker, validator: Any) -> None:
    earlier = [{"id": "T-000007", "status": "resolved", "reason": "anger", "created_at": "2025-11-02T10:00:00+08:00"}]
    packet = context.build_packet(
        angry_tracker, reason="anger", grade="A", created_at=AT, earlier_tickets=earlier
    )
    validator.validate(packet)
    assert packet["version"] == 1
    assert packet["conversation_id"] == "socketio:conv-angry-refund-1"
    assert packet["channel"] == "socketio"
    assert packet["created_at"] == "2025-12-01T10:01:05+08:00"
    assert packet["customer"] == {
        "id": "u-1001", "display_name": None, "tier": "vip", "vip": True, "language": "zh",
        "earlier_tickets": earlier,
    }
    assert (packet["reason"], packet["grade"], packet["topic"]) == ("anger", "A", "faq_refund_status")
    assert packet["anger_history"] == [0.05, 0.55, 0.86]
    assert [(i["turn"], i["name"], i["confidence"], i["anger"]) for i in packet["intents"]] == [
        (1, "faq_refund_status", 0.91, 0.05), (2, "complain", 0.72, 0.55), (3, "complain", 0.88, 0.86),
    ]
    assert packet["intents"][0]["at"] == "2025-12-01T02:00:01+00:00"
    assert [(line["role"], line["text"]) for line in packet["transcript"]] == [
        ("customer", "你好，我想查一下退款"),
        ("bot", "退款一般在 3-5 个工作日内原路退回，金额 ¥1299.00。"),
        ("customer", "已经两周了还没到！我的手机 138****5678，邮箱 z***@example.com"),
        ("bot", "很抱歉，请提供订单号 202510031234 以便查询。"),
        ("customer", "卡号 ***************0123 一直没收到钱，太离谱了，我要投诉！"),
    ]
    assert packet["masked"] == {
        "email": 1, "id_number": 0, "bank_card": 1, "mobile": 1, "landline": 0, "phone": 0, "hk_id": 0,
        "passport": 0,
    }
    assert packet["slots"]["handoff_reason"] == "anger"
    assert packet["slots"]["anger"] == 0.86
    raw = json.dumps(packet, ensure_ascii=False)
    for secret in ("13812345678", "zhang.san", "6222 0212 3456 7890"):
        assert secret not in raw


def test_defaults_and_unknowns(angry_state: Dict[str, Any], validator: Any) -> None:
    state = copy.deepcopy(angry_state)
    state["slots"] = {"language": None, "handoff_reason": None, "handoff_grade": None}
    state["events"] = [e for e in state["events"] if e.get("event") != "user" or "退款" not in e["text"]]
    tracker = Tracker.from_dict(state)
    packet = context.build_packet(tracker, reason=None, grade=None, created_at=AT)
    validator.validate(packet)
    assert (packet["reason"], packet["grade"]) == ("asked_for_human", "B")
    assert packet["topic"] is None
    assert packet["customer"]["id"] is None
    assert packet["customer"]["vip"] is False
    assert packet["customer"]["language"] == "zh"  # detected from the latest customer message


def test_turns_without_anger_and_no_channel(angry_state: Dict[str, Any], validator: Any) -> None:
    state = copy.deepcopy(angry_state)
    for event in state["events"]:
        if event.get("event") == "user":
            event.pop("input_channel", None)
            if "你好" in event["text"]:
                del event["parse_data"]["anger"]
    packet = context.build_packet(Tracker.from_dict(state), reason=None, grade=None, created_at=AT)
    validator.validate(packet)
    assert packet["channel"] == "socketio"  # where the conversation lives: the namespace of its id
    assert packet["anger_history"] == [0.55, 0.86]
    assert [i["anger"] for i in packet["intents"]] == [None, 0.55, 0.86]
    state["sender_id"] = "conv-from-the-http-api"  # an id no channel made, and no channel recorded
    assert context.build_packet(Tracker.from_dict(state), reason=None, grade=None, created_at=AT)["channel"] == "unknown"


def test_the_channel_is_where_the_conversation_lives(angry_state: Dict[str, Any]) -> None:
    """Even when the latest message says otherwise, the packet names the channel of the id's namespace."""
    state = copy.deepcopy(angry_state)
    state["sender_id"] = "wechat:oFollower0123456789"
    for event in state["events"]:
        if event.get("event") == "user":
            event["input_channel"] = "socketio"
    packet = context.build_packet(Tracker.from_dict(state), reason=None, grade=None, created_at=AT)
    assert (packet["conversation_id"], packet["channel"]) == ("wechat:oFollower0123456789", "wechat")


def test_grade_from_the_settings_map() -> None:
    assert context.resolve_reason_and_grade("not_understood", None, {"not_understood": "C"}) == (
        "not_understood", "C",
    )
    assert context.resolve_reason_and_grade("anger", "Z", {"anger": "A"}) == ("anger", "A")
    assert context.resolve_reason_and_grade("anger", "B", {"anger": "A"}) == ("anger", "B")


def test_customer_only_from_sealed_metadata(
    angry_state: Dict[str, Any], monkeypatch: pytest.MonkeyPatch, validator: Any
) -> None:
    monkeypatch.setenv(identity.ENV_SECRET, IDENTITY_SECRET)
    state = copy.deepcopy(angry_state)
    state["slots"] = {"language": "en"}
    sealed = identity.seal_customer(
        {"customer_id": "u-77", "tier": "vip", "display_name": "Ms Li 13812345678"}, state["sender_id"],
        IDENTITY_SECRET,
    )
    users = [e for e in state["events"] if e["event"] == "user"]
    users[1]["metadata"] = {"customer": {"customer_id": "forged", "tier": "vip", "seal": "0" * 64}}
    users[-1]["metadata"] = {"customer": sealed}
    packet = context.build_packet(Tracker.from_dict(state), reason=None, grade=None, created_at=AT)
    validator.validate(packet)
    customer = packet["customer"]
    assert (customer["id"], customer["tier"], customer["vip"]) == ("u-77", "vip", True)
    assert customer["display_name"] == "Ms Li 138****5678"
    assert customer["language"] == "en"
    users[-1]["metadata"] = {"customer": {**sealed, "tier": "gold"}}  # tampered: the seal no longer fits
    assert context.build_packet(Tracker.from_dict(state), reason=None, grade=None, created_at=AT)["customer"]["id"] is None


def test_an_earlier_messages_identity_is_not_inherited(
    angry_state: Dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sealed identity describes the sender of its message only: the latest message, sent without one, is
    anonymous (no customer id, so no earlier tickets of the earlier customer, no VIP tier)."""
    monkeypatch.setenv(identity.ENV_SECRET, IDENTITY_SECRET)
    state = copy.deepcopy(angry_state)
    state["slots"] = {"language": "zh"}
    sealed = identity.seal_customer({"customer_id": "u-77", "tier": "vip"}, state["sender_id"], IDENTITY_SECRET)
    users = [e for e in state["events"] if e["event"] == "user"]
    users[0]["metadata"] = {"customer": sealed}
    customer = context.build_packet(Tracker.from_dict(state), reason=None, grade=None, created_at=AT)["customer"]
    assert (customer["id"], customer["tier"], customer["vip"]) == (None, None, False)


def test_schema_rejects_a_broken_packet(angry_tracker: Tracker, validator: Any) -> None:
    packet = context.build_packet(angry_tracker, reason="anger", grade="A", created_at=AT)
    for breakage in (
        {"grade": "D"}, {"version": 2}, {"transcript": [{"role": "agent", "text": "x", "at": None}]},
        {"anger_history": [{"score": 0.5}]}, {"channel": None},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate({**packet, **breakage})
    del packet["customer"]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(packet)
