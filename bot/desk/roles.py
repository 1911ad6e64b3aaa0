"""Roles and least privilege: who may call which route, and which tickets an agent may see.

Three roles (`bot.desk.records.Role`), each allowed all the one before it is:

- `agent`: the queues of its skills (a skill queue's ticket also reaches the general queue once it overflows), its
  own tickets and those it took part in (wrote a reply or a note on, a transfer included, or closed);
- `supervisor`: every ticket; reassign, resolve or hand back any ticket, change a grade, disable and enable agents,
  reset their passwords; the dashboard and the audit log;
- `admin`: a supervisor who may also manage supervisors and admins (a supervisor manages agents only).

A ticket outside an agent's reach is a **403** (`{"error": "ticket T-… is outside your reach"}`), never its data.
Ticket ids are sequential, so a 404 would hide nothing; the 403 says to ask a supervisor.

One place for the check of every `/api` route: `require_role(Role.X)` wraps the handler, authenticates the bearer
token (401), refuses a session still on its one-time password (403, except the routes that change it), checks
the role (403) and leaves the session in `request.ctx.session`:

    @bp.get("/dashboard")
    @require_role(Role.SUPERVISOR)
    async def dashboard(request: Request) -> HTTPResponse: ...

A new route takes the decorator with the least role that needs it (`Role.AGENT` for anything signed in).
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Awaitable, Callable, Optional

from bot.desk import auth
from bot.desk.errors import DeskError
from bot.desk.queue import ANY_SKILL, QueueRules
from bot.desk.records import Agent, AgentSession, Role, Ticket
from bot.desk.store.tickets import AgentReach

logger = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Any]]
__all__ = ["ANY_SKILL", "has_role", "may_manage", "outside_reach", "parse_role", "reach_of", "require_role"]
ROLE_NAMES = ", ".join(r.value for r in Role)


def parse_role(raw: Any) -> Role:
    """The role named `raw`.

    Raises:
        auth.AuthError: not one of agent, supervisor, admin.
    """
    try:
        return Role(str(raw).strip().lower())
    except ValueError as error:
        raise auth.AuthError(f"not a role: {raw!r} (use {ROLE_NAMES})") from error


def has_role(agent: Agent, minimum: Role) -> bool:
    """True when the agent's role is `minimum` or above."""
    return agent.role.rank >= minimum.rank


def require_role(minimum: Role, *, before_password_change: bool = False) -> Callable[[Handler], Handler]:
    """Decorate an `/api` route: it needs a valid bearer token of an agent with at least role `minimum`.

    Args:
        minimum: the least role the route needs (`Role.AGENT`: anyone signed in).
        before_password_change: the route also works for a session still on its one-time password (sign out,
            who am I, change the password); every other route refuses it.

    Returns:
        The decorator; the session it found is `request.ctx.session` (an `AgentSession`).
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: Any, *args: Any, **kwargs: Any) -> Any:
            session = request.app.ctx.desk.accounts.authenticate(auth.bearer_token(request.headers))
            if not before_password_change:
                refuse_until_password_changed(session)
            if not has_role(session.agent, minimum):
                raise DeskError(403, f"this needs the {minimum.value} role (you are {session.agent.role.value})")
            request.ctx.session = session
            return await handler(request, *args, **kwargs)

        return checked

    return decorate


def refuse_until_password_changed(session: AgentSession) -> None:
    """While an agent is on a one-time password, any token of it (a session, an API token, a stream ticket) may
    only change it (403 otherwise): whoever handed the password over must not be able to act as the agent. API
    tokens printed by `add-agent` before it stopped printing them are held back the same way.

    Raises:
        DeskError: 403 naming `POST /api/me/password`.
    """
    if session.agent.must_change_password:
        raise DeskError(403, "change your one-time password first (POST /api/me/password)")


def reach_of(agent: Agent, rules: QueueRules, now: float) -> Optional[AgentReach]:
    """The tickets an agent may see; None for supervisors and admins (every ticket)."""
    if has_role(agent, Role.SUPERVISOR):
        return None
    return AgentReach(
        agent=agent.name, skills=tuple(agent.skills), general_skill=rules.general_skill,
        overflow_before=now - rules.overflow_after,
    )


def may_manage(actor: Agent, target: Agent) -> bool:
    """True when `actor` may disable, enable or reset the password of `target`: an admin anyone, a supervisor
    agents only (never itself: a locked-out supervisor needs another one)."""
    if actor.name == target.name:
        return False
    if has_role(actor, Role.ADMIN):
        return True
    return has_role(actor, Role.SUPERVISOR) and target.role is Role.AGENT


def outside_reach(ticket: Ticket) -> DeskError:
    """The refusal of a ticket outside an agent's reach (403)."""
    return DeskError(403, f"ticket {ticket.code} is outside your reach: ask a supervisor")
