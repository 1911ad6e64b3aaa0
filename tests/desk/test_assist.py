"""Helping agents answer: suggested FAQ answers from the model's parse of the customer's last message, the FAQ
search, and customer notes and tags that follow a customer across tickets (encrypted, purged, rekeyed)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from bot import data_keys, faq
from bot.desk.api import SUGGESTIONS_REASON_HEADER
from bot.desk.records import MessageRole, MessageStatus
from bot.desk.store.tables import customer_notes
from bot.i18n import to_traditional
from test_delivery import open_claimed, open_queued

pytestmark = pytest.mark.filterwarnings("ignore:You have set a listener")

RANKING = [
    {"name": "nlu_fallback", "confidence": 0.7},
    {"name": "faq_refund_status", "confidence": 0.62},
    {"name": "greet", "confidence": 0.2},
    {"name": "faq_service_hours", "confidence": 0.1},  # answered by code: no text to suggest
    {"name": "faq_return_policy", "confidence": 0.08},
    {"name": "faq_exchange", "confidence": 0.05},
    {"name": "faq_order_status", "confidence": 0.01},
]


def customer(language: str, customer_id: Any = "cust-1") -> dict:
    return {"id": customer_id, "display_name": "W", "tier": "regular", "vip": False, "language": language,
            "earlier_tickets": []}


@pytest.mark.parametrize("language", ["zh", "zh_hant", "en"])
async def test_suggestions_are_the_best_faq_answers_in_the_customers_language(
    app, internal, make_packet, agents, fake_rasa, language: str
) -> None:
    alice = agents["alice"]["headers"]
    fake_rasa.intent_ranking = RANKING
    code = await open_claimed(app, internal, make_packet("conv-1", customer=customer(language)), alice)
    ticket = app.ctx.desk.store.ticket_by_code(code)
    app.ctx.desk.store.add_message(ticket.id, MessageRole.CUSTOMER, "退款怎么还没到", 1.0, MessageStatus.RECEIVED)
    _, response = await app.asgi_client.get(f"/api/tickets/{code}/suggestions", headers=alice)
    assert response.status == 200, response.json
    catalog = faq.load_catalog()
    expected = {"zh": lambda t: t.answer_zh, "en": lambda t: t.answer_en,
                "zh_hant": lambda t: to_traditional(t.answer_zh)}[language]
    assert [(s["topic"], s["confidence"]) for s in response.json] == [
        ("faq_refund_status", 0.62), ("faq_return_policy", 0.08), ("faq_exchange", 0.05)]
    assert [s["text"] for s in response.json] == [expected(catalog[s["topic"]]) for s in response.json]
    assert SUGGESTIONS_REASON_HEADER not in response.headers
    # The model parsed the customer's last message (the desk's message, after the packet's transcript).
    assert fake_rasa.parsed == [{"text": "退款怎么还没到", "token": "rasa-token"}]


async def test_suggestions_read_the_transcript_before_any_message_on_the_ticket(
    app, internal, make_packet, agents, fake_rasa
) -> None:
    fake_rasa.intent_ranking = RANKING[1:2]
    [code] = await open_queued(app, internal, make_packet("conv-1"))
    _, response = await app.asgi_client.get(f"/api/tickets/{code}/suggestions", headers=agents["alice"]["headers"])
    assert [s["topic"] for s in response.json] == ["faq_refund_status"]
    assert fake_rasa.parsed[-1]["text"] == "我的订单呢"  # the packet transcript's last customer line


async def test_rasa_down_gives_no_suggestions_with_a_reason_and_the_console_still_works(
    app, internal, make_packet, agents, fake_rasa
) -> None:
    alice = agents["alice"]["headers"]
    code = await open_claimed(app, internal, make_packet("conv-1"), alice)
    await fake_rasa.stop()
    _, response = await app.asgi_client.get(f"/api/tickets/{code}/suggestions", headers=alice)
    assert response.status == 200 and response.json == []
    assert "Rasa is unreachable" in response.headers[SUGGESTIONS_REASON_HEADER]
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    assert detail.status == 200
    _, missing = await app.asgi_client.get("/api/tickets/T-999999/suggestions", headers=alice)
    assert missing.status == 404
    _, unauthorised = await app.asgi_client.get(f"/api/tickets/{code}/suggestions")
    assert unauthorised.status == 401


async def test_faq_search_finds_answers_in_either_language_and_script(app, agents) -> None:
    bob = agents["bob"]["headers"]
    catalog = faq.load_catalog()
    for query in ("退款", "退款什麼時候", "REFUND"):  # by name, in Traditional, any case
        _, response = await app.asgi_client.get("/api/faq", params={"q": query}, headers=bob)
        assert response.status == 200
        assert response.json and response.json[0]["topic"] == "faq_refund_status", (query, response.json[:2])
    _, response = await app.asgi_client.get("/api/faq", params={"q": "退款", "language": "en"}, headers=bob)
    first = response.json[0]
    assert first["text"] == catalog["faq_refund_status"].answer_en
    assert first["answer_zh"] == catalog["faq_refund_status"].answer_zh
    _, response = await app.asgi_client.get("/api/faq", params={"q": "zzqqxx-nothing"}, headers=bob)
    assert response.json == []
    _, response = await app.asgi_client.get("/api/faq", params={"language": "fr"}, headers=bob)
    assert response.status == 400 and "language" in response.json["error"]
    _, response = await app.asgi_client.get("/api/faq", params={"q": "退款"})
    assert response.status == 401


async def test_customer_notes_and_tags_follow_the_customer_across_tickets(
    app, internal, make_packet, agents, staff, sqlite_store
) -> None:
    # bob (general) cannot reach these orders tickets: the supervisor sam reads the later one
    alice, bob = agents["alice"]["headers"], staff["sam"]["headers"]
    first = await open_claimed(app, internal, make_packet("conv-1", customer=customer("zh", "cust-42")), alice)
    _, note = await app.asgi_client.post(f"/api/tickets/{first}/customer/notes", headers=alice,
                                         json={"note": "prefers calls after 6pm, phone 13812345678"})
    assert note.status == 201 and note.json["kind"] == "note" and note.json["author"] == "alice"
    assert "13812345678" not in note.json["text"] and "5678" in note.json["text"]  # masked
    _, tag = await app.asgi_client.post(f"/api/tickets/{first}/customer/notes", headers=alice, json={"tag": "VIP  risk"})
    _, again = await app.asgi_client.post(f"/api/tickets/{first}/customer/notes", headers=alice, json={"tag": "VIP risk"})
    assert tag.json["text"] == "VIP risk" and again.json["id"] == tag.json["id"]  # one tag once
    # A later ticket of the same customer, on another conversation: the profile card shows them.
    second = (await open_queued(app, internal, make_packet("conv-2", customer=customer("zh", "cust-42"))))[0]
    _, detail = await app.asgi_client.get(f"/api/tickets/{second}", headers=bob)
    assert [n["text"] for n in detail.json["customer"]["notes"]] == [note.json["text"]]
    assert [t["text"] for t in detail.json["customer"]["tags"]] == ["VIP risk"]
    # Another customer sees none of them.
    other = (await open_queued(app, internal, make_packet("conv-3", customer=customer("zh", "cust-7"))))[0]
    _, listed = await app.asgi_client.get(f"/api/tickets/{other}/customer/notes", headers=bob)
    assert listed.json == {"notes": [], "tags": []}
    _, wrong = await app.asgi_client.delete(f"/api/tickets/{other}/customer/notes/{tag.json['id']}", headers=bob)
    assert wrong.status == 404  # a note is removed only through its own customer's ticket
    _, removed = await app.asgi_client.delete(f"/api/tickets/{second}/customer/notes/{tag.json['id']}", headers=bob)
    assert removed.status == 204
    _, listed = await app.asgi_client.get(f"/api/tickets/{first}/customer/notes", headers=alice)
    assert listed.json["tags"] == [] and len(listed.json["notes"]) == 1
    # Encrypted at rest.
    with sqlite_store.engine.connect() as conn:
        stored = conn.execute(sa.select(customer_notes.c.text)).scalars().all()
    assert stored and all("6pm" not in value for value in stored)


async def test_wechat_customers_are_known_by_openid_and_anonymous_ones_get_409(
    app, internal, make_packet, agents
) -> None:
    bob = agents["alice"]["headers"]  # general and orders: these tickets are in her reach
    first, second = await open_queued(
        app, internal, make_packet("o-openid-1", channel="wechat", customer=customer("zh", None)),
    ), None
    await app.asgi_client.post(f"/api/tickets/{first[0]}/resolve", headers=bob)
    second = await open_queued(app, internal, make_packet("o-openid-1", channel="wechat", customer=customer("zh", None)))
    _, added = await app.asgi_client.post(f"/api/tickets/{first[0]}/customer/notes", headers=bob, json={"tag": "repeat"})
    assert added.status == 201
    _, detail = await app.asgi_client.get(f"/api/tickets/{second[0]}", headers=bob)
    assert [t["text"] for t in detail.json["customer"]["tags"]] == ["repeat"]
    anonymous = await open_queued(app, internal, make_packet("rest-anon", channel="rest", customer=customer("zh", None)))
    _, refused = await app.asgi_client.post(f"/api/tickets/{anonymous[0]}/customer/notes", headers=bob,
                                            json={"note": "x"})
    assert refused.status == 409 and "no lasting id" in refused.json["error"]
    for body in ({}, {"note": "a", "tag": "b"}, {"note": "  "}, {"tag": "x" * 40}, ["note"]):
        _, bad = await app.asgi_client.post(f"/api/tickets/{first[0]}/customer/notes", headers=bob, json=body)
        assert bad.status == 400, body


def test_purge_and_rekey_cover_customer_notes(sqlite_store, monkeypatch) -> None:
    store = sqlite_store
    old, new = data_keys.generate_key(), data_keys.generate_key()
    monkeypatch.setenv(data_keys.ENV_KEYS, old)
    store.add_customer_note("customer:old", "note", "gone soon", "alice", 10.0)
    store.add_customer_note("wechat:o-active", "tag", "kept", "alice", 10.0)
    with store.engine.begin() as conn:  # the active customer has a ticket since the cutoff
        conn.execute(sa.text(
            "INSERT INTO desk_tickets (conversation_id, channel, status, grade, reason, skill, requires_senior, vip,"
            " anger, context, created_at, created_real, skill_since, due_first_response, warn_first_response,"
            " due_resolution, warn_resolution) VALUES ('wechat:o-active', 'wechat', 'queued', 'B', 'request', "
            "'general', 0, 0, 0, '{}', 500, 500, 500, 600, 550, 900, 800)"))
    assert store.purge_customer_notes(active_since=100.0) == 1
    assert store.customer_notes("customer:old") == []
    assert [n["text"] for n in store.customer_notes("wechat:o-active")] == ["kept"]
    assert store.purge_customer_notes(active_since=100.0) == 0  # idempotent
    # A rotated key: rekey moves the note to the new key; with the old key dropped it still reads.
    monkeypatch.setenv(data_keys.ENV_KEYS, f"{new},{old}")
    assert store.rekey() >= 1
    monkeypatch.setenv(data_keys.ENV_KEYS, new)
    assert [n["text"] for n in store.customer_notes("wechat:o-active")] == ["kept"]


async def test_an_agent_gets_no_suggestions_or_notes_of_a_ticket_outside_its_reach(
    app, internal, make_packet, agents
) -> None:
    [code] = await open_queued(app, internal, make_packet("conv-reach", customer=customer("zh", "cust-9")))
    carol = agents["carol"]["headers"]  # after_sales only: an orders ticket is not in her reach
    for method, path, body in (
        ("get", f"/api/tickets/{code}/suggestions", None),
        ("get", f"/api/tickets/{code}/customer/notes", None),
        ("post", f"/api/tickets/{code}/customer/notes", {"note": "seen"}),
    ):
        extra = {"json": body} if body is not None else {}
        _, response = await getattr(app.asgi_client, method)(path, headers=carol, **extra)
        assert response.status == 403 and "outside your reach" in response.json["error"], path
