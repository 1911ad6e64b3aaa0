"""The desk's tables: all names start with `desk_`, so the desk can share a PostgreSQL database with Rasa's
tracker store. Times are epoch seconds (floats, UTC); statuses and roles are the values of the enums in
`bot.desk.records`.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

logger = logging.getLogger(__name__)

metadata = sa.MetaData()

tickets = sa.Table(
    "desk_tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    # conversation_id while the ticket is open, NULL once closed: one open ticket per conversation.
    sa.Column("open_key", sa.String(255), unique=True, nullable=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # TicketStatus
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
    # Wall-clock creation time (FRONTLINE_NOW does not pin it).
    sa.Column("created_real", sa.Float, nullable=False),
    # Rasa's sequence (bot.outbox) of the `action_handoff` event that opened the ticket, from the event stream:
    # the conversation's customer messages after it belong to the ticket (one clock: Rasa's order).
    sa.Column("start_sequence", sa.BigInteger),
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
    # The worst SLA light the consoles were told of (yellow, red: `bot.desk.alerts`), so a change is told once.
    sa.Column("sla_alerted", sa.String(8)),
    # When the escalation on red put it back at the top of a queue (`desk.on_red`); it stays first in its queue.
    sa.Column("escalated_at", sa.Float),
    # Auto-assignment (`bot.desk.assignment`): the agent the queued ticket is offered to, until when, and who
    # declined it or let an offer lapse (comma-separated, the next offer goes to someone else).
    sa.Column("offered_to", sa.String(128), index=True),
    sa.Column("offer_expires", sa.Float),
    sa.Column("declined_by", sa.Text),
)

messages = sa.Table(
    "desk_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, nullable=False, index=True),
    # MessageRole: customer | agent | bot | note (internal, never sent) | system
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    # MessageStatus: received (customer) | pending | sent | failed (agent, bot) | internal (note, system)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("author", sa.String(128)),
    # Customer messages: `rasa:<sequence>`, the broker consumer's de-duplication key (conversation, sequence).
    sa.Column("external_id", sa.String(128)),
    sa.Column("anger", sa.Float),
    # Customer messages: Rasa's sequence of the event (bot.outbox), their order in the ticket.
    sa.Column("sequence", sa.BigInteger),
    sa.UniqueConstraint("ticket_id", "external_id", name="desk_messages_ticket_external"),
    # The leader's sweep looks for stale `pending` replies every round (created on older databases too).
    sa.Index("desk_messages_status", "status"),
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
    # What the agent set in the console (`POST /api/me/status`): online | away | offline (NULL: offline).
    sa.Column("status", sa.String(16)),
    sa.Column("status_since", sa.Float),
)

tokens = sa.Table(
    "desk_tokens",
    metadata,
    sa.Column("token_hash", sa.String(128), primary_key=True),
    sa.Column("agent_id", sa.Integer, nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # TokenKind: api (from the CLI) | session (/api/login)
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

idempotency = sa.Table(
    "desk_idempotency",
    metadata,
    # The agent and the `Idempotency-Key` they sent: a key is the agent's own (two agents may use the same one).
    sa.Column("agent", sa.String(128), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request", sa.String(255), nullable=False),  # method and path, for the error a misuse gets
    sa.Column("fingerprint", sa.String(64), nullable=False),  # sha256 of method, path and body
    sa.Column("status", sa.Integer),  # the first answer's HTTP status; NULL while it is being answered
    sa.Column("response", sa.Text),  # the first answer's JSON body, encrypted (it may hold a reply's words)
    sa.Column("created_at", sa.Float, nullable=False, index=True),  # the database's clock
)

qa_reviews = sa.Table(
    "desk_qa",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # One review per closed ticket that entered the QA queue (`bot.desk.qa`).
    sa.Column("ticket_id", sa.Integer, nullable=False, unique=True),
    sa.Column("agent", sa.String(128), index=True),  # who handled the ticket (its assignee when it closed)
    sa.Column("reason", sa.String(16), nullable=False),  # sampled | low_rating
    sa.Column("queued_at", sa.Float, nullable=False),
    sa.Column("scored_by", sa.String(128)),
    sa.Column("scored_at", sa.Float, index=True),
    sa.Column("scores", sa.Text),  # JSON {criterion: score}
    sa.Column("comment", sa.Text),  # encrypted (it may quote the conversation)
)
