"""Agents set a ticket's topic (`POST /api/tickets/{id}/topic`); the trainer reads topics by conversation."""

from __future__ import annotations

from typing import Any, Dict

from bot.desk.app import create_app
from bot.desk.rasa_client import RasaClient
from bot.desk.store import Store
from bot.faq import load_catalog


async def create(app: Any, internal: Dict[str, str], packet: Dict[str, Any]) -> str:
    _, response = await app.asgi_client.post("/internal/tickets", headers=internal, json=packet)
    assert response.status == 201, response.json
    return response.json["id"]


async def set_topic(app: Any, code: str, headers: Dict[str, str], body: Any) -> Any:
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/topic", headers=headers, json=body)
    return response


async def test_the_owner_sets_a_known_topic(app, internal, make_packet, agents, sqlite_store) -> None:
    alice = agents["alice"]["headers"]
    code = await create(app, internal, make_packet("socketio:topic-1"))  # faq_order_status -> orders
    await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=alice)
    response = await set_topic(app, code, alice, {"topic": "faq_refund_status"})
    assert response.status == 200
    assert response.json["topic"] == "faq_refund_status" and response.json["id"] == code
    assert response.json["skill"] == "orders" and response.json["assignee"] == "alice"  # routing unchanged
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    assert detail.json["topic"] == "faq_refund_status"
    assert detail.json["context"]["topic"] == "faq_order_status"  # the packet stays as the assistant sent it
    assert [span[2] for span in sqlite_store.topic_spans(["socketio:topic-1"])["socketio:topic-1"]] == ["faq_refund_status"]


async def test_only_the_assignee_of_an_open_ticket_may_set_it(app, internal, make_packet, agents) -> None:
    alice, bob = agents["alice"]["headers"], agents["bob"]["headers"]
    code = await create(app, internal, make_packet("topic-2"))
    # Queued, nobody owns it: claim first.
    response = await set_topic(app, code, alice, {"topic": "faq_refund_status"})
    assert response.status == 409 and response.json["error"] == f"claim ticket {code} before setting its topic"
    await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=alice)
    response = await set_topic(app, code, bob, {"topic": "faq_refund_status"})
    assert response.status == 403 and "outside your reach" in response.json["error"]  # alice's, and not bob's queue
    response = await set_topic(app, "T-999999", alice, {"topic": "faq_refund_status"})
    assert response.status == 404
    # Closed: 409, and the topic stays what it was.
    _, closed = await app.asgi_client.post(f"/api/tickets/{code}/handback", headers=alice)
    assert closed.status == 200
    response = await set_topic(app, code, alice, {"topic": "faq_refund_status"})
    assert response.status == 409 and response.json["error"] == f"ticket {code} is handed_back"
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    assert detail.json["topic"] == "faq_order_status"


async def test_unknown_topics_and_bad_bodies_are_400(app, internal, make_packet, agents) -> None:
    alice = agents["alice"]["headers"]
    code = await create(app, internal, make_packet("topic-3"))
    await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=alice)
    for body in ({"topic": "faq_no_such_topic"}, {"topic": "greet"}, {"topic": ""}, {"topic": None},
                 {"topic": ["faq_refund_status"]}, {}, ["faq_refund_status"], "faq_refund_status"):
        response = await set_topic(app, code, alice, body)
        assert response.status == 400, body
        assert "topic" in response.json["error"], body
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    assert detail.json["topic"] == "faq_order_status"


