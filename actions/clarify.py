"""`action_clarify`: the answer to a message the classifier is unsure about (logic in `bot/clarify.py`)."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import clarify
from bot.faq import load_catalog
from bot.i18n import EN

logger = logging.getLogger(__name__)


class ActionClarify(Action):
    """Offers the best two guesses as buttons; on a second miss in a row, offers a human agent."""

    def name(self) -> Text:
        """The action's name in the domain."""
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        """Utters the clarifying question; sets nothing."""
        language = tracker.get_slot("language")
        ranking = tracker.latest_message.get("intent_ranking") or []
        if clarify.top_is_out_of_scope(ranking):
            dispatcher.utter_message(response="utter_out_of_scope")
            return []
        if clarify.consecutive_misses(tracker.events) >= 2:
            dispatcher.utter_message(**clarify.offer_human_message(language))
            return []
        catalog = load_catalog()
        guesses = clarify.best_guesses(ranking, list(catalog))
        titles = [
            (intent, catalog[intent].canonical_en if language == EN else catalog[intent].canonical_zh)
            for intent in guesses
        ]
        dispatcher.utter_message(**clarify.clarify_message(language, titles))
        return []
