"""`bot.escalation.decide`: one table row per reason, precedence, and when it must stay silent."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest

from bot import escalation
from bot.escalation import Decision, apology, decide, escalation_settings
from bot.settings import SettingsError

SETTINGS: Dict[str, Any] = {
    "emergency": {"intents": ["faq_lost_card", "faq_fraud", "faq_account_stolen"]},
    "escalation": {
        "anger_threshold": 0.7,
        "anger_rise": 0.35,
        "anger_rise_floor": 0.5,
        "anger_window": 3,
        "max_failures": 2,
        "grades": {
            "emergency": "A",
            "anger": "A",
            "vip_complaint": "A",
            "anger_rising": "B",
            "repeat_complaint": "B",
            "asked_for_human": "B",
            "not_understood": "C",
        },
    },
}


def user(intent: str, anger: float = 0.1, text: str = "…") -> Dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.9},
            "anger": {"score": anger, "label": "x"},
        },
    }


def action(name: str) -> Dict[str, Any]:
    return {"event": "action", "name": name}


def slot(name: str, value: Any) -> Dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


LISTEN = action("action_listen")
START = [action("action_session_start"), {"event": "session_started"}, LISTEN]


def turn(intent: str, anger: float = 0.1, answer: Optional[str] = "utter_ok") -> List[Dict[str, Any]]:
    """A complete earlier turn: the user message, the bot's answer, listening again."""
    events = [user(intent, anger)]
    if answer:
        events.append(action(answer))
    events.append(LISTEN)
    return events


def reason_of(events: List[Dict[str, Any]]) -> Optional[str]:
    decision = decide(events, SETTINGS)
    return decision.reason if decision else None


@pytest.mark.parametrize(
    "name, events, reason, grade",
    [
        ("anger above threshold", [*START, user("faq_refund_status", 0.91)], "anger", "A"),
        ("anger at threshold", [*START, user("greet", 0.7)], "anger", "A"),
        ("asked for a human", [*START, user("request_human", 0.2)], "asked_for_human", "B"),
        (
            "two failures in a row",
            [*START, *turn("nlu_fallback", answer="action_clarify"), user("nlu_fallback")],
            "not_understood",
            "C",
        ),
        (
            "VIP complains",
            [*START, slot("customer_tier", "vip"), user("complain", 0.3)],
            "vip_complaint",
            "A",
        ),
        (
            "second complaint",
            [*START, *turn("complain", 0.2), *turn("faq_order_status"), user("complain", 0.3)],
            "repeat_complaint",
            "B",
        ),
        (
            "complaints on record",
            [*START, slot("previous_complaints", 2), user("complain", 0.3)],
            "repeat_complaint",
            "B",
        ),
        (
            "anger rising",
            [*START, *turn("faq_order_status", 0.1), *turn("faq_order_status", 0.3), user("complain", 0.5)],
            "anger_rising",
            "B",
        ),
        (
            "emergency after its answer",
            [*START, user("faq_lost_card", 0.2), action("utter_faq_lost_card")],
            "emergency",
            "A",
        ),
    ],
)
def test_each_reason(name: str, events: List[Dict[str, Any]], reason: str, grade: str) -> None:
    decision = decide(events, SETTINGS)
    assert decision is not None, name
    assert (decision.reason, decision.grade) == (reason, grade), name
    assert decision.detail


@pytest.mark.parametrize(
    "name, events",
    [
        ("calm question", [*START, user("faq_refund_status", 0.2)]),
        ("just below threshold", [*START, user("faq_refund_status", 0.69)]),
        ("one failure only", [*START, *turn("faq_order_status"), user("nlu_fallback")]),
        (
            "failures not in a row",
            [*START, *turn("nlu_fallback", answer="action_clarify"), *turn("greet"), user("nlu_fallback")],
        ),
        (
            "first complaint of a regular customer",
            [*START, slot("customer_tier", "regular"), user("complain", 0.3)],
        ),
        ("rise too small", [*START, *turn("greet", 0.2), *turn("greet", 0.3), user("greet", 0.5)]),
        (
            "rise to a calm score",  # 0.0 -> 0.42 on a calm question is not rising anger
            [*START, *turn("faq_card_activation", 0.0), *turn("faq_coupon", 0.08), user("faq_membership", 0.42)],
        ),
        (
            "rise outside the window",
            [*START, *turn("greet", 0.0), *turn("greet", 0.3), *turn("greet", 0.3), user("greet", 0.6)],
        ),
        ("emergency question before its answer", [*START, user("faq_lost_card", 0.95)]),
        (
            "ordinary FAQ answered",
            [*START, user("faq_refund_status", 0.2), action("utter_faq_refund_status")],
        ),
        (
            "emergency answered, then listening",
            [*START, user("faq_lost_card"), action("utter_faq_lost_card"), LISTEN],
        ),
        ("bot answered an angry message already", [*START, user("greet", 0.95), action("utter_sorry")]),
        ("no events", []),
        ("no user message", START),
    ],
)
def test_no_decision(name: str, events: List[Dict[str, Any]]) -> None:
    assert decide(events, SETTINGS) is None, name


def test_no_decision_while_handed_off() -> None:
    events = [
        *START,
        user("request_human"),
        action("action_handoff"),
        {"event": "pause"},
        user("greet", 0.99),
    ]
    assert decide(events, SETTINGS) is None
    handoff_only = [*START, user("request_human"), action("action_handoff"), LISTEN, user("greet", 0.99)]
    assert decide(handoff_only, SETTINGS) is None


