"""The desk's rows and states: typed tickets, messages and agents, the status, message-role and agent-role enums,
ticket codes, audit entries.

The `Store` returns these frozen dataclasses; everything above it reads attributes, never dict keys. The
enums are `str` enums whose values are exactly the strings kept in the database and shown in JSON
(`TicketStatus.QUEUED == "queued"`), so the stored data and the HTTP API keep their form. Times are epoch
seconds (UTC floats), as stored; `now()` is the desk's current time in that unit.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from typing import Any, Dict, Mapping, Optional, Tuple

from bot import clock

logger = logging.getLogger(__name__)

TICKET_PREFIX = "T-"
FOLLOWUP_PREFIX = "F-"


class _Text(str, enum.Enum):
    """A `str` enum that prints as its value (`str(TicketStatus.QUEUED) == "queued"`)."""

    def __str__(self) -> str:
        return str(self.value)


class TicketStatus(_Text):
    """Where a ticket is: waiting in a queue, owned by an agent, or closed one of two ways."""

    QUEUED = "queued"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"  # closed by the agent; the survey was sent
    HANDED_BACK = "handed_back"  # given back to the assistant without resolving
    # Closing: the close is claimed and its events are on their way to Rasa; then resolved / handed back, or
    # (Rasa did not take them) back to queued / assigned. No agent action is accepted meanwhile.
    RESOLVING = "resolving"
    HANDING_BACK = "handing_back"
    # The customer stopped waiting before an agent answered (`bot.desk.abandonment`): out of the queue, the
    # conversation still the desk's; a new message from the customer queues it again.
    ABANDONED = "abandoned"

    @property
    def is_open(self) -> bool:
        """True for queued and assigned tickets."""
        return self in OPEN_STATUSES


OPEN_STATUSES: Tuple[TicketStatus, ...] = (TicketStatus.QUEUED, TicketStatus.ASSIGNED)
CLOSED_STATUSES: Tuple[TicketStatus, ...] = (TicketStatus.RESOLVED, TicketStatus.HANDED_BACK)
# Each closed status and the closing status a ticket holds on its way there.
CLOSING_STATUS: Dict[TicketStatus, TicketStatus] = {
    TicketStatus.RESOLVED: TicketStatus.RESOLVING,
    TicketStatus.HANDED_BACK: TicketStatus.HANDING_BACK,
}
CLOSING_STATUSES: Tuple[TicketStatus, ...] = tuple(CLOSING_STATUS.values())


class MessageRole(_Text):
    """Who wrote a ticket message."""

    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"
    NOTE = "note"  # internal, never sent
    SYSTEM = "system"  # the desk's own lines (resolved by, not delivered: …)


class MessageStatus(_Text):
    """Where a message is: received from the customer, on its way to the customer, or internal."""

    RECEIVED = "received"  # customer messages
    PENDING = "pending"  # agent (and bot) messages: stored, not yet delivered
    SENT = "sent"
    FAILED = "failed"  # kept for a retry
    INTERNAL = "internal"  # notes and system lines: never sent


class TokenKind(_Text):
    """Where a bearer token came from."""

    API = "api"  # an agent's scripts (`POST /api/me/api-tokens`); expires after `desk.api_token_days`
    SESSION = "session"  # from `POST /api/login`; expires after `desk.session_hours`
    STREAM = "stream"  # from `POST /api/stream-tickets`: opens one `GET /api/stream?ticket=…`, within a minute


class Role(_Text):
    """What an agent may do (`bot.desk.roles`): each role may do all the one before it may, and more."""

    AGENT = "agent"  # the queues of its skills, its own tickets and those it took part in
    SUPERVISOR = "supervisor"  # every ticket; reassign, close any, change grades; disable agents; the dashboard
    ADMIN = "admin"  # a supervisor who also manages supervisors and admins

    @property
    def rank(self) -> int:
        """0 for agents, 1 for supervisors, 2 for admins."""
        return list(Role).index(self)


class FollowUpTrigger(_Text):
    """Why a follow-up (回访) exists."""

    LOW_RATING = "low_rating"  # a survey rating of 1 or 2
    COMPLAINT = "complaint"  # a complaint ticket, once closed
    VIP = "vip"  # a VIP customer's ticket, once closed
    MANUAL = "manual"  # an agent asked for it


class FollowUpStatus(_Text):
    """Whether a follow-up is still to do."""

    OPEN = "open"
    DONE = "done"


class FollowUpOutcome(_Text):
    """How a follow-up ended (each one closes it)."""

    REACHED = "reached"
    NOT_REACHED = "not_reached"
    RESOLVED = "resolved"
    ESCALATED = "escalated"


def ticket_code(ticket_id: int) -> str:
    """Return the public id of a ticket, e.g. `T-000123`."""
    return f"{TICKET_PREFIX}{ticket_id:06d}"


def parse_ticket_code(code: str) -> Optional[int]:
    """Return the numeric id of `T-000123` (or `123`), or None when it is not a ticket id."""
    raw = code[len(TICKET_PREFIX):] if code.upper().startswith(TICKET_PREFIX) else code
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def now() -> float:
    """The desk's time in epoch seconds (`bot.clock.now()`, so `FRONTLINE_NOW` pins it)."""
    return clock.now().timestamp()


