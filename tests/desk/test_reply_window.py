"""The desk shows each WeChat ticket's reply window: when it closes, and a warning before (`reply_window`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict

import pytest

from bot.desk.records import MessageRole, MessageStatus

EVE = dt.datetime(2025, 9, 30, 12, 0, tzinfo=dt.timezone.utc)  # 20:00 in Beijing, the eve of National Day


async def ticket_at(app: Any, headers: Dict[str, str], code: str, at: dt.datetime, monkeypatch: pytest.MonkeyPatch) -> Dict[str, Any]:
    monkeypatch.setenv("FRONTLINE_NOW", at.isoformat())
    _, response = await app.asgi_client.get(f"/api/tickets/{code}", headers=headers)
    assert response.status == 200
    return response.json


@pytest.mark.parametrize("channel", ["wechat", "wecom", "wechat_kf"])
async def test_a_wechat_ticket_shows_when_its_window_closes_and_warns_before(
    channel: str, app: Any, internal: Dict[str, str], make_packet: Any, agents: Dict[str, Any], sqlite_store: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRONTLINE_NOW", EVE.isoformat())
    _, created = await app.asgi_client.post("/internal/tickets", headers=internal, json=make_packet("w-1", channel=channel))
    assert created.status == 201
    code, headers = created.json["id"], agents["alice"]["headers"]

    closes = (EVE + dt.timedelta(hours=48)).isoformat()
    assert (await ticket_at(app, headers, code, EVE, monkeypatch))["reply_window"] == {"closes_at": closes, "state": "open"}
    later = EVE + dt.timedelta(hours=43, minutes=59)
    assert (await ticket_at(app, headers, code, later, monkeypatch))["reply_window"]["state"] == "open"
    warned = EVE + dt.timedelta(hours=44, minutes=1)
    assert (await ticket_at(app, headers, code, warned, monkeypatch))["reply_window"] == {"closes_at": closes, "state": "closing"}
    gone = EVE + dt.timedelta(hours=48)
    assert (await ticket_at(app, headers, code, gone, monkeypatch))["reply_window"]["state"] == "closed"

    # the customer writes again on 1 October: the window opens again from that message, never moves back
    ticket_id = sqlite_store.ticket_by_code(code).id
    again = EVE + dt.timedelta(days=1)
    sqlite_store.add_message(ticket_id, MessageRole.CUSTOMER, "还在吗", again.timestamp(), MessageStatus.RECEIVED, external_id="rasa:9", sequence=9)
    sqlite_store.add_message(ticket_id, MessageRole.CUSTOMER, "旧的", EVE.timestamp(), MessageStatus.RECEIVED, external_id="rasa:3", sequence=3)
    sqlite_store.add_message(ticket_id, MessageRole.AGENT, "agent", (again + dt.timedelta(hours=5)).timestamp(), MessageStatus.SENT)
    shown = await ticket_at(app, headers, code, gone, monkeypatch)
    assert shown["reply_window"] == {"closes_at": (again + dt.timedelta(hours=48)).isoformat(), "state": "open"}


async def test_tickets_of_channels_without_a_window_show_none(
    app: Any, internal: Dict[str, str], make_packet: Any, agents: Dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRONTLINE_NOW", EVE.isoformat())
    for conversation, channel in (("s-1", "socketio"), ("r-1", "rest")):
        _, created = await app.asgi_client.post("/internal/tickets", headers=internal, json=make_packet(conversation, channel=channel))
        shown = await ticket_at(app, agents["alice"]["headers"], created.json["id"], EVE, monkeypatch)
        assert shown["reply_window"] is None
