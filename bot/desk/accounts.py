"""Agents' accounts through the API: sign in and out, who am I, change my password, the list of agents.

Passwords and tokens are handled by `bot.desk.auth`; every authenticated request also marks its agent as
seen (`bot.desk.presence`).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List

from bot.desk import auth, records
from bot.desk.config import DeskSettings
from bot.desk.errors import DeskError
from bot.desk.presence import Presence
from bot.desk.records import Agent, AgentSession
from bot.desk.store import Store
from bot.desk.views import agent_json, iso

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8


class Accounts:
    """Sign-in, sessions and the agents list.

    Args:
        store: the desk store.
        settings: the desk settings (`session_hours`).
        presence: where authenticated requests are recorded.
    """

    def __init__(self, store: Store, settings: DeskSettings, presence: Presence) -> None:
        self.store = store
        self.settings = settings
        self.presence = presence

    def authenticate(self, token: str) -> AgentSession:
        """Return the session of a bearer token and mark its agent as seen.

        Raises:
            DeskError: 401 when the token is missing, unknown or expired.
        """
        session = auth.authenticate(self.store, token, records.now())
        if session is None:
            raise DeskError(401, "a valid bearer token is required (Authorization: Bearer <token>)")
        self.presence.seen(session.agent.name)
        return session

    def login(self, body: Any) -> Dict[str, Any]:
        """Check `{"name", "password"}` and open a session (`POST /api/login`).

        Raises:
            DeskError: 400 bad body; 401 wrong name or password.
        """
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not isinstance(
            body.get("password"), str
        ):
            raise DeskError(400, "send {\"name\": …, \"password\": …}")
        try:
            token, expires = auth.login(
                self.store, body["name"], body["password"], records.now(), self.settings.session_hours
            )
        except auth.AuthError as error:
            raise DeskError(401, str(error)) from error
        agent = self.store.get_agent(body["name"])
        return {
            "token": token,
            "expires_at": iso(expires),
            "must_change_password": bool(agent and agent.must_change_password),
        }

    def logout(self, token: str) -> None:
        """Forget a token (`POST /api/logout`)."""
        self.store.delete_token(auth.hash_token(token))

    def me(self, session: AgentSession) -> Dict[str, Any]:
        """The signed-in agent (`GET /api/me`)."""
        agent = session.agent
        return {
            "name": agent.name,
            "skills": list(agent.skills),
            "senior": agent.senior,
            "capacity": agent.capacity,
            "active_tickets": self.store.active_count(agent.name),
            "must_change_password": agent.must_change_password,
            "token_kind": session.kind.value,
            "expires_at": iso(session.expires_at),
        }

    def change_password(self, agent: Agent, body: Any) -> None:
        """Replace the agent's password (`POST /api/me/password`).

        Raises:
            DeskError: 400 bad body or a password under `MIN_PASSWORD_LENGTH` characters; 403 wrong old password.
        """
        if not isinstance(body, dict):
            raise DeskError(400, "send {\"old_password\": …, \"password\": …}")
        if not auth.verify_password(str(body.get("old_password", "")), self.store.password_hash(agent.name) or ""):
            raise DeskError(403, "the old password is wrong")
        new = body.get("password")
        if not isinstance(new, str) or len(new) < MIN_PASSWORD_LENGTH:
            raise DeskError(400, f"'password' must have at least {MIN_PASSWORD_LENGTH} characters")
        self.store.set_password_hash(agent.name, auth.hash_password(new), must_change_password=False)

    def agents(self) -> List[Dict[str, Any]]:
        """Every agent with their current load (`GET /api/agents`)."""
        return [agent_json(a, self.store.active_count(a.name)) for a in self.store.list_agents()]
