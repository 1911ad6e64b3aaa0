"""Acting before the breach: the leader's scan tells the consoles once when a ticket turns yellow and once when
it turns red (`at_risk` events), `GET /api/at-risk` lists the tickets at risk, and the escalation on red
(`desk.on_red`) moves a red ticket to the top of a queue and alerts the supervisors. The clock is pinned
(`FRONTLINE_NOW`) and advanced."""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
from typing import Any, Dict, List

import pytest

from bot.desk.app import create_app
from bot.desk.rasa_client import RasaClient
from bot.desk.store import Store
from bot.settings import SettingsError
from bot.desk import config

START = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)


def pin(monkeypatch: pytest.MonkeyPatch, seconds: float) -> float:
    """Pin the clock `seconds` after START; return that time in epoch seconds."""
    at = START + dt.timedelta(seconds=seconds)
    monkeypatch.setenv("FRONTLINE_NOW", at.isoformat())
    return at.timestamp()


def feed_events(store: Store, kind: str) -> List[Dict[str, Any]]:
    return [json.loads(row.data) for row in store.feed_after(0, 10_000) if row.kind == kind]


async def create(app: Any, internal: Dict[str, str], packet: Dict[str, Any]) -> str:
    _, response = await app.asgi_client.post("/internal/tickets", headers=internal, json=packet)
    assert response.status == 201, response.text
    return response.json["id"]


def with_rules(settings: Dict[str, Any], rules: List[Dict[str, Any]]) -> Dict[str, Any]:
    changed = copy.deepcopy(settings)
    changed["desk"]["on_red"] = rules
    return changed


def desk_app(settings: Dict[str, Any], store: Store, fake_rasa: Any, calendar: Any) -> Any:
    return create_app(settings, store=store, rasa=RasaClient(fake_rasa.url, token="t", timeout=3), broker=None,
                      secret="test-secret", calendar=calendar, notify_positions=False, console=False)


async def test_a_ticket_is_told_once_when_it_turns_yellow_and_once_when_red(
    app, internal, make_packet, agents, monkeypatch
) -> None:
    pin(monkeypatch, 0)
    code = await create(app, internal, make_packet("risk-1"))  # socketio: first response due in 120 s, warn at 90
    desk = app.ctx.desk
    assert desk.at_risk.scan(pin(monkeypatch, 60)).alerted == 0
    assert feed_events(desk.store, "at_risk") == []
    assert desk.at_risk.scan(pin(monkeypatch, 95)).alerted == 1
    assert desk.at_risk.scan(pin(monkeypatch, 100)).alerted == 0  # told already
    assert desk.at_risk.scan(pin(monkeypatch, 125)).alerted == 1
    assert desk.at_risk.scan(pin(monkeypatch, 130)).alerted == 0
    told = feed_events(desk.store, "at_risk")
    assert [(e["light"], e["ticket"]["id"], e["ticket"]["sla"]) for e in told] == [
        ("yellow", code, "yellow"), ("red", code, "red")]
    assert told[0]["ticket"]["skill"] == "orders" and told[0]["ticket"]["assignee"] is None


async def test_an_answered_ticket_is_not_at_risk_until_its_resolution_warns(
    app, internal, make_packet, agents, monkeypatch
) -> None:
    pin(monkeypatch, 0)
    code = await create(app, internal, make_packet("risk-2"))
    headers = agents["alice"]["headers"]
    _, claimed = await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=headers)
    assert claimed.status == 200
    pin(monkeypatch, 30)
    _, sent = await app.asgi_client.post(f"/api/tickets/{code}/messages", headers=headers, json={"text": "hi"})
    assert sent.status == 201
    desk = app.ctx.desk
    assert desk.at_risk.scan(pin(monkeypatch, 600)).alerted == 0
    assert desk.at_risk.scan(pin(monkeypatch, 0.75 * 3600 + 1)).alerted == 1  # grade A: 1 h, warn at 45 min
    assert [e["light"] for e in feed_events(desk.store, "at_risk")] == ["yellow"]


async def test_the_at_risk_list_shows_red_before_yellow_and_leaves_green_out(
    app, internal, make_packet, agents, monkeypatch
) -> None:
    pin(monkeypatch, 0)
    red = await create(app, internal, make_packet("risk-red"))
    pin(monkeypatch, 30)
    yellow = await create(app, internal, make_packet("risk-yellow"))
    pin(monkeypatch, 100)
    await create(app, internal, make_packet("risk-green"))
    pin(monkeypatch, 125)  # red: 125 s > 120; yellow: 95 s >= 90; green: 25 s
    _, response = await app.asgi_client.get("/api/at-risk", headers=agents["alice"]["headers"])
    assert response.status == 200
    assert [(t["id"], t["sla"]) for t in response.json] == [(red, "red"), (yellow, "yellow")]
    # an agent is told only of tickets in its reach: carol (after_sales) cannot take these orders tickets
    _, outside = await app.asgi_client.get("/api/at-risk", headers=agents["carol"]["headers"])
    assert outside.status == 200 and outside.json == []
    _, refused = await app.asgi_client.get("/api/at-risk")
    assert refused.status == 401


