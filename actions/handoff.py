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

from bot import clock, conversations, texts
from bot.calendar.messages import emergency_contact, emergency_reply, offhours_reply
from bot.escalation import apology
from bot.handoff import context
from bot.handoff.client import DeskClient, DeskError, parse_time
from bot.i18n import to_traditional
from bot.reply_window import WindowRule
from bot.settings import SettingsError, load_settings

logger = logging.getLogger(__name__)

EMERGENCY = "emergency"
ANGER = "anger"


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(function, *args))


def line_just_said(tracker: Tracker, contact: str) -> bool:
    """True when a bot message since the customer's latest message already named the emergency contact (the
    answer of `faq_emergency`, the visible emergency entry, does): the line is then not said twice in a row."""
    wanted = {contact, to_traditional(contact)}
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            return False
        text = event.get("text") if event.get("event") == "bot" else None
        if isinstance(text, str) and any(line in text for line in wanted):
            return True
    return False


def customer_replies(
    reason: str, lang: Optional[str], topic: Optional[str], ticket: Dict[str, Any], at: dt.datetime,
    settings: Dict[str, Any], channel: Optional[str] = None, line_said: bool = False,
) -> List[str]:
    """What the customer is told once the ticket exists, in order.

    Anger: an apology first. Emergency: the emergency contact first (any hour), unless `line_said` (the answer
    just before named it). Then, open now: the place in
    the queue and the expected wait, or, when no agent who could serve it is online (`agents_online` 0), that
    nobody is online yet; closed: the off-hours reply with the ticket number, which on a channel with a reply
    window (WeChat) also says when the window closes before the agents are back (`bot.reply_window`).

    Raises:
        SettingsError: the emergency contact is missing (an emergency) or the calendar's settings are wrong.
    """
    replies = []
    if reason == ANGER:
        replies.append(apology(lang, topic))
    if reason == EMERGENCY and not line_said:
        replies.append(emergency_reply(lang, settings))
    if ticket.get("open_now", True) and ticket.get("agents_online", 1) == 0:
        replies.append(texts.nobody_online(lang, ticket["id"]))
    elif ticket.get("open_now", True):
        replies.append(texts.queue_joined(lang, ticket.get("position") or 1, ticket.get("expected_wait_seconds")))
    else:
        first_response = parse_time((ticket.get("due") or {}).get("first_response"))
        rule = WindowRule.from_settings(settings)
        window = rule if rule.applies(channel) else None
        replies.append(offhours_reply(lang, at, ticket_id=ticket["id"], first_response=first_response, reply_window=window))
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
        """Creates the ticket; returns SlotSet(ticket_id) + ConversationPaused (no pause off hours), or nothing if the desk is down.

        A settings error (caught at start-up by `python -m bot run`, but the action server may run on its own) is
        this action's boundary: the customer is still told that no agent can be reached, never left in silence.
        """
        try:
            return await self._hand_off(dispatcher, tracker)
        except SettingsError as error:
            logger.error("handoff: the settings are wrong (%s); telling the customer no agent can be reached", error)
            dispatcher.utter_message(text=texts.desk_down(context.customer_from_tracker(tracker)["language"]))
            return []

    async def _hand_off(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
        settings = load_settings()
        at = clock.now()
        grades = (settings.get("escalation") or {}).get("grades") or {}
        reason, grade = context.resolve_reason_and_grade(
            tracker.get_slot("handoff_reason"), tracker.get_slot("handoff_grade"), grades
        )
        customer = context.customer_from_tracker(tracker)
        lang = customer["language"]
        # the emergency line is read before any ticket exists: a missing contact stops here, not half way
        emergency_line = emergency_reply(lang, settings) if reason == EMERGENCY else None
        line_said = bool(emergency_line) and line_just_said(tracker, emergency_contact(lang or "zh", settings))
        if line_said:
            emergency_line = None
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
            if emergency_line:
                dispatcher.utter_message(text=emergency_line)
            contacts = settings.get("emergency") or {}
            dispatcher.utter_message(text=texts.desk_down(lang, contacts.get("contact_zh"), contacts.get("contact_en")))
            return []

        logger.info(
            "handoff: conversation %s -> ticket %s (reason %s, grade %s, position %s)",
            tracker.sender_id, ticket["id"], reason, grade, ticket.get("position"),
        )
        channel = conversations.channel_of(tracker.sender_id)
        for text in customer_replies(reason, lang, packet["topic"], ticket, at, settings, channel, line_said):
            dispatcher.utter_message(text=text)
        if not ticket.get("open_now", True) and reason != EMERGENCY:
            # Off hours the message is left for the morning and the assistant keeps answering common questions
            # (as the off-hours reply says); everything the customer writes still reaches the ticket, and the
            # desk pauses the assistant when an agent claims it.
            return [SlotSet("ticket_id", ticket["id"])]
        return [SlotSet("ticket_id", ticket["id"]), ConversationPaused()]
