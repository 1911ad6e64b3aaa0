"""`action_survey_answer` and `action_survey_comment`: the customer's 1-5 rating after a resolved ticket, and
the optional comment that may follow it (`bot/policies/survey.py` decides which message is the comment).

The desk's resolve posts survey buttons whose payload is `/survey_rating{"rating": N}` and sets the slot
`survey_pending`. Anyone can type that payload at any time; a rating counts only while a survey is pending (one
rating per survey), otherwise the intent is ignored, and the desk takes a rating only for a resolved ticket.
Domain needs: intent `survey_rating`, entity `rating`, slots `ticket_id`, `survey_pending`, `survey_rating`,
`language`. Rule: `data/rules/survey.yml`.

A rating typed as text ("5", "5 非常满意": the text channels show the buttons as numbered lines) counts too
(`SurveyAnswerPolicy` picks the action; the number is read here). With `survey.nps` on (settings.yml), the rating
is followed by the recommendation question (0–10, `action_nps_answer`; intent `survey_nps`, entity `nps_score`,
slots `nps_pending`, `nps_misses`): a bad answer is asked once more, a second one ends the survey politely.
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

from bot import survey, texts
from bot.handoff.client import DeskClient, DeskError
from bot.handoff.masking import mask
from bot.settings import SettingsError

logger = logging.getLogger(__name__)


NPS_QUESTION_MISSES = 1  # bad answers asked again; the next one ends the survey


def parse_rating(value: Any) -> Optional[int]:
    """Return the rating as an int 1-5, or None when `value` is not one ("5", 5, 5.0 are fine)."""
    return survey.in_range(value, survey.RATING_RANGE)


def typed_answer(tracker: Tracker, entity: str) -> Any:
    """The survey answer of the latest message: the button's entity, else the number the text starts with."""
    value = next(tracker.get_latest_entity_values(entity), None)
    if value is not None:
        return value
    text = (tracker.latest_message or {}).get("text") or ""
    return None if text.startswith("/") else survey.leading_number(text)


def nps_on() -> bool:
    """`survey.nps` of settings.yml; a wrong value (start-up refuses it, but the action server may run on its own)
    is logged and taken as off: the rating is never lost to a setting."""
    try:
        return survey.nps_enabled()
    except SettingsError as error:
        logger.error("survey: the recommendation question is off: %s", error)
        return False


def nps_question(dispatcher: CollectingDispatcher, lang: Optional[str]) -> None:
    """Ask the recommendation question with its 0–10 buttons (payload `/survey_nps{"nps_score": N}`)."""
    buttons = [{"title": title, "payload": '/survey_nps{"nps_score": %d}' % n} for n, title in texts.nps_buttons(lang)]
    dispatcher.utter_message(text=texts.nps_prompt(lang), buttons=buttons)


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

    async def record(self, tracker: Tracker, rating: int, comment: Optional[str], nps: Optional[int] = None) -> None:
        """Posts the rating (and comment, or recommendation score) to the ticket in `ticket_id`; a desk error is
        logged, never raised."""
        ticket_id = tracker.get_slot("ticket_id")
        if not ticket_id:
            logger.warning("survey: an answer came for conversation %s without a ticket", tracker.sender_id)
            return
        client = self.client()
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, functools.partial(client.post_survey, ticket_id, rating, comment, nps)
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
        rating = parse_rating(typed_answer(tracker, "rating"))
        if rating is None:
            dispatcher.utter_message(text=texts.survey_invalid(lang))
            return []
        await self.record(tracker, rating, None)
        dispatcher.utter_message(text=texts.survey_thanks(lang, rating))
        events = [SlotSet("survey_pending", False), SlotSet("survey_rating", str(rating))]
        if nps_on():
            nps_question(dispatcher, lang)
            return events + [SlotSet("nps_pending", True), SlotSet("nps_misses", 0.0)]
        dispatcher.utter_message(text=texts.survey_comment_invite(lang))
        return events


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


class ActionNpsAnswer(SurveyAction):
    """Records the recommendation answer (0–10) with the rating, thanks the customer and invites a comment; a bad
    answer ("11", "ten", nothing) is asked once more, a second ends the survey politely. Never hands off."""

    def name(self) -> Text:
        """The action's name in the domain."""
        return "action_nps_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        """Records the answer on the ticket in `ticket_id`; ignored while no question is pending."""
        if not tracker.get_slot("nps_pending"):
            logger.info("survey: a recommendation answer without a pending question was ignored")
            return []
        lang = tracker.get_slot("language")
        score = survey.in_range(typed_answer(tracker, "nps_score"), survey.NPS_RANGE)
        rating = parse_rating(tracker.get_slot("survey_rating"))
        if score is None:
            misses = int(tracker.get_slot("nps_misses") or 0)
            if misses < NPS_QUESTION_MISSES:
                dispatcher.utter_message(text=texts.nps_invalid(lang))
                nps_question(dispatcher, lang)
                return [SlotSet("nps_misses", float(misses + 1))]
            dispatcher.utter_message(text=texts.nps_given_up(lang))
            return [SlotSet("nps_pending", False), SlotSet("nps_misses", None), SlotSet("survey_rating", None)]
        if rating is not None:
            await self.record(tracker, rating, None, score)
        dispatcher.utter_message(text=texts.nps_thanks(lang))
        dispatcher.utter_message(text=texts.survey_comment_invite(lang))
        return [SlotSet("nps_pending", False), SlotSet("nps_misses", None)]
