"""Actions about opening hours: the greeting (with the off-hours note) and the answer to "what are your hours".

Thin classes: the texts come from `bot.calendar.messages` (sentences in `bot.texts`), the time from `bot.clock.now()`.
Domain needs: slot `language`; intents `greet`, `faq_service_hours`, `faq_emergency` (the payload of the greeting's
emergency button, `settings.yml: emergency.entry_payload`); actions `action_greet`, `action_service_hours`.
"""

from __future__ import annotations

import abc

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import clock, emergency_entry, texts
from bot.calendar import messages
from bot.i18n import LANGUAGES, ZH
from bot.language import detect

logger = logging.getLogger(__name__)


def customer_language(tracker: Tracker) -> str:
    """The conversation's language: the `language` slot, else detected from the latest message, else "zh"."""
    slot = tracker.get_slot("language")
    if slot in LANGUAGES:
        return str(slot)
    text = (tracker.latest_message or {}).get("text") or ""
    return detect(text) or ZH


class CalendarTextAction(Action, metaclass=abc.ABCMeta):
    """Utters one text built from the business calendar in the customer's language.

    Subclasses name the action and build the text; when the calendar or the settings are broken, the customer
    gets the subclass's plain `fallback` text instead and the error is logged. Needs the `language` slot.
    """

    @abc.abstractmethod
    def name(self) -> Text:
        """Name of the action."""

    @abc.abstractmethod
    def text(self, lang: str, at: Any) -> str:
        """The text for `lang` at the moment `at`."""

    @abc.abstractmethod
    def fallback(self, lang: str) -> str:
        """The plain text for `lang` when the calendar cannot be read."""

    def buttons(self, lang: str) -> List[Dict[Text, Any]]:
        """Quick replies sent with the text (rasa-webchat shows them as buttons, WeChat as numbered lines)."""
        return []

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        """Utter the text in the customer's language."""
        lang = customer_language(tracker)
        try:
            text = self.text(lang, clock.now())
        except Exception as error:  # boundary (action): the customer gets the fallback text, whatever failed
            logger.error("%s: cannot build its text from the business calendar: %s", self.name(), error)
            logger.debug("calendar text failed", exc_info=True)
            text = self.fallback(lang)
        dispatcher.utter_message(text=text, buttons=self.buttons(lang))
        return []


class ActionServiceHours(CalendarTextAction):
    """Answer "what are your hours" from the business calendar, holidays included."""

    def name(self) -> Text:
        """Name of the action."""
        return "action_service_hours"

    def fallback(self, lang: str) -> str:
        """Sorry, the hours cannot be looked up now."""
        return texts.hours_unavailable(lang)

    def text(self, lang: str, at: Any) -> str:
        """The weekly hours, holiday closures and whether we are open now."""
        return messages.hours_answer(lang, at)


class ActionGreet(CalendarTextAction):
    """Greet in the customer's language; off hours, add when agents are back and that FAQ still work. The greeting
    carries the visible emergency entry: a button "紧急情况请点击此处" leading to the 24/7 lane, at any hour."""

    def name(self) -> Text:
        """Name of the action."""
        return "action_greet"

    def fallback(self, lang: str) -> str:
        """The greeting without the off-hours note."""
        return texts.greeting(lang)

    def text(self, lang: str, at: Any) -> str:
        """The greeting, with the off-hours note when closed."""
        return messages.greeting(lang, at)

    def buttons(self, lang: str) -> List[Dict[Text, Any]]:
        """The emergency button; none (logged) when `settings.yml: emergency` is broken."""
        try:
            return [emergency_entry.button(lang)]
        except Exception as error:  # boundary (action): the greeting goes out without the button, whatever failed
            logger.error("action_greet: no emergency button: %s", error)
            logger.debug("emergency button failed", exc_info=True)
            return []
