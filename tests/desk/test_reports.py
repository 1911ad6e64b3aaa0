"""Where the figures come from and where they show: abandonment (the leader's job, the customer coming back),
second complaints routed to seniors, the assistant's turns kept by the inbox, and `GET /api/reports`."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict
from zoneinfo import ZoneInfo

import pytest

from bot.calendar import BusinessCalendar
from bot.desk.config import load
from bot.desk.rasa_client import RasaClient
from bot.desk.records import MessageRole, MessageStatus, TicketStatus
from bot.desk.service import Desk
from bot.desk.store import Store
from tests.desk.conftest import PlainCalendar, build_packet
from tests.desk.test_events import handoff_event, user_event

TZ = ZoneInfo("Asia/Shanghai")


def pin(monkeypatch: pytest.MonkeyPatch, epoch: float) -> None:
    monkeypatch.setenv("FRONTLINE_NOW", dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat())


def local(*parts: int) -> float:
    return dt.datetime(*parts, tzinfo=TZ).timestamp()


def desk_on(store: Store, settings: Dict[str, Any], calendar: Any) -> Desk:
    return Desk(store, load(settings), RasaClient("http://127.0.0.1:9"), calendar=calendar)


def test_a_silent_queued_customer_is_abandoned_after_the_set_business_minutes(
    store: Store, settings: Dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calendar = BusinessCalendar.from_settings(settings)
    desk = desk_on(store, settings, calendar)
    # Friday 17:55 local: five business minutes left that day, then the weekend
    pin(monkeypatch, local(2025, 9, 19, 17, 55))
    silent = desk.intake.create_ticket(build_packet("late"))[0]
    talking = desk.intake.create_ticket(build_packet("talking"))[0]
    claimed = desk.intake.create_ticket(build_packet("claimed"))[0]
    assert store.claim(store.ticket_by_code(claimed["id"]).id, "alice", 3, local(2025, 9, 19, 17, 56))
    desk.inbox.ingest(handoff_event("socketio:talking", seq=10))
    desk.inbox.ingest(user_event("socketio:talking", "还在吗", "t1", ts=local(2025, 9, 22, 9, 0), seq=11))
    # Monday 09:04: 5 + 4 = 9 business minutes of silence (wall: 2.6 days): nobody abandoned yet
    assert desk.abandonment.sweep(local(2025, 9, 22, 9, 4)) == []
    # Monday 09:05: 10 business minutes since the first; the second wrote at 09:00; the claimed one is served
    assert desk.abandonment.sweep(local(2025, 9, 22, 9, 5)) == [store.ticket_by_code(silent["id"]).id]
    gone = store.ticket_by_code(silent["id"])
    assert gone.status is TicketStatus.ABANDONED and gone.abandoned_at == local(2025, 9, 22, 9, 5)
    assert store.ticket_by_code(talking["id"]).status is TicketStatus.QUEUED
    assert store.ticket_by_code(claimed["id"]).status is TicketStatus.ASSIGNED
    assert [t.id for t in store.queued_tickets()] == [store.ticket_by_code(talking["id"]).id]


def test_an_abandoned_customer_who_writes_again_is_queued_again_and_nothing_is_lost(
    store: Store, settings: Dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = desk_on(store, settings, PlainCalendar())
    pin(monkeypatch, 1_000_000.0)
    code = desk.intake.create_ticket(build_packet("back"))[0]["id"]
    ticket_id = store.ticket_by_code(code).id
    desk.inbox.ingest(handoff_event("socketio:back", seq=20))
    assert desk.abandonment.sweep(1_000_000.0 + 599) == []
    assert desk.abandonment.sweep(1_000_000.0 + 600) == [ticket_id]
    # a new handoff from the same conversation finds the ticket and queues it again
    again, created = desk.intake.create_ticket(build_packet("back"))
    assert not created and again["id"] == code and again["status"] == "queued"
    assert store.get_ticket(ticket_id).abandoned_at is None
    # abandoned again, then the customer writes: queued again, the message kept on the ticket
    assert desk.abandonment.sweep(2_000_000.0) == [ticket_id]
    message = desk.inbox.ingest(user_event("socketio:back", "我回来了", "b1", ts=2_000_001.0, seq=21))
    assert message is not None and message.text == "我回来了"
    assert store.get_ticket(ticket_id).status is TicketStatus.QUEUED


def test_a_second_complaint_within_the_window_goes_to_a_senior_agent(
    store: Store, settings: Dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = desk_on(store, settings, PlainCalendar())
    complain = [{"turn": 1, "at": None, "name": "complain", "confidence": 0.9}]
    pin(monkeypatch, 1_000_000.0)
    first = desk.intake.create_ticket(build_packet("c1", reason="anger", intents=complain))[0]
    plain = desk.intake.create_ticket(build_packet("c2", reason="asked_for_human"))[0]  # same customer, no complaint
    pin(monkeypatch, 1_000_000.0 + 29 * 86400)
    second = desk.intake.create_ticket(build_packet("c3", reason="anger", intents=complain))[0]
    other = desk.intake.create_ticket(build_packet("c4", reason="anger", intents=complain,
                                                   customer={**build_packet()["customer"], "id": "cust-2"}))[0]
    pin(monkeypatch, 1_000_000.0 + 61 * 86400)  # 32 days after the second: outside the 30-day window
    late = desk.intake.create_ticket(build_packet("c5", reason="vip_complaint"))[0]
    rows = {name: store.ticket_by_code(t["id"]) for name, t in
            [("first", first), ("plain", plain), ("second", second), ("other", other), ("late", late)]}
    assert [rows[n].complaint for n in rows] == [True, False, True, True, True]
    assert [rows[n].requires_senior for n in rows] == [False, False, True, False, False]
    # the queue rules honour it: only a senior agent may take the second complaint
    from bot.desk.queue import AgentProfile, QueuedTicket
    queued = QueuedTicket(rows["second"].id, rows["second"].skill, "A", False, 0.0, True, 0.0, 0.0)
    junior = AgentProfile("bob", ["*"], senior=False, capacity=3)
    senior = AgentProfile("carol", ["*"], senior=True, capacity=3)
    assert not desk.rules.can_take(junior, queued, 0.0) and desk.rules.can_take(senior, queued, 0.0)


def test_the_inbox_keeps_the_assistants_turns_once_and_not_the_messages_to_an_agent(
    store: Store, settings: Dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = desk_on(store, settings, PlainCalendar())
    desk.inbox.ingest(user_event("socketio:t", "hi", "m1", ts=100.0, seq=1))
    desk.inbox.ingest(user_event("socketio:t", "hi", "m1", ts=100.0, seq=1))  # redelivered
    pin(monkeypatch, 150.0)
    desk.intake.create_ticket(build_packet("t"))
    desk.inbox.ingest(user_event("socketio:t", "human!", "m2", ts=160.0, seq=2))  # the escalating turn
    desk.inbox.ingest(handoff_event("socketio:t", seq=3))
    desk.inbox.ingest(user_event("socketio:t", "to the agent", "m3", ts=170.0, seq=4))
    assert store.turns_between(0, 1000) == [
        ("socketio:t", "socketio", 100.0, "nlu_fallback"), ("socketio:t", "socketio", 160.0, "nlu_fallback"),
    ]


async def test_reports_api_answers_the_figures_under_stable_keys(app, internal, agents, staff, make_packet) -> None:
    headers = staff["sam"]["headers"]
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    _, refused = await app.asgi_client.get(f"/api/reports?from={today}&to={today}", headers=agents["alice"]["headers"])
    assert refused.status == 403  # reports are for supervisors
    for n, reason in enumerate(["anger", "asked_for_human", "anger"]):
        _, response = await app.asgi_client.post("/internal/tickets", headers=internal,
                                                 json=make_packet(f"r{n}", reason=reason))
        assert response.status == 201
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    _, response = await app.asgi_client.get(f"/api/reports?from={today}&to={today}&group_by=channel",
                                            headers=headers)
    assert response.status == 200
    body = response.json
    for key in ("period", "generated_at", "tickets", "first_response", "speed_of_answer", "resolution",
                "handle_time", "abandonment", "assistant", "handoffs_by_reason", "topics",
                "one_contact_resolution", "complaints", "csat", "sla", "volume", "agents", "lights", "groups"):
        assert key in body, key
    assert body["period"]["from"] == today and body["tickets"]["created"] == 3 and body["tickets"]["queued"] == 3
    assert body["handoffs_by_reason"] == {"anger": 2, "asked_for_human": 1}
    assert body["groups"] == {"socketio": {**body["groups"]["socketio"], "tickets": 3}}
    # the lights come from settings.yml, with their thresholds
    assert body["lights"]["abandonment_percent"] == {"value": 0.0, "green": 5.0, "yellow": 10.0,
                                                     "higher_is_better": False, "color": "green"}
    assert body["lights"]["csat_share_4_5_percent"]["color"] is None  # nothing rated
    # no recommendation answers: the NPS light has no value and no colour (the dashboard's "no answers"), not a red 0
    assert body["lights"]["nps"] == {"value": None, "green": 30.0, "yellow": 0.0, "higher_is_better": True,
                                     "color": None}
    # yesterday had none of them
    yesterday = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()
    _, response = await app.asgi_client.get(f"/api/reports?from={yesterday}&to={yesterday}", headers=headers)
    assert response.json["tickets"]["created"] == 0 and "groups" not in response.json


@pytest.mark.parametrize(
    "query, reason",
    [
        ("from=2025-09-01", "'to' is required"),
        ("from=2025-9-1&to=2025-09-02", "'from' must be a date YYYY-MM-DD"),
        ("from=2025-09-01&to=tomorrow", "'to' must be a date YYYY-MM-DD"),
        ("from=2025-02-30&to=2025-03-01", "'from' must be a date YYYY-MM-DD"),
        ("from=2025-09-02&to=2025-09-01", "is before"),
        ("from=2020-01-01&to=2025-01-01", "at most 366 days"),
        ("from=2025-09-01&to=2025-09-02&group_by=color", "'group_by' must be one of"),
    ],
)
async def test_reports_api_refuses_bad_dates_with_the_reason(app, staff, query, reason) -> None:
    _, response = await app.asgi_client.get(f"/api/reports?{query}", headers=staff["sam"]["headers"])
    assert response.status == 400 and reason in response.json["error"]


async def test_reports_api_without_dates_is_the_desks_last_week(app, staff, monkeypatch) -> None:
    # 2025-10-01 20:00 UTC: still 1 October in UTC, already the 2nd in the calendar's zone
    from bot.desk import records

    monkeypatch.setattr(records, "now", lambda: dt.datetime(2025, 10, 1, 20, tzinfo=dt.timezone.utc).timestamp())
    from zoneinfo import ZoneInfo

    monkeypatch.setattr(app.ctx.desk.period_reports.calendar, "timezone", ZoneInfo("Asia/Shanghai"))
    local = dt.date(2025, 10, 2)
    _, response = await app.asgi_client.get("/api/reports", headers=staff["sam"]["headers"])
    assert response.status == 200
    period = response.json["period"]
    assert (period["from"], period["to"]) == ((local - dt.timedelta(days=6)).isoformat(), local.isoformat())


async def test_reports_api_needs_an_agent(app) -> None:
    _, response = await app.asgi_client.get("/api/reports?from=2025-09-01&to=2025-09-02")
    assert response.status == 401


def test_the_report_reads_closed_tickets_of_the_store(store: Store, settings: Dict[str, Any],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolved and rated ticket through the store: first response, CSAT and SLA from the stored columns."""
    desk = desk_on(store, settings, PlainCalendar())
    start = dt.datetime(2025, 9, 22, tzinfo=dt.timezone.utc).timestamp()
    pin(monkeypatch, start + 3600)
    code = desk.intake.create_ticket(build_packet("s1", channel="wechat"))[0]["id"]
    ticket = store.ticket_by_code(code)
    assert store.claim(ticket.id, "alice", 3, start + 3650)
    assert store.stamp_first_response(ticket.id, start + 3600 + 170)
    assert store.begin_close(ticket.id, TicketStatus.RESOLVING, start + 4000, "alice")
    assert store.finish_close(ticket.id, TicketStatus.RESOLVING, start + 4000)
    assert store.record_rating(ticket.id, 4, "fast", start + 4100)
    assert store.record_rating(ticket.id, 4, None, start + 4120, nps=6)  # the recommendation answer
    store.add_message(ticket.id, MessageRole.SYSTEM, "x", start + 4000, MessageStatus.INTERNAL)
    report = desk.period_reports.report(dt.date(2025, 9, 22), dt.date(2025, 9, 22), now=start + 86400)
    assert report["first_response"]["p50_seconds"] == 170.0
    assert report["first_response"]["within_target_percent"] == 100.0  # WeChat: 180 s
    assert report["csat"]["share_4_5"] == 1.0 and report["sla"]["met_percent"] == 100.0
    assert report["agents"][0]["agent"] == "alice" and report["handle_time"]["average_seconds"] == 350.0
    assert report["nps"]["detractors"] == 1 and report["nps"]["score"] == -100.0
    assert report["lights"]["nps"] == {"value": -100.0, "green": 30.0, "yellow": 0.0, "higher_is_better": True,
                                       "color": "red"}
    stored = store.ticket_by_code(code)
    assert (stored.nps, stored.rating_comment) == (6, "fast")  # the answer with nps kept the comment


