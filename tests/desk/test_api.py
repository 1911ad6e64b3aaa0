"""The desk's HTTP API through sanic-testing's ASGI client: every status code of the contract."""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest

from bot import clock
from bot.desk.app import create_app
from bot.desk.rasa_client import RasaClient


async def create(app: Any, internal: Dict[str, str], packet: Dict[str, Any]) -> Any:
    _, response = await app.asgi_client.post("/internal/tickets", headers=internal, json=packet)
    return response


async def test_internal_create_ticket_answers_the_contract(app, internal, make_packet, fake_rasa, agents) -> None:
    response = await create(app, internal, make_packet("conv-1"))
    assert response.status == 201
    body = response.json
    assert body["id"].startswith("T-") and len(body["id"]) == 8
    assert body["position"] == 1
    # Nobody has the console open: no wait can be promised.
    assert body["expected_wait_seconds"] is None and body["agents_online"] == 0
    assert body["open_now"] is True and body["next_opening"] is None
    created = clock.now().timestamp()
    from datetime import datetime

    first = datetime.fromisoformat(body["due"]["first_response"]).timestamp()
    resolution = datetime.fromisoformat(body["due"]["resolution"]).timestamp()
    assert abs(first - created - 120) < 5  # socketio: 120 s
    assert abs(resolution - created - 3600) < 5  # grade A: 1 h
    # A second ticket queues behind (same skill `orders`, lower grade); alice (orders, 3 free slots) and dave
    # (payments only: he could not serve it) are online: both customers fit in alice's free slots.
    app.ctx.desk.presence.connected("alice")
    app.ctx.desk.presence.connected("dave")
    second = await create(app, internal, make_packet("conv-2", grade="C", anger_history=[0.1]))
    assert second.status == 201 and second.json["position"] == 2
    assert second.json["expected_wait_seconds"] == 0 and second.json["agents_online"] == 1
    # The same conversation again: the open ticket, 200.
    again = await create(app, internal, make_packet("conv-1", grade="C"))
    assert again.status == 200 and again.json["id"] == body["id"]


async def test_internal_needs_the_secret(app, internal, make_packet) -> None:
    for headers in ({}, {"X-Frontline-Secret": "wrong"}):
        _, response = await app.asgi_client.post("/internal/tickets", headers=headers, json=make_packet())
        assert response.status == 401 and "error" in response.json
    code = (await create(app, internal, make_packet())).json["id"]
    for method, path in [
        ("get", f"/internal/tickets/{code}"), ("post", f"/internal/tickets/{code}/survey"),
        ("get", "/internal/customers/cust-1/tickets"), ("get", "/internal/conversations/conv-1/ticket"),
    ]:
        _, response = await getattr(app.asgi_client, method)(path)
        assert response.status == 401, (method, path)


async def test_internal_unset_secret_refuses(settings, sqlite_store, make_packet, monkeypatch) -> None:
    monkeypatch.delenv("FRONTLINE_DESK_SECRET", raising=False)
    app = create_app(settings, store=sqlite_store, rasa=RasaClient("http://127.0.0.1:9"), broker=None,
                     notify_positions=False, console=False)
    _, response = await app.asgi_client.post("/internal/tickets", headers={"X-Frontline-Secret": ""},
                                             json=make_packet())
    assert response.status == 401


@pytest.mark.parametrize(
    "mutation, message",
    [
        ({"conversation_id": ""}, "conversation_id"),
        ({"channel": None}, "channel"),
        ({"grade": "Z"}, "grade"),
        ({"reason": ""}, "reason"),
        ({"anger_history": ["high"]}, "anger_history"),
        ({"customer": "x"}, "customer"),
    ],
)
async def test_internal_bad_packets_are_400(app, internal, make_packet, mutation, message) -> None:
    response = await create(app, internal, make_packet(**mutation))
    assert response.status == 400 and message in response.json["error"]


async def test_internal_bad_json_is_400(app, internal) -> None:
    _, response = await app.asgi_client.post("/internal/tickets", headers=internal, content=b"{not json")
    assert response.status == 400 and "JSON" in response.json["error"]


