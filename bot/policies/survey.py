"""Rasa policies for the survey's typed answers: the rating typed as a number, the recommendation (NPS) answer,
and the customer's first free-text message after the survey as its comment.

`SurveyAnswerPolicy`: while a survey is pending, a message that starts with a number ("5", "5 非常满意": text
channels show the buttons as lines) is the rating (`action_survey_answer` reads the number). `SurveyNpsPolicy`:
the message right after the recommendation question (`nps_pending`, settings.yml `survey.nps`) is its answer,
whatever it says (the action asks once more, then ends politely), unless it asks for a human; so a bad answer
never counts as "not understood" towards a handoff. `SurveyCommentPolicy`, below:

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
from bot.survey import leading_number

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
            # The actions that thanked for the rating (or the recommendation answer) and invited a comment.
            "after_actions": ["action_survey_answer", "action_nps_answer"],
            # While this slot is set the recommendation question waits for its answer: no comment yet.
            "nps_pending_slot": "nps_pending",
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
        if tracker.latest_action_name != ACTION_LISTEN_NAME or previous_action(tracker) not in self.config["after_actions"]:
            return self._prediction(probabilities)
        if not tracker.get_slot(self.config["rating_slot"]):  # the rating was ignored: no survey was pending
            return self._prediction(probabilities)
        if tracker.get_slot(self.config["nps_pending_slot"]):  # the recommendation question comes first
            return self._prediction(probabilities)
        if is_comment(tracker.latest_message, self.config["answerable_confidence"], self.config["keep_intents"]):
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)


def _typed(message: Optional[UserUttered]) -> Optional[str]:
    """The text of a typed message (None for a button payload `/intent{...}` or an empty message)."""
    if message is None or message.text is None or message.text.startswith("/"):
        return None
    return message.text


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class SurveyAnswerPolicy(StatelessPolicy):
    """Predicts `action_survey_answer` for a typed message starting with a number while a survey is pending."""

    action_key = "answer_action"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The policy's default config."""
        return {
            # Above RulePolicy (6) and EscalationPolicy (7): "1 太差了" is a rating, recorded as one.
            "priority": 8,
            # The action that records the rating (it reads the number from the text).
            "answer_action": "action_survey_answer",
            # The slot the desk sets when it sends the survey.
            "pending_slot": "survey_pending",
        }

    def decide(
        self, action: str, tracker: DialogueStateTracker, domain: Domain, probabilities: List[float]
    ) -> PolicyPrediction:
        """Predicts the rating action for "5" or "5 非常满意" while the survey is pending; otherwise nothing."""
        if tracker.latest_action_name != ACTION_LISTEN_NAME or not tracker.get_slot(self.config["pending_slot"]):
            return self._prediction(probabilities)
        if leading_number(_typed(tracker.latest_message)) is not None:
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class SurveyNpsPolicy(StatelessPolicy):
    """Predicts `action_nps_answer` for the message right after the recommendation question (or its repetition)."""

    action_key = "answer_action"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The policy's default config."""
        return {
            # Above RulePolicy (6) and EscalationPolicy (7): a bad answer is asked again, never "not understood".
            "priority": 8,
            # The action that records the answer, asks once more or ends the survey.
            "answer_action": "action_nps_answer",
            # The actions that ask the question: after the rating, and again after a bad answer.
            "after_actions": ["action_survey_answer", "action_nps_answer"],
            # The slot set while the question waits for its answer.
            "pending_slot": "nps_pending",
            # Intents that are never an answer: the assistant handles them as usual.
            "keep_intents": ["request_human"],
            # A message classified as an FAQ topic at least this confidently is a question, not an answer.
            "answerable_confidence": 0.6,
        }

    def decide(
        self, action: str, tracker: DialogueStateTracker, domain: Domain, probabilities: List[float]
    ) -> PolicyPrediction:
        """Predicts the answer action for the message right after the question; otherwise nothing."""
        if tracker.latest_action_name != ACTION_LISTEN_NAME or not tracker.get_slot(self.config["pending_slot"]):
            return self._prediction(probabilities)
        if previous_action(tracker) not in self.config["after_actions"]:
            return self._prediction(probabilities)
        message = tracker.latest_message
        intent = (message.intent or {}).get("name") if message is not None else None
        if message is None or intent in self.config["keep_intents"]:
            return self._prediction(probabilities)
        confidence = float((message.intent or {}).get("confidence") or 0.0)
        question = (intent or "").startswith("faq_") and confidence >= self.config["answerable_confidence"]
        if question and leading_number(_typed(message)) is None:
            return self._prediction(probabilities)  # a question: answered; the buttons still count later
        if message.text and message.text.startswith("/") and intent != "survey_nps":
            return self._prediction(probabilities)  # another button: the assistant handles it
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)
