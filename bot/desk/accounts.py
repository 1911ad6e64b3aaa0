"""Agents' accounts through the API: sign in and out, who am I, change my password, the list of agents.

Passwords and tokens are handled by `bot.desk.auth`; every authenticated request also marks its agent as
seen (`bot.desk.presence`). Each password check is a 16 MB scrypt: it runs on a small pool of threads
(`hashing`), never on the event loop, and sign-in attempts are limited (`bot.ratelimit`): per address (`limits.login_attempts_per_address`,
every attempt) and per agent name (`limits.login_failures_per_name`, failed attempts, from any address); over
either, a 429 with `Retry-After` before any scrypt runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from typing import Any, Dict, List, Optional

from bot import ratelimit
from bot.desk import auth, records
from bot.desk.config import DeskSettings
from bot.desk.errors import DeskError
from bot.desk.presence import Presence
from bot.desk.records import AgentSession, TokenKind
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
        limiter: the abuse limits (`limits` settings of `settings.raw`, counted where `bot.ratelimit` says).
    """

    def __init__(
        self, store: Store, settings: DeskSettings, presence: Presence, limiter: Optional[ratelimit.Limiter] = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.presence = presence
        self.limiter = limiter or ratelimit.Limiter.from_settings(settings.raw or None)
        # Password hashing threads: one per two cores, so a burst of sign-ins leaves a core to the event loop.
        self.hashing = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, (os.cpu_count() or 2) // 2), thread_name_prefix="desk-password"
        )

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

    async def login(self, body: Any, address: str) -> Dict[str, Any]:
        """Check `{"name", "password"}` and open a session (`POST /api/login`).

        Args:
            body: the request body.
            address: the caller's address (`bot.ratelimit.request_address`).

        Raises:
            DeskError: 400 bad body; 401 wrong name or password.
            TooManyRequests: 429, too many attempts from `address` or failures for this name.
        """
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not isinstance(
            body.get("password"), str
        ):
            raise DeskError(400, "send {\"name\": …, \"password\": …}")
        name = body["name"]
        wait = self.limiter.hit(ratelimit.LOGIN_ADDRESS, address)
        if wait is not None:
            logger.warning("sign-in refused: too many attempts from one address")
            raise ratelimit.TooManyRequests(f"too many sign-in attempts from your address: retry in {wait} s", wait)
        wait = self.limiter.test(ratelimit.LOGIN_NAME, name)
        if wait is not None:
            logger.warning("sign-in refused: too many failed attempts for one name")
            raise ratelimit.TooManyRequests(f"too many failed sign-ins for this name: retry in {wait} s", wait)
        try:
            token, expires = await asyncio.get_running_loop().run_in_executor(
                self.hashing, auth.login, self.store, name, body["password"], records.now(), self.settings.session_hours
            )
        except auth.AuthError as error:
            self.limiter.hit(ratelimit.LOGIN_NAME, name)
            raise DeskError(401, str(error)) from error
        agent = self.store.get_agent(name)
        return {
            "token": token,
            "expires_at": iso(expires),
            "must_change_password": bool(agent and agent.must_change_password),
            "role": agent.role.value if agent else None,
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
            "role": agent.role.value,
            "status": agent.status,
            "token_kind": session.kind.value,
            "expires_at": iso(session.expires_at),
        }

    async def change_password(self, session: AgentSession, body: Any) -> None:
        """Replace the agent's password (`POST /api/me/password`); both hashes run in an executor. The agent's
        other sign-in sessions (and unspent stream tickets) end; the session that changed it goes on.

        Raises:
            DeskError: 400 bad body or a password under `MIN_PASSWORD_LENGTH` characters; 403 wrong old password.
        """
        agent = session.agent
        if not isinstance(body, dict):
            raise DeskError(400, "send {\"old_password\": …, \"password\": …}")
        loop = asyncio.get_running_loop()
        stored = self.store.password_hash(agent.name) or ""
        if not await loop.run_in_executor(self.hashing, auth.verify_password, str(body.get("old_password", "")), stored):
            raise DeskError(403, "the old password is wrong")
        new = body.get("password")
        if not isinstance(new, str) or len(new) < MIN_PASSWORD_LENGTH:
            raise DeskError(400, f"'password' must have at least {MIN_PASSWORD_LENGTH} characters")
        new_hash = await loop.run_in_executor(self.hashing, auth.hash_password, new)
        self.store.set_password_hash(agent.name, new_hash, must_change_password=False)
        self.store.delete_tokens(agent.id, [TokenKind.SESSION, TokenKind.STREAM], keep=session.token_hash)

    def stream_still_valid(self, opened: AgentSession) -> bool:
        """True while a stream opened with `opened` may go on (`auth.stream_still_valid`: an open stream asks
        every few seconds)."""
        return auth.stream_still_valid(self.store, opened, records.now())

    def api_token(self, session: AgentSession) -> Dict[str, Any]:
        """An API token for the signed-in agent's scripts (`POST /api/me/api-tokens`), expiring after
        `desk.api_token_days`: only an agent whose password is its own gets one (`require_role`), shown once."""
        token = auth.issue_api_token(self.store, session.agent, self.settings.api_token_days)
        expires = auth.authenticate(self.store, token, records.now())
        return {"token": token, "expires_at": iso(expires.expires_at if expires else None)}

    def stream_ticket(self, session: AgentSession) -> Dict[str, Any]:
        """A stream ticket for the signed-in agent (`POST /api/stream-tickets`): `GET /api/stream?ticket=…` opens
        the stream once, within a minute."""
        ticket, expires = auth.issue_stream_ticket(self.store, session, records.now())
        return {"ticket": ticket, "expires_at": iso(expires)}

    def stream_session(self, ticket: str) -> AgentSession:
        """Spend a stream ticket (`GET /api/stream?ticket=…`) and return its agent's session.

        Raises:
            DeskError: 401 when it is unknown, expired or spent.
        """
        session = auth.use_stream_ticket(self.store, ticket, records.now())
        if session is None:
            raise DeskError(401, "a valid stream ticket is required (POST /api/stream-tickets; each opens one stream)")
        self.presence.seen(session.agent.name)
        return session

    def agents(self) -> List[Dict[str, Any]]:
        """Every agent with their current load (`GET /api/agents`)."""
        return [agent_json(a, self.store.active_count(a.name)) for a in self.store.list_agents()]
