"""Follow-ups (回访): a call back to a customer after a ticket, with an owner, a due time in business time, an
outcome and a note.

Created automatically (each by `settings.yml: desk.followups`, all on by default), at most one per ticket and
trigger:

- `low_rating`: a survey rating of `low_rating_max` (2) or less, unless the ticket has an open follow-up already;
- `complaint`: a complaint as the desk counts it (`bot.desk.complaints`, the ticket's `complaint`), or a ticket
  whose reason is one of `complaint_reasons` or whose topic is one of `complaint_topics`, when it is closed
  (resolved or handed back);
- `vip`: a VIP customer's ticket, when it is closed (a VIP complaint gets the complaint one);

and by hand by an agent (`POST /api/followups`). The owner of an automatic one is the agent who had the ticket.
Its due time is `due_business_hours` of business time (`bot.calendar`, the ticket's team) after it was created.

How to reach the customer (`contact` in the JSON): on the customer's channel while the channel accepts a message
from the business, else by phone. WeChat and WeCom accept customer-service messages only within 48 hours of the
customer's last message: the one rule of `bot.reply_window` (`settings.yml: reply_window`), counted from
`Store.last_customer_contact` (the latest customer message, survey answer or handoff: a survey answer on WeChat
is the customer writing); other channels have no such window. A message on the channel is sent by
`bot.desk.followup_messages` (`POST /api/followups/{id}/message`), shown in `messages`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any, Dict, FrozenSet, List, Mapping, Optional

from bot import clock
from bot.desk import records
from bot.desk.config import MAX_TEXT
from bot.desk.errors import DeskError, find_ticket
from bot.desk.records import (
    Agent, FollowUp, FollowUpMessage, FollowUpOutcome, FollowUpStatus, FollowUpTrigger, Ticket, parse_followup_code,
)
from bot.desk.sla import BusinessHours
from bot.desk.store import Store
from bot.desk.views import iso
from bot.reply_window import WindowRule
from bot.settings import SettingsError

logger = logging.getLogger(__name__)

DEFAULT_COMPLAINT_REASONS = ("anger", "anger_rising", "vip_complaint", "repeat_complaint")
DEFAULT_COMPLAINT_TOPICS = ("faq_complaint_process",)
CONTACT_CHANNEL = "channel"
CONTACT_PHONE = "phone"
MAX_LIST = 200
STATUS_FILTERS = {"open": FollowUpStatus.OPEN, "done": FollowUpStatus.DONE, "all": None}


@dataclasses.dataclass(frozen=True)
class FollowUpSettings:
    """`settings.yml: desk.followups` (see the module docstring)."""

    low_rating: bool = True
    complaints: bool = True
    vip: bool = True
    low_rating_max: int = 2
    complaint_reasons: FrozenSet[str] = frozenset(DEFAULT_COMPLAINT_REASONS)
    complaint_topics: FrozenSet[str] = frozenset(DEFAULT_COMPLAINT_TOPICS)
    due_business_hours: float = 8.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> FollowUpSettings:
        """Read and check `desk.followups` of the whole settings mapping (absent: the defaults).

        Raises:
            SettingsError: a key has a wrong value; the message names it.
        """
        section = (settings.get("desk") or {}).get("followups") or {}
        if not isinstance(section, Mapping):
            raise SettingsError("settings: 'desk.followups' must be a mapping")
        values: Dict[str, Any] = {}
        for key in ("low_rating", "complaints", "vip"):
            if key in section:
                if not isinstance(section[key], bool):
                    raise SettingsError(f"settings: 'desk.followups.{key}' must be true or false")
                values[key] = section[key]
        if "low_rating_max" in section:
            value = section["low_rating_max"]
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
                raise SettingsError("settings: 'desk.followups.low_rating_max' must be a rating from 1 to 5")
            values["low_rating_max"] = value
        for key in ("complaint_reasons", "complaint_topics"):
            if key in section:
                items = section[key]
                if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
                    raise SettingsError(f"settings: 'desk.followups.{key}' must be a list of names")
                values[key] = frozenset(items)
        if "due_business_hours" in section:
            hours = section["due_business_hours"]
            if isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours <= 0:
                raise SettingsError("settings: 'desk.followups.due_business_hours' must be a number of hours > 0")
            values["due_business_hours"] = float(hours)
        return cls(**values)


class FollowUps:
    """The follow-ups: the automatic ones, an agent's, their list and their outcome.

    Args:
        store: the desk store.
        settings: the follow-up settings.
        calendar: the business calendar (due times).
        window: the channels' reply windows (`settings.yml: reply_window`; the defaults when None).
    """

    def __init__(
        self, store: Store, settings: FollowUpSettings, calendar: BusinessHours, window: Optional[WindowRule] = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.calendar = calendar
        self.window = window or WindowRule()

    def due_time(self, team: Optional[str], start: Optional[dt.datetime] = None) -> float:
        """`due_business_hours` of business time after `start` (now), for the ticket's team."""
        start = start or clock.now()
        due = self.calendar.add_business_time(start, dt.timedelta(hours=self.settings.due_business_hours), team)
        return due.timestamp()

    def _automatic(self, ticket: Ticket, trigger: FollowUpTrigger) -> Optional[FollowUp]:
        try:
            followup, created = self.store.add_followup(
                ticket.id, trigger, ticket.assignee, self.due_time(ticket.team), "desk", records.now(), automatic=True
            )
        except Exception:  # boundary: the ticket's own change is done; a missing follow-up is logged, not raised
            logger.error("follow-up of ticket %s (%s) not created", ticket.code, trigger)
            logger.debug("follow-up failure", exc_info=True)
            return None
        if created:
            logger.info("follow-up %s created for ticket %s (%s)", followup.code, ticket.code, trigger)
        return followup

    def ticket_closed(self, ticket: Ticket) -> Optional[FollowUp]:
        """A ticket was resolved or handed back: a complaint's or a VIP's follow-up, when the settings ask."""
        if self.settings.complaints and (
            ticket.complaint or ticket.reason in self.settings.complaint_reasons
            or (ticket.topic or "") in self.settings.complaint_topics
        ):
            return self._automatic(ticket, FollowUpTrigger.COMPLAINT)
        if self.settings.vip and ticket.vip:
            return self._automatic(ticket, FollowUpTrigger.VIP)
        return None

    def rated(self, ticket: Ticket, rating: int) -> Optional[FollowUp]:
        """A survey answer was recorded: a low rating's follow-up, unless the ticket has an open one."""
        if not self.settings.low_rating or rating > self.settings.low_rating_max:
            return None
        if self.store.list_followups(status=FollowUpStatus.OPEN, ticket_id=ticket.id, limit=1):
            return None
        return self._automatic(ticket, FollowUpTrigger.LOW_RATING)

    def find(self, code: str) -> FollowUp:
        """The follow-up with public id `code` (404 `DeskError` when there is none)."""
        number = parse_followup_code(code)
        followup = self.store.get_followup(number) if number is not None else None
        if followup is None:
            raise DeskError(404, f"no follow-up {code!r}")
        return followup

    def create(self, agent: Agent, body: Any) -> Dict[str, Any]:
        """An agent's follow-up: `{ticket, owner?, due_at?, note?}` (owner: the agent by default; due: in business
        time by default, or an ISO 8601 time with its offset, in the future).

        Raises:
            DeskError: 400 bad body; 404 unknown ticket or owner.
        """
        if not isinstance(body, dict):
            raise DeskError(400, "the body must be a JSON object {ticket, owner, due_at, note}")
        code = body.get("ticket")
        if not isinstance(code, str) or not code:
            raise DeskError(400, "'ticket' must be a ticket id (T-000123)")
        ticket = find_ticket(self.store, code)
        owner = body.get("owner", agent.name)
        if owner is not None:
            if not isinstance(owner, str) or self.store.get_agent(owner) is None:
                raise DeskError(404, f"no agent {owner!r} to own the follow-up")
        now = records.now()
        due_at = self.due_time(ticket.team) if body.get("due_at") is None else _parse_due(body["due_at"], now)
        note = _note(body.get("note"))
        followup, _ = self.store.add_followup(ticket.id, FollowUpTrigger.MANUAL, owner, due_at, agent.name, now, note)
        logger.info("follow-up %s created by %s for ticket %s", followup.code, agent.name, ticket.code)
        return self.followup_json(followup, ticket, now)

    def list_for(self, agent: Agent, args: Mapping[str, str]) -> List[Dict[str, Any]]:
        """Follow-ups for `GET /api/followups` (`status=open|done|all`, `mine=1`, `overdue=1`, `ticket=T-…`,
        `limit`), soonest due first.

        Raises:
            DeskError: 400 bad filter; 404 unknown ticket.
        """
        status_name = args.get("status") or "open"
        if status_name not in STATUS_FILTERS:
            raise DeskError(400, "'status' must be open, done or all")
        limit_raw = args.get("limit") or "100"
        if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= MAX_LIST:
            raise DeskError(400, f"'limit' must be a whole number from 1 to {MAX_LIST}")
        now = records.now()
        ticket_id = find_ticket(self.store, args["ticket"]).id if args.get("ticket") else None
        found = self.store.list_followups(
            status=STATUS_FILTERS[status_name],
            owner=agent.name if _yes(args.get("mine")) else None,
            due_before=now if _yes(args.get("overdue")) else None,
            ticket_id=ticket_id,
            limit=int(limit_raw),
        )
        tickets = {t: self.store.get_ticket(t) for t in {f.ticket_id for f in found}}
        sent = self.store.followup_messages([f.id for f in found])
        return [self.followup_json(f, tickets[f.ticket_id], now, sent[f.id]) for f in found]

    def finish(self, agent: Agent, code: str, body: Any) -> Dict[str, Any]:
        """Record an outcome (`{outcome: reached|not_reached|resolved|escalated, note?}`); it closes the
        follow-up. Its owner does it, or anyone when it has none, or a senior agent.

        Raises:
            DeskError: 400 bad body; 403 someone else's; 404 unknown; 409 already done.
        """
        followup = self.find(code)
        if not isinstance(body, dict):
            raise DeskError(400, "the body must be a JSON object {outcome, note}")
        raw = body.get("outcome")
        if raw not in {o.value for o in FollowUpOutcome}:
            raise DeskError(400, "'outcome' must be one of " + ", ".join(o.value for o in FollowUpOutcome))
        note = _note(body.get("note"))
        if followup.owner and followup.owner != agent.name and not agent.senior:
            raise DeskError(403, f"follow-up {followup.code} is {followup.owner}'s")
        now = records.now()
        if not self.store.finish_followup(followup.id, FollowUpOutcome(raw), note, agent.name, now):
            raise DeskError(409, f"follow-up {followup.code} is done already")
        done = self.find(code)
        logger.info("follow-up %s done by %s: %s", done.code, agent.name, raw)
        return self.followup_json(done, self.store.get_ticket(done.ticket_id), now)

    def contact(self, ticket: Optional[Ticket]) -> Dict[str, Any]:
        """How to reach the customer now: `{by: channel|phone, channel, channel_open_until, phone, email}`; the
        customer's `phone` and `email` when the ticket's context packet has them (`customer.phone`,
        `customer.email`), else None. The one decision the sending (`bot.desk.followup_messages`) obeys."""
        if ticket is None:
            return {"by": CONTACT_PHONE, "channel": None, "channel_open_until": None, "phone": None, "email": None}
        customer = (ticket.context or {}).get("customer") or {}
        known = {"phone": _known(customer.get("phone")), "email": _known(customer.get("email"))}
        if not self.window.applies(ticket.channel):
            return {"by": CONTACT_CHANNEL, "channel": ticket.channel, "channel_open_until": None, **known}
        last = self.store.last_customer_contact(ticket.id)
        until = self.window.closes_at_ts(last) if last is not None else None
        open_now = until is not None and records.now() < until
        return {"by": CONTACT_CHANNEL if open_now else CONTACT_PHONE, "channel": ticket.channel,
                "channel_open_until": iso(until), **known}

    def followup_json(
        self, followup: FollowUp, ticket: Optional[Ticket], now: float,
        messages: Optional[List[FollowUpMessage]] = None,
    ) -> Dict[str, Any]:
        """A follow-up as the API shows it (the customer's masked name, the ticket's rating and reason, what was
        sent on the customer's channel: `messages`, read here when not given)."""
        if messages is None:
            messages = self.store.followup_messages([followup.id])[followup.id]
        return {
            "id": followup.code,
            "ticket": records.ticket_code(followup.ticket_id),
            "trigger": followup.trigger.value,
            "status": followup.status.value,
            "owner": followup.owner,
            "due_at": iso(followup.due_at),
            "overdue": followup.status is FollowUpStatus.OPEN and followup.due_at < now,
            "outcome": followup.outcome.value if followup.outcome else None,
            "note": followup.note,
            "created_by": followup.created_by,
            "created_at": iso(followup.created_at),
            "done_at": iso(followup.done_at),
            "done_by": followup.done_by,
            "customer": {
                "name": ticket.customer_name if ticket else None,
                "language": ticket.language if ticket else None,
            },
            "rating": ticket.rating if ticket else None,
            "reason": ticket.reason if ticket else None,
            "contact": self.contact(ticket),
            "messages": [message_json(m) for m in messages],
        }


