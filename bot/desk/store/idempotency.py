"""The answers kept for `Idempotency-Key` (`desk_idempotency`): the first request of a key is recorded before it
runs (so a repeat meanwhile sees it in progress), its answer after; repeats read it back. Kept 24 hours
(`trim_calls`, in the leader's round).

Ages are judged by the database's clock (`bot.desk.store.processes.database_clock`), so every desk process agrees.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.desk.records import IdempotentCall
from bot.desk.store.database import Database
from bot.desk.store.processes import database_clock
from bot.desk.store.tables import idempotency

logger = logging.getLogger(__name__)


class IdempotencyRows(Database):
    """Reads and writes of `desk_idempotency`."""

    def start_call(self, agent: str, key: str, request: str, fingerprint: str) -> Optional[IdempotentCall]:
        """Record the first request of `agent`'s `key`, unless there is one already.

        Returns:
            None when this request is the first (the caller runs it, then `finish_call`); else the earlier one.
        """
        clock = database_clock(self.dialect)
        try:
            with self.engine.begin() as conn:
                conn.execute(idempotency.insert().values(
                    agent=agent, key=key, request=request[:255], fingerprint=fingerprint, created_at=clock,
                ))
            return None
        except IntegrityError:
            pass
        query = sa.select(
            idempotency.c.request, idempotency.c.fingerprint, idempotency.c.status, idempotency.c.response,
            (clock - idempotency.c.created_at).label("age"),
        ).where(idempotency.c.agent == agent, idempotency.c.key == key)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:  # trimmed between the insert and the read: a 24-hour-old key, taken as new
            return self.start_call(agent, key, request, fingerprint)
        response = json.loads(self.cipher.decrypt(row.response)) if row.response is not None else None
        return IdempotentCall(row.request, row.fingerprint, row.status, response, float(row.age))

    def finish_call(self, agent: str, key: str, status: int, response: Any) -> None:
        """Keep the answer of a first request (`status`, JSON `response`) for its repeats."""
        stored = self.cipher.encrypt(json.dumps(response, ensure_ascii=False))
        with self.engine.begin() as conn:
            conn.execute(
                idempotency.update().where(idempotency.c.agent == agent, idempotency.c.key == key)
                .values(status=status, response=stored)
            )

    def trim_calls(self, older_than: float) -> int:
        """Forget the keys first used more than `older_than` seconds ago; return how many."""
        clock = database_clock(self.dialect)
        with self.engine.begin() as conn:
            removed = conn.execute(idempotency.delete().where(idempotency.c.created_at < clock - older_than)).rowcount
        return int(removed or 0)
