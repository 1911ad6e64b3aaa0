"""What reaches the customer through Rasa: the pause on claim, agent replies, the survey or the hand-back
line when a ticket closes, queue-position updates, and follow-up messages (`bot.desk.followup_messages`).

Everything goes through `RasaClient.append_events` (`bot/desk/rasa_client.py`), which posts events to the
conversation's tracker with side effects, so `bot` events are sent on the customer's channel. The texts are in
`bot.texts`.

Exactly once: every agent reply, follow-up message, survey and hand-back line carries `metadata.delivery_key` (`delivery_key`,
`close_key`), the same on every attempt; the output channel skips a key it has already sent. So a reply whose
first attempt reached the customer but not its answer the desk (a timeout, a crash) may be sent again safely:
by the agent's retry, or by the leader's sweep of stale `pending` replies (`bot.desk.sweeper`).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict, List, Optional

from bot import texts
from bot.responses import CLOSING_LINE, response_text
from bot.desk import records
from bot.desk.errors import DeskError
from bot.desk.prometheus import DeskMeters
from bot.desk.rasa_client import RasaClient, RasaUnavailable, channel_error
from bot.desk.records import FollowUp, FollowUpMessage, Message, MessageRole, MessageStatus, Ticket, TicketStatus
from bot.desk.store import Store
from bot.desk.stream import ConsoleFeed
from bot.desk.waiting import WaitingLine
from bot.handoff.masking import mask

logger = logging.getLogger(__name__)

# Resume, then `action_listen`: the paused turn ended on `action_handoff` without listening, and rules such as
# "survey_rating -> action_survey_answer" only match a user turn that follows `action_listen`.
RESUME_EVENTS = ({"event": "resume"}, {"event": "action", "name": "action_listen"})
DELIVERY_KEY = "delivery_key"  # the metadata field of a `bot` event the output channels de-duplicate on


def delivery_key(ticket: Ticket, message: Message) -> str:
    """The delivery key of an agent reply, the same on every attempt: `desk-<ticket code>-<message id>`."""
    return f"desk-{ticket.code}-{message.id}"


def close_key(ticket: Ticket, closed: TicketStatus) -> str:
    """The delivery key of the line that closes a ticket (the survey when resolved, the hand-back line):
    `desk-<ticket code>-resolve` or `desk-<ticket code>-handback`; a ticket closes once."""
    return f"desk-{ticket.code}-{'resolve' if closed is TicketStatus.RESOLVED else 'handback'}"


def closing_key(ticket: Ticket) -> str:
    """The delivery key of the closing line sent before the survey: `desk-<ticket code>-closing`."""
    return f"desk-{ticket.code}-closing"


def followup_key(followup: FollowUp, message: FollowUpMessage) -> str:
    """The delivery key of a follow-up message, the same on every attempt: `desk-<follow-up code>-<message id>`."""
    return f"desk-{followup.code}-{message.id}"


def reply_event(ticket: Ticket, message: Message) -> Dict[str, Any]:
    """The `bot` event of an agent reply, as every attempt sends it."""
    metadata = {"agent": message.author, DELIVERY_KEY: delivery_key(ticket, message)}
    return {"event": "bot", "text": message.text, "metadata": metadata}


class Delivery:
    """Sends to the customer's conversation and records what happened to each agent message.

    Args:
        store: the ticket store (message statuses, first-response stamps, notified positions).
        rasa: the Rasa HTTP API client.
        feed: the console push.
        line: the waiting line (for position updates).
    """

    def __init__(
        self, store: Store, rasa: RasaClient, feed: ConsoleFeed, line: WaitingLine, meters: Optional[DeskMeters] = None
    ) -> None:
        self.store = store
        self.rasa = rasa
        self.feed = feed
        self.line = line
        self.meters = meters or DeskMeters()

    async def pause(self, ticket: Ticket) -> None:
        """Pause the assistant for a claimed ticket's conversation: from now on only the agent answers.

        Off hours the handoff leaves the assistant answering common questions; the claim stops it. Pausing a
        paused conversation changes nothing. When Rasa is unreachable the claim still stands (logged).
        """
        try:
            await self.rasa.append_events(ticket.conversation_id, [{"event": "pause"}], ticket.channel)
        except RasaUnavailable:
            logger.warning("ticket %s claimed, but the assistant could not be paused (Rasa unreachable)", ticket.code)

    async def send_reply(self, ticket: Ticket, message: Message) -> Message:
        """Deliver a stored (pending) agent reply as written, under its delivery key; then mark it sent and keep
        only its masked text, or mark it failed and raise.

        Returns:
            The message as sent (masked text).

        Raises:
            DeskError: 409 when the channel refused it for a reason the agent should know (a `system` line
                says why); 502 when Rasa is unreachable. The message is kept as `failed` for a retry.
        """
        try:
            await self.rasa.append_events(ticket.conversation_id, [reply_event(ticket, message)], ticket.channel)
        except RasaUnavailable as error:
            self.meters.delivery_failed()
            self.store.set_message_status(message.id, MessageStatus.FAILED)
            self.feed.message(ticket.id, dataclasses.replace(message, status=MessageStatus.FAILED))
            known = channel_error(getattr(error, "detail", ""))
            if known:
                self.store.add_message(
                    ticket.id, MessageRole.SYSTEM, f"not delivered: {known}", records.now(), MessageStatus.INTERNAL
                )
                raise DeskError(409, f"the message was not delivered: {known}; it is kept as failed") from error
            raise DeskError(
                502, f"the message was not delivered ({error}); it is kept as failed: retry it"
            ) from error
        shown = mask(message.text)
        self.store.set_message_status(message.id, MessageStatus.SENT, text=shown if shown != message.text else None)
        sent = dataclasses.replace(message, status=MessageStatus.SENT, text=shown)
        if self.store.stamp_first_response(ticket.id, records.now()):
            self.feed.ticket(ticket.id)
        self.feed.message(ticket.id, sent)
        return sent

    async def send_followup(self, ticket: Ticket, followup: FollowUp, message: FollowUpMessage) -> None:
        """Deliver a follow-up message on the ticket's channel under its delivery key (`followup_key`).

        The caller records the outcome (`bot.desk.followup_messages`): only a delivery that returns is sent.

        Raises:
            DeskError: 409 when the channel refused it for a reason the agent should know (WeChat's window has
                passed: contact by phone); 502 when Rasa is unreachable or refused it.
        """
        metadata = {"agent": message.author, "followup": followup.code, DELIVERY_KEY: followup_key(followup, message)}
        event = {"event": "bot", "text": message.text, "metadata": metadata}
        try:
            await self.rasa.append_events(ticket.conversation_id, [event], ticket.channel)
        except RasaUnavailable as error:
            self.meters.delivery_failed()
            known = channel_error(getattr(error, "detail", ""))
            if known:
                raise DeskError(409, f"contact by phone: not delivered: {known}",
                                details={"reason": "contact_by_phone"}) from error
            raise DeskError(502, f"the message was not delivered ({error}); nothing was sent: send it again",
                            details={"reason": "not_delivered"}) from error

    def survey_events(self, ticket: Ticket) -> List[Dict[str, Any]]:
        """The events that close a ticket by resolving it: the closing line naming the other ways to reach the
        service (response `utter_closing_line` of `domain.yml`, left out when the domain lacks it), the survey,
        its slots, resume and action_listen."""
        language = ticket.language
        buttons = [
            {"title": title, "payload": '/survey_rating{"rating": %d}' % n} for n, title in texts.survey_buttons(language)
        ]
        closing = response_text(CLOSING_LINE, language)
        line = [{"event": "bot", "text": closing, "metadata": {DELIVERY_KEY: closing_key(ticket)}}] if closing else []
        return [
            *line,
            {"event": "bot", "text": texts.survey_prompt(language), "data": {"buttons": buttons},
             "metadata": {"survey": True, DELIVERY_KEY: close_key(ticket, TicketStatus.RESOLVED)}},
            {"event": "slot", "name": "survey_pending", "value": True},
            {"event": "slot", "name": "ticket_id", "value": ticket.code},
            *RESUME_EVENTS,
        ]

    def handback_events(self, ticket: Ticket, agent: str) -> List[Dict[str, Any]]:
        """The events that give the conversation back without resolving: a short message, resume, listen."""
        metadata = {"agent": agent, DELIVERY_KEY: close_key(ticket, TicketStatus.HANDED_BACK)}
        return [
            {"event": "bot", "text": texts.handback(ticket.language), "metadata": metadata},
            *RESUME_EVENTS,
        ]

    async def give_back(self, ticket: Ticket, events: List[Dict[str, Any]]) -> None:
        """Post the closing events (survey or hand-back line, then resume).

        Raises:
            DeskError: 502 when Rasa did not take them (the ticket must stay open).
        """
        try:
            await self.rasa.append_events(ticket.conversation_id, events, ticket.channel)
        except RasaUnavailable as error:
            raise DeskError(502, f"Rasa did not take the conversation back ({error}); the ticket stays open") from error

    async def notify_positions(self, min_gain: int = 3) -> int:
        """Tell waiting customers their new place when it improved a lot (by `min_gain`, or halved).

        One round reads the queue and the agents once (`WaitingLine.round`), whatever the number of tickets.

        Returns:
            How many customers were told.
        """
        now = records.now()
        rows = self.store.queued_tickets()
        shared = self.line.round(now, self.line.queued(rows))  # one ranking, the agents' load read once
        told = 0
        for ticket in rows:
            standing = self.line.standing(ticket, now, shared=shared)
            place, wait, last = standing.position, standing.expected_wait_seconds, ticket.notified_position
            if place is None or last is None or not standing.open_now or wait is None:
                continue
            if last - place >= min_gain or (place <= last // 2 and last - place >= 1):
                text = texts.queue_position(ticket.language, place, wait)
                try:
                    await self.rasa.append_events(
                        ticket.conversation_id, [{"event": "bot", "text": text, "metadata": {"queue": place}}],
                        ticket.channel,
                    )
                except RasaUnavailable:
                    continue
                self.store.set_notified_position(ticket.id, place)
                told += 1
        return told
