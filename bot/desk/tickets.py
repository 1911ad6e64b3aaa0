"""What agents do with tickets (the `/api/tickets…` calls): list, open, claim, reply, retry, transfer, set the
topic, resolve, hand back.

Who may see: an agent the tickets in its reach (its skills' queues, its own, those it took part in), a supervisor
every ticket (`bot.desk.roles`); a ticket outside an agent's reach is a 403 for reading and for every action.
Who may act: the assignee; on an unassigned (queued) ticket any agent who reaches it may transfer, resolve or
hand back, but must claim it before replying or setting its topic; a supervisor may resolve or hand back any
open ticket (reassigning: `bot.desk.supervision`). Closed tickets refuse every action with 409. Each change
is one conditional update in the store; what goes to the customer is sent by `bot.desk.delivery`; resolving and
handing back close before they act (`bot.desk.closing`).

What the desk stores of agents' words is masked (`bot.handoff.masking`): a note as it is written, a reply once
delivered (the customer receives what the agent wrote; until it is delivered the reply keeps it, encrypted,
so a retry sends the same words).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from typing import Any, Dict, List, Optional, Set, Tuple

from bot import faq
from bot.desk import records, roles
from bot.desk.closing import Closer
from bot.desk.compliance import NOTE, LiveCompliance
from bot.desk.config import MAX_TEXT, DeskSettings
from bot.desk.delivery import Delivery
from bot.desk.errors import DeskError, find_ticket
from bot.desk.queue import ANY_SKILL, QueueRules
from bot.desk.records import Agent, MessageRole, MessageStatus, Role, Ticket, TicketStatus
from bot.desk.store import Store
from bot.desk.store.tickets import PageKey, QueueOrder
from bot.desk.stream import ConsoleFeed
from bot.desk.views import TicketViews, iso, public_message
from bot.desk.visibility import StreamScope
from bot.desk.waiting import WaitingLine, queued_ticket
from bot.handoff.masking import mask

logger = logging.getLogger(__name__)


DEFAULT_PAGE = 100
MAX_PAGE = 500


def encode_cursor(key: PageKey) -> str:
    """The opaque `next` cursor of a page that ends at the row with this page key."""
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> PageKey:
    """The page key in a cursor made by `encode_cursor`.

    Raises:
        DeskError: 400 when it is not one.
    """
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        section, rank, created_at, ticket_id = raw
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
            raise ValueError(cursor)
        return int(section), float(rank), float(created_at), int(ticket_id)
    except (ValueError, TypeError) as error:
        raise DeskError(400, "'cursor' is not a cursor this desk gave: use the `next` of the previous page") from error


def validate_text(body: Any, key: str = "text", required: bool = True) -> Optional[str]:
    """Return the text of a JSON body, or raise a 400 DeskError saying what is wrong."""
    if not isinstance(body, dict):
        raise DeskError(400, "the body must be a JSON object")
    text = body.get(key)
    if text is None and not required:
        return None
    if not isinstance(text, str) or not text.strip():
        raise DeskError(400, f"'{key}' must be a non-empty string")
    if len(text) > MAX_TEXT:
        raise DeskError(400, f"'{key}' is longer than {MAX_TEXT} characters")
    return text.strip()


class TicketDesk:
    """The agents' side of the desk.

    Args:
        store: the ticket store.
        settings: the desk settings (skills, canned replies).
        rules: the queue rules.
        line: the waiting line.
        views: the JSON forms.
        feed: the console push.
        delivery: what goes to the customer.
        compliance: the banned-phrase check of replies and notes.
    """

    def __init__(
        self, store: Store, settings: DeskSettings, rules: QueueRules, line: WaitingLine, views: TicketViews,
        feed: ConsoleFeed, delivery: Delivery, compliance: LiveCompliance,
    ) -> None:
        self.store = store
        self.settings = settings
        self.rules = rules
        self.line = line
        self.views = views
        self.feed = feed
        self.delivery = delivery
        self.compliance = compliance
        self.closer = Closer(store, delivery, feed)
        self.order = QueueOrder.from_weights(rules.weights)

    # ---- what an agent may choose from --------------------------------------------------------------

    def skills(self) -> List[str]:
        """The skill queues of the settings (`GET /api/skills`)."""
        return sorted(set(self.settings.skills.values()) | {self.settings.general_skill})

    def known_skills(self) -> Set[str]:
        """Every skill name a ticket may be transferred to: the settings' skills and the agents' skills."""
        skills = set(self.skills())
        for agent in self.store.list_agents():
            skills.update(s for s in agent.skills if s != ANY_SKILL)
        return skills

    def topics(self) -> List[str]:
        """The topics a ticket may carry (`GET /api/topics`): the FAQ intents and the settings' skill topics."""
        return sorted(set(faq.load_catalog()) | set(self.settings.skills))

    def canned(self, language: Optional[str] = None) -> List[Dict[str, str]]:
        """The canned replies (`desk.canned`), only those in `language` when given."""
        items = self.settings.canned
        return [c for c in items if c["language"] == language] if language else list(items)

    # ---- reading --------------------------------------------------------------------------------------

    def find(self, code: str) -> Ticket:
        """Return the ticket with public id `code` (a 404 `DeskError` when there is none)."""
        return find_ticket(self.store, code)

    def find_for(self, code: str, agent: Agent) -> Ticket:
        """Return the ticket with public id `code` if it is in the agent's reach (`bot.desk.roles`).

        Raises:
            DeskError: 404 when there is none; 403 when it is outside the agent's reach.
        """
        ticket = self.find(code)
        reach = roles.reach_of(agent, self.rules, records.now())
        if reach is not None and not self.store.in_reach(ticket.id, reach):
            raise roles.outside_reach(ticket)
        return ticket

    def list_for(
        self,
        agent: Agent,
        statuses: List[TicketStatus],
        mine: bool = False,
        skill: Optional[str] = None,
        cursor: Optional[str] = None,
        limit: int = DEFAULT_PAGE,
    ) -> Tuple[List[Dict[str, Any]], Optional[str]]:
        """One page of tickets for the console: queued first by priority, then the rest by age, each with
        `can_claim`; and the cursor of the next page (None after the last).

        Args:
            agent: the agent asking.
            statuses: the statuses to list.
            mine: only the agent's own tickets.
            skill: only this skill's tickets.
            cursor: the `next` cursor of the previous page; None for the first page.
            limit: the page size, 1 to `MAX_PAGE`.

        Raises:
            DeskError: 400 for a cursor this desk did not make, or a limit out of range.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise DeskError(400, f"'limit' must be a whole number from 1 to {MAX_PAGE}")
        now = records.now()
        rows = self.store.list_page(
            self.order, statuses=statuses, assignee=agent.name if mine else None, skill=skill,
            after=decode_cursor(cursor) if cursor else None, limit=limit + 1,
            reach=roles.reach_of(agent, self.rules, now),
        )
        more = len(rows) > limit
        rows = rows[:limit]
        ranking = self.line.ranking(now) if any(t.status is TicketStatus.QUEUED for t, _ in rows) else None
        profile = self.line.profile(agent)
        items = [self.views.ticket_json(t, now, agent=agent, profile=profile, ranking=ranking) for t, _ in rows]
        return items, encode_cursor(rows[-1][1]) if more else None

    def stream_scope(self, agent: Agent) -> StreamScope:
        """The filter of the agent's console stream: the events of the tickets in its reach."""
        reach = roles.reach_of(agent, self.rules, records.now())
        if reach is None:
            return StreamScope(agent, None, set(), set())
        shown, took_part = self.store.ids_in_reach(reach)
        return StreamScope(agent, reach, set(shown), set(took_part))

    def detail(self, code: str, agent: Agent) -> Dict[str, Any]:
        """A ticket with its context packet, messages and compliance warnings.

        Raises:
            DeskError: 404 unknown; 403 outside the agent's reach.
        """
        ticket = self.find_for(code, agent)
        data = self.views.ticket_detail(ticket, self.store.messages(ticket.id), records.now(), agent)
        data["compliance_flags"] = [
            {key: flag[key] for key in ("message_id", "agent", "kind", "phrases")} | {"at": iso(flag["at"])}
            for flag in self.store.compliance_flags(ticket.id)
        ]
        return data

    # ---- acting -----------------------------------------------------------------------------------------

    @staticmethod
    def _owned(
        ticket: Ticket, agent: Agent, require_claim: bool, before: str = "replying", supervised: bool = False
    ) -> None:
        """Refuse an action on a closed ticket (409), on another's (403; `supervised`: not for a supervisor), or on
        an unclaimed one when `require_claim` (409)."""
        if not ticket.is_open:
            raise DeskError(409, f"ticket {ticket.code} is {ticket.status}")
        if supervised and roles.has_role(agent, Role.SUPERVISOR):
            return
        if ticket.assignee is not None and ticket.assignee != agent.name:
            raise DeskError(403, f"ticket {ticket.code} belongs to {ticket.assignee}")
        if require_claim and ticket.assignee is None:
            raise DeskError(409, f"claim ticket {ticket.code} before {before}")

    async def claim(self, code: str, agent: Agent) -> Dict[str, Any]:
        """Claim a queued ticket for `agent` (atomic), then pause the assistant in its conversation.

        Raises:
            DeskError: 404 unknown; 409 already claimed, closed, or the agent is at capacity; 403 skill or
                seniority missing.
        """
        ticket = self.find(code)
        if ticket.assignee == agent.name and ticket.status is TicketStatus.ASSIGNED:
            data = self.views.ticket_json(ticket, records.now(), agent=agent)
        else:
            data = self._claim(code, ticket, agent)
        await self.delivery.pause(ticket)
        return data

    def _claim(self, code: str, ticket: Ticket, agent: Agent) -> Dict[str, Any]:
        if ticket.status is not TicketStatus.QUEUED or ticket.assignee is not None:
            who = f" by {ticket.assignee}" if ticket.assignee else ""
            raise DeskError(409, f"ticket {code} is already {ticket.status}{who}")
        now = records.now()
        profile = self.line.profile(agent)
        target = queued_ticket(ticket)
        if not self.rules.can_take(profile, target, now, check_capacity=False):
            need = "a senior agent" if target.requires_senior and not profile.senior else f"skill {target.skill}"
            raise DeskError(403, f"ticket {code} needs {need}")
        if profile.active_tickets >= profile.capacity:
            raise DeskError(409, f"{agent.name} is at capacity ({profile.capacity} tickets)")
        if not self.store.claim(ticket.id, agent.name, profile.capacity, now):
            fresh = self.store.get_ticket(ticket.id) or ticket
            if fresh.assignee is None and fresh.offered_to and fresh.offered_to != agent.name:
                raise DeskError(409, f"ticket {code} is offered to {fresh.offered_to} until the offer lapses")
            who = f" by {fresh.assignee}" if fresh.assignee else ""
            raise DeskError(409, f"ticket {code} was claimed{who}")
        logger.info("ticket %s claimed by %s", code, agent.name)
        return self.feed.ticket(ticket.id)

    async def reply(self, code: str, agent: Agent, body: Any) -> Dict[str, Any]:
        """Store an agent's reply, then deliver it on the customer's channel through Rasa.

        A banned phrase (`bot.desk.compliance`) is refused before anything is stored, or (setting `warn`) sent
        with a warning recorded for QA and answered as `compliance_warning`.

        Raises:
            DeskError: 400 bad body; 403 not the owner; 404; 409 not claimed or closed; 422 a banned phrase;
                502 Rasa down (the message is kept with status `failed`).
        """
        ticket = self.find_for(code, agent)
        text = validate_text(body)
        assert text is not None
        self._owned(ticket, agent, require_claim=True)
        found = self.compliance.check(ticket, agent, text)
        message = self.store.add_message(
            ticket.id, MessageRole.AGENT, text, records.now(), MessageStatus.PENDING, author=agent.name
        )
        assert message is not None
        self.compliance.record(ticket, agent, found, message.id)
        sent = public_message(await self.delivery.send_reply(ticket, message))
        return {**sent, "compliance_warning": found} if found else sent

    async def retry(self, code: str, agent: Agent, message_id: int) -> Dict[str, Any]:
        """Send a failed agent message again, under the same delivery key (a channel that did send it skips it).

        `failed -> pending` is one conditional UPDATE: of two retries at once (two clicks, two desks), one sends.

        Raises:
            DeskError: 404 unknown ticket or message; 409 the message is not failed (any more); 403/409 as
                `reply`; 502.
        """
        ticket = self.find_for(code, agent)
        self._owned(ticket, agent, require_claim=True)
        message = self.store.get_message(message_id)
        if message is None or message.ticket_id != ticket.id or message.role is not MessageRole.AGENT:
            raise DeskError(404, f"no agent message {message_id} on ticket {code}")
        if not self.store.set_message_status(message_id, MessageStatus.PENDING, expect=MessageStatus.FAILED):
            fresh = self.store.get_message(message_id) or message
            raise DeskError(409, f"message {message_id} is {fresh.status}, not failed")
        pending = dataclasses.replace(message, status=MessageStatus.PENDING)
        return public_message(await self.delivery.send_reply(ticket, pending))

    def transfer(self, code: str, agent: Agent, body: Any) -> Dict[str, Any]:
        """Transfer a ticket to a skill queue or to an agent, with an optional note (kept as a `note` message).

        Raises:
            DeskError: 400 neither or both of skill/agent, unknown agent; 403 not the owner; 404; 409 closed or
                the target agent is at capacity; 422 a banned phrase in the note (`bot.desk.compliance`).
        """
        ticket = self.find_for(code, agent)
        if not isinstance(body, dict):
            raise DeskError(400, "the body must be a JSON object {skill | agent, note}")
        skill, target = body.get("skill"), body.get("agent")
        if bool(skill) == bool(target):
            raise DeskError(400, "give exactly one of 'skill' or 'agent'")
        note = validate_text(body, "note", required=False)
        self._owned(ticket, agent, require_claim=False)
        found = self.compliance.check(ticket, agent, note, NOTE) if note else []
        now = records.now()
        if skill:
            known = self.known_skills()
            if not isinstance(skill, str) or skill not in known:
                raise DeskError(400, f"'skill' must be one of {sorted(known)}")
            ok = self.store.requeue(ticket.id, skill, ticket.requires_senior, now, ticket.assignee)
            where = f"skill {skill}"
        else:
            if not isinstance(target, str):
                raise DeskError(400, "'agent' must be an agent name")
            other = self.store.get_agent(target)
            if other is None:
                raise DeskError(400, f"no agent named {target}")
            if self.store.active_count(target) >= other.capacity and target != ticket.assignee:
                raise DeskError(409, f"{target} is at capacity")
            ok = self.store.assign(ticket.id, target, now, ticket.assignee)
            where = f"agent {target}"
        if not ok:
            raise DeskError(409, f"ticket {code} changed meanwhile; reload it")
        text = f"Transferred by {agent.name} to {where}" + (f": {mask(note)}" if note else "")
        message = self.store.add_message(
            ticket.id, MessageRole.NOTE, text, now, MessageStatus.INTERNAL, author=agent.name
        )
        if message:
            self.compliance.record(ticket, agent, found, message.id, NOTE)
            self.feed.message(ticket.id, message)
        logger.info("ticket %s transferred to %s", code, where)
        return self.feed.ticket(ticket.id)

    def set_topic(self, code: str, agent: Agent, body: Any) -> Dict[str, Any]:
        """Set the topic of a ticket the agent owns: what the conversation was about (an intent name).

        The trainer reads it as the agent's label (`Store.topic_spans`). Routing does not change.

        Raises:
            DeskError: 400 not a known topic (see `topics`); 403 not the owner; 404; 409 unclaimed or closed.
        """
        ticket = self.find_for(code, agent)
        if not isinstance(body, dict):
            raise DeskError(400, "the body must be a JSON object {\"topic\": …}")
        topic = body.get("topic")
        known = self.topics()
        if not isinstance(topic, str) or topic not in known:
            raise DeskError(400, f"'topic' must be a known intent name such as {known[0]} (see GET /api/topics)")
        self._owned(ticket, agent, require_claim=True, before="setting its topic")
        if not self.store.set_topic(ticket.id, topic, agent.name):
            raise DeskError(409, f"ticket {code} changed meanwhile; reload it")
        logger.info("ticket %s topic set to %s by %s", code, topic, agent.name)
        return self.feed.ticket(ticket.id)

    async def resolve(self, code: str, agent: Agent) -> Dict[str, Any]:
        """Resolve: claim the close, send the survey and give the conversation back to the assistant, then mark
        the ticket resolved (`bot.desk.closing`).

        Raises:
            DeskError: 403 not the owner; 404; 409 closed, closing, or changed meanwhile; 502 Rasa did not take
                the survey (the ticket stays open, as it was).
        """
        ticket = self.find_for(code, agent)
        self._owned(ticket, agent, require_claim=False, supervised=True)
        return await self.closer.close(ticket, agent.name, TicketStatus.RESOLVED)

    async def handback(self, code: str, agent: Agent) -> Dict[str, Any]:
        """Give the conversation back to the assistant without resolving (a short message, then resume); as
        `resolve`."""
        ticket = self.find_for(code, agent)
        self._owned(ticket, agent, require_claim=False, supervised=True)
        return await self.closer.close(ticket, agent.name, TicketStatus.HANDED_BACK)
