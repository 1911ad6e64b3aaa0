"""The ticket rows (`desk_tickets`): create, read, and every status change as one conditional UPDATE.

Claiming is one conditional UPDATE (`… WHERE id = ? AND assignee IS NULL AND status = 'queued' AND <agent
below capacity>`) whose row count says who won, so two agents never own the same ticket, whatever the number
of desk processes. Transfers, closing and topic changes name the owner they expect the same way.

The context packet and the survey comment are stored encrypted (`bot.data_keys`); rows come back decrypted.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot import data_keys
from bot.desk.records import (
    CLOSING_STATUSES, OPEN_STATUSES, Ticket, TicketStatus, parse_ticket_code, ticket_code,
)
from bot.desk.store.database import Database
from bot.desk.store.tables import agents, messages, tickets

logger = logging.getLogger(__name__)

_OPEN = [s.value for s in OPEN_STATUSES]
# The columns the queue's routing reads (`bot.desk.queue.QueuedTicket`).
ROUTING_COLUMNS = (
    "id", "skill", "grade", "vip", "anger", "requires_senior", "created_at", "skill_since", "escalated_at",
)
# Conversation ids per query of `topic_spans` (SQLite allows 999 bound values in older builds).
_IDS_PER_QUERY = 500


# A row's place in the console's order (see `TicketRows.list_page`): (0 queued / 1 other, minus the standing
# priority of a queued ticket / 0, created_at, id).
PageKey = Tuple[int, float, float, int]


@dataclasses.dataclass(frozen=True)
class AgentReach:
    """The tickets an agent (the `agent` role) may see (`bot.desk.roles`): its own (assigned to it), those it
    took part in (wrote a reply or a note on, a transfer included, or closed), and the queued tickets of its
    skills' queues (a skill queue's ticket also waits in the general queue once it overflows:
    `skill_since` before `overflow_before`).

    Attributes:
        agent: the agent's name.
        skills: its skills (`*`: every queue).
        general_skill: the general queue's skill.
        overflow_before: a queued ticket in its skill queue since before this (epoch seconds) overflows.
    """

    agent: str
    skills: Tuple[str, ...]
    general_skill: str
    overflow_before: float

    def clause(self) -> Any:
        """The SQL condition of a ticket in reach."""
        took_part = tickets.c.id.in_(sa.select(messages.c.ticket_id).where(messages.c.author == self.agent))
        queued = tickets.c.status == TicketStatus.QUEUED.value
        if "*" in self.skills:
            in_queue: Any = queued
        else:
            queues = [tickets.c.skill.in_(list(self.skills))]
            if self.general_skill in self.skills:
                queues.append(tickets.c.skill_since < self.overflow_before)
            in_queue = sa.and_(queued, sa.or_(*queues))
        return sa.or_(tickets.c.assignee == self.agent, took_part, in_queue)


def _ticket_from(data: Dict[str, Any]) -> Ticket:
    cipher = data_keys.cipher()
    if isinstance(data.get("context"), str):
        data["context"] = cipher.loads(data["context"]) or {}
    if data.get("rating_comment") is not None:
        data["rating_comment"] = cipher.decrypt(data["rating_comment"])
    return Ticket.from_row(data)


def ticket_of_row(row: Any) -> Ticket:
    return _ticket_from(dict(row._mapping))


@dataclasses.dataclass(frozen=True)
class QueueOrder:
    """The priority weights (`desk.priority`) as SQL: `QueueRules.priority` without the part all queued tickets
    share.

    Priority = grade weight + VIP bonus + anger (0..1) x anger weight + waiting minutes x per-minute weight, and
    waiting minutes = (now - created_at) / 60, so priority = `standing` + now x per-minute weight / 60: the
    order by priority is the order by `standing`, the same at any moment.
    """

    grade: Mapping[str, float]
    vip: float
    anger: float
    per_waiting_minute: float
    escalated: float = 0.0

    @classmethod
    def from_weights(cls, weights: Mapping[str, Any]) -> QueueOrder:
        """The order of the `desk.priority` weights (as `QueueRules.weights` holds them)."""
        return cls(
            grade={str(k): float(v) for k, v in (weights.get("grade") or {}).items()},
            vip=float(weights.get("vip", 0)),
            anger=float(weights.get("anger", 0)),
            per_waiting_minute=float(weights.get("per_waiting_minute", 0)),
            escalated=float(weights.get("escalated", 0)),
        )

    def standing(self, columns: Any) -> Any:
        """The SQL expression of a ticket's standing priority over the ticket table's `columns`."""
        def number(value: float) -> Any:
            return sa.literal(value, sa.Float)

        grade = sa.case(
            *((columns.grade == name, number(weight)) for name, weight in self.grade.items()), else_=number(0.0)
        ) if self.grade else number(0.0)
        vip = sa.case((columns.vip == sa.true(), number(self.vip)), else_=number(0.0))
        anger = sa.case(
            (columns.anger < 0, number(0.0)), (columns.anger > 1, number(1.0)), else_=columns.anger
        ) * number(self.anger)
        escalated = sa.case((columns.escalated_at.is_not(None), number(self.escalated)), else_=number(0.0))
        return grade + vip + anger + escalated - columns.created_at * number(self.per_waiting_minute / 60.0)


def busy_with(agent: str, now: float, except_ticket: int) -> Any:
    """SQL: how many tickets the agent holds: assigned ones plus live offers (auto-assignment) of tickets other
    than `except_ticket` (the one being claimed or offered)."""
    other = tickets.alias("busy")
    held = sa.and_(other.c.assignee == agent, other.c.status == TicketStatus.ASSIGNED.value)
    offered = sa.and_(
        other.c.offered_to == agent, other.c.status == TicketStatus.QUEUED.value, other.c.offer_expires >= now,
        other.c.id != except_ticket,
    )
    return sa.select(sa.func.count()).select_from(other).where(sa.or_(held, offered)).scalar_subquery()


def lock_agent(conn: Any, agent: str) -> None:
    """PostgreSQL: lock the agent's row for the transaction, so the agent's load is counted by one claim or offer
    at a time (SQLite: the UPDATE that follows holds the single write lock while it counts)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(agents.c.id).where(agents.c.name == agent).with_for_update())


