"""`action_survey_answer` and `action_survey_comment`: the customer's 1-5 rating after a resolved ticket, and
the optional comment that may follow it (`bot/policies/survey.py` decides which message is the comment).

The desk's resolve posts survey buttons whose payload is `/survey_rating{"rating": N}` and sets the slot
`survey_pending`. Anyone can type that payload at any time; a rating counts only while a survey is pending (one
rating per survey), otherwise the intent is ignored, and the desk takes a rating only for a resolved ticket.
Domain needs: intent `survey_rating`, entity `rating`, slots `ticket_id`, `survey_pending`, `survey_rating`,
`language`. Rule: `data/rules/survey.yml`.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import texts
from bot.handoff.client import DeskClient, DeskError
from bot.handoff.masking import mask

logger = logging.getLogger(__name__)


def parse_rating(value: Any) -> Optional[int]:
    """Return the rating as an int 1-5, or None when `value` is not one ("5", 5, 5.0 are fine)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    if not number.is_integer() or not 1 <= number <= 5:
        return None
    return int(number)


class SurveyAction(Action, metaclass=abc.ABCMeta):
    """Shared by the survey actions: the desk client and recording a rating (with a comment) on a ticket.

    Needs the slots `ticket_id` and `language` in the domain.
    """

    @abc.abstractmethod
    def name(self) -> Text:
        """The action's name in the domain."""

    def client(self) -> DeskClient:
        """The desk client (configured from the environment; tests may override)."""
        return DeskClient()

    async def record(self, tracker: Tracker, rating: int, comment: Optional[str]) -> None:
        """Posts the rating (and comment) to the ticket in `ticket_id`; a desk error is logged, never raised."""
        ticket_id = tracker.get_slot("ticket_id")
        if not ticket_id:
            logger.warning("survey: an answer came for conversation %s without a ticket", tracker.sender_id)
            return
        client = self.client()
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, functools.partial(client.post_survey, ticket_id, rating, comment)
            )
        except DeskError as error:
            logger.error("survey: answer for ticket %s not recorded: %s", ticket_id, error)
            logger.debug("desk error", exc_info=True)


class ActionSurveyAnswer(SurveyAction):
    """Posts the rating to the desk, thanks the customer, invites a comment, and clears `survey_pending`; does
    nothing when no survey is pending."""

    def name(self) -> Text:
        """The action's name in the domain."""
        return "action_survey_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        """Records the rating on the ticket in `ticket_id`; asks again when the rating is not 1-5; ignores a
        rating typed while no survey is pending (and forgets any earlier rating, so no comment follows it)."""
        if not tracker.get_slot("survey_pending"):
            logger.info("survey: a rating without a pending survey was ignored")
            return [SlotSet("survey_rating", None)]
        lang = tracker.get_slot("language")
        rating = parse_rating(next(tracker.get_latest_entity_values("rating"), None))
        if rating is None:
            dispatcher.utter_message(text=texts.survey_invalid(lang))
            return []
        await self.record(tracker, rating, None)
        dispatcher.utter_message(text=texts.survey_thanks(lang, rating))
        dispatcher.utter_message(text=texts.survey_comment_invite(lang))
        return [SlotSet("survey_pending", False), SlotSet("survey_rating", str(rating))]


class ActionSurveyComment(SurveyAction):
    """Records the customer's optional comment after a rating (chosen by `SurveyCommentPolicy`)."""

    def name(self) -> Text:
        """The action's name in the domain."""
        return "action_survey_comment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        """Posts the masked comment with the rating to the desk and thanks the customer."""
        lang = tracker.get_slot("language")
        rating = parse_rating(tracker.get_slot("survey_rating"))
        comment = mask((tracker.latest_message or {}).get("text") or "").strip()
        if rating is not None and comment:
            await self.record(tracker, rating, comment[:4000])
        dispatcher.utter_message(text=texts.survey_comment_thanks(lang))
        return [SlotSet("survey_rating", None)]
