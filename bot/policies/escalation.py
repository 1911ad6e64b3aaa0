"""A Rasa policy that hands the conversation to a human when `bot.escalation.decide` says so.

It predicts `action_handoff` with confidence 1.0 and, when it wins, sets the slots `handoff_reason`,
`handoff_grade` (and `anger`, the latest score, when the domain has that slot). Its priority (7) is above
RulePolicy's (6), so it wins ties at confidence 1.0 against rules; otherwise it predicts nothing (all zeros).

Right after `action_handoff` it predicts `action_listen` (1.0; the action normally pauses the conversation
anyway). It asks `decide` only at a new user message (latest action `action_listen`) or right after an emergency FAQ
answer (latest action `utter_faq_<topic>` of an emergency intent), and never while the conversation is handed
over; `decide` applies the same rules, so the policy stays a thin adapter. Nothing is learned from stories.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot import escalation
from bot.policies.base import StatelessPolicy

logger = logging.getLogger(__name__)

ESCALATION_POLICY_PRIORITY = 7


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class EscalationPolicy(StatelessPolicy):
    """Predicts `action_handoff` with a reason code and urgency grade (see `bot.escalation`)."""

    action_key = "handoff_action"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The policy's default config."""
        return {
            # Above RulePolicy (6): wins ties at confidence 1.0.
            "priority": ESCALATION_POLICY_PRIORITY,
            # Settings file to read `escalation` and `emergency` from; None: `bot.settings.load_settings()`.
            "settings_path": None,
            # The action that hands over to a human.
            "handoff_action": escalation.ACTION_HANDOFF,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Creates the policy."""
        super().__init__(*args, **kwargs)
        self._settings: Optional[Dict[str, Any]] = None

    def settings(self) -> Dict[str, Any]:
        """The settings in use (read on first use, then kept)."""
        if self._settings is None:
            from bot.settings import load_settings

            self._settings = dict(load_settings(self.config.get("settings_path")))
            escalation.escalation_settings(self._settings)  # fail early on bad settings
        return self._settings

    def check(self) -> None:
        """Reads and validates the escalation settings (a mistake stops training)."""
        self.settings()

    def decide(
        self, action: str, tracker: DialogueStateTracker, domain: Domain, probabilities: List[float]
    ) -> PolicyPrediction:
        """Predicts `action_handoff` when `bot.escalation.decide` returns a decision, else nothing."""
        latest = tracker.latest_action_name
        if latest != escalation.ACTION_LISTEN and not (latest or "").startswith(escalation.UTTER_FAQ_PREFIX):
            return self._prediction(probabilities)
        events = [event.as_dict() for event in tracker.events]
        decision = escalation.decide(events, self.settings())
        if decision is None:
            return self._prediction(probabilities)
        logger.info("Escalation: %s (grade %s): %s", decision.reason, decision.grade, decision.detail)
        probabilities[domain.index_for_action(action)] = 1.0
        slots: List[Event] = [
            SlotSet("handoff_reason", decision.reason),
            SlotSet("handoff_grade", decision.grade),
        ]
        if any(slot.name == "anger" for slot in domain.slots):
            score = _latest_anger(tracker)
            if score is not None:
                slots.append(SlotSet("anger", score))
        return self._prediction(
            probabilities,
            optional_events=slots,
            diagnostic_data={"reason": decision.reason, "grade": decision.grade, "detail": decision.detail},
        )


def _latest_anger(tracker: DialogueStateTracker) -> Optional[float]:
    message = tracker.latest_message
    anger = (message.parse_data or {}).get("anger") if message is not None else None
    if isinstance(anger, dict) and isinstance(anger.get("score"), (int, float)):
        return float(anger["score"])
    return None