async def test_internal_lookups_and_survey(app, internal, make_packet, agents) -> None:
    code = (await create(app, internal, make_packet("conv-9"))).json["id"]
    _, response = await app.asgi_client.get("/internal/conversations/socketio:conv-9/ticket", headers=internal)
    assert response.status == 200 and response.json["id"] == code and response.json["position"] == 1
    _, response = await app.asgi_client.get("/internal/conversations/socketio:nobody/ticket", headers=internal)
    assert response.status == 404
    _, response = await app.asgi_client.get("/internal/customers/cust-1/tickets", headers=internal)
    assert [t["id"] for t in response.json] == [code]
    # An open ticket sent no survey: no rating (tests/security/test_survey_forgery.py attacks it end to end).
    _, response = await app.asgi_client.post(f"/internal/tickets/{code}/survey", headers=internal,
                                             json={"rating": 1})
    assert response.status == 409 and "resolved" in response.json["error"]
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/resolve", headers=agents["alice"]["headers"])
    assert response.status == 200
    _, response = await app.asgi_client.post(f"/internal/tickets/{code}/survey", headers=internal,
                                             json={"rating": 4, "comment": "还行"})
    assert response.status == 200 and response.json["rating"] == 4 and response.json["rating_comment"] == "还行"
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": "x"}, {"rating": True}, [], {"rating": 3, "comment": 5}):
        _, response = await app.asgi_client.post(f"/internal/tickets/{code}/survey", headers=internal, json=bad)
        assert response.status == 400, bad
    _, response = await app.asgi_client.post("/internal/tickets/T-999999/survey", headers=internal,
                                             json={"rating": 5})
    assert response.status == 404


async def test_the_recommendation_answer_is_stored_with_the_rating(app, internal, make_packet, agents) -> None:
    code = (await create(app, internal, make_packet("conv-nps"))).json["id"]
    _, response = await app.asgi_client.post(f"/internal/tickets/{code}/survey", headers=internal,
                                             json={"rating": 4, "nps": 9})
    assert response.status == 409  # open: no survey was sent
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/resolve", headers=agents["alice"]["headers"])
    assert response.status == 200
    _, response = await app.asgi_client.post(f"/internal/tickets/{code}/survey", headers=internal,
                                             json={"rating": 4, "comment": "快"})
    assert response.status == 200 and response.json["nps"] is None
    _, response = await app.asgi_client.post(f"/internal/tickets/{code}/survey", headers=internal,
                                             json={"rating": 4, "nps": 0})
    assert response.status == 200 and response.json["nps"] == 0 and response.json["rating_comment"] == "快"
    bad_answers = ({"rating": 4, "nps": 11}, {"rating": 4, "nps": -1}, {"rating": 4, "nps": "ten"},
                   {"rating": 4, "nps": True}, {"rating": 4, "nps": 9.5}, {"rating": 4, "nps": 9, "comment": "x"})
    for bad in bad_answers:
        _, response = await app.asgi_client.post(f"/internal/tickets/{code}/survey", headers=internal, json=bad)
        assert response.status == 400 and "nps" in response.json["error"], bad
    _, response = await app.asgi_client.get(f"/api/tickets/{code}", headers=agents["alice"]["headers"])
    assert response.json["nps"] == 0 and response.json["rating"] == 4


async def test_every_api_call_needs_a_valid_token(app, internal, make_packet) -> None:
    code = (await create(app, internal, make_packet())).json["id"]
    calls = [
        ("get", "/api/tickets"), ("get", f"/api/tickets/{code}"), ("post", f"/api/tickets/{code}/claim"),
        ("post", f"/api/tickets/{code}/messages"), ("post", f"/api/tickets/{code}/transfer"),
        ("post", f"/api/tickets/{code}/resolve"), ("post", f"/api/tickets/{code}/handback"),
        ("get", "/api/me"), ("get", "/api/dashboard"), ("get", "/api/canned"), ("get", "/api/stream"),
        ("get", "/api/agents"), ("get", "/api/skills"),
    ]
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        for method, path in calls:
            _, response = await getattr(app.asgi_client, method)(path, headers=headers)
            assert response.status == 401, (method, path, headers)
            assert "error" in response.json


