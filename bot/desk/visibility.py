"""Which console events an agent's stream carries (`GET /api/stream`): only those of tickets in its reach
(`bot.desk.roles`), so the stream never shows what `GET /api/tickets/{id}` would refuse.

A supervisor's stream carries everything. An agent's carries a `ticket` event when the ticket is in its reach as
the event shows it (its own, queued in its skills' queues, or one it took part in), and a `message` event of a
ticket whose last event it was shown. When a ticket it was shown leaves its reach (reassigned, transferred away),
it gets `gone` (`{"id": "T-…"}`) instead, so the console drops it; nothing else about it.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Set

from bot.desk import roles
from bot.desk.records import Agent, TicketStatus
from bot.desk.stream import AT_RISK_EVENT, ESCALATION_EVENT, OFFER_EVENT
from bot.desk.store.tickets import AgentReach

logger = logging.getLogger(__name__)

GONE = "gone"


class StreamScope:
    """The filter of one agent's stream.

    Args:
        agent: the agent the stream is for.
        reach: its reach (`roles.reach_of`); None for supervisors (no filter).
        shown: the ticket ids in its reach when the stream opened (`Store.ids_in_reach`).
        took_part: the ids of the tickets it took part in.
    """

    def __init__(self, agent: Agent, reach: Optional[AgentReach], shown: Set[str], took_part: Set[str]) -> None:
        self.agent = agent
        self.reach = reach
        self.shown = set(shown)
        self.took_part = set(took_part)

    def filter(self, events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """The events this stream carries, in order (a `gone` in place of a ticket that left its reach)."""
        if self.reach is None:
            return events
        return [kept for kept in (self._one(event) for event in events) if kept is not None]

    def _one(self, event: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        data = event.get("data") or {}
        if event["type"] == "ticket":
            code = data.get("id")
            if self._reaches(data):
                self.shown.add(code)
                return event
            if code in self.shown:
                self.shown.discard(code)
                return {"seq": event["seq"], "type": GONE, "data": {"id": code}}
            return None
        if event["type"] == "message":
            code = data.get("ticket_id")
            if (data.get("message") or {}).get("author") == self.agent.name:
                self.took_part.add(code)
                self.shown.add(code)
            return event if code in self.shown else None
        if event["type"] in (AT_RISK_EVENT, OFFER_EVENT):
            # a ticket turning yellow / red, or offered to an agent: told only where the ticket is in reach
            # (an offer: to the agent it is offered to)
            ticket = data.get("ticket") or {}
            if event["type"] == OFFER_EVENT and data.get("agent") != self.agent.name:
                return None
            return event if self._reaches(ticket) or ticket.get("id") in self.shown else None
        if event["type"] == ESCALATION_EVENT:
            return None  # for supervisors (`desk.on_red`: alert_supervisors)
        return event  # `reset`: the console reloads through the API, which applies the reach itself

    def _reaches(self, ticket: Dict[str, Any]) -> bool:
        reach = self.reach
        assert reach is not None
        if ticket.get("assignee") == reach.agent or ticket.get("id") in self.took_part:
            return True
        if ticket.get("status") != TicketStatus.QUEUED.value:
            return False
        skills = set(reach.skills)
        if roles.ANY_SKILL in skills or ticket.get("skill") in skills:
            return True
        return reach.general_skill in skills and bool(ticket.get("overflow"))
