"""One inbound mail, start to end: read it, thread it, give it to the assistant as a channel message, and answer
the way mail is answered.

The mail's subject and body are one user message of the conversation `email:<thread>`, so the same NLU, anger
detector, escalation policy, handoff, calendar and desk apply as on the other channels. What the assistant says
in that turn is collected, not sent; then `decide` picks what the customer gets by mail:
- the turn handed the mail over (anger, an emergency topic, a request for a person), or its subject carries an
  urgent word ("紧急", "urgent", "emergency": the 24/7 lane, grade A), or nothing confident matched: a desk ticket
  and an acknowledgement that follows the ticket's reason and grade (`acknowledgement`): its number and the
  expected reply time from the calendar, after the 24/7 line and the assistant's own answer for an emergency, or
  the apology the other channels give for anger;
- a confident FAQ answer: sent at once with how to reach a person (`email.answer_faq: automatic`), or only
  suggested to an agent on a ticket (`suggest`: the customer gets the acknowledgement);
- a mail in a thread an agent already has: nothing (the mail reached the ticket);
- an answer to the survey the desk mailed when it resolved the ticket ("5", "5 非常满意", the recommendation
  score, the comment): the survey's own replies (thanks, the next question as numbered lines), never a ticket.

Never answered (RFC 3834): auto-replies, bounces, mailing lists, no-reply senders; at most
`acknowledgements_per_thread_per_day` acknowledgements a thread a day. What could not be read is logged in one
line, and the raw mail is kept (size-limited) for an agent.

A mail's Message-ID counts as handled once its turn ended, not when it was recorded: the turn keeps its claim
fresh while it runs, so a copy arriving meanwhile (SMTP and IMAP at once) is `in_progress` (no second turn; its
source offers it again later), and a mail whose turn was cut (the replica reading it killed) is found stale by
the next reader and handled again in its thread (`claim_stale_seconds`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from bot import clock, conversations, texts
from bot.calendar.messages import emergency_contact, emergency_reply, format_moment
from bot.channels.email_parse import InboundMail, read_mail
from bot.channels.email_settings import EmailSettings
from bot.channels.email_threads import Thread, ThreadStore
from bot.channels.numbered import button_lines
from bot.escalation import apology
from bot.handoff.context import latest_topic, resolve_reason_and_grade
from bot.language import detect

logger = logging.getLogger(__name__)

CHANNEL = "email"
HANDOFF_ACTION = "action_handoff"
FAQ_PREFIX = "faq_"
EMERGENCY_REASON = "emergency"
ANGER_REASON = "anger"
EMERGENCY_TEAM = "emergency"  # the 24/7 team of `calendar.teams`, when it is listed
REASON_SLOT, GRADE_SLOT = "handoff_reason", "handoff_grade"
EMAIL_REASON = "email"  # a mail the assistant could not answer (settings `escalation.grades.email`)
EMPTY_MAIL_TEXT = "(e-mail without text)"
# The survey's actions (actions/survey.py): a mail they answered is a survey answer, not a request.
SURVEY_ACTIONS = frozenset({"action_survey_answer", "action_nps_answer", "action_survey_comment"})
SURVEY_SLOTS = ("survey_pending", "nps_pending")  # set while the survey waits for an answer

# outcomes of one mail (logged, and what the tests look at)
DUPLICATE, NOT_ANSWERED, NO_SENDER, ANSWERED, ACKNOWLEDGED, TO_TICKET, LIMITED, SURVEY = (
    "duplicate", "not_answered", "no_sender", "answered", "acknowledged", "to_ticket", "limited", "survey",
)
# A copy of a mail whose turn is running: not handled by this copy; the SMTP listener answers 451 (the sender
# retries) and the IMAP reader leaves it unseen and looks again soon.
IN_PROGRESS = "in_progress"
# Survey replies a thread gets a day at most (rating, a bad recommendation answer, the answer, the comment): a
# loop guard, like the other automatic replies' limits.
SURVEY_MAILS_PER_DAY = 4

SendMail = Callable[[Thread, str, bool], Awaitable[None]]

TURN_SECONDS = 60.0  # how long stopping readers wait for the mail turn in progress (`email_readers`)


def claim_stale_seconds(settings: EmailSettings) -> float:
    """How long a mail's claim may go untouched before its turn counts as cut: a running turn touches it every
    third of `reader_lease_seconds`; the lease's time plus the `TURN_SECONDS` a stopping reader grants its turn
    leaves room for a busy event loop or a slow disk, so only a turn that is gone (its process killed, or the
    turn abandoned) goes stale."""
    return settings.reader_lease_seconds + TURN_SECONDS


@dataclasses.dataclass(frozen=True)
class TurnFacts:
    """What the assistant made of one mail (read from the tracker after the turn)."""

    intent: Optional[str]
    confidence: float
    handed_off: bool  # `action_handoff` ran in this turn
    paused: bool  # an agent has the conversation (before this mail)
    answers: List[str]  # the texts the assistant said in the turn (buttons as numbered lines)
    ticket: Optional[str]
    survey: bool = False  # a survey action answered the mail (`SURVEY_ACTIONS`)
    # The handoff of this turn (`handed_off`): the reason and grade `action_handoff` read from the slots, the
    # conversation's latest FAQ topic (the apology names it), and what the assistant said before handing over
    # (an emergency topic's own answer: what to do right now).
    reason: Optional[str] = None
    grade: Optional[str] = None
    topic: Optional[str] = None
    said_first: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to do after the turn: `answer`, `survey` (mail the survey's replies), `handoff` (with a reason),
    `acknowledge` (a ticket exists) or `nothing`."""

    action: str
    reason: Optional[str] = None


