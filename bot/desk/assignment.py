"""Auto-assignment (`desk.auto_assign`): the queued tickets of the listed teams (skills) are offered to agents
instead of waiting to be pulled; every other team stays pull (agents claim).

Each round (the leader's, and at once after a decline), for each queued ticket of an auto team without a live
offer, in queue order: the candidates are the agents whose status is `online` (`POST /api/me/status`) and who
are online for the desk (a console open, or a request in the last minutes: `bot.desk.presence`), who may take
it (skills, seniority, overflow: `QueueRules.can_take`) with a free slot (assigned tickets plus live offers below
capacity), and who have not declined it or let its offer lapse. The fewest open tickets wins; ties go to the
longest idle (the oldest latest claim; never claimed: first). The offer is one conditional UPDATE
(`bot.desk.store.assignment`); it lasts `offer_seconds`, then lapses and goes to the next agent. The agent
accepts (`POST /api/tickets/{id}/accept`: the ticket is theirs, as a claim) or declines (`…/decline`: the next
agent is offered it at once). While an offer is live nobody else may claim the ticket. When no candidate is left
the ticket waits in its queue, where any qualified agent may still claim it.

Each offer is pushed to the consoles as an `offer` event `{"agent", "ticket"}`.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict, List, Optional

from bot.desk import records
from bot.desk.delivery import Delivery
from bot.desk.errors import DeskError
from bot.desk.oversight_config import AutoAssign
from bot.desk.presence import Presence
from bot.desk.queue import AgentProfile, QueueRules
from bot.desk.records import Agent, Ticket, TicketStatus
from bot.desk.store import Store
from bot.desk.store.assignment import AGENT_STATUSES
from bot.desk.stream import ConsoleFeed
from bot.desk.views import iso
from bot.desk.waiting import queued_ticket
from bot.desk.stream import OFFER_EVENT

logger = logging.getLogger(__name__)



@dataclasses.dataclass(frozen=True)
class Offered:
    """What one round did."""

    offered: int = 0  # offers made
    lapsed: int = 0  # offers that expired unanswered


class AutoAssigner:
    """Offers the queued tickets of the auto-assigned teams to agents; takes their answers.

    Args:
        store: the ticket store.
        settings: `desk.auto_assign`.
        rules: the queue rules (who may take what, queue order).
        presence: who is online.
        feed: the console push.
        delivery: pauses the assistant when an offer is accepted (as a claim does).
    """

    def __init__(
        self, store: Store, settings: AutoAssign, rules: QueueRules, presence: Presence, feed: ConsoleFeed,
        delivery: Delivery,
    ) -> None:
        self.store = store
        self.settings = settings
        self.rules = rules
        self.presence = presence
        self.feed = feed
        self.delivery = delivery

    # ------------------------------------------------------------------ the agent's status

    def set_status(self, agent: Agent, body: Any) -> Dict[str, Any]:
        """Set the agent's status (`POST /api/me/status {"status": "online" | "away" | "offline"}`).

        Raises:
            DeskError: 400 a body without a known status.
        """
        status = body.get("status") if isinstance(body, dict) else None
        if status not in AGENT_STATUSES:
            raise DeskError(400, f"send {{\"status\": …}} with one of {list(AGENT_STATUSES)}")
        now = records.now()
        self.store.set_agent_status(agent.name, status, now)
        logger.info("%s is %s", agent.name, status)
        if status != "online":  # an agent who stepped away answers no offer: the next agent gets it now
            for ticket_id in self.store.offered_to_agent(agent.name):
                if self.store.drop_offer(ticket_id, agent.name):
                    self._next(ticket_id, now)
        return {"name": agent.name, "status": status, "status_since": iso(now)}

    # ------------------------------------------------------------------ offers

    def round(self, now: Optional[float] = None) -> Offered:
        """Let lapsed offers go, then offer every waiting ticket of the auto teams that has a candidate."""
        now = records.now() if now is None else now
        lapsed = 0
        for ticket in self.store.lapsed_offers(now):
            if self.store.drop_offer(ticket.id, str(ticket.offered_to), expired_before=now):
                lapsed += 1
                logger.info("the offer of ticket %s to %s lapsed", ticket.code, ticket.offered_to)
                self.feed.ticket(ticket.id)
        if not self.settings.teams:
            return Offered(0, lapsed)
        waiting = [t for t in self.store.queued_in(list(self.settings.teams)) if not _live(t, now)]
        if not waiting:
            return Offered(0, lapsed)
        order = {t.id: i for i, t in enumerate(self.rules.order([queued_ticket(t) for t in waiting], now))}
        offered = 0
        for ticket in sorted(waiting, key=lambda t: order[t.id]):
            offered += self._offer(ticket, now)
        return Offered(offered, lapsed)

    def _candidates(self, ticket: Ticket, now: float) -> List[AgentProfile]:
        loads = self.store.loads(now)
        idle = self.store.last_claims()
        declined = set((ticket.declined_by or "").split(","))
        target = queued_ticket(ticket)
        found = []
        for agent in self.store.list_agents():
            if agent.status != "online" or agent.name in declined or not self.presence.is_online(agent.name, now):
                continue
            profile = AgentProfile(agent.name, list(agent.skills), agent.senior, agent.capacity, loads.get(agent.name, 0))
            if self.rules.can_take(profile, target, now):
                found.append((profile.active_tickets, idle.get(agent.name, float("-inf")), agent.name, profile))
        return [item[-1] for item in sorted(found, key=lambda item: item[:3])]

    def _offer(self, ticket: Ticket, now: float) -> int:
        """Offer one ticket to its best candidate that can still take it; 1 when offered."""
        expires = now + self.settings.offer_seconds
        for profile in self._candidates(ticket, now):
            if self.store.offer(ticket.id, profile.name, profile.capacity, now, expires):
                logger.info("ticket %s offered to %s", ticket.code, profile.name)
                data = self.feed.ticket(ticket.id)
                self.feed.hub.publish(OFFER_EVENT, {"agent": profile.name, "ticket": data})
                return 1
        return 0

    async def accept(self, ticket: Ticket, agent: Agent) -> Dict[str, Any]:
        """The agent takes the ticket offered to them, then the assistant pauses, as for a claim.

        Raises:
            DeskError: 409 not offered to this agent, or the offer lapsed, or the ticket changed.
        """
        now = records.now()
        if ticket.offered_to != agent.name:
            raise DeskError(409, f"ticket {ticket.code} is not offered to {agent.name}")
        if not self.store.accept_offer(ticket.id, agent.name, now):
            raise DeskError(409, f"the offer of ticket {ticket.code} lapsed or the ticket changed; reload it")
        logger.info("ticket %s accepted by %s", ticket.code, agent.name)
        data = self.feed.ticket(ticket.id)
        await self.delivery.pause(ticket)
        return data

    def decline(self, ticket: Ticket, agent: Agent) -> Dict[str, Any]:
        """The agent declines the ticket offered to them; it is offered to the next agent at once.

        Raises:
            DeskError: 409 not offered to this agent (any more).
        """
        if ticket.offered_to != agent.name or ticket.status is not TicketStatus.QUEUED:
            raise DeskError(409, f"ticket {ticket.code} is not offered to {agent.name}")
        if not self.store.drop_offer(ticket.id, agent.name):
            raise DeskError(409, f"ticket {ticket.code} changed meanwhile; reload it")
        logger.info("ticket %s declined by %s", ticket.code, agent.name)
        return self._next(ticket.id, records.now())

    def _next(self, ticket_id: int, now: float) -> Dict[str, Any]:
        """Offer a ticket whose offer ended to the next candidate at once; return its JSON as it is then."""
        fresh = self.store.get_ticket(ticket_id)
        if fresh is not None and fresh.skill in self.settings.teams and self._offer(fresh, now):
            return self.feed.views.ticket_json(self.store.get_ticket(ticket_id) or fresh, now)  # the offer pushed it
        return self.feed.ticket(ticket_id)


def _live(ticket: Ticket, now: float) -> bool:
    return ticket.offered_to is not None and (ticket.offer_expires or 0) >= now