async def test_login_me_and_session_expiry(app, agents, monkeypatch) -> None:
    _, response = await app.asgi_client.post("/api/login", json={"name": "alice", "password": "pw-alice-123"})
    assert response.status == 200
    token = response.json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    _, me = await app.asgi_client.get("/api/me", headers=headers)
    assert me.status == 200 and me.json["name"] == "alice" and me.json["skills"] == ["general", "orders"]
    assert me.json["token_kind"] == "session" and me.json["must_change_password"] is False  # the fixture's: settled
    _, response = await app.asgi_client.post("/api/login", json={"name": "alice", "password": "nope"})
    assert response.status == 401
    _, response = await app.asgi_client.post("/api/login", content=b"][")
    assert response.status == 400
    # 13 hours later the session (12 h) has expired.
    later = clock.now().timestamp() + 13 * 3600
    import datetime as dt

    monkeypatch.setenv("FRONTLINE_NOW", dt.datetime.fromtimestamp(later, dt.timezone.utc).isoformat())
    _, response = await app.asgi_client.get("/api/me", headers=headers)
    assert response.status == 401
    # The API token (`desk.api_token_days`) has not expired.
    _, response = await app.asgi_client.get("/api/me", headers=agents["alice"]["headers"])
    assert response.status == 200


async def test_change_password(app, agents) -> None:
    headers = agents["bob"]["headers"]
    _, response = await app.asgi_client.post("/api/me/password", headers=headers,
                                             json={"old_password": "bad", "password": "new-password-1"})
    assert response.status == 403
    _, response = await app.asgi_client.post("/api/me/password", headers=headers,
                                             json={"old_password": "pw-bob-123", "password": "short"})
    assert response.status == 400
    _, response = await app.asgi_client.post("/api/me/password", headers=headers,
                                             json={"old_password": "pw-bob-123", "password": "new-password-1"})
    assert response.status == 204
    _, response = await app.asgi_client.post("/api/login", json={"name": "bob", "password": "new-password-1"})
    assert response.status == 200 and response.json["must_change_password"] is False


async def test_list_get_claim_and_conflicts(app, internal, make_packet, agents) -> None:
    code = (await create(app, internal, make_packet("conv-1"))).json["id"]
    alice, bob, dave = agents["alice"]["headers"], agents["bob"]["headers"], agents["dave"]["headers"]
    _, listed = await app.asgi_client.get("/api/tickets", headers=alice)
    assert listed.status == 200
    item = listed.json[0]
    for key in ("id", "conversation_id", "channel", "status", "grade", "reason", "skill", "priority", "assignee",
                "due", "sla", "created_at"):
        assert key in item
    assert item["status"] == "queued" and item["skill"] == "orders" and item["sla"] == "green"
    assert item["can_claim"] is True
    _, listed_bob = await app.asgi_client.get("/api/tickets", headers=bob)
    assert listed_bob.json == []  # bob has no `orders` skill (and no overflow yet): outside his reach (test_roles)

    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=bob)
    assert detail.status == 403 and "outside your reach" in detail.json["error"] and "context" not in detail.json
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    assert detail.status == 200 and detail.json["context"]["conversation_id"] == "socketio:conv-1"
    assert detail.json["messages"] == []
    _, missing = await app.asgi_client.get("/api/tickets/T-999999", headers=alice)
    assert missing.status == 404
    _, garbage = await app.asgi_client.get("/api/tickets/not-a-ticket", headers=alice)
    assert garbage.status == 404

    _, response = await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=dave)
    assert response.status == 403 and "orders" in response.json["error"]
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=alice)
    assert response.status == 200 and response.json["assignee"] == "alice" and response.json["status"] == "assigned"
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=alice)
    assert response.status == 200  # claiming your own ticket again is harmless
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=bob)
    assert response.status == 409 and "alice" in response.json["error"]
    _, response = await app.asgi_client.post("/api/tickets/T-999999/claim", headers=bob)
    assert response.status == 404

    # Another agent acting on alice's ticket: 403.
    for path, body in [("messages", {"text": "hi"}), ("transfer", {"skill": "general"}), ("resolve", None),
                       ("handback", None)]:
        _, response = await app.asgi_client.post(f"/api/tickets/{code}/{path}", headers=bob, json=body)
        assert response.status == 403, path

    _, mine = await app.asgi_client.get("/api/tickets?mine=1", headers=bob)
    assert mine.json == []
    _, bad_filter = await app.asgi_client.get("/api/tickets?status=weird", headers=bob)
    assert bad_filter.status == 400


async def test_capacity_is_respected(app, internal, make_packet, agents) -> None:
    first = (await create(app, internal, make_packet("p1", topic="faq_payment_failed"))).json["id"]
    second = (await create(app, internal, make_packet("p2", topic="faq_payment_failed"))).json["id"]
    dave = agents["dave"]["headers"]
    _, response = await app.asgi_client.post(f"/api/tickets/{first}/claim", headers=dave)
    assert response.status == 200
    _, response = await app.asgi_client.post(f"/api/tickets/{second}/claim", headers=dave)
    assert response.status == 409 and "capacity" in response.json["error"]


