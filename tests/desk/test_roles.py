"""Roles and least privilege through the desk's HTTP API: every role boundary (each assertion fails when its check
is removed), what supervisors do, tokens that stop working, and the one-time password."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict

import pytest

from bot import clock
from bot.desk import auth
from bot.desk.app import create_app
from bot.desk.rasa_client import RasaClient
from bot.desk.records import Role
from conftest import PlainCalendar

AGENT_ONLY_FORBIDDEN = [
    ("get", "/api/dashboard", None),
    ("get", "/api/audit", None),
    ("get", "/api/audit/export", None),
    ("post", "/api/tickets/{code}/reassign", {"queue": True}),
    ("post", "/api/tickets/{code}/grade", {"grade": "C"}),
    ("post", "/api/agents/bob/disable", None),
    ("post", "/api/agents/bob/enable", None),
    ("post", "/api/agents/bob/password-reset", None),
    ("post", "/api/agents/bob/role", {"role": "supervisor"}),
]


async def create(app: Any, internal: Dict[str, str], packet: Dict[str, Any]) -> str:
    _, response = await app.asgi_client.post("/internal/tickets", headers=internal, json=packet)
    assert response.status == 201, response.json
    return response.json["id"]


async def login(app: Any, name: str, password: str) -> Dict[str, str]:
    _, response = await app.asgi_client.post("/api/login", json={"name": name, "password": password})
    assert response.status == 200, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def at_offset(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    later = clock.now().timestamp() + seconds
    monkeypatch.setenv("FRONTLINE_NOW", dt.datetime.fromtimestamp(later, dt.timezone.utc).isoformat())


async def test_supervisor_routes_refuse_agents_and_serve_supervisors(app, internal, make_packet, agents, staff) -> None:
    code = await create(app, internal, make_packet("r-1", topic=None))
    for method, path, body in AGENT_ONLY_FORBIDDEN:
        extra = {"json": body} if method == "post" else {}
        _, response = await getattr(app.asgi_client, method)(path.format(code=code), headers=agents["bob"]["headers"],
                                                             **extra)
        assert response.status == 403, (path, response.json)
        assert "role" in response.json["error"], path
    sam = staff["sam"]["headers"]
    for path in ("/api/dashboard", "/api/audit", "/api/audit/export"):
        _, response = await app.asgi_client.get(path, headers=sam)
        assert response.status == 200, path
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/grade", headers=sam, json={"grade": "C"})
    assert response.status == 200 and response.json["grade"] == "C"
    # Roles are the admin's: a supervisor may not give them.
    _, response = await app.asgi_client.post("/api/agents/bob/role", headers=sam, json={"role": "supervisor"})
    assert response.status == 403
    _, response = await app.asgi_client.post("/api/agents/bob/role", headers=staff["ada"]["headers"],
                                             json={"role": "supervisor"})
    assert response.status == 200 and response.json == {"agent": "bob", "role": "supervisor"}
    _, response = await app.asgi_client.get("/api/dashboard", headers=agents["bob"]["headers"])
    assert response.status == 200  # bob is a supervisor now
    _, response = await app.asgi_client.post("/api/agents/bob/role", headers=staff["ada"]["headers"],
                                             json={"role": "boss"})
    assert response.status == 400 and "agent, supervisor, admin" in response.json["error"]


async def test_an_agent_reaches_its_queues_its_tickets_and_those_it_took_part_in(
    app, internal, make_packet, agents, staff
) -> None:
    orders = await create(app, internal, make_packet("reach-1", topic="faq_order_status"))  # skill orders
    payments = await create(app, internal, make_packet("reach-2", topic="faq_payment_failed"))  # skill payments
    alice, bob, dave = agents["alice"]["headers"], agents["bob"]["headers"], agents["dave"]["headers"]

    async def listed(headers: Dict[str, str]) -> set:
        _, response = await app.asgi_client.get("/api/tickets?status=all", headers=headers)
        assert response.status == 200
        return {t["id"] for t in response.json}

    assert await listed(alice) == {orders}
    assert await listed(dave) == {payments}
    assert await listed(bob) == set()
    assert await listed(staff["sam"]["headers"]) == {orders, payments}  # a supervisor sees everything
    for headers, code in ((bob, orders), (alice, payments)):
        _, response = await app.asgi_client.get(f"/api/tickets/{code}", headers=headers)
        assert response.status == 403 and "outside your reach" in response.json["error"]
        assert "context" not in response.json
    # Every action on a ticket outside the agent's reach is refused before anything happens.
    for path, body in [("messages", {"text": "hi"}), ("messages/1/retry", None), ("transfer", {"skill": "general"}),
                       ("topic", {"topic": "faq_other"}), ("resolve", None), ("handback", None)]:
        _, response = await app.asgi_client.post(f"/api/tickets/{payments}/{path}", headers=alice, json=body)
        assert response.status == 403 and "outside your reach" in response.json["error"], path

    # alice claims and transfers the orders ticket to carol: carol owns it, alice took part, bob still not.
    assert (await app.asgi_client.post(f"/api/tickets/{orders}/claim", headers=alice))[1].status == 200
    _, response = await app.asgi_client.post(f"/api/tickets/{orders}/transfer", headers=alice,
                                             json={"agent": "carol", "note": "yours"})
    assert response.status == 200 and response.json["assignee"] == "carol"
    assert await listed(agents["carol"]["headers"]) == {orders}
    assert await listed(alice) == {orders}
    _, response = await app.asgi_client.get(f"/api/tickets/{orders}", headers=alice)
    assert response.status == 200
    _, response = await app.asgi_client.post(f"/api/tickets/{orders}/resolve", headers=alice)
    assert response.status == 403 and "carol" in response.json["error"]  # in reach, but carol's
    assert await listed(bob) == set()


async def test_a_supervisor_reassigns_closes_and_regrades_any_ticket(
    app, internal, make_packet, agents, staff, fake_rasa
) -> None:
    sam = staff["sam"]["headers"]
    code = await create(app, internal, make_packet("sup-1", topic="faq_order_status", grade="C"))
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/reassign", headers=sam, json={"agent": "alice"})
    assert response.status == 200 and response.json["assignee"] == "alice" and response.json["status"] == "assigned"
    assert {"event": "pause"} in fake_rasa.events()  # an agent owns it now: the assistant is paused
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/reassign", headers=sam, json={"agent": "bob"})
    assert response.status == 200 and response.json["assignee"] == "bob"
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/reassign", headers=sam, json={"queue": True})
    assert response.status == 200 and response.json["status"] == "queued" and response.json["assignee"] is None
    for bad in ({}, {"agent": "bob", "queue": True}, {"queue": "yes"}, {"agent": "nobody"}, []):
        _, response = await app.asgi_client.post(f"/api/tickets/{code}/reassign", headers=sam, json=bad)
        assert response.status == 400, bad
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/reassign", headers=sam, json={"queue": True})
    assert response.status == 409
    _, response = await app.asgi_client.post("/api/tickets/T-999999/reassign", headers=sam, json={"queue": True})
    assert response.status == 404
    # The grade moves the resolution due time with it.
    _, before = await app.asgi_client.get(f"/api/tickets/{code}", headers=sam)
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/grade", headers=sam, json={"grade": "A"})
    assert response.status == 200 and response.json["grade"] == "A"
    assert response.json["due"]["resolution"] < before.json["due"]["resolution"]
    assert response.json["due"]["first_response"] == before.json["due"]["first_response"]
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/grade", headers=sam, json={"grade": "Z"})
    assert response.status == 400
    # alice owns it again; bob (an agent) cannot close it, sam (a supervisor) can.
    await app.asgi_client.post(f"/api/tickets/{code}/reassign", headers=sam, json={"agent": "alice"})
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/handback", headers=agents["bob"]["headers"])
    assert response.status == 403
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/resolve", headers=sam)
    assert response.status == 200 and response.json["status"] == "resolved"
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=sam)
    notes = [m["text"] for m in detail.json["messages"] if m["role"] == "note"]
    assert notes[:3] == ["Reassigned by sam to agent alice", "Reassigned by sam to agent bob",
                         "Reassigned by sam to the orders queue"]


async def test_disabling_an_agent_stops_its_tokens_at_once_and_returns_its_tickets(
    app, internal, make_packet, agents, staff
) -> None:
    sam = staff["sam"]["headers"]
    session = await login(app, "bob", "pw-bob-123")
    code = await create(app, internal, make_packet("dis-1", topic=None))
    assert (await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=agents["bob"]["headers"]))[1].status == 200
    _, response = await app.asgi_client.post("/api/agents/bob/disable", headers=sam)
    assert response.status == 200 and response.json == {"agent": "bob", "enabled": False, "returned": [code]}
    for headers in (agents["bob"]["headers"], session):
        _, response = await app.asgi_client.get("/api/me", headers=headers)
        assert response.status == 401
    _, response = await app.asgi_client.post("/api/login", json={"name": "bob", "password": "pw-bob-123"})
    assert response.status == 401 and response.json["error"] == "wrong name or password"
    _, ticket = await app.asgi_client.get(f"/api/tickets/{code}", headers=sam)
    assert ticket.json["status"] == "queued" and ticket.json["assignee"] is None
    assert "bob was disabled by sam" in ticket.json["messages"][-1]["text"]
    _, agents_list = await app.asgi_client.get("/api/agents", headers=sam)
    assert {a["name"]: a["enabled"] for a in agents_list.json}["bob"] is False
    _, response = await app.asgi_client.post("/api/agents/bob/disable", headers=sam)
    assert response.status == 409
    # A supervisor manages agents, not other supervisors or admins, nor itself; an admin manages anyone.
    for name in ("ada", "sam"):
        _, response = await app.asgi_client.post(f"/api/agents/{name}/disable", headers=sam)
        assert response.status == 403, name
    _, response = await app.asgi_client.post("/api/agents/sam/disable", headers=staff["ada"]["headers"])
    assert response.status == 200
    _, response = await app.asgi_client.post("/api/agents/nobody/disable", headers=staff["ada"]["headers"])
    assert response.status == 404
    # Enabled again: bob signs in; the tokens he had stay dead.
    _, response = await app.asgi_client.post("/api/agents/bob/enable", headers=staff["ada"]["headers"])
    assert response.status == 200 and response.json == {"agent": "bob", "enabled": True}
    await login(app, "bob", "pw-bob-123")
    _, response = await app.asgi_client.get("/api/me", headers=agents["bob"]["headers"])
    assert response.status == 401


async def test_the_one_time_password_must_be_changed_first_and_a_change_ends_other_sessions(
    app, internal, make_packet, agents, staff
) -> None:
    _, response = await app.asgi_client.post("/api/agents/alice/password-reset", headers=staff["sam"]["headers"])
    assert response.status == 200 and response.json["agent"] == "alice"
    one_time = response.json["password"]
    _, response = await app.asgi_client.post("/api/login", json={"name": "alice", "password": "pw-alice-123"})
    assert response.status == 401  # the old password is gone
    first = await login(app, "alice", one_time)
    for path in ("/api/tickets", "/api/canned", "/api/stream"):
        _, response = await app.asgi_client.get(path, headers=first)
        assert response.status == 403 and "one-time password" in response.json["error"], path
    _, me = await app.asgi_client.get("/api/me", headers=first)
    assert me.status == 200 and me.json["must_change_password"] is True
    second = await login(app, "alice", one_time)
    _, response = await app.asgi_client.post("/api/me/password", headers=first,
                                             json={"old_password": one_time, "password": "alice-own-pass-1"})
    assert response.status == 204
    _, response = await app.asgi_client.get("/api/tickets", headers=first)
    assert response.status == 200  # the session that changed it goes on
    _, response = await app.asgi_client.get("/api/me", headers=second)
    assert response.status == 401  # the other one ended
    # The reset ended her API token too: a token issued under the old password does not outlive it.
    _, response = await app.asgi_client.get("/api/tickets", headers=agents["alice"]["headers"])
    assert response.status == 401


async def test_api_tokens_expire(app, agents, monkeypatch, settings) -> None:
    days = settings["desk"]["api_token_days"]
    at_offset(monkeypatch, (days - 1) * 86400)
    _, response = await app.asgi_client.get("/api/me", headers=agents["alice"]["headers"])
    assert response.status == 200
    at_offset(monkeypatch, 2 * 86400)
    _, response = await app.asgi_client.get("/api/me", headers=agents["alice"]["headers"])
    assert response.status == 401


async def test_the_stream_takes_a_one_use_short_lived_ticket_never_a_token_in_its_url(app, agents, monkeypatch) -> None:
    token = agents["alice"]["token"]
    _, response = await app.asgi_client.get(f"/api/stream?token={token}&max_seconds=0.2")
    assert response.status == 401 and "never taken from a URL" in response.json["error"]
    _, issued = await app.asgi_client.post("/api/stream-tickets", headers=agents["alice"]["headers"])
    ticket = issued.json["ticket"]
    _, response = await app.asgi_client.get("/api/me", headers={"Authorization": f"Bearer {ticket}"})
    assert response.status == 401  # a stream ticket is not a bearer token
    _, response = await app.asgi_client.get(f"/api/stream?ticket={ticket}&max_seconds=0.2")
    assert response.status == 200 and "event: hello" in response.text
    _, response = await app.asgi_client.get(f"/api/stream?ticket={ticket}&max_seconds=0.2")
    assert response.status == 401  # spent
    _, issued = await app.asgi_client.post("/api/stream-tickets", headers=agents["alice"]["headers"])
    at_offset(monkeypatch, 61)
    _, response = await app.asgi_client.get(f"/api/stream?ticket={issued.json['ticket']}&max_seconds=0.2")
    assert response.status == 401  # expired


async def test_roles_on_both_stores(settings, store, fake_rasa, make_packet, internal) -> None:
    app = create_app(settings, store=store, rasa=RasaClient(fake_rasa.url, token="t"), broker=None,
                     secret=internal["X-Frontline-Secret"], notify_positions=False, console=False,
                     calendar=PlainCalendar())
    headers = {}
    for name, skills, role in [("ann", ["orders"], Role.AGENT), ("ben", ["payments"], Role.AGENT),
                               ("sue", ["general"], Role.SUPERVISOR)]:
        token = auth.create_agent(store, name, skills, False, 3, 0.0, "password-123", role=role, settled=True)[1]
        headers[name] = {"Authorization": f"Bearer {token}"}
    code = await create(app, internal, make_packet("both-roles-1", topic="faq_order_status"))
    _, response = await app.asgi_client.get("/api/tickets", headers=headers["ben"])
    assert response.json == []
    _, response = await app.asgi_client.get(f"/api/tickets/{code}", headers=headers["ben"])
    assert response.status == 403
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=headers["ann"])
    assert response.status == 200
    _, response = await app.asgi_client.post("/api/agents/ann/disable", headers=headers["sue"])
    assert response.status == 200 and response.json["returned"] == [code]
    _, response = await app.asgi_client.get("/api/me", headers=headers["ann"])
    assert response.status == 401
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/reassign", headers=headers["sue"],
                                             json={"agent": "ben"})
    assert response.status == 200 and response.json["assignee"] == "ben"
    _, response = await app.asgi_client.get(f"/api/tickets/{code}", headers=headers["ben"])
    assert response.status == 200
    _, response = await app.asgi_client.get(f"/api/audit?ticket={code}", headers=headers["sue"])
    assert [e["action"] for e in response.json] == ["claim", "reassign", "view"]


async def test_an_agents_stream_carries_only_the_tickets_in_its_reach(app, internal, make_packet, agents, staff) -> None:
    import asyncio
    import json

    async def changes() -> None:
        await asyncio.sleep(0.4)
        orders = await create(app, internal, make_packet("stream-1", topic="faq_order_status"))  # not bob's queue
        general = await create(app, internal, make_packet("stream-2", topic=None))  # bob's queue
        await app.asgi_client.post(f"/api/tickets/{orders}/claim", headers=agents["alice"]["headers"])
        await app.asgi_client.post(f"/api/tickets/{orders}/messages", headers=agents["alice"]["headers"],
                                   json={"text": "secret order words"})
        await app.asgi_client.post(f"/api/tickets/{general}/reassign", headers=staff["sam"]["headers"],
                                   json={"agent": "alice"})
        codes.extend([orders, general])

    async def frames(headers: Dict[str, str]) -> list:
        _, response = await app.asgi_client.get("/api/stream?max_seconds=2.5", headers=headers)
        assert response.status == 200
        result = []
        for block in response.text.split("\n\n"):
            lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if lines.get("event") in ("ticket", "message", "gone"):
                data = json.loads(lines["data"])
                result.append((lines["event"], data.get("id") or data.get("ticket_id"), data.get("assignee")))
        return result

    codes: list = []
    task = asyncio.ensure_future(changes())
    bob_frames, sam_frames = await asyncio.gather(frames(agents["bob"]["headers"]), frames(staff["sam"]["headers"]))
    await task
    orders, general = codes
    assert bob_frames == [("ticket", general, None), ("gone", general, None)]
    assert {code for _, code, _ in sam_frames} == {orders, general}  # a supervisor's stream carries everything
    assert ("message", orders, None) in sam_frames


async def test_an_open_stream_of_an_agent_ends_once_it_is_disabled(app, agents, staff) -> None:
    import asyncio
    import time

    async def disable() -> None:
        await asyncio.sleep(0.5)
        _, response = await app.asgi_client.post("/api/agents/bob/disable", headers=staff["sam"]["headers"])
        assert response.status == 200

    task = asyncio.ensure_future(disable())
    started = time.monotonic()
    _, response = await app.asgi_client.get("/api/stream?max_seconds=20", headers=agents["bob"]["headers"])
    await task
    assert response.status == 200
    assert time.monotonic() - started < 12  # within STREAM_RECHECK_SECONDS of the disable, not at max_seconds