def test_after_resume_it_decides_again_from_a_clean_slate() -> None:
    before = [*START, *turn("nlu_fallback", answer="action_clarify"), user("request_human")]
    events = [*before, action("action_handoff"), {"event": "pause"}, {"event": "resume"}, LISTEN]
    assert reason_of([*events, user("greet", 0.95)]) == "anger"
    # failures and anger scores before the handoff do not count any more
    assert reason_of([*events, user("nlu_fallback", 0.2)]) is None
    # but a complaint before the handoff still makes the next one a repeat
    with_complaint = [*START, user("complain"), action("action_handoff"), {"event": "resume"}, LISTEN]
    assert reason_of([*with_complaint, user("complain", 0.2)]) == "repeat_complaint"


def test_precedence_most_urgent_grade_wins() -> None:
    # anger (A) beats asked_for_human (B); the detail names both
    decision = decide([*START, user("request_human", 0.9)], SETTINGS)
    assert decision == Decision("anger", "A", decision.detail, None)
    assert "anger 0.90" in decision.detail and "human" in decision.detail
    # vip_complaint (A) beats repeat_complaint (B)
    events = [*START, slot("customer_tier", "VIP"), *turn("complain"), user("complain", 0.2)]
    assert reason_of(events) == "vip_complaint"
    # between equal grades the fixed order decides: anger before vip_complaint
    assert reason_of([*START, slot("customer_tier", "vip"), user("complain", 0.95)]) == "anger"


def test_grades_come_from_settings() -> None:
    settings = {
        **SETTINGS,
        "escalation": {**SETTINGS["escalation"], "grades": {"asked_for_human": "A", "anger": "C"}},
    }
    decision = decide([*START, user("request_human", 0.9)], settings)
    assert (decision.reason, decision.grade) == ("asked_for_human", "A")


def test_emergency_lists_the_other_reasons_and_names_the_topic() -> None:
    events = [*START, user("faq_fraud", 0.95), action("utter_faq_fraud")]
    decision = decide(events, SETTINGS)
    assert decision.reason == "emergency" and decision.grade == "A"
    assert "faq_fraud" in decision.detail and "anger" in decision.detail
    assert decision.topic == "faq_fraud"


def test_topic_is_the_latest_faq_intent() -> None:
    events = [*START, *turn("faq_refund_status"), *turn("greet"), user("complain", 0.9)]
    assert decide(events, SETTINGS).topic == "faq_refund_status"


def test_escalation_section_alone_is_accepted() -> None:
    decision = decide([*START, user("request_human")], SETTINGS["escalation"])
    assert decision.reason == "asked_for_human"


@pytest.mark.parametrize(
    "override, key",
    [
        ({"anger_threshold": 1.5}, "escalation.anger_threshold"),
        ({"anger_rise": "high"}, "escalation.anger_rise"),
        ({"anger_rise_floor": -0.1}, "escalation.anger_rise_floor"),
        ({"anger_window": 0}, "escalation.anger_window"),
        ({"max_failures": 1.5}, "escalation.max_failures"),
        ({"grades": {"anger": "D"}}, "escalation.grades.anger"),
    ],
)
def test_bad_settings_name_the_key(override: Dict[str, Any], key: str) -> None:
    settings = {**SETTINGS, "escalation": {**SETTINGS["escalation"], **override}}
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        escalation_settings(settings)


def test_project_settings_are_valid() -> None:
    from bot.settings import load_settings

    config = escalation_settings(load_settings())
    assert set(escalation.REASONS) <= set(config["grades"])
    assert "faq_lost_card" in config["emergency_intents"]


@pytest.mark.parametrize(
    "lang, topic, expected",
    [
        ("zh", "faq_refund_status", "退款"),
        ("zh_hant", "faq_refund_status", "退款"),
        ("en", "faq_refund_status", "your refund"),
        ("zh", "faq_delivery_time", "配送"),
        ("zh_hant", "faq_account_stolen", "賬戶安全"),
        ("en", "faq_lost_card", "your lost card"),
    ],
)
def test_apology_names_the_problem(lang: str, topic: str, expected: str) -> None:
    text = apology(lang, topic)
    assert expected in text
    assert ("sorry" in text.lower()) if lang == "en" else ("抱歉" in text)


def test_apology_without_a_topic_and_in_traditional() -> None:
    assert apology("en", None).startswith("I'm really sorry")
    assert "抱歉" in apology("zh", "faq_unknown")
    traditional = apology("zh_hant", "faq_payment_failed")
    assert "付款失敗" in traditional and "麻煩" in traditional


def test_sentiment_entity_stands_in_for_a_missing_score() -> None:
    angry = {
        "event": "user",
        "text": None,
        "parse_data": {
            "intent": {"name": "faq_refund_status"},
            "entities": [{"entity": "sentiment", "value": "angry"}],
        },
    }
    assert reason_of([*START, angry]) == "anger"
    calm = {
        **angry,
        "parse_data": {**angry["parse_data"], "entities": [{"entity": "sentiment", "value": "unhappy"}]},
    }
    assert reason_of([*START, calm]) is None
    scored = {**angry, "parse_data": {**angry["parse_data"], "anger": {"score": 0.2, "label": "unhappy"}}}
    assert reason_of([*START, scored]) is None  # a real score wins over the label