async def test_the_topics_are_the_faq_intents_and_the_skill_topics(settings, sqlite_store, internal, make_packet,
                                                                   calendar) -> None:
    from bot.desk import auth

    custom = {**settings, "desk": {**settings["desk"], "skills": {**settings["desk"]["skills"],
                                                                    "billing_dispute": "payments"}}}
    app = create_app(custom, store=sqlite_store, rasa=RasaClient("http://127.0.0.1:9"), broker=None,
                     secret=internal["X-Frontline-Secret"], calendar=calendar, notify_positions=False, console=False)
    token = auth.create_agent(sqlite_store, "erin", ["general", "orders"], False, 3, 0.0, "password-123", settled=True)[1]
    headers = {"Authorization": f"Bearer {token}"}
    _, listed = await app.asgi_client.get("/api/topics", headers=headers)
    assert listed.status == 200
    assert listed.json == sorted(set(load_catalog()) | set(custom["desk"]["skills"]))
    assert "faq_refund_status" in listed.json and "billing_dispute" in listed.json and "greet" not in listed.json
    _, response = await app.asgi_client.get("/api/topics")
    assert response.status == 401
    code = await create(app, internal, make_packet("topic-4"))
    await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=headers)
    response = await set_topic(app, code, headers, {"topic": "billing_dispute"})
    assert response.status == 200 and response.json["topic"] == "billing_dispute"


async def test_setting_the_topic_is_pushed_to_the_consoles(app, internal, make_packet, agents) -> None:
    alice = agents["alice"]["headers"]
    code = await create(app, internal, make_packet("topic-5"))
    await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=alice)
    queue = app.ctx.desk.hub.subscribe()
    await set_topic(app, code, alice, {"topic": "faq_exchange"})
    events = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [(e["type"], e["data"]["id"], e["data"]["topic"]) for e in events] == [("ticket", code, "faq_exchange")]


async def test_topic_spans_on_the_desks_own_database(settings, store: Store, internal, make_packet,
                                                                calendar, fake_rasa) -> None:
    """SQLite and PostgreSQL: tables the desk created, tickets made through its API, topics set by agents."""
    from bot.desk import auth

    app = create_app(settings, store=store, rasa=RasaClient(fake_rasa.url), broker=None,
                     secret=internal["X-Frontline-Secret"], calendar=calendar, notify_positions=False, console=False)
    token = auth.create_agent(store, "alice", ["*"], True, 5, 0.0, "password-123", settled=True)[1]
    headers = {"Authorization": f"Bearer {token}"}
    first = await create(app, internal, make_packet("socketio:conv-a"))
    await app.asgi_client.post(f"/api/tickets/{first}/claim", headers=headers)
    assert (await set_topic(app, first, headers, {"topic": "faq_refund_status"})).status == 200
    _, closed = await app.asgi_client.post(f"/api/tickets/{first}/handback", headers=headers)
    assert closed.status == 200
    # The same conversation escalates again: both tickets, each with its topic.
    second = await create(app, internal, make_packet("socketio:conv-a", topic="faq_lost_card"))
    assert second != first
    await create(app, internal, make_packet("socketio:conv-b", topic=None))  # no topic: ""
    await create(app, internal, make_packet("socketio:conv-c", topic="faq_delivery_time"))

    def topics(ids):
        return {conversation: [span[2] for span in spans] for conversation, spans in store.topic_spans(ids).items()}

    assert topics(["socketio:conv-a", "socketio:conv-b", "socketio:conv-c", "socketio:nobody"]) == {
        "socketio:conv-a": ["faq_refund_status", "faq_lost_card"], "socketio:conv-b": [""],
        "socketio:conv-c": ["faq_delivery_time"],
    }
    assert store.topic_spans(["socketio:conv-a"])["socketio:conv-a"][0][1] is not None  # the first one closed
    await app.asgi_client.post(f"/api/tickets/{second}/claim", headers=headers)
    assert (await set_topic(app, second, headers, {"topic": "faq_fraud"})).status == 200
    assert topics(iter(["socketio:conv-a"])) == {"socketio:conv-a": ["faq_refund_status", "faq_fraud"]}
    assert store.topic_spans([]) == {}
    # More ids than one query binds.
    many = [f"socketio:none-{i}" for i in range(1200)] + ["socketio:conv-c"]
    assert topics(many) == {"socketio:conv-c": ["faq_delivery_time"]}
