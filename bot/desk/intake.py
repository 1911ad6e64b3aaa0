"""Tickets from the action server (the `/internal` API): create one from a context packet, tell where it
stands, list a customer's tickets, record the survey answer.

A new ticket's skill comes from its topic (`desk.skills`, else the general skill; reason `emergency` goes to
the `emergency` skill when one exists); its due times from `bot.desk.sla`.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from bot import clock
from bot.desk import records
from bot.desk.complaints import DAY_SECONDS, customer_key, is_complaint
from bot.desk.config import MAX_TEXT, DeskSettings
from bot.desk.errors import DeskError, find_ticket
from bot.desk.packet import PacketValidator
from bot.desk.queue import needs_senior
from bot.desk.records import Ticket, TicketStatus
from bot.desk.sla import BusinessHours, due_times
from bot.desk.store import Store
from bot.desk.stream import ConsoleFeed
from bot.desk.views import TicketViews, iso, ticket_summary
from bot.desk.waiting import Round, WaitingLine

logger = logging.getLogger(__name__)

EMERGENCY_REASON = "emergency"
EMERGENCY_SKILL = "emergency"


class Intake:
    """What the action server asks of the desk.

    Args:
        store: the ticket store.
        settings: the desk settings.
        calendar: the business calendar (due times).
        line: the waiting line (position, wait).
        views: the JSON forms.
        feed: the console push.
    """

    def __init__(
        self, store: Store, settings: DeskSettings, calendar: BusinessHours, line: WaitingLine, views: TicketViews,
        feed: ConsoleFeed,
    ) -> None:
        self.store = store
        self.settings = settings
        self.calendar = calendar
        self.line = line
        self.views = views
        self.feed = feed
        self.packets = PacketValidator(settings.grade_hours)
        # Told of every survey answer recorded: the follow-ups and the QA queue take low ratings (`bot.desk.service`).
        self.on_rated: Optional[Callable[[Ticket, int], None]] = None

    def find(self, code: str) -> Ticket:
        """Return the ticket with public id `code` (a 404 `DeskError` when there is none)."""
        return find_ticket(self.store, code)

    def create_ticket(self, packet: Any) -> Tuple[Dict[str, Any], bool]:
        """Create a ticket from a context packet (or return the conversation's open ticket).

        Args:
            packet: the context packet (see `docs/context-packet.schema.json`).

        Returns:
            (the creation answer: id, position, expected_wait_seconds, open_now, next_opening, due, …; created?)

        Raises:
            DeskError: 400 when the packet does not follow the schema (the message names the fields).
        """
        values = self.ticket_values(self.packets.check(packet))
        ticket, created = self.store.create_ticket(values)
        requeued = (
            not created and ticket.status is TicketStatus.ABANDONED and self.store.requeue_abandoned(ticket.id)
        )
        if requeued:
            logger.info("ticket %s is queued again: its customer asked for a human again", ticket.code)
            ticket = self.store.get_ticket(ticket.id) or ticket
        if created:
            logger.info(
                "ticket %s created: grade %s, reason %s, skill %s", ticket.code, ticket.grade, ticket.reason,
                ticket.skill,
            )
        # the whole queue read and ranked once, for the answer and the consoles' push alike (with 1,000 tickets
        # queued each read and ranking costs about 10 ms of CPU: three of each made a handoff cost 80 ms)
        shared = self.line.round(records.now()) if ticket.status is TicketStatus.QUEUED else None
        if created or requeued:
            self.feed.ticket(ticket.id, shared)
        return self.creation_answer(ticket, records.now(), shared), created

    def ticket_values(self, packet: Dict[str, Any]) -> Dict[str, Any]:
        """The column values of a new ticket from a packet that follows the schema (see the module docstring).

        The schema guarantees the types read here: `customer.id`, `display_name` and `tier` are strings or null,
        `language` is zh, zh_hant or en, `anger_history` holds numbers from 0 to 1.
        """
        reason, topic, customer = packet["reason"], packet.get("topic"), packet["customer"]
        skill = self.settings.skill_for(topic)
        if (
            skill == self.settings.general_skill and reason == EMERGENCY_REASON
            and EMERGENCY_SKILL in self.settings.skills.values()
        ):
            skill = EMERGENCY_SKILL
        team = self.settings.team_for(skill)
        now_dt = clock.now()
        now = now_dt.timestamp()
        due = due_times(self.calendar, self.settings, packet["channel"], packet["grade"], team, now_dt)
        tier = customer["tier"] or None
        history = packet["anger_history"]
        complaint = is_complaint(reason, packet)
        return {
            "conversation_id": packet["conversation_id"],
            "channel": packet["channel"],
            "status": TicketStatus.QUEUED,
            "grade": packet["grade"],
            "reason": reason,
            "topic": topic,
            "skill": skill,
            "team": team,
            "requires_senior": needs_senior(reason) or (complaint and self.second_complaint(customer["id"], packet)),
            "complaint": complaint,
            "customer_id": customer["id"],
            "customer_name": customer["display_name"] or None,
            "tier": tier,
            "language": customer["language"],
            "vip": (tier or "").lower() == "vip",
            "anger": float(max(history)) if history else 0.0,
            "assignee": None,
            "context": packet,
            "created_at": now,
            "created_real": time.time(),
            "skill_since": now,
            "due_first_response": due.due_first_response,
            "warn_first_response": due.warn_first_response,
            "due_resolution": due.due_resolution,
            "warn_resolution": due.warn_resolution,
        }

    def second_complaint(self, customer_id: Any, packet: Dict[str, Any]) -> bool:
        """True when the customer had another complaint ticket within `desk.repeat_complaint_days`."""
        who = customer_key(customer_id, packet["conversation_id"])
        since = clock.now().timestamp() - self.settings.repeat_complaint_days * DAY_SECONDS
        earlier = self.store.complaints_since([who], since).get(who, 0)
        if earlier:
            logger.info("a second complaint within %g days: only senior agents take it", self.settings.repeat_complaint_days)
        return earlier > 0

    def creation_answer(self, ticket: Ticket, now: float, shared: Optional[Round] = None) -> Dict[str, Any]:
        """The answer the action server gets for a ticket: id, queue position, wait, opening, due times
        (`shared`: the queue read once for this moment, `WaitingLine.round`; read here when None)."""
        if ticket.status is TicketStatus.QUEUED and shared is None:
            shared = self.line.round(now)
        standing = self.line.standing(ticket, now, shared=shared)
        place = standing.position
        if ticket.status is TicketStatus.QUEUED and place is not None and ticket.notified_position is None:
            self.store.set_notified_position(ticket.id, place)
        return {
            "id": ticket.code,
            "status": ticket.status.value,
            "skill": ticket.skill,
            "position": place,
            "expected_wait_seconds": standing.expected_wait_seconds,
            # agents with a console open who could serve it (0 while open: the customer is told nobody is online)
            "agents_online": len(self.line.online_servers(ticket.id, shared.ranking, shared.online)) if place is not None else 0,
            "open_now": standing.open_now,
            "next_opening": standing.next_opening.isoformat() if standing.next_opening else None,
            "due": {"first_response": iso(ticket.due_first_response), "resolution": iso(ticket.due_resolution)},
        }

    def ticket_status(self, code: str) -> Dict[str, Any]:
        """A ticket's JSON with the creation answer's fields (`GET /internal/tickets/{id}`).

        Raises:
            DeskError: 404 unknown ticket.
        """
        return self._with_standing(self.find(code))

    def conversation_ticket(self, conversation_id: str) -> Dict[str, Any]:
        """The open ticket of a conversation with its queue position.

        Raises:
            DeskError: 404 when the conversation has no open ticket.
        """
        ticket = self.store.open_ticket_for(conversation_id)
        if ticket is None:
            raise DeskError(404, "this conversation has no open ticket")
        return self._with_standing(ticket)

    def _with_standing(self, ticket: Ticket) -> Dict[str, Any]:
        now = records.now()
        data = self.views.ticket_json(ticket, now)
        data.update(self.creation_answer(ticket, now))
        return data

    def customer_tickets(self, customer_id: str) -> List[Dict[str, Any]]:
        """A customer's earlier tickets, newest first (summaries)."""
        now = records.now()
        return [ticket_summary(t, now) for t in self.store.tickets_for_customer(customer_id)]

    def rate(self, code: str, body: Any) -> Dict[str, Any]:
        """Record the survey answer (1–5 and an optional comment, or with `nps`: the recommendation answer 0–10)
        on a resolved ticket (its closing sent the survey); an open or handed-back ticket has no survey to answer.

        Raises:
            DeskError: 404 unknown ticket; 400 bad rating or comment; 409 the ticket is not resolved.
        """
        ticket = self.find(code)
        if not isinstance(body, dict):
            raise DeskError(400, "the body must be a JSON object {rating, comment, nps}")
        rating = body.get("rating")
        if isinstance(rating, str) and rating.strip().isdigit():
            rating = int(rating.strip())
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise DeskError(400, "'rating' must be an integer from 1 to 5")
        comment = body.get("comment")
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_TEXT):
            raise DeskError(400, f"'comment' must be a string of at most {MAX_TEXT} characters")
        nps = body.get("nps")
        if nps is not None and (isinstance(nps, bool) or not isinstance(nps, int) or not 0 <= nps <= 10):
            raise DeskError(400, "'nps' must be an integer from 0 to 10 (or absent)")
        if nps is not None and comment is not None:
            raise DeskError(400, "'nps' and 'comment' come in separate answers")
        if not self.store.record_rating(ticket.id, rating, (comment or "").strip() or None, records.now(), nps):
            raise DeskError(409, f"ticket {ticket.code} is {ticket.status}: only a resolved ticket takes a rating")
        if self.on_rated is not None:
            self.on_rated(ticket, rating)
        return self.feed.ticket(ticket.id)