def _own_columns(record: type, row: Mapping[str, Any]) -> Dict[str, Any]:
    """The values of a database row that are fields of the dataclass `record` (other columns dropped)."""
    names = {f.name for f in dataclasses.fields(record)}
    return {k: v for k, v in row.items() if k in names}


@dataclasses.dataclass(frozen=True)
class Ticket:
    """A row of `desk_tickets` (see `bot.desk.store.tables` for what each column means)."""

    id: int
    conversation_id: str
    channel: str
    status: TicketStatus
    grade: str
    reason: str
    topic: Optional[str]
    skill: str
    team: Optional[str]
    requires_senior: bool
    customer_id: Optional[str]
    customer_name: Optional[str]
    tier: Optional[str]
    language: Optional[str]
    vip: bool
    anger: float
    assignee: Optional[str]
    context: Dict[str, Any]
    created_at: float
    created_real: float
    skill_since: float
    claimed_at: Optional[float]
    first_response_at: Optional[float]
    closed_at: Optional[float]
    due_first_response: float
    warn_first_response: float
    due_resolution: float
    warn_resolution: float
    rating: Optional[int] = None
    rating_comment: Optional[str] = None
    rated_at: Optional[float] = None
    notified_position: Optional[int] = None
    start_sequence: Optional[int] = None  # Rasa's sequence of the handoff event, once the event stream showed it
    abandoned_at: Optional[float] = None  # when the customer was taken to have stopped waiting (None: never)
    complaint: Optional[bool] = None  # a complaint (`bot.desk.complaints`); None on tickets older than the column
    last_customer_at: Optional[float] = None  # the customer's latest message on the ticket (reply windows)
    sla_alerted: Optional[str] = None  # the worst SLA light the consoles were told of (`bot.desk.alerts`)
    escalated_at: Optional[float] = None  # put back at the top of a queue by the escalation on red
    offered_to: Optional[str] = None  # auto-assignment: the agent it is offered to (`bot.desk.assignment`)
    offer_expires: Optional[float] = None
    declined_by: Optional[str] = None  # agents who declined it or let the offer lapse, comma-separated
    nps: Optional[int] = None  # the recommendation answer (0–10) after the rating (settings.yml survey.nps)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Ticket:
        """Build a ticket from a database row (`context` may be absent: then it is empty)."""
        values = _own_columns(cls, row)
        values["status"] = TicketStatus(row["status"])
        values["requires_senior"] = bool(row["requires_senior"])
        values["vip"] = bool(row["vip"])
        values["anger"] = float(row["anger"] or 0.0)
        values.setdefault("context", {})
        return cls(**values)

    @property
    def code(self) -> str:
        """The public id, `T-000123`."""
        return ticket_code(self.id)

    @property
    def is_open(self) -> bool:
        """True while the ticket is queued or assigned."""
        return self.status.is_open


@dataclasses.dataclass(frozen=True)
class Message:
    """A row of `desk_messages`: one line of a ticket's conversation after the handoff."""

    id: int
    ticket_id: int
    role: MessageRole
    text: str
    at: float
    status: MessageStatus
    author: Optional[str] = None
    external_id: Optional[str] = None  # customer messages: `rasa:<sequence>` (de-duplication)
    anger: Optional[float] = None
    sequence: Optional[int] = None  # customer messages: Rasa's sequence, their order
    mail_id: Optional[int] = None  # customer e-mails: the kept mail it came as (its attachments go under it)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Message:
        """Build a message from a database row."""
        values = _own_columns(cls, row)
        values["role"] = MessageRole(row["role"])
        values["status"] = MessageStatus(row["status"])
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class Agent:
    """A row of `desk_agents`, without the password hash (`Store.password_hash` reads that)."""

    id: int
    name: str
    skills: Tuple[str, ...]
    senior: bool
    capacity: int
    must_change_password: bool
    created_at: float
    role: Role = Role.AGENT
    disabled_at: Optional[float] = None  # set while the agent is disabled: no token works, no sign-in
    status: str = "offline"  # online | away | offline, as set in the console (`POST /api/me/status`)
    status_since: Optional[float] = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Agent:
        """Build an agent from a database row (skills stored comma-separated; no role stored: an agent)."""
        return cls(
            id=int(row["id"]),
            name=row["name"],
            skills=tuple(s for s in (row["skills"] or "").split(",") if s),
            senior=bool(row["senior"]),
            capacity=int(row["capacity"]),
            must_change_password=bool(row["must_change_password"]),
            created_at=float(row["created_at"]),
            role=Role(row.get("role") or Role.AGENT.value),
            disabled_at=row.get("disabled_at"),
            status=row.get("status") or "offline",
            status_since=row.get("status_since"),
        )

    @property
    def enabled(self) -> bool:
        """False while the agent is disabled."""
        return self.disabled_at is None


