"""The desk's storage: tickets, their messages, agents, tokens, the broker position, conversations seen.

SQLAlchemy 1.4 Core over SQLite (default, `var/desk.db`) or PostgreSQL (`DATABASE_URL=postgresql://…`).
Tables are created when missing (`Store.migrate()`); all names start with `desk_`, so the desk can share a
PostgreSQL database with Rasa's tracker store. Rows come back typed (`bot.desk.records`).

The store is synchronous: each call is one short transaction, and every status change is one conditional
UPDATE whose row count says whether it happened (see `bot.desk.store.tickets`).

One module per table group: `tables` (the schema), `database` (engine, creation, the data cipher), `tickets`
(with `closes`, the close steps),
`messages`, `agents` (with tokens), `state` (broker position, conversations seen), `figures` (the dashboard's
aggregates), `history` (ticket and conversation times, for the forecast), `feed` (the console events all desk
processes push), `processes` (live desk processes, who has a console open, leases), `idempotency` (the answers
kept for `Idempotency-Key`), `reports` (the period reports' rows, the assistant's turns, abandonment), `followups` (回访), `customers` (customer notes and tags,
compliance warnings), `audit` (the append-only audit log), `alerts` (the SLA lights told to the consoles, the
escalation on red), `assignment` (agent status, offers), `qa` (the QA queue and scores), and
`maintenance` (the retention steps and the key rotation). Message texts, context
packets and survey comments are stored encrypted (`bot.data_keys`) and come back decrypted.
"""

from __future__ import annotations

import logging

from bot.desk.store.agents import AgentRows
from bot.desk.store.audit import AuditRows
from bot.desk.store.alerts import AlertRows
from bot.desk.store.assignment import AssignmentRows
from bot.desk.store.closes import CloseRows
from bot.desk.store.customers import CustomerRows
from bot.desk.store.feed import FeedRows
from bot.desk.store.figures import FigureRows
from bot.desk.store.followups import FollowUpRows
from bot.desk.store.history import HistoryRows
from bot.desk.store.idempotency import IdempotencyRows
from bot.desk.store.maintenance import MaintenanceRows
from bot.desk.store.messages import MessageRows
from bot.desk.store.processes import ProcessRows
from bot.desk.store.reports import ReportRows
from bot.desk.store.qa import QaRows
from bot.desk.store.state import StateRows
from bot.desk.store.tickets import TicketRows

logger = logging.getLogger(__name__)

__all__ = ["Store"]


class Store(
    TicketRows, CloseRows, MessageRows, AgentRows, StateRows, FigureRows, MaintenanceRows, FeedRows, ProcessRows,
    IdempotencyRows, HistoryRows, ReportRows, FollowUpRows, CustomerRows, AuditRows, AlertRows, AssignmentRows,
    QaRows,
):
    """Tickets, messages, agents, state, the console feed and the desk processes in one SQL database (the table
    groups joined over one engine).

    Args:
        url: a SQLAlchemy URL: `sqlite:///path` or `postgresql://user@host:port/db`.
        schema: PostgreSQL only: keep the tables in this schema (created when missing), e.g. one per test run.
    """
