"""Agent replies, the survey and hand-back reach a (fake, real-HTTP) Rasa; Rasa down loses nothing."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List

import pytest

from bot.responses import response_text

pytestmark = pytest.mark.filterwarnings("ignore:You have set a listener")


async def open_queued(app: Any, internal: Dict[str, str], *packets: Dict[str, Any]) -> List[str]:
    """Open a ticket for each packet through the internal API, in order; return their ids."""
    codes = []
    for packet in packets:
        _, response = await app.asgi_client.post("/internal/tickets", headers=internal, json=packet)
        assert response.status == 201, response.json
        codes.append(response.json["id"])
    return codes


async def open_claimed(app: Any, internal: Dict[str, str], packet: Dict[str, Any], headers: Dict[str, str]) -> str:
    [code] = await open_queued(app, internal, packet)
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=headers)
    assert response.status == 200
    return code


async def test_reply_is_delivered_on_the_customers_channel(app, internal, make_packet, agents, fake_rasa) -> None:
    alice = agents["alice"]["headers"]
    code = await open_claimed(app, internal, make_packet("conv-1"), alice)
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/messages", headers=alice,
                                             json={"text": "您好，我来帮您查"})
    assert response.status == 201
    assert response.json["status"] == "sent" and response.json["role"] == "agent"
    assert len(fake_rasa.deliveries) == 1
    request = fake_rasa.deliveries[0]
    assert request["conversation_id"] == "socketio:conv-1"
    assert request["query"] == {"execute_side_effects": "true", "output_channel": "socketio", "token": "rasa-token"}
    key = f"desk-{code}-{response.json['id']}"  # the channel skips a key it has sent (bot.desk.delivery)
    assert request["body"] == [
        {"event": "bot", "text": "您好，我来帮您查", "metadata": {"agent": "alice", "delivery_key": key}}
    ]
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    assert detail.json["first_response_at"] is not None
    assert [(m["role"], m["text"], m["status"]) for m in detail.json["messages"]] == [
        ("agent", "您好，我来帮您查", "sent")
    ]


async def test_wechat_window_closed_is_explained_to_the_agent(app, internal, make_packet, agents, fake_rasa) -> None:
    alice = agents["alice"]["headers"]
    code = await open_claimed(app, internal, make_packet("wx-1", channel="wechat"), alice)
    fake_rasa.fail_status = 500
    # What Rasa answers when the WeChat output channel raises on error 45015 (seen against the real Rasa).
    fake_rasa.fail_body = {"status": "failure", "reason": "ConversationError", "message": (
        "An unexpected error occurred. Error: wechat API error 45015: the 48-hour customer-service window has passed")}
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/messages", headers=alice, json={"text": "在吗"})
    assert response.status == 409
    assert "customer must write first" in response.json["error"]
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    roles = [(m["role"], m["status"]) for m in detail.json["messages"]]
    assert ("agent", "failed") in roles and ("system", "internal") in roles
    assert any("45015" in m["text"] for m in detail.json["messages"] if m["role"] == "system")


async def test_rest_channel_omits_the_output_channel(app, internal, make_packet, agents, fake_rasa) -> None:
    alice = agents["alice"]["headers"]
    code = await open_claimed(app, internal, make_packet("rest-1", channel="rest"), alice)
    await app.asgi_client.post(f"/api/tickets/{code}/messages", headers=alice, json={"text": "hello"})
    assert fake_rasa.deliveries[0]["query"] == {"execute_side_effects": "true", "token": "rasa-token"}


@pytest.mark.parametrize("failure", ["down", "error"])
async def test_rasa_down_is_502_and_nothing_is_lost(app, internal, make_packet, agents, fake_rasa, failure) -> None:
    alice = agents["alice"]["headers"]
    code = await open_claimed(app, internal, make_packet("conv-1"), alice)
    port = fake_rasa.port
    if failure == "down":
        await fake_rasa.stop()
    else:
        fake_rasa.fail_status = 500
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/messages", headers=alice,
                                             json={"text": "第一条回复"})
    assert response.status == 502 and "retry" in response.json["error"]
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    [message] = detail.json["messages"]
    assert (message["text"], message["status"]) == ("第一条回复", "failed")
    assert detail.json["first_response_at"] is None  # nothing reached the customer yet
    # Resolving while Rasa is down keeps the ticket open.
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/resolve", headers=alice)
    assert response.status == 502
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    assert detail.json["status"] == "assigned"
    # Rasa is back: retry the failed message.
    if failure == "down":
        await fake_rasa.start(port)
    fake_rasa.fail_status = None
    fake_rasa.requests.clear()
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/messages/{message['id']}/retry", headers=alice)
    assert response.status == 200 and response.json["status"] == "sent"
    key = f"desk-{code}-{message['id']}"  # the same key as the failed attempt
    assert fake_rasa.events() == [
        {"event": "bot", "text": "第一条回复", "metadata": {"agent": "alice", "delivery_key": key}}
    ]
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/messages/{message['id']}/retry", headers=alice)
    assert response.status == 409  # already sent
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/messages/99999/retry", headers=alice)
    assert response.status == 404
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    assert detail.json["first_response_at"] is not None


@pytest.mark.parametrize(
    "language, words, button, closing",
    [("zh", "请为本次服务打分（1–5）", "5 ⭐ 非常满意", "官方微信公众号"),
     ("en", "How did we do? Rate 1–5", "5 ⭐ Great", "official WeChat account"),
     ("zh_hant", "請", "5 ⭐ 非常滿意", "官方微信公眾號")],
)
async def test_resolve_sends_the_closing_line_and_the_survey_then_resumes(
    app, internal, make_packet, agents, fake_rasa, language, words, button, closing
) -> None:
    alice = agents["alice"]["headers"]
    customer = {"id": "cust-1", "display_name": "W", "tier": "vip", "vip": True, "language": language,
                "earlier_tickets": []}
    code = await open_claimed(app, internal, make_packet("conv-1", customer=customer), alice)
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/resolve", headers=alice)
    assert response.status == 200 and response.json["status"] == "resolved"
    [request] = fake_rasa.deliveries
    assert request["query"]["execute_side_effects"] == "true" and request["query"]["output_channel"] == "socketio"
    line, survey, pending, ticket_slot, resume, listen = request["body"]
    # The closing line, before the survey: the other ways to reach the service, from domain.yml, keyed once.
    assert line["event"] == "bot" and closing in line["text"], line
    assert line["metadata"] == {"delivery_key": f"desk-{code}-closing"}
    assert line["text"] == response_text("utter_closing_line", language)
    assert survey["event"] == "bot" and survey["text"].startswith(words)
    assert survey["metadata"] == {"survey": True, "delivery_key": f"desk-{code}-resolve"}
    if language == "zh_hant":
        assert "本次服務打分" in survey["text"] and "请" not in survey["text"]
    buttons = survey["data"]["buttons"]
    assert [b["payload"] for b in buttons] == ['/survey_rating{"rating": %d}' % n for n in (5, 4, 3, 2, 1)]
    assert buttons[0]["title"] == button
    assert pending == {"event": "slot", "name": "survey_pending", "value": True}
    assert ticket_slot == {"event": "slot", "name": "ticket_id", "value": code}
    assert resume == {"event": "resume"}
    assert listen == {"event": "action", "name": "action_listen"}
    # The survey action then reports the rating.
    _, response = await app.asgi_client.post(f"/internal/tickets/{code}/survey", headers=internal,
                                             json={"rating": 5})
    assert response.json["rating"] == 5


async def test_handback_says_the_assistant_is_back(app, internal, make_packet, agents, fake_rasa) -> None:
    bob = agents["bob"]["headers"]
    customer = {"id": "c", "display_name": "Ann", "tier": None, "vip": False, "language": "en", "earlier_tickets": []}
    code = await open_claimed(app, internal, make_packet("conv-h", topic="faq_other", customer=customer), bob)
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/handback", headers=bob)
    assert response.status == 200 and response.json["status"] == "handed_back"
    [request] = fake_rasa.deliveries
    message, resume, listen = request["body"]
    assert message["event"] == "bot" and message["text"] == "The assistant is back. What else can I help you with?"
    assert message["metadata"] == {"agent": "bob", "delivery_key": f"desk-{code}-handback"}
    assert resume == {"event": "resume"}
    assert listen == {"event": "action", "name": "action_listen"}


async def test_queued_tickets_can_be_handed_back_without_a_claim(app, internal, make_packet, agents) -> None:
    [code] = await open_queued(app, internal, make_packet("q"))  # skill orders: alice's queue
    _, response = await app.asgi_client.post(f"/api/tickets/{code}/handback", headers=agents["alice"]["headers"])
    assert response.status == 200 and response.json["status"] == "handed_back"


async def test_position_updates_are_sent_when_the_queue_moves(app, internal, make_packet, agents, fake_rasa) -> None:
    delivery = app.ctx.desk.delivery
    codes = await open_queued(app, internal, *(make_packet(f"n{i}", grade="B") for i in range(5)))
    assert await delivery.notify_positions() == 0  # nothing moved
    alice = agents["alice"]["headers"]
    for code in codes[:3]:
        await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=alice)
    assert await delivery.notify_positions() == 2  # n3: 4 -> 1, n4: 5 -> 2
    texts = {r["conversation_id"]: r["body"][0]["text"] for r in fake_rasa.deliveries}
    # the handoff's words (bot.texts.queue_position): n3 is served next, n4 has one customer ahead
    assert texts["socketio:n3"].startswith("您是下一位，预计等待约 ") and texts["socketio:n4"].startswith("前面还有 1 位，预计等待约 ")
    assert await delivery.notify_positions() == 0  # told once


async def test_position_update_announces_the_wait_as_the_handoff_does(
    app, internal, make_packet, agents, fake_rasa, monkeypatch
) -> None:
    """150 s is "3 minutes" in the update, as in the handoff's queue reply (rounded up, never "about 2")."""
    from actions.handoff import customer_replies
    from bot import clock

    line = app.ctx.desk.line
    codes = await open_queued(app, internal, *(make_packet(f"w{i}", grade="B") for i in range(3)))
    estimate = line.standing

    def wait_of_150_seconds(ticket, now, queued=None, shared=None):
        return dataclasses.replace(estimate(ticket, now, queued, shared), expected_wait_seconds=150)

    monkeypatch.setattr(line, "standing", wait_of_150_seconds)
    for code in codes[:2]:
        await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=agents["alice"]["headers"])
    assert await app.ctx.desk.delivery.notify_positions() == 1  # w2: 3 -> 1
    [update] = [r["body"][0]["text"] for r in fake_rasa.deliveries if r["conversation_id"] == "socketio:w2"]
    ticket = {"id": "T-1", "position": 1, "expected_wait_seconds": 150, "open_now": True, "agents_online": 1}
    [handoff_reply] = customer_replies("asked_for_human", "zh", None, ticket, clock.now(), {})
    assert update == "您是下一位，预计等待约 3 分钟。"
    assert handoff_reply == "您已进入人工客服队列，" + update
