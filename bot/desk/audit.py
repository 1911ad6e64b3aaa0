"""The audit log: every view of a ticket's context and every action at the desk, append-only, with who, when, what
and from which address; supervisors read it (`GET /api/audit`) and export it as CSV (`GET /api/audit.csv`).

Recorded by the API (`bot.desk.api`) once an action succeeded (a repeat answered from its `Idempotency-Key` is not
a second action), and by the command line (`cli:<user>`, address `cli`). The sign-ins are recorded whether or not
they succeed. An entry never holds customer text: the ticket's id, the agent concerned, a short detail. The rows:
`bot.desk.store.audit` (no update or delete path; on PostgreSQL a trigger refuses both).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from typing import Any, Dict, List, Mapping, Optional

from bot.desk import records
from bot.desk.errors import DeskError
from bot.desk.records import AuditEntry, _Text
from bot.desk.store import Store
from bot.desk.views import iso

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
CSV_COLUMNS = ["id", "at", "actor", "action", "ticket", "target", "address", "detail"]


class Action(_Text):
    """What an audit entry records."""

    VIEW = "view"  # a ticket's context and messages were read
    CLAIM = "claim"
    REPLY = "reply"
    RETRY = "retry"
    TRANSFER = "transfer"
    TOPIC = "topic"
    REASSIGN = "reassign"
    RESOLVE = "resolve"
    HANDBACK = "handback"
    GRADE = "grade"
    DISABLE = "disable"
    ENABLE = "enable"
    RESET_PASSWORD = "reset_password"
    SET_ROLE = "set_role"
    CHANGE_PASSWORD = "change_password"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    CREATE_AGENT = "create_agent"
    API_TOKEN = "api_token"  # an agent issued itself an API token (`POST /api/me/api-tokens`)
    QA_SCORE = "qa_score"  # a supervisor scored a ticket in the QA queue
    CUSTOMER_NOTE = "customer_note"  # a note or tag about the customer added or removed
    FOLLOWUP_MESSAGE = "followup_message"  # a follow-up's message sent on the customer's channel
    EXPORT = "export"  # the audit log itself was exported


class AuditLog:
    """Writes and reads the audit log.

    Args:
        store: the desk store.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self, actor: str, action: Action, address: str, ticket: Optional[str] = None, target: Optional[str] = None,
        **detail: Any,
    ) -> None:
        """Append one entry, now."""
        self.store.append_audit(records.now(), actor[:128], action.value, address or "unknown", ticket, target, detail)

    def entries(self, args: Mapping[str, Any]) -> List[AuditEntry]:
        """The entries the query arguments of `GET /api/audit` ask for: `ticket`, `agent` (who did it or whom it
        concerned), `from` and `to` (ISO 8601 times or dates; `to` excluded), `after` (an entry id: the next
        page) and `limit` (1–5000, 500).

        Raises:
            DeskError: 400 naming the argument that is wrong.
        """
        limit = _whole(args.get("limit"), "limit", DEFAULT_LIMIT)
        if not 1 <= limit <= MAX_LIMIT:
            raise DeskError(400, f"'limit' must be a whole number from 1 to {MAX_LIMIT}")
        return self.store.audit_entries(
            ticket=(args.get("ticket") or "").strip().upper() or None,
            actor=(args.get("agent") or "").strip() or None,
            since=_time(args.get("from"), "from"),
            until=_time(args.get("to"), "to"),
            after_id=_whole(args.get("after"), "after", 0),
            limit=limit,
        )


def entry_json(entry: AuditEntry) -> Dict[str, Any]:
    """The JSON form of an audit entry."""
    return {
        "id": entry.id, "at": iso(entry.at), "actor": entry.actor, "action": entry.action, "ticket": entry.ticket,
        "target": entry.target, "address": entry.address, "detail": entry.detail,
    }


def entries_csv(entries: List[AuditEntry]) -> str:
    """The entries as CSV (a header line, then one line per entry; `detail` as JSON). A cell that a spreadsheet
    would read as a formula (`=`, `+`, `-`, `@` first) is quoted with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        row = entry_json(entry)
        row["detail"] = json.dumps(entry.detail, ensure_ascii=False, sort_keys=True)
        writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _whole(raw: Any, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    if not str(raw).isdigit():
        raise DeskError(400, f"'{name}' must be a whole number")
    return int(raw)


def _time(raw: Any, name: str) -> Optional[float]:
    """An ISO 8601 time or date (UTC when it names no zone) as epoch seconds; None when absent."""
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = dt.datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise DeskError(400, f"'{name}' must be an ISO 8601 time or date, e.g. 2026-11-23 or 2026-11-23T10:00:00Z") from error
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.timestamp()
