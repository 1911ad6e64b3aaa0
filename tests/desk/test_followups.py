"""Follow-ups (回访): created automatically for low ratings, complaints and VIP tickets, by hand by an agent;
an owner, a due time in business time, an outcome and a note; the channel only within WeChat's 48 hours."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Dict

import pytest

from bot.calendar import get_calendar
from bot.desk.app import create_app
from bot.desk.followups import FollowUps, FollowUpSettings
from bot.desk.rasa_client import RasaClient
from bot.desk.records import FollowUpOutcome, FollowUpStatus, FollowUpTrigger, MessageStatus
from bot.desk.store import Store
from bot.desk.store.tables import followup_messages as followup_messages_table
from bot.desk.store.tables import followups as followups_table
from bot.settings import SettingsError

START = dt.datetime(2025, 12, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # a Monday, open


def at(monkeypatch: pytest.MonkeyPatch, moment: dt.datetime) -> None:
    monkeypatch.setenv("FRONTLINE_NOW", moment.isoformat())


async def closed_ticket(app: Any, internal: Dict[str, str], agents: Dict[str, Any], packet: Dict[str, Any],
                        close: str = "resolve", agent: str = "alice") -> str:
    """A ticket claimed and closed by `agent`; its code."""
    _, created = await app.asgi_client.post("/internal/tickets", headers=internal, json=packet)
    assert created.status == 201, created.json
    code = created.json["id"]
    headers = agents[agent]["headers"]
    _, claimed = await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=headers)
    assert claimed.status == 200, claimed.json
    _, closed = await app.asgi_client.post(f"/api/tickets/{code}/{close}", headers=headers)
    assert closed.status == 200, closed.json
    return code


async def listed(app: Any, agents: Dict[str, Any], query: str = "status=all", agent: str = "alice") -> list:
    _, response = await app.asgi_client.get(f"/api/followups?{query}", headers=agents[agent]["headers"])
    assert response.status == 200, response.json
    return response.json


async def test_a_low_rating_makes_one_follow_up_for_the_agent_due_in_business_time(
    app, internal, make_packet, agents, monkeypatch
) -> None:
    at(monkeypatch, START)
    calm = dict(reason="asked_for_human", topic=None, anger_history=[0.1])  # not a complaint, not a VIP
    low = await closed_ticket(app, internal, agents, make_packet("low-1", **calm))
    fine = await closed_ticket(app, internal, agents, make_packet("fine-1", **calm))
    assert await listed(app, agents) == []  # closing a calm ticket makes none
    for code, rating in ((low, 2), (fine, 4)):
        _, rated = await app.asgi_client.post(f"/internal/tickets/{code}/survey", headers=internal,
                                              json={"rating": rating})
        assert rated.status == 200
    found = await listed(app, agents)
    assert [(f["ticket"], f["trigger"], f["owner"], f["status"], f["rating"]) for f in found] == [
        (low, "low_rating", "alice", "open", 2)
    ]
    # 8 hours of business time from the rating (the test calendar counts plain time)
    assert dt.datetime.fromisoformat(found[0]["due_at"]) == START + dt.timedelta(hours=8)
    assert found[0]["contact"] == {"by": "channel", "channel": "socketio", "channel_open_until": None,
                                   "phone": None, "email": None}
    assert found[0]["messages"] == []
    assert found[0]["created_by"] == "desk" and found[0]["overdue"] is False


async def test_complaints_and_vips_get_one_when_closed_and_settings_switch_each_off(
    settings, sqlite_store, fake_rasa, calendar, internal, make_packet, agents, monkeypatch
) -> None:
    at(monkeypatch, START)
    desk_section = {**settings["desk"], "followups": {"vip": False}}
    app = create_app({**settings, "desk": desk_section}, store=sqlite_store, broker=None, secret="test-secret",
                     rasa=RasaClient(fake_rasa.url, token="t", timeout=3), calendar=calendar,
                     notify_positions=False, console=False)
    vip = {"id": "cust-v", "display_name": "李*", "tier": "vip", "vip": True, "language": "zh", "earlier_tickets": []}
    angry = await closed_ticket(app, internal, agents, make_packet("angry-1", reason="anger"), close="handback")
    complaint_topic = await closed_ticket(app, internal, agents, make_packet(
        "topic-1", reason="asked_for_human", topic="faq_complaint_process", anger_history=[0.1]), agent="bob")
    await closed_ticket(app, internal, agents, make_packet(
        "vip-1", reason="asked_for_human", topic=None, anger_history=[0.1], customer=vip))
    found = await listed(app, agents)
    assert sorted((f["ticket"], f["trigger"], f["owner"]) for f in found) == [
        (angry, "complaint", "alice"), (complaint_topic, "complaint", "bob")
    ]
    # A low rating on a ticket with an open follow-up adds none.
    _, rated = await app.asgi_client.post(f"/internal/tickets/{complaint_topic}/survey", headers=internal,
                                          json={"rating": 1})
    assert rated.status == 200 and len(await listed(app, agents)) == 2


async def test_vip_tickets_get_one_by_default(app, internal, make_packet, agents, monkeypatch) -> None:
    at(monkeypatch, START)
    vip = {"id": "cust-v", "display_name": "李*", "tier": "vip", "vip": True, "language": "zh", "earlier_tickets": []}
    code = await closed_ticket(app, internal, agents, make_packet(
        "vip-2", reason="asked_for_human", topic=None, anger_history=[0.1], customer=vip))
    assert [(f["ticket"], f["trigger"]) for f in await listed(app, agents)] == [(code, "vip")]


async def test_an_agent_creates_lists_and_closes_a_follow_up(app, internal, make_packet, agents, monkeypatch) -> None:
    at(monkeypatch, START)
    _, created = await app.asgi_client.post("/internal/tickets", headers=internal, json=make_packet("manual-1"))
    code = created.json["id"]
    alice, bob, carol = (agents[name]["headers"] for name in ("alice", "bob", "carol"))
    due = (START + dt.timedelta(days=1)).isoformat()
    body = {"ticket": code, "owner": "bob", "due_at": due, "note": "客户要求明天回电"}
    _, made = await app.asgi_client.post("/api/followups", headers={**alice, "Idempotency-Key": "k-1"}, json=body)
    assert made.status == 201, made.json
    followup = made.json
    assert (followup["trigger"], followup["owner"], followup["created_by"], followup["note"]) == (
        "manual", "bob", "alice", "客户要求明天回电")
    assert dt.datetime.fromisoformat(followup["due_at"]) == START + dt.timedelta(days=1)
    _, again = await app.asgi_client.post("/api/followups", headers={**alice, "Idempotency-Key": "k-1"}, json=body)
    assert again.status == 201 and again.json["id"] == followup["id"]  # a repeat makes no second one
    assert [f["id"] for f in await listed(app, agents, "mine=1", agent="bob")] == [followup["id"]]
    assert await listed(app, agents, "mine=1") == []
    assert await listed(app, agents, "overdue=1") == []
    at(monkeypatch, START + dt.timedelta(days=2))
    assert [f["id"] for f in await listed(app, agents, "overdue=1")] == [followup["id"]]
    path = f"/api/followups/{followup['id']}/outcome"
    _, refused = await app.asgi_client.post(path, headers=alice, json={"outcome": "reached"})
    assert refused.status == 403 and "bob" in refused.json["error"]
    _, done = await app.asgi_client.post(path, headers=bob, json={"outcome": "not_reached", "note": "无人接听"})
    assert done.status == 200, done.json
    assert (done.json["status"], done.json["outcome"], done.json["done_by"], done.json["note"], done.json["overdue"]) \
        == ("done", "not_reached", "bob", "无人接听", False)
    _, twice = await app.asgi_client.post(path, headers=carol, json={"outcome": "resolved"})  # carol is senior
    assert twice.status == 409
    assert await listed(app, agents, "status=open") == [] and len(await listed(app, agents)) == 1


@pytest.mark.parametrize("body, status, words", [
    (None, 400, "JSON object"),
    ({"ticket": 5}, 400, "'ticket'"),
    ({"ticket": "T-999999"}, 404, "T-999999"),
    ({"ticket": "{code}", "owner": "nobody"}, 404, "nobody"),
    ({"ticket": "{code}", "due_at": "tomorrow"}, 400, "ISO 8601"),
    ({"ticket": "{code}", "due_at": "2025-12-02T10:00:00"}, 400, "offset"),
    ({"ticket": "{code}", "due_at": "2025-11-30T10:00:00+08:00"}, 400, "future"),
    ({"ticket": "{code}", "note": "x" * 4001}, 400, "'note'"),
])
async def test_bad_follow_ups_are_refused_with_the_reason(
    app, internal, make_packet, agents, monkeypatch, body, status, words
) -> None:
    at(monkeypatch, START)
    _, created = await app.asgi_client.post("/internal/tickets", headers=internal, json=make_packet("bad-1"))
    if isinstance(body, dict) and body.get("ticket") == "{code}":
        body = {**body, "ticket": created.json["id"]}
    _, response = await app.asgi_client.post("/api/followups", headers=agents["alice"]["headers"], json=body)
    assert response.status == status and words in response.json["error"], response.json
    assert await listed(app, agents) == []


async def test_bad_outcomes_and_filters_are_refused(app, internal, make_packet, agents, monkeypatch) -> None:
    at(monkeypatch, START)
    _, created = await app.asgi_client.post("/internal/tickets", headers=internal, json=make_packet("bad-2"))
    headers = agents["alice"]["headers"]
    _, made = await app.asgi_client.post("/api/followups", headers=headers, json={"ticket": created.json["id"]})
    path = f"/api/followups/{made.json['id']}/outcome"
    for bad in (None, {"outcome": "done"}, {"outcome": "reached", "note": 3}):
        _, response = await app.asgi_client.post(path, headers=headers, json=bad)
        assert response.status == 400, response.json
    _, missing = await app.asgi_client.post("/api/followups/F-999999/outcome", headers=headers,
                                            json={"outcome": "reached"})
    assert missing.status == 404
    for query in ("status=later", "limit=0", "limit=x"):
        _, response = await app.asgi_client.get(f"/api/followups?{query}", headers=headers)
        assert response.status == 400, query
    _, anonymous = await app.asgi_client.get("/api/followups")
    assert anonymous.status == 401
    assert [f["status"] for f in await listed(app, agents)] == ["open"]  # nothing changed (status=all)


@pytest.mark.parametrize("hours_after, contact", [(47, "channel"), (49, "phone")])
async def test_wechat_customers_are_phoned_after_48_hours(
    app, internal, make_packet, agents, monkeypatch, hours_after, contact
) -> None:
    at(monkeypatch, START)
    _, created = await app.asgi_client.post("/internal/tickets", headers=internal,
                                            json=make_packet("oWeChat-1", channel="wechat"))
    code = created.json["id"]
    store = app.ctx.store
    ticket_id = store.get_ticket(int(code[2:])).id
    last = START + dt.timedelta(hours=2)  # the customer wrote again two hours after the handoff
    store.add_message(ticket_id, "customer", "还在吗", last.timestamp(), "received", external_id="rasa:9", sequence=9)
    _, made = await app.asgi_client.post("/api/followups", headers=agents["alice"]["headers"], json={"ticket": code})
    at(monkeypatch, last + dt.timedelta(hours=hours_after))
    found = await listed(app, agents)
    assert found[0]["id"] == made.json["id"]
    assert found[0]["contact"] == {"by": contact, "channel": "wechat",
                                   "channel_open_until": (last + dt.timedelta(hours=48)).astimezone(dt.timezone.utc).isoformat(),
                                   "phone": None, "email": None}


def test_the_due_time_counts_business_hours_across_a_weekend_and_a_holiday(sqlite_store: Store) -> None:
    followups = FollowUps(sqlite_store, FollowUpSettings(due_business_hours=8), get_calendar())
    shanghai = dt.timezone(dt.timedelta(hours=8))
    # Friday 17:00: 1 h left that day; Monday 09:00–12:00 (3 h), 13:30–17:30 (4 h)
    friday = dt.datetime(2025, 12, 5, 17, 0, tzinfo=shanghai)
    assert followups.due_time(None, friday) == dt.datetime(2025, 12, 8, 17, 30, tzinfo=shanghai).timestamp()
    # Tuesday 30 Sep 2025, 17:00: 1 h; then the National Day holiday (1–8 Oct) and the make-up working day
    # Saturday 11 Oct: 7.5 h from Thursday 9 Oct 09:00 ends at 17:30 of the 9th.
    before_holiday = dt.datetime(2025, 9, 30, 17, 0, tzinfo=shanghai)
    assert followups.due_time(None, before_holiday) == dt.datetime(2025, 10, 9, 17, 30, tzinfo=shanghai).timestamp()
    # the emergency team is always open: plain hours
    assert followups.due_time("emergency", friday) == (friday + dt.timedelta(hours=8)).timestamp()


def test_follow_up_settings_are_checked() -> None:
    assert FollowUpSettings.from_settings({"desk": {}}) == FollowUpSettings()
    for bad in ({"vip": "yes"}, {"low_rating_max": 6}, {"complaint_reasons": "anger"}, {"due_business_hours": 0},
                ["x"]):
        with pytest.raises(SettingsError, match="desk.followups"):
            FollowUpSettings.from_settings({"desk": {"followups": bad}})


def test_the_store_keeps_one_automatic_follow_up_per_trigger_and_closes_once(store: Store) -> None:
    first, created = store.add_followup(7, FollowUpTrigger.LOW_RATING, "alice", 500.0, "desk", 100.0,
                                        note="客户 13812345678", automatic=True)
    again, created_again = store.add_followup(7, FollowUpTrigger.LOW_RATING, "alice", 900.0, "desk", 200.0,
                                              automatic=True)
    assert created and not created_again and again == first
    other, _ = store.add_followup(7, FollowUpTrigger.MANUAL, None, 400.0, "bob", 150.0)
    assert [f.id for f in store.list_followups()] == [other.id, first.id]  # soonest due first
    assert [f.id for f in store.list_followups(owner="")] == [other.id]
    assert store.count_overdue_followups(450.0) == 1 and store.count_overdue_followups(600.0) == 2
    with store.engine.connect() as conn:  # the note is encrypted at rest
        stored = conn.execute(followups_table.select().where(followups_table.c.id == first.id)).first()
    assert "13812345678" not in str(stored.note)
    assert store.finish_followup(first.id, FollowUpOutcome.REACHED, None, "alice", 300.0)
    assert not store.finish_followup(first.id, FollowUpOutcome.ESCALATED, "again", "bob", 310.0)
    done = store.get_followup(first.id)
    assert (done.status, done.outcome, done.done_by, done.note) == (
        FollowUpStatus.DONE, FollowUpOutcome.REACHED, "alice", "客户 13812345678")
    assert store.count_overdue_followups(600.0) == 1


# ---- a follow-up's message on the customer's channel (POST /api/followups/{id}/message) -------------------------


async def a_followup(app: Any, internal: Dict[str, str], agents: Dict[str, Any], packet: Dict[str, Any],
                     owner: str = "alice") -> Dict[str, Any]:
    """A follow-up owned by `owner` of a ticket alice claimed and resolved; its JSON."""
    code = await closed_ticket(app, internal, agents, packet)
    _, made = await app.asgi_client.post("/api/followups", headers=agents["alice"]["headers"],
                                         json={"ticket": code, "owner": owner})
    assert made.status == 201, made.json
    return made.json


async def shown(app: Any, agents: Dict[str, Any], followup: Dict[str, Any]) -> Dict[str, Any]:
    """The follow-up as the list shows it now."""
    return next(f for f in await listed(app, agents) if f["id"] == followup["id"])


def followup_events(fake_rasa: Any) -> list:
    """The `bot` events the desk posted for follow-ups (each attempt, failed ones included)."""
    return [e for e in fake_rasa.events() if e.get("event") == "bot" and (e.get("metadata") or {}).get("followup")]


async def audit_of(app: Any, staff: Dict[str, Any], followup: Dict[str, Any]) -> list:
    _, response = await app.asgi_client.get(f"/api/audit?ticket={followup['ticket']}", headers=staff["sam"]["headers"])
    assert response.status == 200, response.json
    return [e for e in response.json if e["action"] == "followup_message"]


async def test_a_widget_customer_gets_the_message_once_however_often_the_send_is_repeated(
    app, internal, make_packet, agents, staff, fake_rasa, monkeypatch
) -> None:
    at(monkeypatch, START)
    followup = await a_followup(app, internal, agents, make_packet("widget-1"))
    assert followup["contact"]["by"] == "channel"  # the web widget has no reply window
    path = f"/api/followups/{followup['id']}/message"
    headers = {**agents["alice"]["headers"], "Idempotency-Key": "fu-send-1"}
    text = "您好，上次的问题解决了吗？有事请拨 电话 9123 4567"
    _, sent = await app.asgi_client.post(path, headers=headers, json={"text": text})
    assert sent.status == 201, sent.json
    _, again = await app.asgi_client.post(path, headers=headers, json={"text": text})
    assert again.status == 201 and again.headers.get("idempotent-replayed") == "true"
    assert again.json == sent.json
    message = sent.json["message"]
    key = f"desk-{followup['id']}-{message['id']}"
    delivered = fake_rasa.keyed(key)
    assert [e["text"] for e in delivered] == [text]  # the customer got the words as written, once
    assert delivered[0]["metadata"]["agent"] == "alice"
    request = next(r for r in fake_rasa.requests if r["body"] == delivered)
    assert request["conversation_id"] == "socketio:widget-1" and request["query"]["output_channel"] == "socketio"
    assert message["status"] == "sent" and "9123 4567" not in message["text"]  # kept masked
    assert [m["id"] for m in sent.json["messages"]] == [message["id"]]
    listed_now = await shown(app, agents, followup)
    assert [(m["status"], m["author"]) for m in listed_now["messages"]] == [("sent", "alice")]
    entries = await audit_of(app, staff, followup)
    assert [(e["actor"], e["detail"]) for e in entries] == [
        ("alice", {"followup": followup["id"], "message": message["id"]})
    ]


@pytest.mark.parametrize("hours_after, status", [(47, 201), (49, 409)])
async def test_a_wechat_message_goes_only_within_48_hours_of_the_customers_last_message(
    app, internal, make_packet, agents, staff, fake_rasa, monkeypatch, hours_after, status
) -> None:
    at(monkeypatch, START)
    followup = await a_followup(app, internal, agents, make_packet("oWeChat-2", channel="wechat"))
    at(monkeypatch, START + dt.timedelta(hours=hours_after))  # the handoff was the customer's last message
    _, response = await app.asgi_client.post(f"/api/followups/{followup['id']}/message",
                                             headers=agents["alice"]["headers"], json={"text": "您好，回访一下"})
    assert response.status == status, response.json
    sent = followup_events(fake_rasa)
    if status == 201:
        assert [e["text"] for e in sent] == ["您好，回访一下"]
        assert fake_rasa.requests[-1]["query"]["output_channel"] == "wechat"
        return
    assert response.json["reason"] == "contact_by_phone" and "contact by phone" in response.json["error"]
    assert sent == [] and (await shown(app, agents, followup))["messages"] == []  # nothing sent, nothing stored
    assert await audit_of(app, staff, followup) == []


async def test_wechat_refusing_after_all_is_contact_by_phone_and_nothing_counts_as_sent(
    app, internal, make_packet, agents, fake_rasa, monkeypatch
) -> None:
    at(monkeypatch, START)
    followup = await a_followup(app, internal, agents, make_packet("oWeChat-3", channel="wechat"))
    fake_rasa.fail_status, fake_rasa.fail_body = 400, {"error": "wechat errcode 45015: response out of time limit"}
    _, response = await app.asgi_client.post(f"/api/followups/{followup['id']}/message",
                                             headers=agents["alice"]["headers"], json={"text": "您好"})
    assert response.status == 409 and response.json["reason"] == "contact_by_phone", response.json
    assert "45015" in response.json["error"]
    assert [m["status"] for m in (await shown(app, agents, followup))["messages"]] == ["failed"]


@pytest.mark.parametrize("text, phrase", [("我们绝对 保证三天内到账", "绝对保证"), ("This is 100% GUARANTEED", "100% guaranteed")])
async def test_a_banned_phrase_is_refused_before_anything_is_stored_or_sent(
    app, internal, make_packet, agents, fake_rasa, monkeypatch, text, phrase
) -> None:
    at(monkeypatch, START)
    followup = await a_followup(app, internal, agents, make_packet("banned-1"))
    _, response = await app.asgi_client.post(f"/api/followups/{followup['id']}/message",
                                             headers=agents["alice"]["headers"], json={"text": text})
    assert response.status == 422 and response.json["phrase"] == phrase, response.json
    assert followup_events(fake_rasa) == [] and (await shown(app, agents, followup))["messages"] == []


async def test_in_warn_mode_a_banned_phrase_goes_out_with_a_warning_for_qa(
    settings, sqlite_store, fake_rasa, calendar, internal, make_packet, agents, monkeypatch
) -> None:
    at(monkeypatch, START)
    changed = copy.deepcopy(settings)
    changed["compliance"]["live_replies"] = "warn"
    app = create_app(changed, store=sqlite_store, broker=None, secret="test-secret",
                     rasa=RasaClient(fake_rasa.url, token="t", timeout=3), calendar=calendar,
                     notify_positions=False, console=False)
    followup = await a_followup(app, internal, agents, make_packet("warned-1"))
    _, response = await app.asgi_client.post(f"/api/followups/{followup['id']}/message",
                                             headers=agents["alice"]["headers"], json={"text": "我們絕對保證三天內到帳"})
    assert response.status == 201 and response.json["compliance_warning"] == ["绝对保证"], response.json
    assert [e["text"] for e in followup_events(fake_rasa)] == ["我們絕對保證三天內到帳"]
    _, detail = await app.asgi_client.get(f"/api/tickets/{followup['ticket']}", headers=agents["alice"]["headers"])
    assert [(f["kind"], f["agent"], f["phrases"], f["message_id"]) for f in detail.json["compliance_flags"]] == [
        ("follow-up", "alice", ["绝对保证"], None)
    ]


async def test_rasa_down_is_an_error_and_nothing_is_sent_and_sending_again_keeps_the_delivery_key(
    app, internal, make_packet, agents, staff, fake_rasa, monkeypatch
) -> None:
    at(monkeypatch, START)
    followup = await a_followup(app, internal, agents, make_packet("down-1"))
    path = f"/api/followups/{followup['id']}/message"
    alice = agents["alice"]["headers"]
    fake_rasa.fail_status = 503
    _, failed = await app.asgi_client.post(path, headers=alice, json={"text": "您好，回访一下"})
    assert failed.status == 502 and failed.json["reason"] == "not_delivered", failed.json
    assert "not delivered" in failed.json["error"]
    kept = (await shown(app, agents, followup))["messages"]
    assert [m["status"] for m in kept] == ["failed"] and await audit_of(app, staff, followup) == []
    fake_rasa.fail_status = None
    _, sent = await app.asgi_client.post(path, headers=alice, json={"text": "您好，回访一下"})
    assert sent.status == 201, sent.json
    assert sent.json["message"]["id"] == kept[0]["id"]  # the same message again, not a second one
    keys = [e["metadata"]["delivery_key"] for e in followup_events(fake_rasa)]
    assert keys == [f"desk-{followup['id']}-{kept[0]['id']}"] * 2  # a channel that took the first skips it
    assert [m["status"] for m in sent.json["messages"]] == ["sent"]
    assert len(await audit_of(app, staff, followup)) == 1


async def test_a_message_left_pending_is_sent_again_under_its_key_once_abandoned_and_refused_while_in_flight(
    app, internal, make_packet, agents, fake_rasa, monkeypatch
) -> None:
    at(monkeypatch, START)
    followup = await a_followup(app, internal, agents, make_packet("pending-1"))
    store = app.ctx.store
    row = store.get_followup(int(followup["id"][2:]))
    left = store.add_followup_message(row, "您好，回访一下", "alice", START.timestamp())  # a desk stopped mid-send
    path = f"/api/followups/{followup['id']}/message"
    alice = agents["alice"]["headers"]
    _, busy = await app.asgi_client.post(path, headers=alice, json={"text": "您好，回访一下"})
    assert busy.status == 409 and "being sent" in busy.json["error"], busy.json
    assert "retry-after" not in busy.headers
    at(monkeypatch, START + dt.timedelta(minutes=5))  # longer than Rasa's timeout and the margin
    _, sent = await app.asgi_client.post(path, headers=alice, json={"text": "您好，回访一下"})
    assert sent.status == 201, sent.json
    assert sent.json["message"]["id"] == left.id and [m["status"] for m in sent.json["messages"]] == ["sent"]
    assert [e["metadata"]["delivery_key"] for e in followup_events(fake_rasa)] == [f"desk-{followup['id']}-{left.id}"]
    _, another = await app.asgi_client.post(path, headers=alice, json={"text": "您好，回访一下"})
    assert another.status == 201 and another.json["message"]["id"] != left.id  # once sent, the same words are new


async def test_only_the_owner_or_a_supervisor_sends_and_never_on_a_done_follow_up(
    app, internal, make_packet, agents, staff, fake_rasa, monkeypatch
) -> None:
    at(monkeypatch, START)
    followup = await a_followup(app, internal, agents, make_packet("owner-1"), owner="bob")
    path = f"/api/followups/{followup['id']}/message"
    _, refused = await app.asgi_client.post(path, headers=agents["alice"]["headers"], json={"text": "您好"})
    assert refused.status == 403 and "bob" in refused.json["error"], refused.json
    assert followup_events(fake_rasa) == []
    _, by_sam = await app.asgi_client.post(path, headers=staff["sam"]["headers"], json={"text": "您好"})
    assert by_sam.status == 201 and by_sam.json["message"]["author"] == "sam", by_sam.json
    for bad in (None, {"text": "  "}, {"text": 3}):
        _, response = await app.asgi_client.post(path, headers=agents["bob"]["headers"], json=bad)
        assert response.status == 400, response.json
    _, missing = await app.asgi_client.post("/api/followups/F-999999/message", headers=agents["bob"]["headers"],
                                            json={"text": "您好"})
    assert missing.status == 404
    _, done = await app.asgi_client.post(f"/api/followups/{followup['id']}/outcome", headers=agents["bob"]["headers"],
                                         json={"outcome": "reached"})
    assert done.status == 200
    _, late = await app.asgi_client.post(path, headers=agents["bob"]["headers"], json={"text": "再见"})
    assert late.status == 409 and "done" in late.json["error"], late.json
    assert [e["text"] for e in followup_events(fake_rasa)] == ["您好"]


async def test_the_phone_advice_names_the_number_and_e_mail_the_packet_has(
    app, internal, make_packet, agents, monkeypatch
) -> None:
    at(monkeypatch, START)
    customer = {"id": "cust-p", "display_name": "张*", "tier": "regular", "vip": False, "language": "zh",
                "earlier_tickets": [], "phone": "+86 138 0013 8000", "email": "zhang@example.com"}
    followup = await a_followup(app, internal, agents, make_packet("oWeChat-4", channel="wechat", customer=customer))
    at(monkeypatch, START + dt.timedelta(hours=72))
    contact = (await shown(app, agents, followup))["contact"]
    assert (contact["by"], contact["phone"], contact["email"]) == ("phone", "+86 138 0013 8000", "zhang@example.com")
    assert followup["contact"]["by"] == "channel"


def test_the_store_keeps_follow_up_messages_encrypted_and_moves_their_status_once(store: Store) -> None:
    followup, _ = store.add_followup(7, FollowUpTrigger.MANUAL, "alice", 500.0, "alice", 100.0)
    other, _ = store.add_followup(8, FollowUpTrigger.MANUAL, "bob", 500.0, "bob", 100.0)
    first = store.add_followup_message(followup, "请拨 13812345678", "alice", 110.0)
    second = store.add_followup_message(followup, "您好", "alice", 120.0)
    assert (first.status, first.ticket_id, first.text) == (MessageStatus.PENDING, 7, "请拨 13812345678")
    with store.engine.connect() as conn:  # the text is encrypted at rest
        stored = conn.execute(followup_messages_table.select().where(followup_messages_table.c.id == first.id)).first()
    assert "13812345678" not in str(stored.text)
    assert store.set_followup_message_status(first.id, MessageStatus.SENT, expect=MessageStatus.PENDING,
                                             text="请拨 138****5678", sent_at=130.0)
    assert not store.set_followup_message_status(first.id, MessageStatus.FAILED, expect=MessageStatus.PENDING)
    assert store.set_followup_message_status(second.id, MessageStatus.FAILED, expect=MessageStatus.PENDING)
    found = store.followup_messages([followup.id, other.id])
    assert found[other.id] == []
    assert [(m.id, m.status, m.text, m.sent_at) for m in found[followup.id]] == [
        (first.id, MessageStatus.SENT, "请拨 138****5678", 130.0), (second.id, MessageStatus.FAILED, "您好", None)
    ]
