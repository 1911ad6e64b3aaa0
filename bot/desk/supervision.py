"""What supervisors do (`bot.desk.roles`): reassign a ticket to an agent or back to the queue, change its grade,
disable and enable agents, reset a password, give a role; the API and the command line both call these.

Each ticket change is one conditional UPDATE naming the owner (or grade) the supervisor saw, as an agent's own
actions are (`bot.desk.store.tickets`): a ticket that changed meanwhile is a 409, never overwritten. Disabling
an agent deletes its tokens in the same transaction (none works from that moment, on any desk process) and puts
its open tickets back in their queues, each with a note saying why. `actor` None is the command line (whoever
may run it may do all of this).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any, Dict, List, Optional

from bot.desk import auth, records, roles
from bot.desk.config import DeskSettings
from bot.desk.delivery import Delivery
from bot.desk.errors import DeskError, find_ticket
from bot.desk.records import Agent, Message, MessageRole, MessageStatus, Role, Ticket, TicketStatus, TokenKind
from bot.desk.sla import BusinessHours, due_times
from bot.desk.store import Store
from bot.desk.stream import ConsoleFeed

logger = logging.getLogger(__name__)

CLI = "command line"


class Supervision:
    """The supervisors' actions over the store.

    Args:
        store: the desk store.
        settings: the desk settings (grades and their budgets).
        calendar: the business calendar (a grade's new due times).
        feed: the console push.
        delivery: pauses the assistant when a queued ticket is given to an agent.
    """

    def __init__(
        self, store: Store, settings: DeskSettings, calendar: BusinessHours, feed: ConsoleFeed, delivery: Delivery
    ) -> None:
        self.store = store
        self.settings = settings
        self.calendar = calendar
        self.feed = feed
        self.delivery = delivery

    # ---- tickets ------------------------------------------------------------------------------------------

    async def reassign(self, code: str, actor: Optional[Agent], body: Any) -> Dict[str, Any]:
        """Give an open ticket to an agent (`{"agent": NAME}`) or put it back in its queue (`{"queue": true}`).

        Raises:
            DeskError: 400 bad body or an unknown or disabled agent; 404 unknown ticket; 409 closed, already
                there, changed meanwhile, or the agent is at capacity.
        """
        ticket = find_ticket(self.store, code)
        if not isinstance(body, dict) or (body.get("queue") is True) == bool(body.get("agent")):
            raise DeskError(400, 'send {"agent": NAME} or {"queue": true}')
        if not ticket.is_open:
            raise DeskError(409, f"ticket {ticket.code} is {ticket.status}")
        now = records.now()
        if body.get("queue") is True:
            if ticket.status is TicketStatus.QUEUED:
                raise DeskError(409, f"ticket {ticket.code} is already in the {ticket.skill} queue")
            ok = self.store.requeue(ticket.id, ticket.skill, ticket.requires_senior, now, ticket.assignee)
            where = f"the {ticket.skill} queue"
        else:
            name = body["agent"]
            target = self.store.get_agent(name) if isinstance(name, str) else None
            if target is None or not target.enabled:
                raise DeskError(400, f"no enabled agent named {name}")
            if ticket.assignee == target.name:
                raise DeskError(409, f"ticket {ticket.code} is already {target.name}'s")
            if self.store.active_count(target.name) >= target.capacity:
                raise DeskError(409, f"{target.name} is at capacity ({target.capacity} tickets)")
            ok = self.store.assign(ticket.id, target.name, now, ticket.assignee)
            where = f"agent {target.name}"
        if not ok:
            raise DeskError(409, f"ticket {ticket.code} changed meanwhile; reload it")
        note = self._note(ticket, f"Reassigned by {_name(actor)} to {where}", actor)
        if ticket.status is TicketStatus.QUEUED:  # an agent owns it now: only the agent answers
            await self.delivery.pause(ticket)
        logger.info("ticket %s reassigned to %s", ticket.code, where)
        return self._push(ticket, note)

    def set_grade(self, code: str, actor: Optional[Agent], body: Any) -> Dict[str, Any]:
        """Change an open ticket's grade (`{"grade": "A"}`); its resolution due time follows the new grade's
        budget from the ticket's creation (`escalation.grade_hours`).

        Raises:
            DeskError: 400 not a grade; 404; 409 closed or changed meanwhile.
        """
        ticket = find_ticket(self.store, code)
        grades = sorted(self.settings.grade_hours)
        grade = body.get("grade") if isinstance(body, dict) else None
        if grade not in grades:
            raise DeskError(400, f"'grade' must be one of {grades}")
        if not ticket.is_open:
            raise DeskError(409, f"ticket {ticket.code} is {ticket.status}")
        start = dt.datetime.fromtimestamp(ticket.created_at, dt.timezone.utc)
        due = due_times(self.calendar, self.settings, ticket.channel, grade, ticket.team, start)
        values = {"due_resolution": due.due_resolution, "warn_resolution": due.warn_resolution}
        if not self.store.set_grade(ticket.id, grade, values, expect_grade=ticket.grade):
            raise DeskError(409, f"ticket {ticket.code} changed meanwhile; reload it")
        note = self._note(ticket, f"Grade changed by {_name(actor)} from {ticket.grade} to {grade}", actor)
        return self._push(ticket, note)

    # ---- agents -------------------------------------------------------------------------------------------

    def disable(self, name: str, actor: Optional[Agent]) -> Dict[str, Any]:
        """Disable an agent: its tokens stop working at once, it cannot sign in, its open tickets go back to their
        queues. Answers `{"agent": NAME, "enabled": false, "returned": [ticket ids]}`.

        Raises:
            DeskError: 404 no such agent; 403 not the actor's to manage; 409 already disabled.
        """
        target = self._manageable(name, actor)
        if not self.store.set_disabled(target.name, records.now()):
            raise DeskError(409, f"{target.name} is already disabled")
        returned = self.release(target.name, f"{target.name} was disabled by {_name(actor)}", actor)
        logger.info("agent %s disabled; %d tickets back in the queue", target.name, len(returned))
        return {"agent": target.name, "enabled": False, "returned": returned}

    def release(self, name: str, why: str, actor: Optional[Agent]) -> List[str]:
        """Put every ticket `name` owns back in its queue (each one conditional on still being the agent's);
        return their ids."""
        returned = []
        for ticket in self.store.assigned_to(name):
            if self.store.requeue(ticket.id, ticket.skill, ticket.requires_senior, records.now(), name):
                self._push(ticket, self._note(ticket, f"Back in the {ticket.skill} queue: {why}", actor))
                returned.append(ticket.code)
        return returned

    def enable(self, name: str, actor: Optional[Agent]) -> Dict[str, Any]:
        """Enable a disabled agent (it signs in again; its old tokens stay gone).

        Raises:
            DeskError: 404; 403; 409 not disabled.
        """
        target = self._manageable(name, actor)
        if not self.store.set_disabled(target.name, None):
            raise DeskError(409, f"{target.name} is not disabled")
        return {"agent": target.name, "enabled": True}

    def reset_password(self, name: str, actor: Optional[Agent]) -> Dict[str, Any]:
        """Give an agent a new one-time password (to change at the next sign-in) and end all its tokens. Blocking
        (a scrypt hash): call it in an executor. Answers `{"agent": NAME, "password": …}`, the only time it is
        shown.

        Raises:
            DeskError: 404; 403.
        """
        target = self._manageable(name, actor)
        password = secrets.token_urlsafe(12)
        self.store.set_password_hash(target.name, auth.hash_password(password), must_change_password=True)
        # Every token ends, API tokens too: a reset answers a forgotten or exposed password, and a token issued
        # under the old one must not outlive it (the agent asks for new ones once its password is its own).
        self.store.delete_tokens(target.id, list(TokenKind))
        return {"agent": target.name, "password": password}

    def set_role(self, name: str, role: Role, actor: Optional[Agent]) -> Dict[str, Any]:
        """Give an agent a role (admins and the command line only: `require_role(Role.ADMIN)` on the route).

        Raises:
            DeskError: 404; 403 the actor's own role.
        """
        target = self.store.get_agent(name)
        if target is None:
            raise DeskError(404, f"no agent named {name}")
        if actor is not None and actor.name == target.name:
            raise DeskError(403, "an admin cannot change its own role")
        self.store.set_role(target.name, role)
        return {"agent": target.name, "role": role.value}

    def _manageable(self, name: str, actor: Optional[Agent]) -> Agent:
        target = self.store.get_agent(name)
        if target is None:
            raise DeskError(404, f"no agent named {name}")
        if actor is not None and not roles.may_manage(actor, target):
            raise DeskError(403, f"{target.name} ({target.role.value}) is not yours to manage")
        return target

    def _note(self, ticket: Ticket, text: str, actor: Optional[Agent]) -> Optional[Message]:
        author = actor.name if actor is not None else None
        return self.store.add_message(ticket.id, MessageRole.NOTE, text, records.now(), MessageStatus.INTERNAL,
                                      author=author)

    def _push(self, ticket: Ticket, note: Optional[Message]) -> Dict[str, Any]:
        """Push the ticket as it is now, then the note about the change: the ticket's event first, so a console
        whose agent no longer reaches it drops it before any word of it (`bot.desk.visibility`)."""
        data = self.feed.ticket(ticket.id)
        if note is not None:
            self.feed.message(ticket.id, note)
        return data


def _name(actor: Optional[Agent]) -> str:
    return actor.name if actor is not None else CLI
