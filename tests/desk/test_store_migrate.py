"""`Store.migrate` on PostgreSQL: several desks starting at once on an empty database all start (an advisory
lock serialises the table, column and index creation)."""

from __future__ import annotations

import threading
import uuid
from typing import List

import pytest
import sqlalchemy as sa

from bot.desk.store import Store
from tests.desk.conftest import PG_URL, pg_available

pytestmark = pytest.mark.postgres

DESKS = 4


def _migrate_at_once(schema: str) -> List[BaseException]:
    stores = [Store(PG_URL, schema=schema) for _ in range(DESKS)]
    start = threading.Barrier(DESKS)
    failures: List[BaseException] = []

    def desk_starts(store: Store) -> None:
        start.wait()
        try:
            store.migrate()
        except BaseException as error:  # noqa: BLE001 - collected and reported by the test
            failures.append(error)
        finally:
            store.close()

    threads = [threading.Thread(target=desk_starts, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a migration hung"
    return failures


def test_four_desks_migrating_one_fresh_schema_at_once_all_start() -> None:
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    for _ in range(3):  # a fresh schema each round: the race is on creating it and its tables and types
        schema = f"desk_migrate_{uuid.uuid4().hex[:12]}"
        try:
            failures = _migrate_at_once(schema)
            assert failures == [], [f"{type(error).__name__}: {str(error).splitlines()[0]}" for error in failures]
            check = Store(PG_URL, schema=schema)
            names = set(sa.inspect(check.engine).get_table_names())
            assert {"desk_tickets", "desk_messages", "desk_idempotency"} <= names
            check.close()
        finally:
            Store(PG_URL, schema=schema).drop_schema()
