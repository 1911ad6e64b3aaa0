"""The desk's storage: tickets, their messages, agents, tokens, the broker position, conversations seen.

SQLAlchemy 1.4 Core over SQLite (default, `var/desk.db`) or PostgreSQL (`DATABASE_URL=postgresql://…`).
Tables are created when missing (`Store.migrate()`); all names start with `desk_`, so the desk can share a
PostgreSQL database with Rasa's tracker store. Times are stored as epoch seconds (floats, UTC).

The store is synchronous: each call is one short transaction. Claiming is one conditional UPDATE
(`… WHERE id = ? AND assignee IS NULL AND status = 'queued' AND <agent below capacity>`) whose row count says
who won, so two agents never own the same ticket, whatever the number of desk processes.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any, Dict, Iterable, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

logger = logging.getLogger(__name__)

OPEN_STATUSES = ("queued", "assigned")
CLOSED_STATUSES = ("resolved", "handed_back")
TICKET_PREFIX = "T-"

metadata = sa.MetaData()

tickets = sa.Table(
    "desk_tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    # conversation_id while the ticket is open, NULL once closed: one open ticket per conversation.
    sa.Column("open_key", sa.String(255), unique=True, nullable=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("grade", sa.String(4), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("topic", sa.String(128)),
    sa.Column("skill", sa.String(64), nullable=False),
    sa.Column("team", sa.String(64)),
    sa.Column("requires_senior", sa.Boolean, nullable=False, default=False),
    sa.Column("customer_id", sa.String(255), index=True),
    sa.Column("customer_name", sa.String(255)),
    sa.Column("tier", sa.String(32)),
    sa.Column("language", sa.String(16)),
    sa.Column("vip", sa.Boolean, nullable=False, default=False),
    sa.Column("anger", sa.Float, nullable=False, default=0.0),
    sa.Column("assignee", sa.String(128), index=True),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # Wall-clock creation time, compared with Rasa's event timestamps (FRONTLINE_NOW does not pin Rasa).
    sa.Column("created_real", sa.Float, nullable=False),
    sa.Column("skill_since", sa.Float, nullable=False),
    sa.Column("claimed_at", sa.Float),
    sa.Column("first_response_at", sa.Float),
    sa.Column("closed_at", sa.Float),
    sa.Column("due_first_response", sa.Float, nullable=False),
    sa.Column("warn_first_response", sa.Float, nullable=False),
    sa.Column("due_resolution", sa.Float, nullable=False),
    sa.Column("warn_resolution", sa.Float, nullable=False),
    sa.Column("rating", sa.Integer),
    sa.Column("rating_comment", sa.Text),
    sa.Column("rated_at", sa.Float),
    sa.Column("notified_position", sa.Integer),
)

messages = sa.Table(
    "desk_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, nullable=False, index=True),
    # customer | agent | bot | note (internal, never sent) | system
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    # received (customer) | pending | sent | failed (agent, bot) | internal (note, system)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("author", sa.String(128)),
    # Rasa's message_id for customer messages: the broker consumer's de-duplication key.
    sa.Column("external_id", sa.String(128)),
    sa.Column("anger", sa.Float),
    sa.UniqueConstraint("ticket_id", "external_id", name="desk_messages_ticket_external"),
)

agents = sa.Table(
    "desk_agents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(512), nullable=False),
    sa.Column("must_change_password", sa.Boolean, nullable=False, default=True),
    sa.Column("skills", sa.String(1024), nullable=False, default="general"),
    sa.Column("senior", sa.Boolean, nullable=False, default=False),
    sa.Column("capacity", sa.Integer, nullable=False, default=3),
    sa.Column("created_at", sa.Float, nullable=False),
)

tokens = sa.Table(
    "desk_tokens",
    metadata,
    sa.Column("token_hash", sa.String(128), primary_key=True),
    sa.Column("agent_id", sa.Integer, nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # api (from the CLI) | session (from /api/login)
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float),
)

state = sa.Table(
    "desk_state",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

conversations = sa.Table(
    "desk_conversations",
    metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("channel", sa.String(64)),
    sa.Column("first_seen", sa.Float, nullable=False),
)

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def ticket_code(ticket_id: int) -> str:
    """Return the public id of a ticket, e.g. `T-000123`."""
    return f"{TICKET_PREFIX}{ticket_id:06d}"


def parse_ticket_code(code: str) -> Optional[int]:
    """Return the numeric id of `T-000123` (or `123`), or None when it is not a ticket id."""
    raw = code[len(TICKET_PREFIX):] if code.upper().startswith(TICKET_PREFIX) else code
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _row(row: Any) -> Dict[str, Any]:
    data = dict(row._mapping)
    if "context" in data and isinstance(data["context"], str):
        data["context"] = json.loads(data["context"])
    return data


class Store:
    """Tickets, messages, agents and state in one SQL database.

    Args:
        url: a SQLAlchemy URL: `sqlite:///path` or `postgresql://user@host:port/db`.
        schema: PostgreSQL only: keep the tables in this schema (created when missing), e.g. one per test run.
    """

    def __init__(self, url: str, schema: Optional[str] = None) -> None:
        self.url = url
        self.schema = schema
        self.dialect = sa.engine.make_url(url).get_backend_name()
        self._engine: Optional[Engine] = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created on first use."""
        with self._lock:
            if self._engine is None:
                self._engine = self._create_engine()
            return self._engine

    def _create_engine(self) -> Engine:
        url = self.url
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        if self.dialect == "sqlite":
            # A pool that keeps its connections: closing the last connection to a WAL database checkpoints and
            # waits for the disk, which on the event-consumer path cost more than the work itself.
            engine = sa.create_engine(
                url,
                connect_args={"timeout": 30, "check_same_thread": False},
                poolclass=sa.pool.QueuePool,
                pool_size=4,
                future=True,
            )

            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: durable against crashes, no wait per commit
                cursor.execute("PRAGMA busy_timeout=30000")
                cursor.close()

            return engine
        connect_args: Dict[str, Any] = {}
        if self.schema:
            if not _SCHEMA_NAME.match(self.schema):
                raise ValueError(f"not a valid schema name: {self.schema!r}")
            connect_args["options"] = f"-csearch_path={self.schema}"
            bootstrap = sa.create_engine(url, future=True)
            with bootstrap.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            bootstrap.dispose()
        return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True, future=True)

    def migrate(self) -> None:
        """Create the tables and indexes that are missing (the desk's only kind of migration)."""
        metadata.create_all(self.engine)

    def close(self) -> None:
        """Release the connections."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def drop_schema(self) -> None:
        """Drop everything the store created (tests): the schema on PostgreSQL, the tables on SQLite."""
        if self.dialect != "sqlite" and self.schema:
            with self.engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        else:
            metadata.drop_all(self.engine)
        self.close()

    # ---- tickets -------------------------------------------------------------------------------------

    def create_ticket(self, values: Dict[str, Any]) -> tuple[Dict[str, Any], bool]:
        """Insert a ticket unless its conversation already has an open one.

        Args:
            values: the column values (`context` as a dict); `status` defaults to `queued`.

        Returns:
            (the ticket, True) when created; (the open ticket of that conversation, False) otherwise.
        """
        row = dict(values)
        row.setdefault("status", "queued")
        row["open_key"] = row["conversation_id"]
        row["context"] = json.dumps(row.get("context") or {}, ensure_ascii=False)
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(tickets.insert().values(**row)).inserted_primary_key[0]
        except IntegrityError:
            existing = self.open_ticket_for(row["conversation_id"])
            if existing is None:  # closed in between: try once more
                return self.create_ticket(values)
            return existing, False
        ticket = self.get_ticket(int(new_id))
        assert ticket is not None
        return ticket, True

    def get_ticket(self, ticket_id: int) -> Optional[Dict[str, Any]]:
        """Return a ticket by numeric id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id)).first()
        return _row(row) if row else None

    def open_ticket_for(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """Return the open (queued or assigned) ticket of a conversation, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tickets).where(tickets.c.open_key == conversation_id)).first()
        return _row(row) if row else None

    def tickets_for_customer(self, customer_id: str, limit: int = 50) -> List[Dict[str, Any]]:
        """Return a customer's tickets, newest first."""
        query = (
            sa.select(tickets)
            .where(tickets.c.customer_id == customer_id)
            .order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]

    def topics_by_conversation(self, conversation_ids: Iterable[str]) -> Dict[str, str]:
        """Return the topic of the latest ticket with a topic of each given conversation that has one.

        Args:
            conversation_ids: the conversations (sender ids) to look up.

        Returns:
            conversation id -> topic; conversations without a ticket with a topic are left out.
        """
        ids = sorted(set(conversation_ids))
        topics: Dict[str, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):  # SQLite allows a limited number of bound values
                query = (
                    sa.select(tickets.c.conversation_id, tickets.c.topic)
                    .where(tickets.c.conversation_id.in_(ids[start : start + 500]), tickets.c.topic.isnot(None))
                    .order_by(tickets.c.created_at, tickets.c.id)
                )
                topics.update({row.conversation_id: row.topic for row in conn.execute(query)})
        return topics

    def list_tickets(
        self,
        statuses: Optional[Iterable[str]] = None,
        assignee: Optional[str] = None,
        skill: Optional[str] = None,
        limit: int = 500,
    ) -> List[Dict[str, Any]]:
        """Return tickets filtered by status, assignee and skill, oldest first."""
        query = sa.select(tickets)
        if statuses:
            query = query.where(tickets.c.status.in_(list(statuses)))
        if assignee:
            query = query.where(tickets.c.assignee == assignee)
        if skill:
            query = query.where(tickets.c.skill == skill)
        query = query.order_by(tickets.c.created_at, tickets.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]

    def all_tickets(self, since: Optional[float] = None) -> List[Dict[str, Any]]:
        """Return every ticket (created at or after `since`), without the context, for the dashboard."""
        columns = [c for c in tickets.c if c.name != "context"]
        query = sa.select(*columns)
        if since is not None:
            query = query.where(tickets.c.created_at >= since)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def claim(self, ticket_id: int, agent: str, capacity: int, now: float) -> bool:
        """Assign a queued, unowned ticket to `agent` if the agent is below capacity, atomically.

        One conditional UPDATE; the row count tells whether this call won.

        Returns:
            True when this agent now owns the ticket; False when it was not claimable.
        """
        other = tickets.alias("busy")
        busy = (
            sa.select(sa.func.count())
            .select_from(other)
            .where(other.c.assignee == agent, other.c.status == "assigned")
            .scalar_subquery()
        )
        stmt = (
            tickets.update()
            .where(tickets.c.id == ticket_id)
            .where(tickets.c.assignee.is_(None))
            .where(tickets.c.status == "queued")
            .where(busy < capacity)
            .values(assignee=agent, status="assigned", claimed_at=now)
        )
        with self.engine.begin() as conn:
            result = conn.execute(stmt)
            return result.rowcount == 1

    def assign(self, ticket_id: int, agent: str, now: float, expect_assignee: Optional[str]) -> bool:
        """Give an open ticket to `agent` (a transfer), if it is still owned by `expect_assignee`."""
        stmt = tickets.update().where(tickets.c.id == ticket_id).where(tickets.c.status.in_(OPEN_STATUSES))
        stmt = stmt.where(
            tickets.c.assignee.is_(None) if expect_assignee is None else tickets.c.assignee == expect_assignee
        )
        with self.engine.begin() as conn:
            result = conn.execute(stmt.values(assignee=agent, status="assigned", claimed_at=now))
            return result.rowcount == 1

    def requeue(
        self, ticket_id: int, skill: str, requires_senior: bool, now: float, expect_assignee: Optional[str]
    ) -> bool:
        """Put an open ticket back in the queue of `skill` (a transfer to a skill)."""
        stmt = tickets.update().where(tickets.c.id == ticket_id).where(tickets.c.status.in_(OPEN_STATUSES))
        stmt = stmt.where(
            tickets.c.assignee.is_(None) if expect_assignee is None else tickets.c.assignee == expect_assignee
        )
        values = dict(
            skill=skill, requires_senior=requires_senior, assignee=None, status="queued", skill_since=now,
            claimed_at=None,
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt.values(**values)).rowcount == 1

    def close_ticket(self, ticket_id: int, status: str, now: float, expect_assignee: Optional[str]) -> bool:
        """Mark an open ticket resolved or handed back (frees its conversation for a new ticket)."""
        if status not in CLOSED_STATUSES:
            raise ValueError(f"not a closing status: {status}")
        stmt = tickets.update().where(tickets.c.id == ticket_id).where(tickets.c.status.in_(OPEN_STATUSES))
        stmt = stmt.where(
            tickets.c.assignee.is_(None) if expect_assignee is None else tickets.c.assignee == expect_assignee
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt.values(status=status, closed_at=now, open_key=None)).rowcount == 1

    def stamp_first_response(self, ticket_id: int, at: float) -> bool:
        """Record the first human response time, once."""
        stmt = (
            tickets.update()
            .where(tickets.c.id == ticket_id)
            .where(tickets.c.first_response_at.is_(None))
            .values(first_response_at=at)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def record_rating(self, ticket_id: int, rating: int, comment: Optional[str], at: float) -> bool:
        """Store the customer's satisfaction rating (1–5) and optional comment."""
        stmt = (
            tickets.update()
            .where(tickets.c.id == ticket_id)
            .values(rating=rating, rating_comment=comment, rated_at=at)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def set_notified_position(self, ticket_id: int, place: Optional[int]) -> None:
        """Remember the queue position the customer was last told."""
        with self.engine.begin() as conn:
            conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(notified_position=place))

    def active_count(self, agent: str) -> int:
        """Return how many tickets `agent` currently owns."""
        query = sa.select(sa.func.count()).where(tickets.c.assignee == agent, tickets.c.status == "assigned")
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    # ---- messages ------------------------------------------------------------------------------------

    def add_message(
        self,
        ticket_id: int,
        role: str,
        text: str,
        at: float,
        status: str,
        author: Optional[str] = None,
        external_id: Optional[str] = None,
        anger: Optional[float] = None,
    ) -> Optional[Dict[str, Any]]:
        """Append a message to a ticket.

        Returns:
            The stored message, or None when a message with the same `external_id` is already there.
        """
        values = dict(
            ticket_id=ticket_id, role=role, text=text, at=at, status=status, author=author,
            external_id=external_id, anger=anger,
        )
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(messages.insert().values(**values)).inserted_primary_key[0]
        except IntegrityError:
            return None
        return {"id": int(new_id), **values}

    def set_message_status(self, message_id: int, status: str) -> None:
        """Change a message's delivery status (pending, sent, failed)."""
        with self.engine.begin() as conn:
            conn.execute(messages.update().where(messages.c.id == message_id).values(status=status))

    def get_message(self, message_id: int) -> Optional[Dict[str, Any]]:
        """Return a message by id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(messages).where(messages.c.id == message_id)).first()
        return dict(row._mapping) if row else None

    def messages(self, ticket_id: int) -> List[Dict[str, Any]]:
        """Return a ticket's messages in order."""
        query = sa.select(messages).where(messages.c.ticket_id == ticket_id).order_by(messages.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # ---- agents and tokens ---------------------------------------------------------------------------

    def add_agent(
        self, name: str, password_hash: str, skills: List[str], senior: bool, capacity: int, now: float
    ) -> Dict[str, Any]:
        """Create an agent.

        Raises:
            ValueError: an agent with that name exists.
        """
        values = dict(
            name=name, password_hash=password_hash, skills=",".join(skills), senior=senior, capacity=capacity,
            created_at=now, must_change_password=True,
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(agents.insert().values(**values))
        except IntegrityError as error:
            raise ValueError(f"agent {name!r} exists") from error
        agent = self.get_agent(name)
        assert agent is not None
        return agent

    def _agent(self, where: Any) -> Optional[Dict[str, Any]]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(agents).where(where)).first()
        if not row:
            return None
        data = dict(row._mapping)
        data["skills"] = [s for s in data["skills"].split(",") if s]
        return data

    def get_agent(self, name: str) -> Optional[Dict[str, Any]]:
        """Return an agent by name (skills as a list), or None."""
        return self._agent(agents.c.name == name)

    def list_agents(self) -> List[Dict[str, Any]]:
        """Return every agent (without password hashes)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(agents).order_by(agents.c.name)).all()
        result = []
        for row in rows:
            data = dict(row._mapping)
            data.pop("password_hash", None)
            data["skills"] = [s for s in data["skills"].split(",") if s]
            result.append(data)
        return result

    def update_agent(self, name: str, **values: Any) -> None:
        """Change an agent's password hash, skills, seniority or capacity."""
        if "skills" in values and isinstance(values["skills"], list):
            values["skills"] = ",".join(values["skills"])
        with self.engine.begin() as conn:
            conn.execute(agents.update().where(agents.c.name == name).values(**values))

    def add_token(self, token_hash: str, agent_id: int, kind: str, now: float, expires_at: Optional[float]) -> None:
        """Store a token (its hash only)."""
        with self.engine.begin() as conn:
            conn.execute(
                tokens.insert().values(
                    token_hash=token_hash, agent_id=agent_id, kind=kind, created_at=now, expires_at=expires_at
                )
            )

    def agent_for_token(self, token_hash: str, now: float) -> Optional[Dict[str, Any]]:
        """Return the agent a valid (unexpired) token belongs to, with `token_expires_at`, or None."""
        query = (
            sa.select(agents, tokens.c.expires_at.label("token_expires_at"), tokens.c.kind.label("token_kind"))
            .select_from(tokens.join(agents, tokens.c.agent_id == agents.c.id))
            .where(tokens.c.token_hash == token_hash)
            .where(sa.or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if not row:
            return None
        data = dict(row._mapping)
        data.pop("password_hash", None)
        data["skills"] = [s for s in data["skills"].split(",") if s]
        return data

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

    # ---- broker position and conversations -----------------------------------------------------------

    def get_state(self, key: str) -> Optional[str]:
        """Return a stored state value (e.g. the broker position), or None."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(state.c.value).where(state.c.key == key)).scalar()

    def set_state(self, key: str, value: str) -> None:
        """Store a state value."""
        with self.engine.begin() as conn:
            updated = conn.execute(state.update().where(state.c.key == key).values(value=value)).rowcount
            if not updated:
                conn.execute(state.insert().values(key=key, value=value))

    def seen_conversation(self, sender_id: str, channel: Optional[str], at: float) -> bool:
        """Record a conversation seen on the event stream; True when it is new."""
        with self.engine.connect() as conn:
            known = conn.execute(
                sa.select(conversations.c.sender_id).where(conversations.c.sender_id == sender_id)
            ).first()
        if known:
            return False
        try:
            with self.engine.begin() as conn:
                conn.execute(conversations.insert().values(sender_id=sender_id, channel=channel, first_seen=at))
        except IntegrityError:
            return False
        return True

    def containment_counts(self) -> tuple[int, int]:
        """Return (conversations seen, of which conversations with at least one ticket)."""
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(conversations)).scalar() or 0
            with_ticket = conn.execute(
                sa.select(sa.func.count()).select_from(conversations).where(
                    conversations.c.sender_id.in_(sa.select(tickets.c.conversation_id))
                )
            ).scalar() or 0
        return int(total), int(with_ticket)
