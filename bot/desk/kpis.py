"""The service figures of a period, computed from stored tickets and turns (pure: no database, no clock).

Every definition here is written out, in Chinese and English, in `docs/kpis.md` (section "Figures"); the keys
of the result are the keys of `GET /api/reports`. Durations are seconds; waiting times (first response, speed
of answer, resolution) are counted in BUSINESS time on the calendar of the ticket's team
(`business_seconds_between`), so a ticket that came in at night and was answered at opening waited nothing.
Percentiles are nearest-rank (the value at rank ceil(p x n)), as on the dashboard. Shares are 0..1 rounded to
4 decimals; `_percent` figures are 0..100 rounded to 1. A figure with nothing to count is None, never 0.

A ticket belongs to the period it was created in; a turn (a customer message the assistant read) to the
period it was sent in. Figures that wait for a later event (the assistant's resolution: no return within 24 h;
one-contact resolution: no new ticket within 7 days) count only the items whose wait is over at `now`
(`judged`), and say how many are still `pending`.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import math
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from bot.desk.complaints import DAY_SECONDS, customer_key
from bot.desk.records import CLOSED_STATUSES, Ticket, TicketStatus
from bot.desk.sla import DEFAULT_FIRST_RESPONSE, BusinessHours
from bot.survey import nps_group

UTC = dt.timezone.utc
FALLBACK_INTENT = "nlu_fallback"
# Intents that are a topic (what the customer came about), for the topic figures.
TOPIC_PREFIX = "faq_"
TOPIC_INTENTS = frozenset({"complain"})
# A conversation silent this long ends a contact (Rasa's session expiry, `session_expiration_time: 60`).
CONTACT_GAP_SECONDS = 3600.0
RETURN_WINDOW_SECONDS = 24 * 3600.0
REPEAT_TICKET_DAYS = 7.0
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# CSAT by waiting time (the business first-response wait): bucket name and its upper bound in seconds.
WAIT_BUCKETS: Tuple[Tuple[str, float], ...] = (("0-60", 60), ("60-180", 180), ("180-600", 600), ("600+", math.inf))
GROUP_BY = ("channel", "agent", "topic", "day", "hour")


@dataclasses.dataclass(frozen=True)
class Turn:
    """A customer message the assistant read (`desk_turns`)."""

    conversation_id: str
    channel: Optional[str]
    at: float
    intent: Optional[str]


@dataclasses.dataclass(frozen=True)
class Contact:
    """One contact with the assistant: a conversation's turns with no silence of `CONTACT_GAP_SECONDS`."""

    conversation_id: str
    channel: Optional[str]
    start: float
    end: float
    intents: Tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class PeriodData:
    """What a report is computed from.

    Attributes:
        start, end: the period, epoch seconds [start, end).
        now: the time of the report (judges the figures that wait for a later event).
        tickets: the tickets created from `start - repeat_complaint_days` to `end + 7 days` (earlier complaints
            and repeat tickets are looked up in it); the figures count those created in [start, end).
        turns: the turns from `start - CONTACT_GAP_SECONDS` to `end + 24 h + CONTACT_GAP_SECONDS`.
        first_response_targets: `desk.first_response_seconds` (channel -> seconds; 120 for others).
        repeat_complaint_days: `desk.repeat_complaint_days`.
        qa_scores: agent -> the average QA score (1..scale, every criterion) of the reviews scored in the period.
    """

    start: float
    end: float
    now: float
    tickets: Sequence[Ticket]
    turns: Sequence[Turn]
    first_response_targets: Mapping[str, int]
    repeat_complaint_days: float
    qa_scores: Mapping[str, float] = dataclasses.field(default_factory=dict)