@dataclasses.dataclass(frozen=True)
class AgentSession:
    """An agent as a valid bearer token identifies them: the agent, the token's kind and expiry."""

    agent: Agent
    kind: TokenKind
    expires_at: Optional[float]
    token_hash: str = ""  # the token's stored hash: a password change keeps this session and ends the others
    parent_hash: str = ""  # a stream ticket's: the hash of the token that asked for it ("" for other kinds)

    @property
    def holder_hash(self) -> str:
        """The hash of the token a stream opened with this session lives by: a stream ticket's parent, else the
        token itself ("" for a stream ticket from before parents were recorded)."""
        return self.parent_hash if self.kind is TokenKind.STREAM else self.token_hash


@dataclasses.dataclass(frozen=True)
class IdempotentCall:
    """A row of `desk_idempotency`: the first request an agent made with an `Idempotency-Key`, and its answer.

    Attributes:
        request: the method and path (`POST /api/tickets/T-000001/messages`), for the error a misuse gets.
        fingerprint: what identifies the request: its method, path and body (`bot.desk.idempotency`).
        status: the HTTP status of the first answer; None while the first request is still being answered.
        response: the JSON body of the first answer (None while in progress).
        age: seconds since the first request came (the database's clock).
    """

    request: str
    fingerprint: str
    status: Optional[int]
    response: Any
    age: float


@dataclasses.dataclass(frozen=True)
class FollowUp:
    """A row of `desk_followups`: a call back to a customer after a ticket (see `bot.desk.followups`)."""

    id: int
    ticket_id: int
    trigger: FollowUpTrigger
    status: FollowUpStatus
    owner: Optional[str]
    due_at: float
    outcome: Optional[FollowUpOutcome]
    note: Optional[str]
    created_by: str
    created_at: float
    done_at: Optional[float] = None
    done_by: Optional[str] = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> FollowUp:
        """Build a follow-up from a database row (`note` already decrypted)."""
        values = _own_columns(cls, row)
        values["trigger"] = FollowUpTrigger(row["trigger"])
        values["status"] = FollowUpStatus(row["status"])
        values["outcome"] = FollowUpOutcome(row["outcome"]) if row.get("outcome") else None
        return cls(**values)

    @property
    def code(self) -> str:
        """The public id, `F-000123`."""
        return f"{FOLLOWUP_PREFIX}{self.id:06d}"


@dataclasses.dataclass(frozen=True)
class FollowUpMessage:
    """A row of `desk_followup_messages`: what an agent sent the customer for a follow-up
    (`bot.desk.followup_messages`); `status` is `pending` while being sent, then `sent` or `failed`."""

    id: int
    followup_id: int
    ticket_id: int
    text: str
    author: str
    status: MessageStatus
    at: float
    sent_at: Optional[float] = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> FollowUpMessage:
        """Build one from a database row (`text` already decrypted)."""
        values = _own_columns(cls, row)
        values["status"] = MessageStatus(row["status"])
        return cls(**values)


def parse_followup_code(code: str) -> Optional[int]:
    """Return the numeric id of `F-000123` (or `123`), or None when it is not a follow-up id."""
    raw = code[len(FOLLOWUP_PREFIX):] if code.upper().startswith(FOLLOWUP_PREFIX) else code
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    """A row of `desk_audit`: one thing a person did at the desk (append-only: `bot.desk.audit`).

    Attributes:
        id: the entry's number (in the order written).
        at: when (epoch seconds).
        actor: the agent who did it (or `cli:<user>` for the command line).
        action: what (`bot.desk.audit.Action`: `view`, `claim`, `reply`, …).
        ticket: the ticket's public id, when it concerned one.
        target: whom it concerned (the agent a ticket went to, the agent disabled), when anyone.
        detail: a short machine-readable detail (`{"grade": "A"}`, `{"queue": true}`), never customer text.
        address: the caller's address (`bot.ratelimit.request_address`), `cli` for the command line.
    """

    id: int
    at: float
    actor: str
    action: str
    ticket: Optional[str]
    target: Optional[str]
    detail: Dict[str, Any]
    address: str
