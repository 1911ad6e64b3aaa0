"""An unbounded context packet (security review, finding 12): a long conversation cannot make a huge ticket.

Before the fix the packet carried the whole transcript: a script that writes thousands of messages (or a few
enormous ones) before asking for a human made the action server post megabytes to the desk, which stored them
in the ticket and pushed them to every console. Now the transcript keeps the latest messages within
`settings.yml: handoff` and says how many it left out. Tested on the packet builder the handoff action calls
(the per-conversation rate limits stop the stack from being fed thousands of messages in a test's time).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Dict, List

from rasa_sdk import Tracker

from bot.desk.packet import PacketValidator
from bot.handoff import context
from bot.handoff.context import TranscriptLimits

AT = dt.datetime(2025, 12, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
LIMITS = TranscriptLimits.from_settings()


def flood(turns: int, text_size: int) -> Tracker:
    events: List[Dict[str, Any]] = []
    for turn in range(turns):
        events.append({"event": "user", "timestamp": 1764554400.0 + turn, "text": f"#{turn} " + "啊" * text_size,
                       "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.2},
                                      "anger": {"score": 0.1}}})
        events.append({"event": "bot", "timestamp": 1764554400.5 + turn, "text": f"收到 #{turn}"})
    return Tracker.from_dict({"sender_id": "rest:flooder", "slots": {}, "events": events, "latest_message": {}})


def test_flooded_conversation_gives_a_bounded_packet() -> None:
    packet = context.build_packet(flood(3000, 200), reason=None, grade=None, created_at=AT)

    lines = packet["transcript"]
    assert len(lines) <= LIMITS.max_messages
    assert sum(len(line["text"]) for line in lines) <= LIMITS.max_chars
    assert lines[-1]["text"] == "收到 #2999" and lines[-2]["text"].startswith("#2999 ")  # the latest are kept
    assert packet["transcript_omitted"] == 6000 - len(lines) > 0
    assert len(packet["intents"]) == len(packet["anger_history"]) == LIMITS.max_messages
    assert packet["intents"][-1]["turn"] == 3000 and packet["intents_omitted"] == 3000 - LIMITS.max_messages
    assert len(json.dumps(packet, ensure_ascii=False).encode()) < 200_000
    PacketValidator({"A": 1, "B": 4, "C": 24}).check(packet)  # still a valid packet for the desk


def test_one_enormous_message_is_cut() -> None:
    packet = context.build_packet(flood(1, 500_000), reason=None, grade=None, created_at=AT,
                                  limits=TranscriptLimits(max_messages=100, max_chars=1000))
    customer, bot = packet["transcript"]
    assert bot["text"] == "收到 #0"
    assert customer["text"].startswith("#0 啊") and customer["text"].endswith("…")
    assert len(customer["text"]) + len(bot["text"]) == 1000 and packet["transcript_omitted"] == 0


def test_a_short_conversation_is_whole() -> None:
    packet = context.build_packet(flood(3, 10), reason=None, grade=None, created_at=AT)
    assert len(packet["transcript"]) == 6 and packet["transcript_omitted"] == 0 and packet["intents_omitted"] == 0
