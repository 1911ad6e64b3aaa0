"""Agents and their credentials: scrypt password hashes, bearer tokens stored as SHA-256 hashes.

Three kinds of token: `api` tokens, for an agent's scripts, which the agent asks for itself
(`POST /api/me/api-tokens`, once its password is its own) and which expire after `desk.api_token_days` (90); `session` tokens from `POST /api/login`, which expire after
`desk.session_hours` (12 h); and `stream` tickets (`POST /api/stream-tickets`), good for one `GET /api/stream`
within `STREAM_TICKET_SECONDS`, so the long-lived token never goes in a URL. A disabled agent's tokens are
deleted and none of its kind works while it is disabled; it cannot sign in. While an agent is on a one-time
password, no token of any kind does more than change it (`bot.desk.roles.refuse_until_password_changed`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import secrets
from typing import Any, List, Optional, Tuple

from bot import clock
from bot.desk.records import Agent, AgentSession, Role, TokenKind
from bot.desk.store import Store

logger = logging.getLogger(__name__)

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_SKILL_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-*")
# A stream ticket opens one stream within this many seconds.
STREAM_TICKET_SECONDS = 60.0
DEFAULT_API_TOKEN_DAYS = 90.0


class AuthError(ValueError):
    """Bad agent data (name, skills) or a failed login."""


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of `password`: `scrypt$n$r$p$salt$hash` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, maxmem=64 * 1024 * 1024, **_SCRYPT)
    parts = ["scrypt", str(_SCRYPT["n"]), str(_SCRYPT["r"]), str(_SCRYPT["p"])]
    return "$".join(parts + [base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash (constant-time comparison)."""
    try:
        kind, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if kind != "scrypt":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected),
            maxmem=64 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_skills(raw: str | List[str]) -> List[str]:
    """Parse `a,b` into a list of skill names.

    Raises:
        AuthError: a skill name has characters other than lowercase letters, digits, `_`, `-` (or is `*`).
    """
    items = raw if isinstance(raw, list) else raw.split(",")
    skills = [s.strip().lower() for s in items if s and s.strip()]
    for skill in skills:
        if not set(skill) <= _SKILL_CHARS:
            raise AuthError(f"not a valid skill name: {skill!r}")
    return skills or ["general"]


def create_agent(
    store: Store,
    name: str,
    skills: List[str],
    senior: bool,
    capacity: int,
    now: float,
    password: Optional[str] = None,
    role: Role = Role.AGENT,
    token_days: float = DEFAULT_API_TOKEN_DAYS,
    with_token: bool = True,
    settled: bool = False,
) -> Tuple[Agent, str, str]:
    """Create an agent with a one-time password (and an API token unless `with_token` is False).

    `python -m bot desk add-agent` asks for no token: whoever creates an agent hands over a one-time password
    only, so once the agent has chosen its own nobody else holds a credential of it (an agent's scripts get
    API tokens from `POST /api/me/api-tokens`). The token and `settled` serve the load bench and the tests,
    which write the database themselves.

    Args:
        store: the desk store.
        name: the agent's login name.
        skills: skill names.
        senior: whether the agent may take repeat complaints.
        capacity: concurrent tickets the agent can own.
        now: the agent's creation time (epoch seconds).
        password: the initial password; a random one when None.
        role: the agent's role.
        token_days: the API token expires this many days after it is issued (`desk.api_token_days`), counted from
            the desk's clock (`bot.clock`), whatever `now` says.
        with_token: issue an API token too.
        settled: the password counts as already changed (no one-time password); never for a person's account.

    Returns:
        (the agent, the API token or "", the password) — the only time token and password are shown.

    Raises:
        AuthError: the name is empty or taken.
    """
    name = name.strip()
    if not name or len(name) > 64 or any(c.isspace() for c in name):
        raise AuthError("an agent name must be 1–64 characters without spaces")
    password = password or secrets.token_urlsafe(12)
    try:
        agent = store.add_agent(name, hash_password(password), skills, senior, capacity, now, role,
                                must_change_password=not settled)
    except ValueError as error:
        raise AuthError(str(error)) from error
    token = issue_api_token(store, agent, token_days) if with_token else ""
    return agent, token, password


