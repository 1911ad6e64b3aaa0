"""The agent rows (`desk_agents`) and their bearer tokens (`desk_tokens`, stored as hashes only)."""

from __future__ import annotations

import logging
from typing import Any, List, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.desk.records import Agent, AgentSession, Role, TokenKind
from bot.desk.store.database import Database
from bot.desk.store.tables import agents, tokens

logger = logging.getLogger(__name__)


class AgentRows(Database):
    """Reads and writes of `desk_agents` and `desk_tokens`."""

    def add_agent(
        self, name: str, password_hash: str, skills: List[str], senior: bool, capacity: int, now: float,
        role: Role = Role.AGENT, must_change_password: bool = True,
    ) -> Agent:
        """Create an agent (who must change the password at first sign-in, unless `must_change_password` is False).

        Raises:
            ValueError: an agent with that name exists.
        """
        values = dict(
            name=name, password_hash=password_hash, skills=",".join(skills), senior=senior, capacity=capacity,
            created_at=now, must_change_password=must_change_password, role=Role(role).value,
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(agents.insert().values(**values))
        except IntegrityError as error:
            raise ValueError(f"agent {name!r} exists") from error
        agent = self.get_agent(name)
        assert agent is not None
        return agent

    def get_agent(self, name: str) -> Optional[Agent]:
        """Return an agent by name, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(agents).where(agents.c.name == name)).first()
        return Agent.from_row(row._mapping) if row else None

    def password_hash(self, name: str) -> Optional[str]:
        """Return the stored password hash of an agent, or None when there is no such agent."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(agents.c.password_hash).where(agents.c.name == name)).scalar()

    def list_agents(self) -> List[Agent]:
        """Return every agent, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(agents).order_by(agents.c.name)).all()
        return [Agent.from_row(row._mapping) for row in rows]

    def set_password_hash(self, name: str, password_hash: str, must_change_password: bool = False) -> None:
        """Replace an agent's password hash (and whether it must be changed at the next sign-in)."""
        with self.engine.begin() as conn:
            conn.execute(
                agents.update()
                .where(agents.c.name == name)
                .values(password_hash=password_hash, must_change_password=must_change_password)
            )

    def set_role(self, name: str, role: Role) -> bool:
        """Give an agent another role; False when there is no such agent."""
        with self.engine.begin() as conn:
            return conn.execute(agents.update().where(agents.c.name == name).values(role=Role(role).value)).rowcount == 1

    def set_disabled(self, name: str, at: Optional[float]) -> bool:
        """Disable an agent (`at`: since when) or enable it (None), and on disabling forget all its tokens, in one
        transaction; True when it changed (False: no such agent, or it already was so)."""
        state = agents.c.disabled_at.is_(None) if at is not None else agents.c.disabled_at.is_not(None)
        with self.engine.begin() as conn:
            changed = conn.execute(agents.update().where(agents.c.name == name, state).values(disabled_at=at)).rowcount
            if changed and at is not None:
                mine = sa.select(agents.c.id).where(agents.c.name == name).scalar_subquery()
                conn.execute(tokens.delete().where(tokens.c.agent_id == mine))
        return changed == 1

    def delete_tokens(self, agent_id: int, kinds: List[TokenKind], keep: Optional[str] = None) -> int:
        """Forget an agent's tokens of these kinds, except the one whose hash is `keep`; return how many."""
        stmt = tokens.delete().where(tokens.c.agent_id == agent_id, tokens.c.kind.in_([TokenKind(k).value for k in kinds]))
        if keep:
            stmt = stmt.where(tokens.c.token_hash != keep)
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount

    def use_token(self, token_hash: str, kind: TokenKind, now: float) -> Optional[AgentSession]:
        """Spend a one-use token of `kind` (a stream ticket): delete it and return its agent's session, or None
        when it is unknown, of another kind, expired, already spent, or its agent is disabled. Of two uses at once,
        one gets it (the DELETE's row count)."""
        session = self.agent_for_token(token_hash, now)
        if session is None or session.kind is not TokenKind(kind):
            return None
        with self.engine.begin() as conn:
            spent = conn.execute(tokens.delete().where(tokens.c.token_hash == token_hash)).rowcount
        return session if spent == 1 else None

    def add_token(
        self, token_hash: str, agent_id: int, kind: TokenKind | str, now: float, expires_at: Optional[float],
        parent_hash: Optional[str] = None,
    ) -> None:
        """Store a token (its hash only; a stream ticket with the hash of the token that asked for it)."""
        with self.engine.begin() as conn:
            conn.execute(
                tokens.insert().values(
                    token_hash=token_hash, agent_id=agent_id, kind=TokenKind(kind).value, created_at=now,
                    expires_at=expires_at, parent_hash=parent_hash,
                )
            )

    def agent_for_token(self, token_hash: str, now: float) -> Optional[AgentSession]:
        """Return the agent a valid (unexpired) token belongs to, with the token's kind and expiry, or None (also
        when the agent is disabled)."""
        query = (
            sa.select(agents, tokens.c.expires_at.label("token_expires_at"), tokens.c.kind.label("token_kind"),
                      tokens.c.parent_hash.label("token_parent_hash"))
            .select_from(tokens.join(agents, tokens.c.agent_id == agents.c.id))
            .where(tokens.c.token_hash == token_hash)
            .where(sa.or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now))
            .where(agents.c.disabled_at.is_(None))
        )
        with self.engine.connect() as conn:
            row: Any = conn.execute(query).first()
        if not row:
            return None
        data = row._mapping
        return AgentSession(
            agent=Agent.from_row(data), kind=TokenKind(data["token_kind"]), expires_at=data["token_expires_at"],
            token_hash=token_hash, parent_hash=data["token_parent_hash"] or "",
        )

    def delete_token(self, token_hash: str) -> None:
        """Forget a token (log out)."""
        with self.engine.begin() as conn:
            conn.execute(tokens.delete().where(tokens.c.token_hash == token_hash))

    def purge_expired_tokens(self, now: float) -> int:
        """Delete expired tokens; return how many."""
        with self.engine.begin() as conn:
            return conn.execute(
                tokens.delete().where(tokens.c.expires_at.is_not(None), tokens.c.expires_at <= now)
            ).rowcount