async def test_repeat_complaints_need_a_senior(app, internal, make_packet, agents) -> None:
    code = (await create(app, internal, make_packet("r1", reason="repeat_complaint", grade="B",
                                                    topic="faq_refund_status"))).json["id"]
    _, ticket = await app.asgi_client.get(f"/api/tickets/{code}", headers=agents["carol"]["headers"])
    assert ticket.json["requires_senior"] is True and ticket.json["skill"] == "after_sales"
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=agents["alice"]["headers"])
    assert response.status == 403
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=agents["carol"]["headers"])
    assert response.status == 200


async def test_reply_bodies_are_checked(app, internal, make_packet, agents) -> None:
    code = (await create(app, internal, make_packet())).json["id"]
    alice = agents["alice"]["headers"]
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/messages", headers=alice, json={"text": "hi"})
    assert response.status == 409 and "claim" in response.json["error"]  # not claimed yet
    await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=alice)
    for body in ({"text": ""}, {"text": "   "}, {"text": "x" * 4001}, {"text": 5}, {}, [1]):
        _, response = await app.asgi_client.post(f"/api/tickets/{code}/messages", headers=alice, json=body)
        assert response.status == 400 and response.json["error"], body
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/messages", headers=alice, content=b'{"text":')
    assert response.status == 400 and "JSON" in response.json["error"]
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/messages", headers=alice,
                                             json={"text": "x" * 4000})
    assert response.status == 201
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/transfer", headers=alice, json={})
    assert response.status == 400
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/transfer", headers=alice,
                                             json={"skill": "general", "agent": "bob"})
    assert response.status == 400
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/transfer", headers=alice,
                                             json={"agent": "nobody"})
    assert response.status == 400


async def test_transfer_to_skill_and_agent_keeps_context(app, internal, make_packet, agents, fake_rasa) -> None:
    code = (await create(app, internal, make_packet())).json["id"]
    alice, bob = agents["alice"]["headers"], agents["bob"]["headers"]
    await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=alice)
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/transfer", headers=alice,
                                             json={"skill": "general", "note": "客户要退款"})
    assert response.status == 200
    assert response.json["status"] == "queued" and response.json["skill"] == "general"
    assert response.json["assignee"] is None
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=bob)
    assert response.status == 200
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/transfer", headers=bob,
                                             json={"agent": "alice", "note": "please take over"})
    assert response.status == 200 and response.json["assignee"] == "alice"
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    notes = [m for m in detail.json["messages"] if m["role"] == "note"]
    assert [n["author"] for n in notes] == ["alice", "bob"]
    assert "客户要退款" in notes[0]["text"] and "please take over" in notes[1]["text"]
    assert detail.json["context"]["transcript"][0]["text"] == "我的订单呢"
    # Notes never reach the customer: the only events sent are the pauses of the two claims.
    assert [r["body"] for r in fake_rasa.requests] == [[{"event": "pause"}], [{"event": "pause"}]]


async def test_claim_pauses_the_assistant_for_that_conversation(app, internal, make_packet, agents, fake_rasa) -> None:
    code = (await create(app, internal, make_packet())).json["id"]
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=agents["alice"]["headers"])
    assert response.status == 200
    assert [(r["conversation_id"], r["body"]) for r in fake_rasa.requests] == [("socketio:conv-1", [{"event": "pause"}])]


async def test_closed_tickets_refuse_actions(app, internal, make_packet, agents) -> None:
    code = (await create(app, internal, make_packet())).json["id"]
    alice = agents["alice"]["headers"]
    await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=alice)
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/handback", headers=alice)
    assert response.status == 200 and response.json["status"] == "handed_back"
    for path in ("claim", "resolve", "handback"):
        _, response = await app.asgi_client.post(f"/api/tickets/{code}/{path}", headers=alice)
        assert response.status == 409, path
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/messages", headers=alice, json={"text": "x"})
    assert response.status == 409
    # The conversation can escalate again: a new ticket.
    again = await create(app, internal, make_packet())
    assert again.status == 201 and again.json["id"] != code