async def test_red_grade_a_goes_back_to_the_top_of_its_queue_and_alerts_supervisors(
    settings, sqlite_store, fake_rasa, calendar, internal, make_packet, agents, monkeypatch
) -> None:
    app = desk_app(with_rules(settings, [{"grades": ["A"], "alert_supervisors": True, "move": "top"}]),
                   sqlite_store, fake_rasa, calendar)
    pin(monkeypatch, 0)
    held = await create(app, internal, make_packet("esc-held", grade="A"))
    pin(monkeypatch, 10)
    waiting = await create(app, internal, make_packet("esc-waiting", grade="A", customer={
        "id": "vip-1", "display_name": "V", "tier": "vip", "vip": True, "language": "zh", "earlier_tickets": []}))
    _, claimed = await app.asgi_client.post(f"/api/tickets/{held}/claim", headers=agents["alice"]["headers"])
    assert claimed.status == 200
    desk = app.ctx.desk
    desk.at_risk.scan(pin(monkeypatch, 125))  # held: red, never answered; waiting: yellow (115 s)
    ticket = desk.store.ticket_by_code(held)
    assert ticket.status == "queued" and ticket.assignee is None and ticket.escalated_at is not None
    _, listed = await app.asgi_client.get("/api/tickets", headers=agents["alice"]["headers"])
    order = [t["id"] for t in listed.json]
    assert order.index(held) < order.index(waiting)  # above a VIP ticket of the same grade
    _, shown = await app.asgi_client.get(f"/api/tickets/{held}", headers=agents["alice"]["headers"])
    assert shown.json["position"] == 1 and shown.json["escalated_at"] is not None
    alerts = feed_events(desk.store, "escalation")
    assert len(alerts) == 1
    assert alerts[0]["ticket"]["id"] == held and alerts[0]["moved_to"] == "orders"
    assert alerts[0]["previous_assignee"] == "alice" and alerts[0]["rule"]["grades"] == ["A"]


async def test_red_goes_to_a_named_team_and_other_grades_stay(
    settings, sqlite_store, fake_rasa, calendar, internal, make_packet, agents, monkeypatch
) -> None:
    app = desk_app(with_rules(settings, [{"grades": ["A"], "alert_supervisors": False, "move": "after_sales"}]),
                   sqlite_store, fake_rasa, calendar)
    pin(monkeypatch, 0)
    grade_a = await create(app, internal, make_packet("team-a", grade="A"))
    grade_b = await create(app, internal, make_packet("team-b", grade="B"))
    desk = app.ctx.desk
    desk.at_risk.scan(pin(monkeypatch, 125))
    assert desk.store.ticket_by_code(grade_a).skill == "after_sales"
    assert desk.store.ticket_by_code(grade_b).skill == "orders"  # no rule for B
    assert desk.store.ticket_by_code(grade_b).escalated_at is None
    assert feed_events(desk.store, "escalation") == []  # alert_supervisors: false
    assert len(feed_events(desk.store, "at_risk")) == 2  # both were told red


def test_on_red_settings_are_checked(settings) -> None:
    for bad in ([{"grades": ["Z"]}], [{"grades": ["A"], "move": "nowhere"}], [{"grades": "A"}],
                [{"grades": ["A"], "alert_supervisors": "yes"}]):
        with pytest.raises(SettingsError, match="desk.on_red"):
            config.validate(with_rules(settings, bad))


def test_two_desks_scanning_at_once_tell_a_change_once(store, settings, calendar, make_packet, monkeypatch) -> None:
    """The told light is one conditional UPDATE: of several desks scanning at the same moment, one tells."""
    from bot.desk.service import Desk

    desks = [Desk(Store(store.url, schema=store.schema), config.load(settings), RasaClient("http://127.0.0.1:9", "t"),
                  calendar=calendar) for _ in range(4)]
    pin(monkeypatch, 0)
    for i in range(5):
        desks[0].intake.create_ticket(make_packet(f"race-{i}"))
    now = pin(monkeypatch, 95)
    barrier = threading.Barrier(len(desks))
    told: List[int] = []

    def scan(desk: Desk) -> None:
        barrier.wait()
        told.append(desk.at_risk.scan(now).alerted)

    threads = [threading.Thread(target=scan, args=(desk,)) for desk in desks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(told) == 5
    events = feed_events(store, "at_risk")
    assert sorted(e["ticket"]["id"] for e in events) == sorted({e["ticket"]["id"] for e in events})
    assert len(events) == 5
    for desk in desks:
        desk.store.close()