def urgent_subject(subject: str, words: tuple) -> bool:
    """True when the subject holds one of the urgent words (case-insensitive)."""
    lowered = (subject or "").lower()
    return any(word in lowered for word in words)


def decide(facts: TurnFacts, urgent: bool, settings: EmailSettings) -> Plan:
    """What the customer gets by mail (see the module docstring). Pure."""
    if facts.handed_off:
        return Plan("acknowledge", facts.reason)
    if facts.paused:
        return Plan("nothing")
    if facts.survey:
        return Plan("survey")
    if urgent:
        return Plan("handoff", EMERGENCY_REASON)
    confident = (
        (facts.intent or "").startswith(FAQ_PREFIX)
        and facts.confidence >= settings.faq_min_confidence
        and bool(facts.answers)
    )
    if confident and settings.answer_faq == "automatic":
        return Plan("answer")
    return Plan("handoff", EMAIL_REASON)


def turn_facts(tracker: Any, paused_before: bool) -> TurnFacts:
    """Read a Rasa tracker after the mail's turn: the latest user message's intent, whether `action_handoff` ran
    after it (then the reason and grade it used, the topic, what was said before it), the ticket slot."""
    events = list(tracker.events)
    last_user = max((i for i, e in enumerate(events) if isinstance(e, UserUttered)), default=-1)
    after = events[last_user + 1:]
    intent = (tracker.latest_message.intent or {}) if tracker.latest_message else {}
    handoff_at = next(
        (i for i, e in enumerate(after) if isinstance(e, ActionExecuted) and e.action_name == HANDOFF_ACTION), None
    )
    handed_off = handoff_at is not None
    said_first = [
        answer_text({"text": e.text, "buttons": (e.data or {}).get("buttons")})
        for e in after[:handoff_at] if isinstance(e, BotUttered) and e.text
    ] if handed_off else []
    return TurnFacts(
        intent=intent.get("name"),
        confidence=float(intent.get("confidence") or 0.0),
        handed_off=handed_off,
        paused=paused_before,
        answers=[],
        ticket=tracker.get_slot("ticket_id"),
        survey=any(isinstance(e, ActionExecuted) and e.action_name in SURVEY_ACTIONS for e in after),
        reason=tracker.get_slot(REASON_SLOT) if handed_off else None,
        grade=tracker.get_slot(GRADE_SLOT) if handed_off else None,
        topic=latest_topic(e.as_dict() for e in events) if handed_off else None,
        said_first=said_first,
    )