async def test_canned_skills_agents_dashboard(app, internal, make_packet, agents, staff) -> None:
    headers = agents["alice"]["headers"]
    _, canned = await app.asgi_client.get("/api/canned", headers=headers)
    assert canned.status == 200 and {c["language"] for c in canned.json} >= {"zh", "en"}
    assert all(set(c) == {"id", "language", "title", "text"} for c in canned.json)
    _, en = await app.asgi_client.get("/api/canned?language=en", headers=headers)
    assert en.json and all(c["language"] == "en" for c in en.json)
    _, skills = await app.asgi_client.get("/api/skills", headers=headers)
    assert "general" in skills.json and "emergency" in skills.json
    _, agents_list = await app.asgi_client.get("/api/agents", headers=headers)
    assert [a["name"] for a in agents_list.json] == ["ada", "alice", "bob", "carol", "dave", "sam"]
    assert all("password_hash" not in a for a in agents_list.json)
    await create(app, internal, make_packet("d1", grade="A"))
    await create(app, internal, make_packet("d2", grade="C", reason="asked_for_human", topic="faq_other"))
    _, board = await app.asgi_client.get("/api/dashboard", headers=headers)
    assert board.status == 403 and "supervisor" in board.json["error"]  # the dashboard is for supervisors
    _, board = await app.asgi_client.get("/api/dashboard", headers=staff["sam"]["headers"])
    assert board.status == 200
    assert board.json["queue"]["length"] == 2
    assert board.json["queue"]["by_grade"] == {"A": 1, "C": 1}
    assert board.json["queue"]["by_skill"] == {"general": 1, "orders": 1}
    assert board.json["handoffs_by_reason"] == {"anger": 1, "asked_for_human": 1}


async def test_stream_pushes_ticket_events(app, internal, make_packet, agents) -> None:
    import asyncio

    _, issued = await app.asgi_client.post("/api/stream-tickets", headers=agents["alice"]["headers"])
    assert issued.status == 201
    ticket = issued.json["ticket"]

    async def later() -> None:
        await asyncio.sleep(0.3)
        await create(app, internal, make_packet("s1"))

    task = asyncio.ensure_future(later())
    _, response = await app.asgi_client.get(f"/api/stream?ticket={ticket}&max_seconds=1.2")
    await task
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block for block in response.text.split("\n\n") if block.startswith("id:")]
    assert events, response.text
    lines = dict(line.split(": ", 1) for line in events[0].splitlines())
    assert lines["event"] == "ticket"
    assert json.loads(lines["data"])["conversation_id"] == "socketio:s1"


async def test_an_open_console_stream_makes_its_agent_online(app, internal, make_packet, agents, monkeypatch) -> None:
    import asyncio
    import datetime as dt

    answers = []

    async def later() -> None:
        await asyncio.sleep(0.3)
        answers.append((await create(app, internal, make_packet("presence-1"))).json)

    task = asyncio.ensure_future(later())
    _, response = await app.asgi_client.get("/api/stream?max_seconds=0.8", headers=agents["alice"]["headers"])
    await task
    assert response.status == 200
    assert answers[0]["agents_online"] == 1 and answers[0]["expected_wait_seconds"] == 0
    # The stream has closed; alice still counts as online for 5 minutes after her last request, then not.
    assert app.ctx.desk.presence.streams == {}
    assert (await create(app, internal, make_packet("presence-2"))).json["agents_online"] == 1
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=301)
    monkeypatch.setenv("FRONTLINE_NOW", later.isoformat())
    after = (await create(app, internal, make_packet("presence-3"))).json
    assert after["agents_online"] == 0 and after["expected_wait_seconds"] is None


async def test_transfer_to_an_unknown_skill_is_400(app, internal, make_packet, agents) -> None:
    code = (await create(app, internal, make_packet())).json["id"]
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/transfer", headers=agents["alice"]["headers"],
                                             json={"skill": "astrology"})
    assert response.status == 400 and "skill" in response.json["error"]