def percentile(values: Sequence[float], share: float) -> Optional[float]:
    """The nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(float(ordered[max(1, math.ceil(share * len(ordered))) - 1]), 1)


def ratio(part: int, whole: int) -> Optional[float]:
    """part / whole rounded to 4 decimals, None when whole is 0."""
    return round(part / whole, 4) if whole else None


def percent(part: int, whole: int) -> Optional[float]:
    """100 x part / whole rounded to 1 decimal, None when whole is 0."""
    return round(100.0 * part / whole, 1) if whole else None


def average(values: Sequence[float]) -> Optional[float]:
    """The mean rounded to 1 decimal, None for no values."""
    return round(sum(values) / len(values), 1) if values else None


class Figures:
    """The figures of one period over one calendar (see the module docstring).

    Args:
        data: the rows and settings.
        calendar: the business calendar (`business_seconds_between`, `timezone`).
    """

    def __init__(self, data: PeriodData, calendar: BusinessHours) -> None:
        self.data = data
        self.calendar = calendar
        self.tz = calendar.timezone
        self.in_period = [t for t in data.tickets if data.start <= t.created_at < data.end]
        self.contacts = contacts_of(data.turns)
        self.by_conversation = _group(data.tickets, lambda t: t.conversation_id)
        self.by_customer = _group(data.tickets, lambda t: customer_key(t.customer_id, t.conversation_id))
        self.contacts_by_conversation: Dict[str, List[Contact]] = collections.defaultdict(list)
        for contact in self.contacts:
            self.contacts_by_conversation[contact.conversation_id].append(contact)

    # --- helpers ----------------------------------------------------------------------------------------------

    def business(self, ticket: Ticket, since: float, until: Optional[float]) -> Optional[float]:
        """Business seconds from `since` to `until` on the ticket team's calendar (None when `until` is None)."""
        if until is None:
            return None
        a, b = dt.datetime.fromtimestamp(since, UTC), dt.datetime.fromtimestamp(until, UTC)
        return max(0.0, self.calendar.business_seconds_between(a, b, ticket.team))

    def first_wait(self, ticket: Ticket) -> Optional[float]:
        """Business seconds from creation to the first agent reply."""
        return self.business(ticket, ticket.created_at, ticket.first_response_at)

    def target(self, ticket: Ticket) -> int:
        """The ticket channel's first-response target (seconds of business time)."""
        return int(self.data.first_response_targets.get(ticket.channel, DEFAULT_FIRST_RESPONSE))

    def local(self, epoch: float) -> dt.datetime:
        """The time in the calendar's zone (days, hours, weekdays)."""
        return dt.datetime.fromtimestamp(epoch, UTC).astimezone(self.tz)

    # --- the figures ------------------------------------------------------------------------------------------

    def first_response(self, tickets: Sequence[Ticket]) -> Dict[str, Any]:
        waits = [(t, w) for t in tickets if (w := self.first_wait(t)) is not None]
        within = sum(1 for t, w in waits if w <= self.target(t))
        values = [w for _t, w in waits]
        return {
            "count": len(values), "p50_seconds": percentile(values, 0.5), "p90_seconds": percentile(values, 0.9),
            "average_seconds": average(values), "within_target": within,
            "within_target_percent": percent(within, len(values)),
            "targets_seconds": dict(sorted(self.data.first_response_targets.items())),
        }

    def speed_of_answer(self, tickets: Sequence[Ticket]) -> Dict[str, Any]:
        values = [w for t in tickets if (w := self.business(t, t.created_at, t.claimed_at)) is not None]
        return {"count": len(values), "average_seconds": average(values)}

    def resolution(self, tickets: Sequence[Ticket]) -> Dict[str, Any]:
        values = [
            w for t in tickets if t.status is TicketStatus.RESOLVED
            and (w := self.business(t, t.created_at, t.closed_at)) is not None
        ]
        return {"count": len(values), "average_seconds": average(values), "p50_seconds": percentile(values, 0.5),
                "p90_seconds": percentile(values, 0.9)}

    def handle_time(self, tickets: Sequence[Ticket]) -> Dict[str, Any]:
        values = [
            t.closed_at - t.claimed_at for t in tickets
            if t.status in CLOSED_STATUSES and t.claimed_at is not None and t.closed_at is not None
        ]
        return {"count": len(values), "average_seconds": average(values)}

    def abandonment(self, tickets: Sequence[Ticket]) -> Dict[str, Any]:
        abandoned = [t for t in tickets if t.abandoned_at is not None]
        waits = [w for t in abandoned if (w := self.business(t, t.created_at, t.abandoned_at)) is not None]
        return {"count": len(abandoned), "rate": ratio(len(abandoned), len(tickets)),
                "percent": percent(len(abandoned), len(tickets)), "average_wait_seconds": average(waits)}

    def csat(self, tickets: Sequence[Ticket]) -> Dict[str, Any]:
        rated = [t for t in tickets if t.rating is not None]
        happy = sum(1 for t in rated if t.rating >= 4)
        buckets: Dict[str, List[Ticket]] = {name: [] for name, _ in WAIT_BUCKETS}
        for ticket in rated:
            wait = self.first_wait(ticket)
            if wait is None:
                continue
            name = next(name for name, bound in WAIT_BUCKETS if wait < bound)
            buckets[name].append(ticket)
        return {
            "count": len(rated), "share_4_5": ratio(happy, len(rated)), "share_4_5_percent": percent(happy, len(rated)),
            "average": round(sum(t.rating for t in rated) / len(rated), 2) if rated else None,
            "distribution": {str(n): sum(1 for t in rated if t.rating == n) for n in range(1, 6)},
            "by_wait": {
                name: {"count": len(group), "share_4_5": ratio(sum(1 for t in group if t.rating >= 4), len(group))}
                for name, group in buckets.items()
            },
        }

    def nps(self, tickets: Sequence[Ticket]) -> Dict[str, Any]:
        """Net Promoter Score of the recommendation answers (0–10): % promoters (9–10) − % detractors (0–6)."""
        scores = [t.nps for t in tickets if t.nps is not None]
        groups = collections.Counter(nps_group(score) for score in scores)
        promoters, detractors = groups.get("promoter", 0), groups.get("detractor", 0)
        return {
            "count": len(scores), "promoters": promoters, "passives": groups.get("passive", 0),
            "detractors": detractors,
            "score": round(100 * (promoters - detractors) / len(scores), 1) if scores else None,
            "distribution": {str(n): sum(1 for s in scores if s == n) for n in range(11)},
        }

    def sla_met(self, ticket: Ticket) -> Optional[bool]:
        """Both clocks met (True), one missed (False), or not judged yet (None: open and not yet late, or
        abandoned before its first-response due time)."""
        now = self.data.now
        if ticket.status in CLOSED_STATUSES:
            first_ok = ticket.first_response_at is not None and ticket.first_response_at <= ticket.due_first_response
            if ticket.status is TicketStatus.HANDED_BACK and ticket.first_response_at is None:
                first_ok = ticket.closed_at is not None and ticket.closed_at <= ticket.due_first_response
            return bool(first_ok and ticket.closed_at is not None and ticket.closed_at <= ticket.due_resolution)
        if ticket.abandoned_at is not None:
            return False if ticket.abandoned_at > ticket.due_first_response else None
        late_first = ticket.first_response_at is None and now > ticket.due_first_response
        if late_first or (ticket.first_response_at or 0) > ticket.due_first_response or now > ticket.due_resolution:
            return False
        return None

    def sla(self, tickets: Sequence[Ticket]) -> Dict[str, Any]:
        def tally(group: Iterable[Ticket]) -> Dict[str, Any]:
            judged = [m for t in group if (m := self.sla_met(t)) is not None]
            met = sum(judged)
            return {"judged": len(judged), "met": met, "met_percent": percent(met, len(judged))}

        return {
            **tally(tickets),
            "by_grade": {g: tally(ts) for g, ts in sorted(_group(tickets, lambda t: t.grade).items())},
            "by_channel": {c: tally(ts) for c, ts in sorted(_group(tickets, lambda t: t.channel).items())},
        }

    def assistant(self) -> Dict[str, Any]:
        """Containment, the assistant's resolution, fallback rate (contacts and turns started in the period)."""
        data = self.data
        contacts = [c for c in self.contacts if data.start <= c.start < data.end]
        handed = {id(c) for c in contacts if self.handoff_of(c) is not None}
        judged = resolved = 0
        for contact in contacts:
            if id(contact) in handed:
                if contact.end + RETURN_WINDOW_SECONDS <= data.now:
                    judged += 1
                continue
            if contact.end + RETURN_WINDOW_SECONDS > data.now:
                continue
            judged += 1
            resolved += not self.came_back(contact)
        turns = [t for t in data.turns if data.start <= t.at < data.end]
        fallbacks = sum(1 for t in turns if t.intent == FALLBACK_INTENT)
        return {
            "contacts": len(contacts), "handed_off": len(handed),
            "contained": len(contacts) - len(handed), "containment_rate": ratio(len(contacts) - len(handed), len(contacts)),
            "resolution": {"judged": judged, "resolved": resolved, "pending": len(contacts) - judged,
                           "rate": ratio(resolved, judged), "percent": percent(resolved, judged)},
            "turns": len(turns), "fallbacks": fallbacks, "fallback_rate": ratio(fallbacks, len(turns)),
        }

    def handoff_of(self, contact: Contact) -> Optional[Ticket]:
        """The ticket a contact ended in: one of its conversation created from its start to its end plus the
        contact gap (the handoff follows the message that asked for it)."""
        return next(
            (t for t in self.by_conversation.get(contact.conversation_id, [])
             if contact.start <= t.created_at <= contact.end + CONTACT_GAP_SECONDS),
            None,
        )

    def came_back(self, contact: Contact) -> bool:
        """True when the same conversation started another contact within 24 h of this one's end."""
        return any(
            contact.end < c.start <= contact.end + RETURN_WINDOW_SECONDS
            for c in self.contacts_by_conversation[contact.conversation_id]
        )

    def topics(self, tickets: Sequence[Ticket], top: int = 10) -> Dict[str, Any]:
        data = self.data
        contacts = [c for c in self.contacts if data.start <= c.start < data.end]
        turns = collections.Counter(
            t.intent for t in data.turns if data.start <= t.at < data.end and is_topic(t.intent)
        )
        per_topic: Dict[str, List[Contact]] = collections.defaultdict(list)
        for contact in contacts:
            for topic in sorted({i for i in contact.intents if is_topic(i)}):
                per_topic[topic].append(contact)
        ended = {
            topic: sum(1 for c in group if self.handoff_of(c) is not None) for topic, group in per_topic.items()
        }
        handoffs = collections.Counter(t.topic or "none" for t in tickets)
        return {
            "top": [{"topic": name, "turns": count, "contacts": len(per_topic.get(name, []))}
                    for name, count in sorted(turns.items(), key=lambda kv: (-kv[1], kv[0]))[:top]],
            "ending_in_handoff": [
                {"topic": name, "contacts": len(per_topic[name]), "handed_off": count,
                 "handoff_rate": ratio(count, len(per_topic[name]))}
                for name, count in sorted(ended.items(), key=lambda kv: (-kv[1], kv[0]))[:top] if count
            ],
            "tickets_by_topic": dict(sorted(handoffs.items(), key=lambda kv: (-kv[1], kv[0]))),
        }

    def one_contact_resolution(self, tickets: Sequence[Ticket]) -> Dict[str, Any]:
        window = REPEAT_TICKET_DAYS * DAY_SECONDS
        resolved = [t for t in tickets if t.status is TicketStatus.RESOLVED]
        judged = [t for t in resolved if t.created_at + window <= self.data.now]
        once = sum(1 for t in judged if not self._repeat_within(t, window))
        return {"judged": len(judged), "resolved_first_contact": once, "pending": len(resolved) - len(judged),
                "rate": ratio(once, len(judged)), "percent": percent(once, len(judged))}

    def _repeat_within(self, ticket: Ticket, window: float) -> bool:
        who = customer_key(ticket.customer_id, ticket.conversation_id)
        return any(
            other.id != ticket.id and ticket.created_at < other.created_at <= ticket.created_at + window
            for other in self.by_customer[who]
        )

    def complaints(self, tickets: Sequence[Ticket]) -> Dict[str, Any]:
        window = self.data.repeat_complaint_days * DAY_SECONDS
        complaints = [t for t in tickets if t.complaint]
        second = [t for t in complaints if self._earlier_complaint(t, window)]
        return {"count": len(complaints), "rate": ratio(len(complaints), len(tickets)),
                "second": len(second), "second_rate": ratio(len(second), len(complaints)),
                "window_days": self.data.repeat_complaint_days}

    def _earlier_complaint(self, ticket: Ticket, window: float) -> bool:
        who = customer_key(ticket.customer_id, ticket.conversation_id)
        return any(
            other.id != ticket.id and other.complaint
            and ticket.created_at - window <= other.created_at < ticket.created_at
            for other in self.by_customer[who]
        )

    def volume(self, tickets: Sequence[Ticket]) -> Dict[str, Any]:
        data = self.data
        contacts = [c for c in self.contacts if data.start <= c.start < data.end]
        hours = collections.Counter(self.local(t.created_at).hour for t in tickets)
        days = collections.Counter(self.local(t.created_at).weekday() for t in tickets)
        contact_hours = collections.Counter(self.local(c.start).hour for c in contacts)
        return {
            "tickets_by_channel": dict(sorted(collections.Counter(t.channel for t in tickets).items())),
            "tickets_by_hour": {str(h): hours.get(h, 0) for h in range(24)},
            "tickets_by_weekday": {WEEKDAYS[d]: days.get(d, 0) for d in range(7)},
            "contacts_by_channel": dict(sorted(collections.Counter(c.channel or "unknown" for c in contacts).items())),
            "contacts_by_hour": {str(h): contact_hours.get(h, 0) for h in range(24)},
        }

    def agents(self, tickets: Sequence[Ticket]) -> List[Dict[str, Any]]:
        result = []
        for name, group in sorted(_group([t for t in tickets if t.assignee], lambda t: t.assignee).items()):
            waits = [w for t in group if (w := self.first_wait(t)) is not None]
            handle = self.handle_time(group)
            rated = [t.rating for t in group if t.rating is not None]
            result.append({
                "agent": name, "tickets": len(group),
                "resolved": sum(1 for t in group if t.status is TicketStatus.RESOLVED),
                "first_response_p50_seconds": percentile(waits, 0.5),
                "handle_average_seconds": handle["average_seconds"],
                "csat_count": len(rated), "csat_share_4_5": ratio(sum(1 for r in rated if r >= 4), len(rated)),
                "qa_score": self.data.qa_scores.get(name),  # None: no QA review of theirs scored in the period
            })
        return result

    def group_figures(self, tickets: Sequence[Ticket]) -> Dict[str, Any]:
        """The short form of the figures, for each group of `group_by`."""
        first = self.first_response(tickets)
        csat = self.csat(tickets)
        sla = self.sla(tickets)
        return {
            "tickets": len(tickets),
            "resolved": sum(1 for t in tickets if t.status is TicketStatus.RESOLVED),
            "abandoned": sum(1 for t in tickets if t.abandoned_at is not None),
            "first_response_p50_seconds": first["p50_seconds"], "first_response_p90_seconds": first["p90_seconds"],
            "first_response_within_target_percent": first["within_target_percent"],
            "sla_met_percent": sla["met_percent"], "csat_count": csat["count"], "csat_share_4_5": csat["share_4_5"],
            "nps": self.nps(tickets)["score"],
        }

    def groups(self, by: str) -> Dict[str, Dict[str, Any]]:
        """The period's tickets grouped by channel, agent, topic, local day or local hour."""
        keys: Dict[str, Callable[[Ticket], str]] = {
            "channel": lambda t: t.channel,
            "agent": lambda t: t.assignee or "none",
            "topic": lambda t: t.topic or "none",
            "day": lambda t: self.local(t.created_at).date().isoformat(),
            "hour": lambda t: f"{self.local(t.created_at).hour:02d}",
        }
        grouped = _group(self.in_period, keys[by])
        if by == "day":  # every day of the period, the quiet ones too (charts over time)
            day = self.local(self.data.start).date()
            last = self.local(self.data.end - 1).date()
            while day <= last:
                grouped.setdefault(day.isoformat(), [])
                day += dt.timedelta(days=1)
        if by == "hour":
            for hour in range(24):
                grouped.setdefault(f"{hour:02d}", [])
        return {key: self.group_figures(group) for key, group in sorted(grouped.items())}

    def report(self, group_by: Optional[str] = None) -> Dict[str, Any]:
        """All the figures (the `GET /api/reports` body without `period` and `lights`)."""
        tickets = self.in_period
        statuses = collections.Counter(t.status.value for t in tickets)
        result: Dict[str, Any] = {
            "tickets": {"created": len(tickets), **{s.value: statuses.get(s.value, 0) for s in TicketStatus}},
            "first_response": self.first_response(tickets),
            "speed_of_answer": self.speed_of_answer(tickets),
            "resolution": self.resolution(tickets),
            "handle_time": self.handle_time(tickets),
            "abandonment": self.abandonment(tickets),
            "assistant": self.assistant(),
            "handoffs_by_reason": dict(sorted(collections.Counter(t.reason for t in tickets).items())),
            "topics": self.topics(tickets),
            "one_contact_resolution": self.one_contact_resolution(tickets),
            "complaints": self.complaints(tickets),
            "csat": self.csat(tickets),
            "nps": self.nps(tickets),
            "sla": self.sla(tickets),
            "volume": self.volume(tickets),
            "agents": self.agents(tickets),
        }
        if group_by is not None:
            result["group_by"] = group_by
            result["groups"] = self.groups(group_by)
        return result