def issue_api_token(store: Store, agent: Agent, days: float) -> str:
    """Issue an API token for `agent`, expiring `days` after now (the desk's clock); return it (stored hashed)."""
    token = secrets.token_urlsafe(32)
    issued = clock.now().timestamp()
    store.add_token(hash_token(token), agent.id, TokenKind.API, issued, issued + days * 86400)
    return token


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a random password with the current parameters: an unknown name is checked against it, so it
    costs the same scrypt as a known one and the time of an answer does not tell which names exist."""
    return hash_password(secrets.token_urlsafe(16))


def login(store: Store, name: str, password: str, now: float, hours: float) -> Tuple[str, float]:
    """Check a name and password; return a new session token and its expiry (epoch seconds).

    Blocking (a 16 MB scrypt, whether the name exists or not): call it in an executor, never on the event loop.

    Raises:
        AuthError: unknown name or wrong password (one message for both, after the same work).
    """
    stored = store.password_hash(name)
    matches = verify_password(password, stored or _dummy_hash())
    agent = store.get_agent(name) if stored is not None and matches else None
    if agent is None or not agent.enabled:  # a disabled agent is told nothing more than a wrong password
        raise AuthError("wrong name or password")
    token = secrets.token_urlsafe(32)
    expires_at = now + hours * 3600
    store.add_token(hash_token(token), agent.id, TokenKind.SESSION, now, expires_at)
    return token, expires_at


def authenticate(store: Store, token: str, now: float) -> Optional[AgentSession]:
    """Return the agent a bearer token (an API or session token) belongs to, with the token's kind and expiry, or
    None when it is unknown, expired, a stream ticket, or its agent is disabled."""
    if not token:
        return None
    session = store.agent_for_token(hash_token(token), now)
    return session if session is not None and session.kind is not TokenKind.STREAM else None


def issue_stream_ticket(store: Store, session: AgentSession, now: float) -> Tuple[str, float]:
    """Issue a stream ticket for the agent of `session`; return it and its expiry (epoch seconds).

    The ticket records the token that asked for it (`parent_hash`): the stream it opens ends when that token
    stops working (`stream_still_valid`), so signing out, a password change elsewhere, a reset or a disable ends
    the streams opened through the sessions they end."""
    ticket = secrets.token_urlsafe(24)
    expires_at = now + STREAM_TICKET_SECONDS
    store.add_token(hash_token(ticket), session.agent.id, TokenKind.STREAM, now, expires_at,
                    parent_hash=session.token_hash)
    return ticket, expires_at


def stream_still_valid(store: Store, opened: AgentSession, now: float) -> bool:
    """True while a stream opened with `opened` may go on: the token it lives by (`AgentSession.holder_hash`)
    still works, for the same agent, in the same role, with no one-time password to change first.

    A changed role ends the stream too: its filter (`bot.desk.visibility`) was built for the old role, and a
    supervisor lowered to agent must stop getting every ticket's events. The console reconnects with a fresh
    stream ticket and gets the new role's filter.
    """
    agent = opened.agent
    if opened.holder_hash:
        current = store.agent_for_token(opened.holder_hash, now)
        fresh = current.agent if current is not None else None
    else:  # a stream ticket issued before tickets recorded their parent: the agent alone is checked
        fresh = store.get_agent(agent.name)
        fresh = fresh if fresh is not None and fresh.enabled else None
    return (
        fresh is not None and fresh.id == agent.id and fresh.role is agent.role and not fresh.must_change_password
    )


def use_stream_ticket(store: Store, ticket: str, now: float) -> Optional[AgentSession]:
    """Spend a stream ticket; return its agent's session, or None when it is unknown, expired or spent."""
    if not ticket:
        return None
    return store.use_token(hash_token(ticket), TokenKind.STREAM, now)


def bearer_token(headers: Any) -> str:
    """Extract the bearer token from an `Authorization` header (tokens are never read from a URL)."""
    header = headers.get("authorization", "") if headers else ""
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return ""
