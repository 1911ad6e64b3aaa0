"""Key facts in the context packet: gathered from every user turn's entities (as the NLU component puts them),
each once, masked, kept when the transcript is cut, and checked by the published schema and the desk."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Dict, List

import jsonschema
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa_sdk import Tracker

from bot.desk.errors import DeskError
from bot.desk.packet import PacketValidator
from bot.handoff import context
from bot.nlu.key_facts import KeyFactExtractor
from bot.settings import repo_root

AT = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.timezone.utc)
SAID = [
    "你好，我的订单号是20251103123456，还没发货",
    "昨天付了128.5元，手机13812345678",
    "hello?",
    "订单 20251103123456 快点处理，联系电话 138 1234 5678",
    "call me at 9123 4567",
]


def parsed_turns(component: KeyFactExtractor, texts: List[str]) -> List[Dict[str, Any]]:
    events: List[Dict[str, Any]] = []
    for number, text in enumerate(texts):
        message = Message(data={"text": text})
        component.process([message])
        parse_data = {"intent": {"name": "complain", "confidence": 0.9},
                      "entities": message.get("entities", [])}
        events.append({"event": "user", "text": text, "timestamp": 1_796_000_000 + number, "parse_data": parse_data})
        events.append({"event": "bot", "text": "好的", "timestamp": 1_796_000_000 + number + 0.5})
    return events


@pytest.fixture
def events(model_storage, execution_context: ExecutionContext) -> List[Dict[str, Any]]:
    component = KeyFactExtractor.create({}, model_storage, Resource("key_facts"), execution_context)
    return parsed_turns(component, SAID)


def tracker(events: List[Dict[str, Any]]) -> Tracker:
    return Tracker("socketio:kf-1", {"language": "zh"}, events[-2], events, False, None, None, "action_listen")


def schema_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((repo_root() / "docs" / "context-packet.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_facts_of_every_turn_are_listed_once_first_mention_first_with_phones_masked(events) -> None:
    packet = context.build_packet(tracker(events), reason="anger", grade="A", created_at=AT,
                                  limits=context.TranscriptLimits())
    schema_validator().validate(packet)
    assert [(f["kind"], f["value"], f["turn"], f["mentions"]) for f in packet["key_facts"]] == [
        ("order_number", "20251103123456", 1, 2),
        ("date", "昨天", 2, 1),
        ("amount", "128.5元", 2, 1),
        ("phone", "138****5678", 2, 2),
        ("phone", "****4567", 5, 1),
    ]
    assert packet["key_facts"][0]["at"] == dt.datetime.fromtimestamp(1_796_000_000, dt.timezone.utc).isoformat()
    assert "13812345678" not in json.dumps(packet, ensure_ascii=False)
    # the facts are masked even where the transcript's masking reads no phone ("call me at" is too far from it)
    assert "9123 4567" not in json.dumps(packet["key_facts"], ensure_ascii=False)


def test_facts_outlive_the_transcript_cut(events) -> None:
    packet = context.build_packet(tracker(events), reason="anger", grade="A", created_at=AT,
                                  limits=context.TranscriptLimits(max_messages=2))
    assert packet["transcript_omitted"] > 0
    assert "20251103123456" not in json.dumps(packet["transcript"], ensure_ascii=False)
    assert packet["key_facts"][0]["value"] == "20251103123456"  # said on turn 1, which the transcript left out


def test_a_conversation_without_facts_has_an_empty_list(model_storage, execution_context) -> None:
    component = KeyFactExtractor.create({}, model_storage, Resource("k"), execution_context)
    packet = context.build_packet(tracker(parsed_turns(component, ["hello", "help me"])), reason=None, grade=None,
                                  created_at=AT, limits=context.TranscriptLimits())
    assert packet["key_facts"] == []


def test_the_desk_refuses_a_fact_of_an_unknown_kind_and_takes_packets_without_facts(events) -> None:
    packet = context.build_packet(tracker(events), reason="anger", grade="A", created_at=AT,
                                  limits=context.TranscriptLimits())
    validator = PacketValidator(["A", "B", "C"])
    validator.check(packet)
    without = {key: value for key, value in packet.items() if key != "key_facts"}
    validator.check(without)  # packets built before key facts existed are still taken
    packet["key_facts"][0]["kind"] = "bank_card"
    with pytest.raises(DeskError, match=r"'key_facts\[0\]\.kind' must be one of"):
        validator.check(packet)


def test_an_overlong_fact_is_left_out_so_the_packet_stays_valid() -> None:
    events = [{"event": "user", "text": "x", "timestamp": 1_796_000_000,
               "parse_data": {"entities": [{"entity": "order_number", "value": "1" * 300},
                                           {"entity": "order_number", "value": "A1234567"},
                                           {"entity": "language", "value": "zh"}]}}]
    assert [f["value"] for f in context.key_facts(events)] == ["A1234567"]