def is_topic(intent: Optional[str]) -> bool:
    """True for the intents that name what a customer came about (FAQ topics, complaints)."""
    return bool(intent) and (intent.startswith(TOPIC_PREFIX) or intent in TOPIC_INTENTS)


def contacts_of(turns: Iterable[Turn]) -> List[Contact]:
    """Split each conversation's turns into contacts at silences of `CONTACT_GAP_SECONDS` or more."""
    by_conversation: Dict[str, List[Turn]] = collections.defaultdict(list)
    for turn in turns:
        by_conversation[turn.conversation_id].append(turn)
    result: List[Contact] = []
    for conversation, items in by_conversation.items():
        items.sort(key=lambda t: t.at)
        current: List[Turn] = []
        for turn in items:
            if current and turn.at - current[-1].at >= CONTACT_GAP_SECONDS:
                result.append(_contact(conversation, current))
                current = []
            current.append(turn)
        if current:
            result.append(_contact(conversation, current))
    return sorted(result, key=lambda c: (c.start, c.conversation_id))


def _contact(conversation: str, turns: List[Turn]) -> Contact:
    return Contact(conversation, turns[0].channel, turns[0].at, turns[-1].at,
                   tuple(t.intent for t in turns if t.intent))


def _group(tickets: Iterable[Ticket], key: Callable[[Ticket], str]) -> Dict[str, List[Ticket]]:
    grouped: Dict[str, List[Ticket]] = collections.defaultdict(list)
    for ticket in tickets:
        grouped[key(ticket)].append(ticket)
    return dict(grouped)


def light(value: Optional[float], threshold: Mapping[str, Any]) -> Optional[str]:
    """green / yellow / red of a figure against `reports.lights.<figure>` (None when the figure is None)."""
    if value is None:
        return None
    higher = threshold.get("higher_is_better", True)
    better = (lambda a, b: a >= b) if higher else (lambda a, b: a <= b)
    if better(value, threshold["green"]):
        return "green"
    return "yellow" if better(value, threshold["yellow"]) else "red"
