"""The running assistant over its REST channel: FAQ answers in the customer's language, scope, clarifying, key facts.

Expected answers are read from `domain.yml`, so the tests check the behaviour, not a copy of the content.
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, List

import pytest
import requests
import yaml

from bot.i18n import to_traditional
from bot.settings import repo_root

pytestmark = pytest.mark.stack

DOMAIN = yaml.safe_load((repo_root() / "domain.yml").read_text(encoding="utf-8"))


def answer(intent: str, language: str) -> str:
    """The domain's answer text for an FAQ intent in a language (zh, zh_hant or en)."""
    variations = DOMAIN["responses"][f"utter_{intent}"]
    if language == "en":
        texts = [v["text"] for v in variations if v.get("condition")]
    else:
        texts = [v["text"] for v in variations if not v.get("condition")]
    assert len(texts) == 1, f"utter_{intent} must have exactly one {language} variation"
    return to_traditional(texts[0]) if language == "zh_hant" else texts[0]


def say(stack, text: str, sender: str | None = None) -> List[Dict[str, Any]]:
    response = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender or f"t-{uuid.uuid4().hex[:10]}", "message": text},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    "text, intent, language",
    [
        ("退款多久能到账啊", "faq_refund_status", "zh"),
        ("我的快递到哪里了", "faq_order_status", "zh"),
        ("How long does it take to get my refund?", "faq_refund_status", "en"),
        ("I forgot my password, how do I reset it", "faq_password_reset", "en"),
        ("退款多久到帳", "faq_refund_status", "zh_hant"),
        ("我的信用卡不見了怎麼辦", "faq_lost_card", "zh_hant"),
        # the emergency entry in words reaches the 24/7 lane; an urgent word with an ordinary topic stays that topic
        ("我这边有紧急情况", "faq_emergency", "zh"),
        ("it's an emergency", "faq_emergency", "en"),
        ("我的退款特别急，什么时候能到", "faq_refund_status", "zh"),
        ("please, it's urgent, my refund hasn't arrived", "faq_refund_status", "en"),
    ],
)
def test_faq_question_gets_the_answer_in_the_customers_language(stack, text, intent, language) -> None:
    texts = [message.get("text") for message in say(stack, text)]
    assert answer(intent, language) in texts


def test_language_follows_each_message(stack) -> None:
    sender = f"t-{uuid.uuid4().hex[:10]}"
    first = [m.get("text") for m in say(stack, "Where is my order?", sender)]
    second = [m.get("text") for m in say(stack, "退款多久到账", sender)]
    assert answer("faq_order_status", "en") in first
    assert answer("faq_refund_status", "zh") in second


@pytest.mark.parametrize("text", ["what's the weather like in Paris tomorrow", "今天天气怎么样", "tell me a joke about cats"])
def test_out_of_scope_gets_no_faq_answer(stack, text) -> None:
    texts = {m.get("text") for m in say(stack, text)}
    faq_answers = {
        v["text"] for name, variations in DOMAIN["responses"].items() if name.startswith("utter_faq_") for v in variations
    }
    assert texts, "the assistant must answer something"
    assert not texts & faq_answers
    assert texts & {v["text"] for v in DOMAIN["responses"]["utter_out_of_scope"]}


def test_unclear_message_gets_two_guesses_then_a_human_offer(stack) -> None:
    sender = f"t-{uuid.uuid4().hex[:10]}"
    first = say(stack, "钱", sender)
    buttons = [b for m in first for b in (m.get("buttons") or [])]
    payloads = [b["payload"] for b in buttons]
    assert len([p for p in payloads if p.startswith("/faq_")]) == 2, first
    assert "/request_human" in payloads
    second = say(stack, "钱", sender)
    assert [b["payload"] for m in second for b in (m.get("buttons") or [])][0] == "/request_human", second


def user_texts(stack, sender: str) -> List[str]:
    """The texts of the `user` events Rasa stored for a conversation."""
    response = requests.get(
        f"{stack.rasa_url}/conversations/rest:{sender}/tracker", params={"token": stack.token}, timeout=30
    )
    assert response.status_code == 200, response.text
    return [event.get("text") for event in response.json()["events"] if event["event"] == "user"]


def test_a_long_message_is_answered_from_its_start_and_stored_whole(stack) -> None:
    sender = f"t-{uuid.uuid4().hex[:10]}"
    text = "退款多久能到账啊？" * 1000  # 9,000 characters (a paste gone wrong): under the REST limit
    texts = [message.get("text") for message in say(stack, text, sender)]
    assert answer("faq_refund_status", "zh") in texts
    assert user_texts(stack, sender) == [text]


@pytest.mark.parametrize(
    "body, status, says",
    [
        ({"message": "x" * 10_001}, 413, "10,001 characters; at most 10,000"),
        ({"message": "   "}, 400, '"message" is empty'),
        ({}, 400, '"message" is missing'),
    ],
)
def test_bad_rest_input_gets_a_clear_error_and_stores_nothing(stack, body, status, says) -> None:
    sender = f"t-{uuid.uuid4().hex[:10]}"
    response = requests.post(f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, **body}, timeout=30)
    assert response.status_code == status, response.text
    assert says in response.json()["message"]
    assert user_texts(stack, sender) == []

def latest_user_event(stack, sender: str) -> dict:
    response = requests.get(
        f"{stack.rasa_url}/conversations/rest:{sender}/tracker", params={"token": stack.token}, timeout=30
    )
    assert response.status_code == 200, response.text
    return [event for event in response.json()["events"] if event["event"] == "user"][-1]


@pytest.mark.parametrize(
    "text, intent, language, facts",
    [
        ("退款多久能到账啊，订单号20251103123456，退款128元，电话13812345678", "faq_refund_status", "zh",
         [("order_number", "20251103123456"), ("amount", "128元"), ("phone", "13812345678")]),
        ("How long does it take to get my refund? I paid $49.99 on Nov 3rd", "faq_refund_status", "en",
         [("amount", "$49.99"), ("date", "Nov 3rd")]),
    ],
)
def test_facts_are_entities_of_the_turn_and_the_answer_is_unchanged(stack, text, intent, language, facts) -> None:
    sender = f"t-{uuid.uuid4().hex[:10]}"
    replies = say(stack, text, sender)
    assert answer(intent, language) in [m.get("text") for m in replies]
    event = latest_user_event(stack, sender)
    found = [(e["entity"], e["value"]) for e in event["parse_data"]["entities"] if e.get("extractor") == "KeyFactExtractor"]
    assert found == facts
    assert event["parse_data"]["intent"]["name"] == intent
