"""Agents' live replies, transfer notes and canned replies go through the trainer lint's banned-phrase matcher:
refused by default (422 naming the phrase, nothing stored, nothing reaches the channel), or sent with a warning
recorded for QA (`compliance.live_replies: warn`)."""

from __future__ import annotations

import copy
from typing import Any, Dict

import pytest

from bot.desk import config as desk_config
from bot.desk.app import create_app
from bot.desk.rasa_client import RasaClient
from bot.settings import SettingsError
from conftest import SECRET
from test_delivery import open_claimed

pytestmark = pytest.mark.filterwarnings("ignore:You have set a listener")

BANNED = [
    ("我们绝对 保证三天内到账", "绝对保证"),  # a space in the phrase
    ("我們絕對保證三天內到帳", "绝对保证"),  # Traditional
    ("This is 100% GUARANTEED to arrive", "100% guaranteed"),  # case
    ("This is 100 % guaranteed to arrive", "100% guaranteed"),  # a space before the symbol
    ("ｎｅｖｅｒ ｆａｉｌｓ, I promise", "never fails"),  # full-width
]


@pytest.mark.parametrize("text, phrase", BANNED)
async def test_a_reply_with_a_banned_phrase_is_refused_and_nothing_is_sent(
    app, internal, make_packet, agents, fake_rasa, text: str, phrase: str
) -> None:
    alice = agents["alice"]["headers"]
    code = await open_claimed(app, internal, make_packet("conv-1"), alice)
    sent_before = len(fake_rasa.deliveries)
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/messages", headers=alice, json={"text": text})
    assert response.status == 422, response.json
    assert response.json["phrase"] == phrase and f"'{phrase}'" in response.json["error"]
    assert len(fake_rasa.deliveries) == sent_before  # nothing reached the channel
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    assert [m for m in detail.json["messages"] if m["role"] == "agent"] == []  # nothing stored either
    assert detail.json["first_response_at"] is None


async def test_words_that_only_look_like_a_phrase_go_out(app, internal, make_packet, agents, fake_rasa) -> None:
    alice = agents["alice"]["headers"]
    code = await open_claimed(app, internal, make_packet("conv-1"), alice)
    for text in ("我们保证尽快处理，但无法绝对承诺时间", "It is not guaranteed, 100 items left"):
        _, response = await app.asgi_client.post(f"/api/tickets/{code}/messages", headers=alice, json={"text": text})
        assert response.status == 201, response.json
        assert "compliance_warning" not in response.json
    assert len(fake_rasa.deliveries) == 2


async def test_a_transfer_note_with_a_banned_phrase_is_refused_and_the_ticket_stays(
    app, internal, make_packet, agents
) -> None:
    alice = agents["alice"]["headers"]
    code = await open_claimed(app, internal, make_packet("conv-1"), alice)
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/transfer", headers=alice,
                                             json={"skill": "general", "note": "跟客户说稳赚 不赔"})
    assert response.status == 422 and response.json["phrase"] == "稳赚不赔", response.json
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    assert detail.json["assignee"] == "alice" and detail.json["status"] == "assigned"
    assert [m for m in detail.json["messages"] if m["role"] == "note"] == []


@pytest.fixture
def warn_app(settings: Dict[str, Any], sqlite_store: Any, fake_rasa: Any, calendar: Any) -> Any:
    """The desk with `compliance.live_replies: warn`."""
    changed = copy.deepcopy(settings)
    changed["compliance"]["live_replies"] = "warn"
    return create_app(changed, store=sqlite_store, rasa=RasaClient(fake_rasa.url, token="rasa-token", timeout=3),
                      broker=None, secret=SECRET, calendar=calendar, notify_positions=False, console=False)


async def test_warn_mode_sends_the_reply_and_records_a_warning_for_qa(
    warn_app, internal, make_packet, agents, fake_rasa
) -> None:
    alice = agents["alice"]["headers"]
    code = await open_claimed(warn_app, internal, make_packet("conv-1"), alice)
    _, response = await warn_app.asgi_client.post(f"/api/tickets/{code}/messages", headers=alice,
                                                  json={"text": "我們絕對保證三天內到帳"})
    assert response.status == 201, response.json
    assert response.json["status"] == "sent" and response.json["compliance_warning"] == ["绝对保证"]
    assert [e["text"] for e in fake_rasa.events() if e.get("event") == "bot"] == ["我們絕對保證三天內到帳"]
    _, response = await warn_app.asgi_client.post(f"/api/tickets/{code}/transfer", headers=alice,
                                                  json={"skill": "general", "note": "told them it never fails"})
    assert response.status == 200, response.json
    _, detail = await warn_app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    flags = detail.json["compliance_flags"]
    reply = next(m for m in detail.json["messages"] if m["role"] == "agent")
    note = next(m for m in detail.json["messages"] if m["role"] == "note")
    assert [(f["kind"], f["agent"], f["phrases"], f["message_id"]) for f in flags] == [
        ("reply", "alice", ["绝对保证"], reply["id"]), ("note", "alice", ["never fails"], note["id"]),
    ]


def test_a_canned_reply_with_a_banned_phrase_stops_the_desk(settings: Dict[str, Any]) -> None:
    changed = copy.deepcopy(settings)
    changed["desk"]["canned"].append({"id": "promise", "language": "zh", "title": "承诺", "text": "百分百 保证退款"})
    with pytest.raises(SettingsError, match="desk.canned promise contains the banned phrase '百分百保证'"):
        desk_config.validate(changed)
    assert desk_config.validate(settings).live_replies == "refuse"  # the shipped settings: refuse, no bad canned


def test_an_unknown_live_replies_mode_is_named(settings: Dict[str, Any]) -> None:
    changed = copy.deepcopy(settings)
    changed["compliance"]["live_replies"] = "ignore"
    with pytest.raises(SettingsError, match="compliance.live_replies"):
        desk_config.validate(changed)