def message_json(message: FollowUpMessage) -> Dict[str, Any]:
    """A follow-up message as the API shows it (the text masked once sent; `failed`: not delivered)."""
    return {"id": message.id, "text": message.text, "author": message.author, "status": message.status.value,
            "at": iso(message.at), "sent_at": iso(message.sent_at)}


def _known(value: Any) -> Optional[str]:
    """A contact detail of the packet's customer, or None (absent, empty, not a string)."""
    return (value.strip() or None) if isinstance(value, str) else None


def _yes(value: Optional[str]) -> bool:
    return (value or "") in ("1", "true", "yes")


def _note(value: Any) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise DeskError(400, f"'note' must be a string of at most {MAX_TEXT} characters")
    return value.strip() or None


def _parse_due(value: Any, now: float) -> float:
    if not isinstance(value, str):
        raise DeskError(400, "'due_at' must be an ISO 8601 time with its offset, e.g. 2026-01-05T10:00:00+08:00")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise DeskError(400, f"'due_at' is not an ISO 8601 time: {value!r}") from error
    if parsed.tzinfo is None:
        raise DeskError(400, "'due_at' needs its offset (+08:00 or Z)")
    due = parsed.timestamp()
    if due <= now:
        raise DeskError(400, "'due_at' must be in the future")
    return due
