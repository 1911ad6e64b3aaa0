"""Actions about opening hours: the greeting (with the off-hours note) and the answer to "what are your hours".

Thin classes: the texts come from `bot.calendar.messages`, the time from `bot.clock.now()`.
Domain needs: slot `language`; intents `greet`, `faq_service_hours`; actions `action_greet`,
`action_service_hours`.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import clock
from bot.calendar import messages
from bot.language import LANGUAGES, detect

logger = logging.getLogger(__name__)

_HOURS_UNAVAILABLE = {
    "zh": "抱歉，暂时无法查询服务时间，请稍后再试。",
    "zh_hant": "抱歉，暫時無法查詢服務時間，請稍後再試。",
    "en": "Sorry, I cannot look up our opening hours right now. Please try again later.",
}
_PLAIN_GREETING = {
    "zh": "您好！我是智能客服，有什么可以帮您？",
    "zh_hant": "您好！我是智能客服，有什麼可以幫您？",
    "en": "Hi! I'm the virtual assistant. How can I help you?",
}


def customer_language(tracker: Tracker) -> str:
    """The conversation's language: the `language` slot, else detected from the latest message, else "zh"."""
    slot = tracker.get_slot("language")
    if slot in LANGUAGES:
        return str(slot)
    text = (tracker.latest_message or {}).get("text") or ""
    return detect(text) or "zh"


class ActionServiceHours(Action):
    """Answer "what are your hours" from the business calendar, holidays included."""

    def name(self) -> Text:
        """Name of the action."""
        return "action_service_hours"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        """Utter `hours_answer` in the customer's language."""
        lang = customer_language(tracker)
        try:
            text = messages.hours_answer(lang, clock.now())
        except Exception as error:
            logger.error("action_service_hours: cannot build the hours answer: %s", error)
            logger.debug("hours answer failed", exc_info=True)
            text = _HOURS_UNAVAILABLE[lang]
        dispatcher.utter_message(text=text)
        return []


class ActionGreet(Action):
    """Greet in the customer's language; off hours, add when agents are back and that FAQ still work."""

    def name(self) -> Text:
        """Name of the action."""
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        """Utter `greeting` in the customer's language."""
        lang = customer_language(tracker)
        try:
            text = messages.greeting(lang, clock.now())
        except Exception as error:
            logger.error("action_greet: cannot read the business calendar: %s", error)
            logger.debug("greeting failed", exc_info=True)
            text = _PLAIN_GREETING[lang]
        dispatcher.utter_message(text=text)
        return []