def survey_waiting(tracker: Any) -> bool:
    """True while the survey mailed by the desk waits for its rating or the recommendation answer: then the
    mail's body alone is the message ("5 非常满意" starts it; the subject is only the thread's "Re: …")."""
    if tracker is None:
        return False
    return any(bool(tracker.get_slot(slot)) for slot in SURVEY_SLOTS if slot in tracker.slots)


def answer_text(message: Dict[str, Any]) -> str:
    """One message the assistant said, as mailed: its text, then its buttons as lines (`bot.channels.numbered`)."""
    buttons = message.get("buttons") or []
    return "\n".join([message.get("text") or ""] + button_lines(buttons)) if buttons else message.get("text") or ""


def expected_reply_time(
    at: dt.datetime, grade: str, emergency: bool, settings: Optional[Dict[str, Any]] = None
) -> dt.datetime:
    """When an agent is expected to answer a mail received at `at`, in business time: within the desk's
    first-response budget for e-mail (`desk.first_response_seconds.email`), or the ticket grade's
    `escalation.grade_hours` when that is shorter (grade A: 1 hour; C's 24 hours leave the e-mail budget), counted
    on the 24/7 team's calendar for an emergency and on the main hours otherwise."""
    from bot.calendar import get_calendar
    from bot.desk.sla import DEFAULT_FIRST_RESPONSE
    from bot.settings import load_settings

    settings = load_settings() if settings is None else settings
    budget = float(((settings.get("desk") or {}).get("first_response_seconds") or {}).get(CHANNEL, DEFAULT_FIRST_RESPONSE))
    hours = ((settings.get("escalation") or {}).get("grade_hours") or {}).get(grade)
    if isinstance(hours, (int, float)) and not isinstance(hours, bool):
        budget = min(budget, float(hours) * 3600)
    teams = ((settings.get("calendar") or {}).get("teams") or {})
    team = EMERGENCY_TEAM if emergency and EMERGENCY_TEAM in teams else None
    return get_calendar().add_business_time(at, dt.timedelta(seconds=budget), team=team)


def auto_reply_day(at: dt.datetime) -> str:
    """The day an automatic mail counts on for the per-day limits: `at`'s date in the calendar's time zone
    (`calendar.timezone`), not UTC's, so the customer's "today" starts at their midnight, not at 08:00."""
    from bot.calendar import get_calendar

    return at.astimezone(get_calendar().timezone).date().isoformat()


def acknowledgement(
    lang: str, ticket: Optional[str], reason: str, grade: str, at: dt.datetime, topic: Optional[str] = None,
    said_first: Optional[List[str]] = None, settings: Optional[Dict[str, Any]] = None,
) -> str:
    """The acknowledgement mailed for a ticket, following its reason and grade as the handoff on the other
    channels does (`actions/handoff.py: customer_replies`): an emergency starts with the 24/7 line (unless the
    assistant's answer already named it), then that answer (what to do right now); anger starts with the
    apology; then the ticket number and the expected reply time (`expected_reply_time`).

    Args:
        lang: the customer's language.
        ticket: the ticket number (None when the desk made none).
        reason: the ticket's reason code (`escalation.grades`' keys: `emergency`, `anger`, `email`, …).
        grade: the ticket's grade (A, B, C).
        at: when the mail was received.
        topic: the conversation's latest FAQ intent (the apology names it).
        said_first: what the assistant answered before handing over (mailed for an emergency only).
        settings: the settings (`load_settings()` when None).
    """
    from bot.settings import load_settings

    settings = load_settings() if settings is None else settings
    emergency = reason == EMERGENCY_REASON
    lines: List[str] = []
    if emergency:
        answers = [text for text in (said_first or []) if text.strip()]
        contact = emergency_contact(lang, settings)
        if not any(contact in text for text in answers):
            lines.append(emergency_reply(lang, settings))
        lines.extend(answers)
    elif reason == ANGER_REASON:
        lines.append(apology(lang, topic))
    expected = expected_reply_time(at, grade, emergency, settings)
    lines.append(texts.email_acknowledgement(lang, ticket, format_moment(lang, expected, at)))
    return "\n\n".join(lines)


