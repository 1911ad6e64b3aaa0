"""The JSON forms of the desk's rows, exactly as the HTTP API and the console stream show them.

Status, role and light values are the enums' strings; times are ISO 8601 UTC (`iso`). See `docs/desk-api.md`
("Ticket JSON", "Message JSON").

What agents see is masked (`bot.handoff.masking`): the conversation id (a REST sender may be a phone number;
the desk keeps the real one to deliver replies) and every message text (customer messages and notes are
stored masked already; a reply is stored as the agent wrote it until it is delivered). A customer message carries
its key facts (order and tracking numbers, amounts, dates, masked phones), which the context card lists with the
packet's.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Dict, List, Optional

from bot.desk.queue import AgentProfile, QueuedTicket, QueueRules
from bot.desk.records import Agent, Message, MessageRole, Ticket, TicketStatus
from bot.desk.sla import ticket_sla
from bot.desk.waiting import Ranking, WaitingLine, queued_ticket
from bot.handoff.masking import mask
from bot.reply_window import WindowRule
from bot.key_facts.shown import message_facts

logger = logging.getLogger(__name__)


def iso(ts: Optional[float]) -> Optional[str]:
    """Format epoch seconds as an ISO 8601 UTC time, or None."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).isoformat()


def shown_conversation_id(conversation_id: str) -> str:
    """A conversation id as agents see it: masked (`13812345678` → `138****5678`)."""
    return mask(conversation_id)


def public_message(message: Message) -> Dict[str, Any]:
    """The JSON form of a message (its text masked; a customer's with its key facts, `bot.key_facts`)."""
    text = mask(message.text)
    data = {
        "id": message.id,
        "role": message.role.value,
        "text": text,
        "at": iso(message.at),
        "status": message.status.value,
        "author": message.author,
        "anger": message.anger,
    }
    if message.role is MessageRole.CUSTOMER:
        data["key_facts"] = message_facts(text)
    if message.mail_id is not None:  # an e-mail: the console puts its kept mail's attachments under it
        data["mail"] = message.mail_id
    return data


def ticket_summary(ticket: Ticket, now: float) -> Dict[str, Any]:
    """The short JSON form of a ticket in a customer's history (`GET /internal/customers/{id}/tickets`)."""
    return {
        "id": ticket.code,
        "conversation_id": shown_conversation_id(ticket.conversation_id),
        "status": ticket.status.value,
        "reason": ticket.reason,
        "grade": ticket.grade,
        "topic": ticket.topic,
        "created_at": iso(ticket.created_at),
        "closed_at": iso(ticket.closed_at),
        "rating": ticket.rating,
        "nps": ticket.nps,
        "sla": ticket_sla(ticket, now)["overall"],
    }


def agent_json(agent: Agent, active_tickets: int) -> Dict[str, Any]:
    """The JSON form of an agent in `GET /api/agents`."""
    return {
        "id": agent.id,
        "name": agent.name,
        "skills": list(agent.skills),
        "senior": agent.senior,
        "capacity": agent.capacity,
        "created_at": iso(agent.created_at),
        "active_tickets": active_tickets,
        "role": agent.role.value,
        "enabled": agent.enabled,
        "status": agent.status,
    }


