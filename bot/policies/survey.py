"""A Rasa policy that takes the customer's first free-text message after a survey rating as its comment.

After `action_survey_answer` thanks the customer and invites an optional comment, the next message is the
comment (`action_survey_comment` records it on the ticket) unless it is a confident question the assistant can
answer, a button click, or a request for a human: then the assistant simply carries on. Only that one message
right after the rating is considered, so nothing is swallowed later; and only after a rating that counted
(slot `survey_rating` set: `action_survey_answer` ignores a rating typed while no survey is pending, and then
no comment is invited).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies.base import StatelessPolicy

logger = logging.getLogger(__name__)


def previous_action(tracker: DialogueStateTracker) -> Optional[str]:
    """The last action before the latest `action_listen` (None when there is none)."""
    seen_listen = False
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted):
            if not seen_listen and event.action_name == ACTION_LISTEN_NAME:
                seen_listen = True
                continue
            if seen_listen:
                return event.action_name
    return None


def is_comment(message: Optional[UserUttered], answerable_confidence: float, keep_intents: List[str]) -> bool:
    """True when the message reads as a free comment rather than something the assistant should handle."""
    if message is None or not message.text or message.text.startswith("/"):
        return False
    intent = message.intent or {}
    name, confidence = intent.get("name"), float(intent.get("confidence") or 0.0)
    if name in keep_intents:
        return False
    if name and name.startswith("faq_") and confidence >= answerable_confidence:
        return False
    return True


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class SurveyCommentPolicy(StatelessPolicy):
    """Predicts `action_survey_comment` for the free-text message right after a survey rating."""

    action_key = "comment_action"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The policy's default config."""
        return {
            # Above RulePolicy (6) and EscalationPolicy (7): the comment is recorded first.
            "priority": 8,
            # The action that thanked for the rating and invited a comment.
            "after_action": "action_survey_answer",
            # The action that records the comment.
            "comment_action": "action_survey_comment",
            # The slot the rating action sets when a rating counted (a comment follows only such a rating).
            "rating_slot": "survey_rating",
            # A message classified as an FAQ topic at least this confidently is a question, not a comment.
            "answerable_confidence": 0.6,
            # Intents that are never a comment.
            "keep_intents": ["request_human", "survey_rating", "greet"],
        }

    def decide(
        self, action: str, tracker: DialogueStateTracker, domain: Domain, probabilities: List[float]
    ) -> PolicyPrediction:
        """Predicts the comment action for the message right after a survey rating; otherwise nothing."""
        if tracker.latest_action_name != ACTION_LISTEN_NAME or previous_action(tracker) != self.config["after_action"]:
            return self._prediction(probabilities)
        if not tracker.get_slot(self.config["rating_slot"]):  # the rating was ignored: no survey was pending
            return self._prediction(probabilities)
        if is_comment(tracker.latest_message, self.config["answerable_confidence"], self.config["keep_intents"]):
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)
