"""A follow-up's message to the customer on their channel (`POST /api/followups/{id}/message`, issue 20).

The follow-up's ticket is closed, so this is not a ticket reply: it goes out only where the channel takes a
message from the business now, as `FollowUps.contact` decides it (WeChat, WeCom, 微信客服: within the reply window
of `bot.reply_window`, counted from `last_customer_contact`, the customer's latest message, survey answer or
handoff; the web widget and other channels: always). Otherwise the answer is 409 "contact by phone", and nothing
is stored or sent.

The steps, each refusing before anything reaches the customer:
1. the follow-up's owner, anyone when it has none, or a supervisor (403); an open follow-up (409);
2. the channel takes it now (409 `contact by phone`); the banned phrases (`bot.desk.compliance`, 422);
3. stored `pending`, then sent through Rasa like an agent reply (`Delivery.send_followup`) under the delivery key
   `desk-<follow-up>-<message id>`, then `sent` (the text masked) or `failed` (502, or 409 when WeChat itself
   says the window has passed). A failed message is never shown as sent.

Exactly once: a repeat with the same `Idempotency-Key` gets the first answer (`bot.desk.idempotency`); sending
again the text of the follow-up's failed message re-sends that message under its own delivery key, so a send
whose answer was lost (Rasa timed out after the channel took it) is skipped by the channel instead of doubled.
The same holds for a message left `pending` by a desk that stopped mid-send, once older than `stale_after` (its
request is surely over); a younger one with the same text is being sent (two clicks): 409.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

from bot.desk import records, roles
from bot.desk.compliance import LiveCompliance
from bot.desk.delivery import Delivery
from bot.desk.errors import DeskError
from bot.desk.followups import CONTACT_CHANNEL, FollowUps
from bot.desk.records import Agent, FollowUp, FollowUpMessage, FollowUpStatus, MessageStatus, Role
from bot.desk.tickets import validate_text
from bot.handoff.masking import mask

logger = logging.getLogger(__name__)

KIND = "follow-up"  # what the 422 and the QA warning call it (`desk_compliance_flags.kind`: 16 characters)
REASON_PHONE = "contact_by_phone"


class FollowUpMessages:
    """Sends follow-up messages on the customer's channel.

    Args:
        followups: the follow-ups (finding one, how to reach the customer, the JSON form).
        delivery: what goes to the customer through Rasa.
        compliance: the banned-phrase check.
        stale_after: seconds after which a `pending` message counts as abandoned (Rasa's timeout plus a margin,
            as the sweeper's).
    """

    def __init__(
        self, followups: FollowUps, delivery: Delivery, compliance: LiveCompliance, stale_after: float
    ) -> None:
        self.followups = followups
        self.store = followups.store
        self.delivery = delivery
        self.compliance = compliance
        self.stale_after = stale_after

    async def send(self, agent: Agent, code: str, body: Any) -> Dict[str, Any]:
        """Send `{text}` to the customer of follow-up `code`; the follow-up as the API shows it, with the message
        sent as `message` (in `messages` too, where a failed one sent again keeps its place).

        Raises:
            DeskError: 400 bad body; 403 someone else's; 404 unknown; 409 done, the same text being sent, or the
                channel does not take a message now (`reason: contact_by_phone`); 422 a banned phrase; 502 not
                delivered (Rasa or the channel down: the message is kept as failed, never as sent).
        """
        followup = self.followups.find(code)
        text = validate_text(body)
        assert text is not None
        if followup.owner and followup.owner != agent.name and not roles.has_role(agent, Role.SUPERVISOR):
            raise DeskError(403, f"follow-up {followup.code} is {followup.owner}'s")
        if followup.status is not FollowUpStatus.OPEN:
            raise DeskError(409, f"follow-up {followup.code} is done already")
        ticket = self.store.get_ticket(followup.ticket_id)
        contact = self.followups.contact(ticket)
        if ticket is None or contact["by"] != CONTACT_CHANNEL:
            raise DeskError(409, f"contact by phone: {_why_not(contact)}", details={"reason": REASON_PHONE})
        found = self.compliance.check(ticket, agent, text, kind=KIND)
        message = self._stored(followup, agent, text)
        try:
            await self.delivery.send_followup(ticket, followup, message)
        except DeskError:
            self.store.set_followup_message_status(message.id, MessageStatus.FAILED, expect=MessageStatus.PENDING)
            logger.warning("follow-up %s: %s's message %s not delivered", followup.code, agent.name, message.id)
            raise
        now = records.now()
        self.store.set_followup_message_status(
            message.id, MessageStatus.SENT, expect=MessageStatus.PENDING, text=mask(message.text), sent_at=now
        )
        self.compliance.record(ticket, agent, found, None, kind=KIND)
        logger.info("follow-up %s: message %s sent by %s on %s", followup.code, message.id, agent.name, ticket.channel)
        answer = self.followups.followup_json(self.followups.find(code), ticket, now)
        answer["message"] = next(m for m in answer["messages"] if m["id"] == message.id)
        return {**answer, "compliance_warning": found} if found else answer

    def _stored(self, followup: FollowUp, agent: Agent, text: str) -> FollowUpMessage:
        """The message to send: the follow-up's unsent message with this very text (failed, or pending and
        abandoned), taken back to `pending` to go under its delivery key again; else a new `pending` one.

        Raises:
            DeskError: 409 when that message is being sent right now (a second click, another desk).
        """
        now = records.now()
        # no Retry-After: repeated once the first is sent, the same text would go out a second time
        busy = DeskError(409, f"this message of follow-up {followup.code} is being sent already")
        for message in reversed(self.store.followup_messages([followup.id])[followup.id]):
            if message.text != text or message.status is MessageStatus.SENT:
                continue
            if message.status is MessageStatus.PENDING:
                if now - message.at < self.stale_after:
                    raise busy
                # abandoned: pending -> failed -> pending, each conditional: of two takers, one goes on
                if not self.store.set_followup_message_status(
                    message.id, MessageStatus.FAILED, expect=MessageStatus.PENDING
                ):
                    raise busy
            if self.store.set_followup_message_status(message.id, MessageStatus.PENDING, expect=MessageStatus.FAILED):
                return message
            raise busy
        return self.store.add_followup_message(followup, text, agent.name, now)


def _why_not(contact: Dict[str, Optional[str]]) -> str:
    """Why the channel does not take a message now, for the 409."""
    if contact.get("channel") is None:
        return "the follow-up's ticket is gone"
    until = contact.get("channel_open_until")
    if until:
        return f"{contact['channel']} accepts messages only within its reply window, which closed at {until}"
    return f"{contact['channel']} has no message from the customer to reply to"