async def test_off_hours_ticket_reports_the_next_opening(settings, sqlite_store, internal, make_packet,
                                                        monkeypatch) -> None:
    import datetime as dt

    now = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc)  # a Saturday
    opening = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.timezone.utc)  # Monday 09:00 Shanghai
    monkeypatch.setenv("FRONTLINE_NOW", now.isoformat())

    class Closed:
        def __init__(self) -> None:
            self.teams: list = []

        def add_business_time(self, start, delta, team=None):
            self.teams.append(team)
            return max(start, opening) + delta

        def is_open(self, at, team=None):
            return team == "emergency"

        def next_opening(self, at, team=None):
            return opening, opening + dt.timedelta(hours=3)

    calendar = Closed()
    app = create_app(settings, store=sqlite_store, rasa=RasaClient("http://127.0.0.1:9"), broker=None,
                     secret=internal["X-Frontline-Secret"], calendar=calendar, notify_positions=False, console=False)
    body = (await create(app, internal, make_packet("off-1", grade="B"))).json
    assert body["open_now"] is False and body["next_opening"] == opening.isoformat()
    assert body["expected_wait_seconds"] == int((opening - now).total_seconds()) + 240
    assert body["due"]["first_response"] == (opening + dt.timedelta(seconds=120)).isoformat()
    assert body["due"]["resolution"] == (opening + dt.timedelta(hours=4)).isoformat()
    assert set(calendar.teams) == {None}
    # The emergency skill follows the always-open emergency team.
    urgent = (await create(app, internal, make_packet("off-2", topic="faq_lost_card", reason="emergency"))).json
    assert urgent["open_now"] is True and urgent["skill"] == "emergency"
    assert calendar.teams[-1] == "emergency"


async def test_sla_lights_turn_yellow_then_red(app, internal, make_packet, agents, monkeypatch) -> None:
    import datetime as dt

    start = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setenv("FRONTLINE_NOW", start.isoformat())
    code = (await create(app, internal, make_packet("sla-1", channel="wechat"))).json["id"]
    headers = agents["alice"]["headers"]

    async def light(after_seconds: float) -> Dict[str, Any]:
        monkeypatch.setenv("FRONTLINE_NOW", (start + dt.timedelta(seconds=after_seconds)).isoformat())
        _, response = await app.asgi_client.get(f"/api/tickets/{code}", headers=headers)
        return response.json

    first = await light(0)
    assert first["sla"] == "green"
    assert first["due"]["first_response"] == (start + dt.timedelta(seconds=180)).isoformat()  # wechat: 180 s
    assert (await light(134))["sla"] == "green"
    assert (await light(136))["sla"] == "yellow"  # 75 % of 180 s = 135 s
    late = await light(181)
    assert late["sla"] == "red" and late["sla_detail"] == {"first_response": "red", "resolution": "green"}
    assert (await light(2700))["sla_detail"]["resolution"] == "yellow"  # 75 % of grade A's hour


async def test_api_works_on_both_stores(settings, store, fake_rasa, make_packet, internal) -> None:
    import asyncio

    from bot.desk import auth

    app = create_app(settings, store=store, rasa=RasaClient(fake_rasa.url, token="t"), broker=None,
                     secret=internal["X-Frontline-Secret"], notify_positions=False, console=False,
                     calendar=type("Plain", (), {
                         "add_business_time": lambda self, s, d, team=None: s + d,
                         "is_open": lambda self, at, team=None: True,
                         "next_opening": lambda self, at, team=None: (at, at)})())
    tokens = [auth.create_agent(store, f"a{i}", ["general"], False, 3, 0.0, "password-123", settled=True)[1] for i in range(4)]
    _, response = await app.asgi_client.post("/internal/tickets", headers=internal,
                                             json=make_packet("both-1", topic="faq_other"))
    assert response.status == 201
    code = response.json["id"]
    results = await asyncio.gather(*(
        app.asgi_client.post(f"/api/tickets/{code}/claim", headers={"Authorization": f"Bearer {t}"})
        for t in tokens
    ))
    assert sorted(r.status for _, r in results) == [200, 409, 409, 409]
    winner = next(t for t, (_, r) in zip(tokens, results) if r.status == 200)
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/messages",
                                             headers={"Authorization": f"Bearer {winner}"}, json={"text": "好的"})
    assert response.status == 201 and fake_rasa.events()[-1]["text"] == "好的"


async def test_a_calendar_error_is_an_error_not_plain_time(settings, sqlite_store, internal, make_packet) -> None:
    class Broken:
        def add_business_time(self, start, delta, team=None):
            raise RuntimeError("holiday data missing for 2031")

        def is_open(self, at=None, team=None):
            return True

        def next_opening(self, at=None, team=None):
            return at, at

    app = create_app(settings, store=sqlite_store, rasa=RasaClient("http://127.0.0.1:9"), broker=None,
                     secret=internal["X-Frontline-Secret"], calendar=Broken(), notify_positions=False, console=False)
    response = await create(app, internal, make_packet("cal-1"))
    assert response.status == 500 and response.json == {"error": "internal error"}
    _, lookup = await app.asgi_client.get("/internal/conversations/socketio:cal-1/ticket", headers=internal)
    assert lookup.status == 404  # no ticket with made-up due times
