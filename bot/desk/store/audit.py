"""The audit rows (`desk_audit`): append and read, nothing else.

The log is append-only: this module is the only code that touches the table and it has no UPDATE or DELETE. The
desk's database user cannot be restricted on SQLite; on PostgreSQL the migration installs a trigger
(`AUDIT_TRIGGER`) that refuses every UPDATE and DELETE of the table, whoever sends it (TRUNCATE and DROP stay
with the database's owner, as any schema change does).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional

import sqlalchemy as sa

from bot.desk.records import AuditEntry
from bot.desk.store.database import Database
from bot.desk.store.tables import audit

logger = logging.getLogger(__name__)

# PostgreSQL: refuse UPDATE and DELETE of audit rows (created, or replaced, by every migration).
AUDIT_FUNCTION = """CREATE OR REPLACE FUNCTION desk_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'desk_audit is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$"""
AUDIT_TRIGGER = [
    AUDIT_FUNCTION,
    "DROP TRIGGER IF EXISTS desk_audit_append_only ON desk_audit",
    """CREATE TRIGGER desk_audit_append_only BEFORE UPDATE OR DELETE ON desk_audit
FOR EACH ROW EXECUTE FUNCTION desk_audit_append_only()""",
]


def install_append_only(conn: sa.engine.Connection) -> None:
    """On PostgreSQL, (re)install the trigger that refuses UPDATE and DELETE on `desk_audit` (in the
    migration's transaction); nothing on SQLite."""
    if conn.dialect.name == "postgresql":
        for statement in AUDIT_TRIGGER:
            conn.execute(sa.text(statement))


class AuditRows(Database):
    """Appends to and reads of `desk_audit`."""

    def append_audit(
        self, at: float, actor: str, action: str, address: str, ticket: Optional[str] = None,
        target: Optional[str] = None, detail: Optional[Dict[str, Any]] = None,
    ) -> int:
        """Append one entry; return its id."""
        values = dict(
            at=at, actor=actor, action=action, ticket=ticket, target=target, address=address[:64],
            detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
        )
        with self.engine.begin() as conn:
            return int(conn.execute(audit.insert().values(**values)).inserted_primary_key[0])

    def audit_entries(
        self,
        ticket: Optional[str] = None,
        actor: Optional[str] = None,
        since: Optional[float] = None,
        until: Optional[float] = None,
        after_id: int = 0,
        limit: int = 500,
    ) -> List[AuditEntry]:
        """The entries that match every filter given, oldest first.

        Args:
            ticket: only this ticket's (public id).
            actor: only those this agent did, or that concerned it (`target`).
            since: only at or after this time (epoch seconds).
            until: only before this time.
            after_id: only entries after this id (the next page).
            limit: the most entries to return.
        """
        query = sa.select(audit).where(audit.c.id > after_id)
        if ticket:
            query = query.where(audit.c.ticket == ticket)
        if actor:
            query = query.where(sa.or_(audit.c.actor == actor, audit.c.target == actor))
        if since is not None:
            query = query.where(audit.c.at >= since)
        if until is not None:
            query = query.where(audit.c.at < until)
        query = query.order_by(audit.c.id).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEntry(
                id=int(r.id), at=float(r.at), actor=r.actor, action=r.action, ticket=r.ticket, target=r.target,
                detail=json.loads(r.detail or "{}"), address=r.address,
            )
            for r in rows
        ]