def owned_by(stmt: Any, expect_assignee: Optional[str]) -> Any:
    """Narrow an UPDATE of an open ticket to the owner the caller saw (None: still unowned)."""
    stmt = stmt.where(tickets.c.status.in_(_OPEN))
    return stmt.where(
        tickets.c.assignee.is_(None) if expect_assignee is None else tickets.c.assignee == expect_assignee
    )


class TicketRows(Database):
    """Reads and conditional writes of `desk_tickets`."""

    def create_ticket(self, values: Mapping[str, Any]) -> Tuple[Ticket, bool]:
        """Insert a ticket unless its conversation already has an open one.

        Args:
            values: the column values (`context` as a dict); `status` defaults to `queued`.

        Returns:
            (the ticket, True) when created; (the open ticket of that conversation, False) otherwise.
        """
        row = dict(values)
        row["status"] = TicketStatus(row.get("status", TicketStatus.QUEUED)).value
        row["open_key"] = row["conversation_id"]
        row["context"] = self.cipher.dumps(row.get("context") or {})
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

    def get_ticket(self, ticket_id: int) -> Optional[Ticket]:
        """Return a ticket by numeric id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id)).first()
        return ticket_of_row(row) if row else None

    def ticket_by_code(self, code: str) -> Optional[Ticket]:
        """Return the ticket with public id `code` (`T-000123`, or `123`), or None."""
        ticket_id = parse_ticket_code(code)
        return self.get_ticket(ticket_id) if ticket_id is not None else None

    def open_ticket_for(self, conversation_id: str) -> Optional[Ticket]:
        """Return the open (queued or assigned) ticket of a conversation, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tickets).where(tickets.c.open_key == conversation_id)).first()
        return ticket_of_row(row) if row else None

    def mark_start(self, ticket_id: int, conversation_id: str, sequence: int) -> bool:
        """Record Rasa's sequence of the handoff event that opened a ticket, once; True when recorded.

        Refused when the ticket has one already, or when another ticket of the conversation started at or after
        it (a late copy of an earlier handoff's event).
        """
        other = tickets.alias("other")
        later = sa.select(other.c.id).where(
            other.c.conversation_id == conversation_id, other.c.start_sequence >= sequence
        ).exists()
        stmt = tickets.update().where(
            tickets.c.id == ticket_id, tickets.c.start_sequence.is_(None), ~later
        ).values(start_sequence=sequence)
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def tickets_for_customer(self, customer_id: str, limit: int = 50) -> List[Ticket]:
        """Return a customer's tickets, newest first."""
        query = (
            sa.select(tickets)
            .where(tickets.c.customer_id == customer_id)
            .order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [ticket_of_row(r) for r in conn.execute(query)]

    def list_page(
        self,
        order: QueueOrder,
        statuses: Optional[Iterable[TicketStatus | str]] = None,
        assignee: Optional[str] = None,
        skill: Optional[str] = None,
        after: Optional[PageKey] = None,
        limit: int = 100,
        reach: Optional[AgentReach] = None,
    ) -> List[Tuple[Ticket, PageKey]]:
        """One page of tickets in the console's order: queued first by priority, then the rest by age.

        Every row is reachable: a page ends where the next starts (`after`, the key of the last row seen), with
        no cap on how many pages there are. The queued tickets' order does not change while they wait (waiting
        raises every priority alike), so a page key stays valid.

        Args:
            order: the priority weights (`QueueOrder`).
            statuses: only these statuses (all when None or empty).
            assignee: only tickets of this agent.
            skill: only tickets of this skill.
            after: the key of the last row of the previous page; None for the first page.
            limit: the most rows to return.
            reach: only the tickets in this agent's reach (None: every ticket, for supervisors).

        Returns:
            (ticket, its page key) pairs, in order.
        """
        queued = tickets.c.status == TicketStatus.QUEUED.value
        section = sa.case((queued, 0), else_=1)
        rank = sa.case((queued, -order.standing(tickets.c)), else_=sa.literal(0.0, sa.Float))
        keys = (section.label("page_section"), rank.label("page_rank"), tickets.c.created_at, tickets.c.id)
        query = sa.select(tickets, *keys[:2])
        if statuses:
            query = query.where(tickets.c.status.in_([TicketStatus(s).value for s in statuses]))
        if assignee:
            query = query.where(tickets.c.assignee == assignee)
        if skill:
            query = query.where(tickets.c.skill == skill)
        if reach is not None:
            query = query.where(reach.clause())
        if after is not None:
            query = query.where(sa.tuple_(section, rank, tickets.c.created_at, tickets.c.id) > sa.tuple_(*after))
        query = query.order_by(section, rank, tickets.c.created_at, tickets.c.id).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        result = []
        for row in rows:
            data = dict(row._mapping)
            key = (int(data.pop("page_section")), float(data.pop("page_rank")), float(data["created_at"]), int(data["id"]))
            result.append((_ticket_from(data), key))
        return result

    def in_reach(self, ticket_id: int, reach: AgentReach) -> bool:
        """True when the ticket is in the agent's reach (`AgentReach`)."""
        query = sa.select(tickets.c.id).where(tickets.c.id == ticket_id, reach.clause())
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def ids_in_reach(self, reach: AgentReach) -> Tuple[List[str], List[str]]:
        """The public ids of the open tickets in an agent's reach, and of every ticket it took part in (a
        console stream's filter starts from these: `bot.desk.visibility`)."""
        query = sa.select(tickets.c.id).where(tickets.c.status.in_(_OPEN + [s.value for s in CLOSING_STATUSES]),
                                              reach.clause())
        took_part = sa.select(sa.distinct(messages.c.ticket_id)).where(messages.c.author == reach.agent)
        with self.engine.connect() as conn:
            shown = [ticket_code(int(i)) for i in conn.execute(query).scalars()]
            mine = [ticket_code(int(i)) for i in conn.execute(took_part).scalars()]
        return shown, mine

    def assigned_to(self, agent: str) -> List[Ticket]:
        """The tickets `agent` owns now (status assigned), oldest first."""
        query = (
            sa.select(tickets)
            .where(tickets.c.assignee == agent, tickets.c.status == TicketStatus.ASSIGNED.value)
            .order_by(tickets.c.created_at, tickets.c.id)
        )
        with self.engine.connect() as conn:
            return [ticket_of_row(r) for r in conn.execute(query)]

    def set_grade(self, ticket_id: int, grade: str, due: Mapping[str, float], expect_grade: str) -> bool:
        """Change an open ticket's grade and its due times (`due`: the `bot.desk.sla.DueTimes` fields), if its
        grade is still `expect_grade`."""
        stmt = (
            tickets.update()
            .where(tickets.c.id == ticket_id, tickets.c.grade == expect_grade, tickets.c.status.in_(_OPEN))
            .values(grade=grade, **due)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def queued_routing(self) -> List[Tuple[Any, ...]]:
        """What routing needs of every queued ticket (`ROUTING_COLUMNS`, in that order), oldest first, no cap: a
        light read for the queue's ranking, which each new ticket and each position update needs."""
        query = (
            sa.select(*(tickets.c[name] for name in ROUTING_COLUMNS))
            .where(tickets.c.status == TicketStatus.QUEUED.value)
            .order_by(tickets.c.created_at, tickets.c.id)
        )
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]

    def queued_tickets(self) -> List[Ticket]:
        """Every queued ticket, oldest first, with an empty `context` (for the queue's ranking: no cap)."""
        columns = [c for c in tickets.c if c.name != "context"]
        query = (
            sa.select(*columns)
            .where(tickets.c.status == TicketStatus.QUEUED.value)
            .order_by(tickets.c.created_at, tickets.c.id)
        )
        with self.engine.connect() as conn:
            return [ticket_of_row(r) for r in conn.execute(query)]

    def topic_spans(self, conversation_ids: Iterable[str]) -> Dict[str, List[Tuple[float, Optional[float], str]]]:
        """Return each conversation's tickets as (created_at, closed_at, topic), oldest first.

        The trainer's review picks the ticket whose time covers a reviewed turn (`bot.trainer.review`); a ticket
        without a topic has topic "" (it still covers its turns).

        Args:
            conversation_ids: Rasa sender ids.

        Returns:
            conversation id -> its tickets, for the conversations that have any.
        """
        wanted = sorted({str(c) for c in conversation_ids})
        found: Dict[str, List[Tuple[float, Optional[float], str]]] = {}
        query = (
            sa.select(tickets.c.conversation_id, tickets.c.created_at, tickets.c.closed_at, tickets.c.topic)
            .where(tickets.c.conversation_id.in_(sa.bindparam("ids", expanding=True)))
            .order_by(tickets.c.created_at, tickets.c.id)
        )
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _IDS_PER_QUERY):
                for conversation_id, created_at, closed_at, topic in conn.execute(
                    query, {"ids": wanted[start:start + _IDS_PER_QUERY]}
                ):
                    closed = None if closed_at is None else float(closed_at)
                    found.setdefault(conversation_id, []).append((float(created_at), closed, topic or ""))
        return found

    def claim(self, ticket_id: int, agent: str, capacity: int, now: float) -> bool:
        """Assign a queued, unowned ticket to `agent` if the agent is below capacity (assigned tickets and live
        offers of other tickets), atomically.

        One conditional UPDATE; the row count tells whether this call won.

        Returns:
            True when this agent now owns the ticket; False when it was not claimable (owned, closed, at
            capacity, or offered to another agent until its offer expires).
        """
        busy = busy_with(agent, now, ticket_id)
        stmt = (
            tickets.update()
            .where(tickets.c.id == ticket_id)
            .where(tickets.c.assignee.is_(None))
            .where(tickets.c.status == TicketStatus.QUEUED.value)
            .where(busy < capacity)
            # not while it is offered to another agent (auto-assignment, `bot.desk.store.assignment`)
            .where(sa.or_(tickets.c.offered_to.is_(None), tickets.c.offered_to == agent, tickets.c.offer_expires < now))
            .values(assignee=agent, status=TicketStatus.ASSIGNED.value, claimed_at=now, offered_to=None,
                    offer_expires=None)
        )
        with self.engine.begin() as conn:
            lock_agent(conn, agent)
            result = conn.execute(stmt)
            return result.rowcount == 1

    def assign(self, ticket_id: int, agent: str, now: float, expect_assignee: Optional[str]) -> bool:
        """Give an open ticket to `agent` (a transfer), if it is still owned by `expect_assignee`."""
        stmt = owned_by(tickets.update().where(tickets.c.id == ticket_id), expect_assignee)
        with self.engine.begin() as conn:
            result = conn.execute(stmt.values(assignee=agent, status=TicketStatus.ASSIGNED.value, claimed_at=now))
            return result.rowcount == 1

    def requeue(
        self, ticket_id: int, skill: str, requires_senior: bool, now: float, expect_assignee: Optional[str]
    ) -> bool:
        """Put an open ticket back in the queue of `skill` (a transfer to a skill)."""
        stmt = owned_by(tickets.update().where(tickets.c.id == ticket_id), expect_assignee)
        values = dict(
            skill=skill, requires_senior=requires_senior, assignee=None, status=TicketStatus.QUEUED.value,
            skill_since=now, claimed_at=None,
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt.values(**values)).rowcount == 1

    def set_topic(self, ticket_id: int, topic: str, expect_assignee: str) -> bool:
        """Set the topic of an open ticket, if it is still owned by `expect_assignee`."""
        stmt = owned_by(tickets.update().where(tickets.c.id == ticket_id), expect_assignee)
        with self.engine.begin() as conn:
            return conn.execute(stmt.values(topic=topic)).rowcount == 1

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

    def record_rating(
        self, ticket_id: int, rating: int, comment: Optional[str], at: float, nps: Optional[int] = None
    ) -> bool:
        """Store the customer's satisfaction rating (1–5) and optional comment, only on a resolved ticket (the
        one kind whose closing sent the survey). With `nps` (the recommendation answer, 0–10) the score is stored
        with the rating and the comment is left as it is.

        Returns:
            True when stored; False when the ticket is not resolved (open, handed back) or does not exist.
        """
        values: Dict[str, Any] = {"rating": rating, "rated_at": at}
        if nps is not None:
            values["nps"] = nps
        else:
            values["rating_comment"] = self.cipher.encrypt(comment) if comment else None
        stmt = (
            tickets.update()
            .where(tickets.c.id == ticket_id, tickets.c.status == TicketStatus.RESOLVED.value)
            .values(**values)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def set_notified_position(self, ticket_id: int, place: Optional[int]) -> None:
        """Remember the queue position the customer was last told."""
        with self.engine.begin() as conn:
            conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(notified_position=place))

    def active_counts(self) -> Dict[str, int]:
        """Return how many tickets each agent who owns any currently owns (one query for all agents)."""
        query = (
            sa.select(tickets.c.assignee, sa.func.count())
            .where(tickets.c.status == TicketStatus.ASSIGNED.value, tickets.c.assignee.is_not(None))
            .group_by(tickets.c.assignee)
        )
        with self.engine.connect() as conn:
            return {str(name): int(count) for name, count in conn.execute(query)}

    def active_count(self, agent: str) -> int:
        """Return how many tickets `agent` currently owns."""
        query = sa.select(sa.func.count()).where(
            tickets.c.assignee == agent, tickets.c.status == TicketStatus.ASSIGNED.value
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)
