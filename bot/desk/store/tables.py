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
    # The recommendation answer (NPS question, 0–10) after the rating, when settings.yml survey.nps is on.
    sa.Column("nps", sa.Integer),
    sa.Column("notified_position", sa.Integer),
    # When the customer was taken to have stopped waiting (`bot.desk.abandonment`); NULL when they did not, or
    # came back (the ticket was queued again).
    sa.Column("abandoned_at", sa.Float),
    # A complaint (`bot.desk.complaints`: the reason or an intent of the packet); NULL on tickets older than it.
    sa.Column("complaint", sa.Boolean),
    # When the customer last wrote (Rasa's timestamp of their latest message on the ticket): the channel's reply
    # window (`bot.reply_window`, WeChat's 48 hours) is counted from it, or from `created_at` before any.
    sa.Column("last_customer_at", sa.Float),
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
    # Customer e-mails: the id of the kept mail it came as (`inbound.id` of `bot.channels.email_threads`), so the
    # console shows that mail's attachments under it.
    sa.Column("mail_id", sa.BigInteger),
    sa.UniqueConstraint("ticket_id", "external_id", name="desk_messages_ticket_external"),
    # The leader's sweep looks for stale `pending` replies every round (created on older databases too).
    sa.Index("desk_messages_status", "status"),
    # An agent reaches the tickets it took part in (`bot.desk.roles`): the tickets it wrote on.
    sa.Index("desk_messages_author", "author"),
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
    # Role: agent | supervisor | admin (`bot.desk.roles`); NULL (a database from before roles) reads as agent.
    sa.Column("role", sa.String(16)),
    # Set while the agent is disabled (no token works, no sign-in); NULL when enabled.
    sa.Column("disabled_at", sa.Float),
    # What the agent set in the console (`POST /api/me/status`): online | away | offline (NULL: offline).
    sa.Column("status", sa.String(16)),
    sa.Column("status_since", sa.Float),
)

tokens = sa.Table(
    "desk_tokens",
    metadata,
    sa.Column("token_hash", sa.String(128), primary_key=True),
    sa.Column("agent_id", sa.Integer, nullable=False, index=True),
    # TokenKind: api (from the CLI) | session (/api/login) | stream (/api/stream-tickets, one use)
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float),
    # A stream ticket: the hash of the session or API token that asked for it. The stream it opens lives only as
    # long as that token does (a password change, reset, sign-out or disable ends it). NULL for other tokens.
    sa.Column("parent_hash", sa.String(128)),
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

turns = sa.Table(
    "desk_turns",
    metadata,
    # One customer message the assistant read (from the event stream), for the reports: when, on which channel,
    # and the intent NLU gave it (`nlu_fallback`: not understood). No text is kept.
    sa.Column("conversation_id", sa.String(255), primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True),  # Rasa's sequence: a redelivered event is one turn
    sa.Column("channel", sa.String(64)),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("intent", sa.String(128)),
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

followups = sa.Table(
    "desk_followups",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, nullable=False, index=True),
    sa.Column("trigger", sa.String(16), nullable=False),  # FollowUpTrigger: low_rating | complaint | vip | manual
    # `<ticket id>:<trigger>` for the automatic ones: one per ticket and trigger, however often it is asked for.
    sa.Column("auto_key", sa.String(64), unique=True, nullable=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # FollowUpStatus: open | done
    sa.Column("owner", sa.String(128), index=True),  # the agent who does it; NULL: anyone
    sa.Column("due_at", sa.Float, nullable=False),  # in business time from its creation (bot.calendar)
    sa.Column("outcome", sa.String(16)),  # FollowUpOutcome, once done
    sa.Column("note", sa.Text),  # encrypted (it may hold what the customer said)
    sa.Column("created_by", sa.String(128), nullable=False),  # an agent's name, or `desk` for the automatic ones
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("done_at", sa.Float),
    sa.Column("done_by", sa.String(128)),
)

followup_messages = sa.Table(
    "desk_followup_messages",
    metadata,
    # What an agent sent the customer on their channel for a follow-up (`bot.desk.followup_messages`).
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("followup_id", sa.Integer, nullable=False, index=True),
    sa.Column("ticket_id", sa.Integer, nullable=False, index=True),  # the follow-up's ticket (retention purges)
    sa.Column("text", sa.Text, nullable=False),  # encrypted; masked once sent, as written until then
    sa.Column("author", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # MessageStatus: pending | sent | failed
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("sent_at", sa.Float),
)

compliance_flags = sa.Table(
    "desk_compliance_flags",
    metadata,
    # An agent's reply or note sent with a banned phrase (`compliance.live_replies: warn`), for QA to review.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, nullable=False, index=True),
    sa.Column("message_id", sa.Integer),  # the reply or note that carried it
    sa.Column("agent", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # reply | note
    sa.Column("phrases", sa.Text, nullable=False),  # the banned phrases found, as the settings write them (JSON)
    sa.Column("at", sa.Float, nullable=False),
)

customer_notes = sa.Table(
    "desk_customer_notes",
    metadata,
    # Notes and tags agents keep about a customer, across the customer's tickets (`bot.desk.customers`).
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # Who: `customer:<signed customer id>` or `wechat:<OpenID>` (`bot.desk.customers.customer_key`).
    sa.Column("customer_key", sa.String(255), nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),  # note | tag
    sa.Column("text", sa.Text, nullable=False),  # encrypted (bot.data_keys): a note may hold personal data
    sa.Column("author", sa.String(128), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

audit = sa.Table(
    "desk_audit",
    metadata,
    # Append-only (`bot.desk.audit`): the desk has no code path that updates or deletes a row, and on PostgreSQL
    # a trigger refuses UPDATE and DELETE (`bot.desk.store.audit.AUDIT_TRIGGER`).
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("actor", sa.String(128), nullable=False, index=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("ticket", sa.String(32), index=True),  # the ticket's public id, T-000123
    sa.Column("target", sa.String(128)),  # the agent it concerned (a reassignment's new owner, the one disabled)
    sa.Column("detail", sa.Text, nullable=False),  # JSON, never customer text
    sa.Column("address", sa.String(64), nullable=False),
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