class MailTurns:
    """Handles inbound mails for the Rasa server (the SMTP listener and the IMAP reader both call `receive`).

    Args:
        settings: the channel's settings.
        store: the thread store.
        agent: returns Rasa's agent (`app.ctx.agent`): its tracker store, lock store and actions.
        on_new_message: Rasa's handler of a user message (what every input channel is given).
        send_mail: sends a reply in a thread (text, automatic or not).
    """

    def __init__(
        self,
        settings: EmailSettings,
        store: ThreadStore,
        agent: Callable[[], Any],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        send_mail: SendMail,
    ) -> None:
        self.settings = settings
        self.store = store
        self.agent = agent
        self.on_new_message = on_new_message
        self.send_mail = send_mail

    async def receive(self, raw: bytes, envelope_sender: Optional[str] = None, source: str = "smtp") -> str:
        """Take one mail as it arrived; return what happened to it (one of the outcome names). Never raises for
        what is in the mail; a failure of Rasa or the relay is logged and the mail stays kept."""
        mail = read_mail(raw, self.settings.limits, envelope_sender)
        if mail.problems:
            logger.warning(
                "email: mail %s from %s (%d bytes, via %s) partly unreadable: %s; kept raw for an agent",
                mail.message_id or "-", mail.sender or "-", mail.raw_size, source, "; ".join(mail.problems),
            )
        if not mail.sender:
            self.store.keep_inbound(None, mail)
            logger.warning("email: mail %s has no usable sender: kept, not answered", mail.message_id or "-")
            return NO_SENDER
        placement = self.store.place(mail, self.stale_after)
        if placement.running:
            logger.info("email: mail %s is in its turn already (another copy): offered again later", mail.message_id)
            return IN_PROGRESS
        if placement.duplicate:
            logger.info("email: mail %s seen before: not handled again", mail.message_id or "-")
            return DUPLICATE
        if placement.note:
            logger.warning("email: mail %s: %s", mail.message_id or "-", placement.note)
        kept_before = None
        if placement.again:
            logger.warning(
                "email: mail %s: its turn was cut (no sign of it for %.0f s; its reader was stopped or killed): "
                "handled again in thread %s", mail.message_id, placement.cut_ago, placement.thread.thread,
            )
            kept_before = self.store.kept_mail(placement.thread.thread, mail.message_id or "")
        kept, listed = kept_before or self.store.keep_inbound(placement.thread.thread, mail)
        if mail.auto_reason:
            logger.info("email: mail %s not answered: %s", mail.message_id or "-", mail.auto_reason)
            self._finish(mail)
            return NOT_ANSWERED
        keeper = asyncio.get_running_loop().create_task(self._keep_claim(mail)) if mail.message_id else None
        try:
            outcome = await self._converse(mail, placement.thread, kept, listed)
        except Exception:
            # Rasa or the relay failed, not the mail: forget its id, so the sender's retry is handled anew
            if mail.message_id:
                self.store.forget_message(mail.message_id)
            raise
        finally:
            if keeper is not None:
                keeper.cancel()
        self._finish(mail)
        return outcome

    @property
    def stale_after(self) -> float:
        """Seconds after which a mail's untouched claim counts as a cut turn (`claim_stale_seconds`)."""
        return claim_stale_seconds(self.settings)

    def _finish(self, mail: InboundMail) -> None:
        if mail.message_id:
            self.store.finish_message(mail.message_id)

    async def _keep_claim(self, mail: InboundMail) -> None:
        """Touch the mail's claim every third of the lease while its turn runs (cancelled when it ends)."""
        every = max(0.2, self.settings.reader_lease_seconds / 3)
        while True:
            await asyncio.sleep(every)
            self.store.touch_message(mail.message_id or "")

    async def _converse(self, mail: InboundMail, thread: Thread, kept: int, attachments: List[dict]) -> str:
        sender_id = conversations.conversation_id(CHANNEL, thread.thread)
        agent = self.agent()
        before = await agent.tracker_store.retrieve(sender_id)
        paused_before = bool(before is not None and before.is_paused())
        text = (mail.body.strip() if survey_waiting(before) else "") or mail.text or EMPTY_MAIL_TEXT
        language = detect(text)
        self.store.set_language(thread.thread, language)
        metadata = {
            "email": {
                "message_id": mail.message_id, "subject": mail.subject[:300], "attachments": attachments,
                "problems": mail.problems[:10],
                # the kept mail's id (`inbound.id`, the desk's mail id): its message shows its attachments
                "mail": kept,
            }
        }
        collector = CollectingOutputChannel()
        await self.on_new_message(UserMessage(text, collector, sender_id, input_channel=CHANNEL, metadata=metadata))
        tracker = await agent.tracker_store.retrieve(sender_id)
        facts = dataclasses.replace(
            turn_facts(tracker, paused_before), answers=[answer_text(m) for m in collector.messages if m.get("text")]
        )
        urgent = urgent_subject(mail.subject, self.settings.urgent_subject_words)
        plan = decide(facts, urgent, self.settings)
        logger.info(
            "email: thread %s: intent %s (%.2f), urgent %s, plan %s %s",
            thread.thread, facts.intent, facts.confidence, urgent, plan.action, plan.reason or "",
        )
        ticket, reason, grade = facts.ticket, facts.reason, facts.grade
        if plan.action == "handoff":
            ticket, reason, grade = await self._hand_over(sender_id, plan.reason or EMAIL_REASON)
        if plan.action == "nothing":
            return TO_TICKET
        today = auto_reply_day(clock.now())
        if plan.action == "survey":
            if not self.store.take_auto_reply(thread.thread, today, "survey", SURVEY_MAILS_PER_DAY):
                logger.info("email: thread %s had its survey replies for today: not answered", thread.thread)
                return LIMITED
            await self.send_mail(thread, "\n\n".join(facts.answers), True)
            return SURVEY
        if ticket:
            self.store.set_ticket(thread.thread, ticket)
        thread = self.store.thread(thread.thread) or thread
        if plan.action == "answer":
            if not self.store.take_auto_reply(thread.thread, today, "answer", self.settings.answers_per_thread_per_day):
                logger.info("email: thread %s had its automatic answers for today: not answered", thread.thread)
                return LIMITED
            await self.send_mail(thread, "\n\n".join(facts.answers + [texts.email_reach_person(language)]), True)
            return ANSWERED
        if not self.store.take_auto_reply(thread.thread, today, "ack", self.settings.acknowledgements_per_thread_per_day):
            logger.info("email: thread %s was acknowledged today: no second acknowledgement", thread.thread)
            return LIMITED
        from bot.settings import load_settings

        settings = load_settings()
        grades = (settings.get("escalation") or {}).get("grades") or {}
        reason, grade = resolve_reason_and_grade(reason, grade, grades)  # what `action_handoff` gave the ticket
        text = acknowledgement(language, ticket, reason, grade, clock.now(), facts.topic, facts.said_first, settings)
        await self.send_mail(thread, text, True)
        return ACKNOWLEDGED

    async def _hand_over(self, sender_id: str, reason: str) -> Tuple[Optional[str], Optional[str], Optional[str]]:
        """Run `action_handoff` for the conversation with `reason` (its grade from `escalation.grades`); return the
        ticket number (None when the desk made none: the action logged why) and the reason and grade slots it
        read."""
        agent = self.agent()
        collector = CollectingOutputChannel()
        async with agent.lock_store.lock(sender_id):
            tracker = await agent.processor.fetch_tracker_and_update_session(sender_id, collector)
            tracker.update(SlotSet(REASON_SLOT, reason))
            tracker.update(SlotSet(GRADE_SLOT, None))
            await agent.processor.save_tracker(tracker)
            tracker = await agent.execute_action(sender_id, HANDOFF_ACTION, collector, None, None)
            if tracker is not None and not tracker.is_paused():
                tracker.update(ActionExecuted("action_listen"))
                await agent.processor.save_tracker(tracker)
        if tracker is None:
            return None, reason, None
        return tracker.get_slot("ticket_id"), tracker.get_slot(REASON_SLOT), tracker.get_slot(GRADE_SLOT)