class TicketViews:
    """The ticket JSON, which needs the queue (priority, position, overflow, who may claim).

    Args:
        rules: the queue rules.
        line: the waiting line (queued tickets, agent load).
    """

    def __init__(self, rules: QueueRules, line: WaitingLine, window: Optional[WindowRule] = None) -> None:
        self.rules = rules
        self.line = line
        self.window = window if window is not None else WindowRule.from_settings()

    def reply_window(self, ticket: Ticket, now: float) -> Optional[Dict[str, Any]]:
        """`{closes_at, state}` of a ticket on a channel with a reply window (WeChat), else None: counted from the
        customer's latest message (the handoff before any); `state` is `open`, `closing` (the agent is warned) or
        `closed` (the customer must write again)."""
        if not self.window.applies(ticket.channel):
            return None
        closes = self.window.closes_at_ts(max(ticket.created_at, ticket.last_customer_at or 0.0))
        return {"closes_at": iso(closes), "state": self.window.state(closes, now)}

    def ticket_json(
        self,
        ticket: Ticket,
        now: float,
        agent: Optional[Agent] = None,
        queued: Optional[List[QueuedTicket]] = None,
        profile: Optional[AgentProfile] = None,
        ranking: Optional[Ranking] = None,
    ) -> Dict[str, Any]:
        """The JSON form of a ticket (without context and messages); `can_claim` when `agent` is given.

        Args:
            ticket: the ticket.
            now: the current time (epoch seconds).
            agent: the agent asking (adds `can_claim`).
            queued: the queued tickets (read when None; pass them when showing many tickets).
            profile: the agent's routing profile (read when None).
            ranking: every queued ticket's place, computed once (pass it when showing many tickets).
        """
        sla = ticket_sla(ticket, now)
        waiting = max(0.0, (ticket.claimed_at or now) - ticket.created_at) if ticket.is_open else None
        data: Dict[str, Any] = {
            "id": ticket.code,
            "conversation_id": shown_conversation_id(ticket.conversation_id),
            "channel": ticket.channel,
            "status": ticket.status.value,
            "grade": ticket.grade,
            "reason": ticket.reason,
            "topic": ticket.topic,
            "skill": ticket.skill,
            "requires_senior": ticket.requires_senior,
            "priority": self.rules.priority(
                ticket.grade, ticket.vip, ticket.anger, now - ticket.created_at, ticket.escalated_at is not None
            ),
            "assignee": ticket.assignee,
            "customer": {
                "id": ticket.customer_id,
                "display_name": ticket.customer_name,
                "tier": ticket.tier,
                "language": ticket.language,
            },
            "anger": ticket.anger,
            "due": {"first_response": iso(ticket.due_first_response), "resolution": iso(ticket.due_resolution)},
            "sla": sla["overall"],
            "sla_detail": {"first_response": sla["first_response"], "resolution": sla["resolution"]},
            "created_at": iso(ticket.created_at),
            "claimed_at": iso(ticket.claimed_at),
            "first_response_at": iso(ticket.first_response_at),
            "closed_at": iso(ticket.closed_at),
            "waiting_seconds": int(waiting) if waiting is not None else None,
            "rating": ticket.rating,
            "rating_comment": ticket.rating_comment,
            "nps": ticket.nps,
            "reply_window": self.reply_window(ticket, now) if ticket.is_open else None,
            "sla_alerted": ticket.sla_alerted,
            "escalated_at": iso(ticket.escalated_at),
            "offered_to": ticket.offered_to,
            "offer_expires": iso(ticket.offer_expires),
        }
        if ticket.status is TicketStatus.QUEUED and ranking is not None:
            data["position"] = ranking.position(ticket.id)
            data["overflow"] = ranking.overflowing(ticket.id)
        elif ticket.status is TicketStatus.QUEUED:
            queued = queued if queued is not None else self.line.queued()
            data["position"] = self.rules.position(ticket.id, queued, now)
            target = next((t for t in queued if t.id == ticket.id), None)
            data["overflow"] = bool(target and self.rules.is_overflowing(target, now))
        else:
            data["position"] = None
            data["overflow"] = False
        if agent is not None:
            profile = profile or self.line.profile(agent)
            data["can_claim"] = ticket.status is TicketStatus.QUEUED and self.rules.can_take(
                profile, queued_ticket(ticket), now
            )
        return data

    def ticket_detail(self, ticket: Ticket, messages: List[Message], now: float, agent: Agent) -> Dict[str, Any]:
        """The JSON form of a ticket with its context packet (conversation id masked) and messages."""
        data = self.ticket_json(ticket, now, agent=agent)
        context = dict(ticket.context)
        if isinstance(context.get("conversation_id"), str):
            context["conversation_id"] = shown_conversation_id(context["conversation_id"])
        data["context"] = context
        data["messages"] = [public_message(m) for m in messages]
        return data
