"""EscalationPolicy: predicts action_handoff with the reason and grade slots, and wins ties against rules."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies.escalation import EscalationPolicy

DOMAIN = Domain.from_dict(
    {
        "intents": [
            "greet",
            "request_human",
            "complain",
            "faq_lost_card",
            "faq_refund_status",
            "nlu_fallback",
        ],
        "slots": {
            name: {"type": kind, "influence_conversation": False, "mappings": [{"type": "custom"}]}
            for name, kind in [
                ("handoff_reason", "text"),
                ("handoff_grade", "text"),
                ("anger", "float"),
                ("customer_tier", "text"),
            ]
        },
        "responses": {
            "utter_faq_lost_card": [{"text": "Call the emergency line."}],
            "utter_faq_refund_status": [{"text": "Refunds take 3 days."}],
        },
        "actions": ["action_handoff"],
    }
)


def _user(intent: str, anger: float) -> UserUttered:
    return UserUttered(
        "…",
        intent={"name": intent, "confidence": 0.95},
        parse_data={
            "intent": {"name": intent, "confidence": 0.95},
            "entities": [],
            "anger": {"score": anger, "label": "angry" if anger >= 0.5 else "neutral"},
        },
    )


def _tracker(events: List[Event]) -> DialogueStateTracker:
    start: List[Event] = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
    ]
    return DialogueStateTracker.from_events("test", start + events, slots=DOMAIN.slots)


@pytest.fixture()
def policy(
    tmp_path, model_storage: LocalModelStorage, execution_context: ExecutionContext
) -> EscalationPolicy:
    settings = tmp_path / "settings.yml"
    settings.write_text(
        "emergency:\n  intents: [faq_lost_card]\n"
        "escalation:\n  anger_threshold: 0.7\n  anger_rise: 0.35\n  anger_window: 3\n  max_failures: 2\n"
        "  grades: {emergency: A, anger: A, vip_complaint: A, anger_rising: B, repeat_complaint: B,"
        " asked_for_human: B, not_understood: C}\n",
        encoding="utf-8",
    )
    config = {**EscalationPolicy.get_default_config(), "settings_path": str(settings)}
    created = EscalationPolicy.create(config, model_storage, Resource("escalation"), execution_context)
    created.train([], DOMAIN)
    return EscalationPolicy.load(config, model_storage, Resource("escalation"), execution_context)


def _handoff_probability(prediction: PolicyPrediction) -> float:
    return prediction.probabilities[DOMAIN.index_for_action("action_handoff")]


def test_angry_message_predicts_handoff_with_slots(policy: EscalationPolicy) -> None:
    prediction = policy.predict_action_probabilities(_tracker([_user("faq_refund_status", 0.93)]), DOMAIN)
    assert _handoff_probability(prediction) == 1.0
    assert sum(prediction.probabilities) == 1.0
    assert prediction.optional_events == [
        SlotSet("handoff_reason", "anger"),
        SlotSet("handoff_grade", "A"),
        SlotSet("anger", 0.93),
    ]
    assert prediction.events == []
    assert prediction.policy_priority == 7
    assert prediction.policy_name == "EscalationPolicy"


def test_calm_message_predicts_nothing(policy: EscalationPolicy) -> None:
    prediction = policy.predict_action_probabilities(_tracker([_user("faq_refund_status", 0.2)]), DOMAIN)
    assert prediction.max_confidence == 0.0
    assert prediction.optional_events == []


def test_emergency_after_the_faq_answer(policy: EscalationPolicy) -> None:
    events: List[Event] = [_user("faq_lost_card", 0.1)]
    before = policy.predict_action_probabilities(_tracker(events), DOMAIN)
    assert before.max_confidence == 0.0
    after = policy.predict_action_probabilities(
        _tracker([*events, ActionExecuted("utter_faq_lost_card")]), DOMAIN
    )
    assert _handoff_probability(after) == 1.0
    assert SlotSet("handoff_reason", "emergency") in after.optional_events


def test_silent_while_handed_off(policy: EscalationPolicy) -> None:
    events: List[Event] = [
        _user("request_human", 0.1),
        ActionExecuted("action_handoff"),
        ActionExecuted("action_listen"),
        _user("greet", 0.99),
    ]
    prediction = policy.predict_action_probabilities(_tracker(events), DOMAIN)
    assert prediction.max_confidence == 0.0


def test_wins_a_tie_against_rule_policy(policy: EscalationPolicy) -> None:
    tracker = _tracker([_user("request_human", 0.1)])
    ours = policy.predict_action_probabilities(tracker, DOMAIN)
    rule_probabilities = [0.0] * DOMAIN.num_actions
    rule_probabilities[DOMAIN.index_for_action("utter_faq_refund_status")] = 1.0
    rule = PolicyPrediction(rule_probabilities, "RulePolicy", 6)
    best = DefaultPolicyPredictionEnsemble().combine_predictions([rule, ours], tracker, DOMAIN)
    assert best.policy_name == "EscalationPolicy"
    assert SlotSet("handoff_reason", "asked_for_human") in best.events
    assert SlotSet("handoff_grade", "B") in best.events


def test_without_handoff_action_in_the_domain_it_stays_silent(policy: EscalationPolicy) -> None:
    domain: Dict[str, Any] = {"intents": ["greet"], "actions": []}
    small = Domain.from_dict(domain)
    tracker = DialogueStateTracker.from_events("t", [ActionExecuted("action_listen"), _user("greet", 0.99)])
    assert policy.predict_action_probabilities(tracker, small).max_confidence == 0.0


def test_listens_after_the_handoff(policy: EscalationPolicy) -> None:
    events: List[Event] = [_user("faq_refund_status", 0.95), ActionExecuted("action_handoff")]
    prediction = policy.predict_action_probabilities(_tracker(events), DOMAIN)
    assert prediction.probabilities[DOMAIN.index_for_action("action_listen")] == 1.0
    assert prediction.optional_events == []
