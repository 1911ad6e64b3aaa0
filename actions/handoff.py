"""`action_handoff`: hand the conversation to a human agent (logic in `bot/handoff/`).

Domain needs: slots `handoff_reason`, `handoff_grade`, `language`, `customer_id`, `customer_tier`, `ticket_id`.
The escalation policy predicts this action after setting the reason and grade; the rule in
`data/rules/handoff.yml` runs it when the customer simply asks for a human. See `docs/handoff.md`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import clock
from bot.handoff import context, messages
from bot.handoff.client import DeskClient, DeskError

logger = logging.getLogger(__name__)

EMERGENCY = "emergency"
ANGER = "anger"


def _settings() -> Dict[str, Any]:
    from bot.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError:
        logger.error("handoff: cannot read the settings; using defaults")
        logger.debug("settings error", exc_info=True)
        return {}


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(function, *args))


def apology(lang: Optional[str], topic: Optional[str]) -> str:
    """The apology for an angry customer: `bot.escalation.apology` when it exists, else our own."""
    try:
        from bot.escalation import apology as escalation_apology
    except ImportError:
        return messages.apology_fallback(lang, topic)
    try:
        text = escalation_apology(lang, topic)
    except Exception:  # noqa: BLE001 - another area's text must never break the handoff
        logger.error("handoff: bot.escalation.apology failed; using the fallback apology")
        logger.debug("apology error", exc_info=True)
        return messages.apology_fallback(lang, topic)
    return messages.localise(lang, text, text) if text else messages.apology_fallback(lang, topic)


def emergency_reply(lang: Optional[str], settings: Dict[str, Any]) -> str:
    """The emergency contact: `bot.calendar.messages.emergency_reply` when it exists, else from the settings."""
    try:
        from bot.calendar.messages import emergency_reply as calendar_emergency_reply
    except ImportError:
        return messages.emergency_fallback(lang, settings.get("emergency") or {})
    try:
        return calendar_emergency_reply(lang)
    except Exception:  # noqa: BLE001
        logger.error("handoff: bot.calendar.messages.emergency_reply failed; using the settings contact")
        logger.debug("emergency reply error", exc_info=True)
        return messages.emergency_fallback(lang, settings.get("emergency") or {})


def offhours_reply(
    lang: Optional[str], at: dt.datetime, ticket: Dict[str, Any], settings: Dict[str, Any]
) -> str:
    """The off-hours reply with the ticket number: `bot.calendar.messages.offhours_reply` when it exists."""
    due = ticket.get("due") or {}
    first_response = messages.parse_time(due.get("first_response"))
    timezone = (settings.get("calendar") or {}).get("timezone") or messages.DEFAULT_TIMEZONE
    fallback = functools.partial(
        messages.offhours_fallback, lang, ticket["id"], messages.parse_time(ticket.get("next_opening")),
        first_response, timezone,
    )
    try:
        from bot.calendar.messages import offhours_reply as calendar_offhours_reply
    except ImportError:
        return fallback()
    try:
        return calendar_offhours_reply(lang, at, ticket_id=ticket["id"], first_response=first_response)
    except Exception:  # noqa: BLE001
        logger.error("handoff: bot.calendar.messages.offhours_reply failed; using the fallback reply")
        logger.debug("off-hours reply error", exc_info=True)
        return fallback()


def customer_replies(
    reason: str, lang: Optional[str], topic: Optional[str], ticket: Dict[str, Any], at: dt.datetime,
    settings: Dict[str, Any],
) -> List[str]:
    """What the customer is told once the ticket exists, in order.

    Anger: an apology first. Emergency: the emergency contact first (any hour). Then, open now: the place in
    the queue and the expected wait, or, when no agent who could serve it is online (`agents_online` 0), that
    nobody is online yet; closed: the off-hours reply with the ticket number.
    """
    replies = []
    if reason == ANGER:
        replies.append(apology(lang, topic))
    if reason == EMERGENCY:
        replies.append(emergency_reply(lang, settings))
    if ticket.get("open_now", True) and ticket.get("agents_online", 1) == 0:
        replies.append(messages.nobody_online_reply(lang, ticket["id"]))
    elif ticket.get("open_now", True):
        replies.append(messages.queue_reply(lang, ticket.get("position") or 1, ticket.get("expected_wait_seconds")))
    else:
        replies.append(offhours_reply(lang, at, ticket, settings))
    return replies


class ActionHandoff(Action):
    """Opens a desk ticket with the context packet, tells the customer where they stand, pauses the bot."""

    def name(self) -> Text:
        """The action's name in the domain."""
        return "action_handoff"

    def client(self) -> DeskClient:
        """The desk client (configured from the environment; tests may override)."""
        return DeskClient()

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        """Creates the ticket; returns SlotSet(ticket_id) + ConversationPaused (no pause off hours), or nothing if the desk is down."""
        settings = _settings()
        at = clock.now()
        grades = (settings.get("escalation") or {}).get("grades") or {}
        reason, grade = context.resolve_reason_and_grade(
            tracker.get_slot("handoff_reason"), tracker.get_slot("handoff_grade"), grades
        )
        customer = context.customer_from_tracker(tracker)
        lang = customer["language"]
        client = self.client()

        earlier: List[Dict[str, Any]] = []
        if customer["id"]:
            try:
                earlier = await _in_thread(client.earlier_tickets, customer["id"])
            except DeskError as error:
                logger.warning("handoff: cannot list earlier tickets: %s", error)

        packet = context.build_packet(
            tracker, reason=reason, grade=grade, created_at=at, earlier_tickets=earlier, grades=grades
        )
        try:
            ticket = await _in_thread(client.create_ticket, packet)
        except DeskError as error:
            logger.error("handoff: no ticket for conversation %s: %s", tracker.sender_id, error)
            logger.debug("desk error", exc_info=True)
            if reason == EMERGENCY:
                dispatcher.utter_message(text=emergency_reply(lang, settings))
            dispatcher.utter_message(text=messages.desk_down_reply(lang, settings.get("emergency") or {}))
            return []

        logger.info(
            "handoff: conversation %s -> ticket %s (reason %s, grade %s, position %s)",
            tracker.sender_id, ticket["id"], reason, grade, ticket.get("position"),
        )
        for text in customer_replies(reason, lang, packet["topic"], ticket, at, settings):
            dispatcher.utter_message(text=text)
        if not ticket.get("open_now", True) and reason != EMERGENCY:
            # Off hours the message is left for the morning and the assistant keeps answering common questions
            # (as the off-hours reply says); everything the customer writes still reaches the ticket, and the
            # desk pauses the assistant when an agent claims it.
            return [SlotSet("ticket_id", ticket["id"])]
        return [SlotSet("ticket_id", ticket["id"]), ConversationPaused()]