def test_the_retention_policy_deletes_the_turns_before_its_cutoff(store: Store) -> None:
    store.record_turn("wechat:openid-old", 1, "wechat", 100.0, "faq_coupon")
    store.record_turn("wechat:openid-new", 1, "wechat", 300.0, "faq_coupon")
    store.forget_conversations(closed_before=0.0, seen_before=200.0)
    assert store.turns_between(0, 1000) == [("wechat:openid-new", "wechat", 300.0, "faq_coupon")]


def test_a_desk_older_than_the_nps_column_gets_it_and_keeps_its_ratings(store: Store, settings: Dict[str, Any],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The desk's only migration adds nullable columns a newer version declares: `desk_tickets.nps` here."""
    import sqlalchemy as sa

    from bot.desk.store.database import add_missing_columns
    from bot.desk.store.tables import tickets

    desk = desk_on(store, settings, PlainCalendar())
    start = dt.datetime(2025, 9, 22, tzinfo=dt.timezone.utc).timestamp()
    pin(monkeypatch, start + 3600)
    code = desk.intake.create_ticket(build_packet("old-1", channel="wechat"))[0]["id"]
    ticket = store.ticket_by_code(code)
    assert store.begin_close(ticket.id, TicketStatus.RESOLVING, start + 4000, None)
    assert store.finish_close(ticket.id, TicketStatus.RESOLVING, start + 4000)
    assert store.record_rating(ticket.id, 5, None, start + 4100)
    with store.engine.begin() as conn:  # the table as a desk before the NPS question left it
        conn.execute(sa.text(f"ALTER TABLE {tickets.name} DROP COLUMN nps"))
        assert "nps" not in {c["name"] for c in sa.inspect(conn).get_columns(tickets.name)}
    with store.engine.begin() as conn:
        assert add_missing_columns(conn) == [f"{tickets.name}.nps"]
    store.migrate()  # again: nothing left to add
    assert store.ticket_by_code(code).rating == 5 and store.ticket_by_code(code).nps is None
    assert store.record_rating(ticket.id, 5, None, start + 4200, nps=10)
    assert store.ticket_by_code(code).nps == 10
