"""The tracker store on PostgreSQL after its connections were killed (`pg_terminate_backend`): the next turn
reads the conversation as stored, instead of failing on a dead pooled connection (Rasa's `FailSafeTrackerStore`
would then answer that turn from an empty in-memory tracker: a paused conversation no longer paused, its message
not stored where the desk reads it; measured by tests/faults/test_topology_faults.py)."""

from __future__ import annotations

import uuid
from typing import Any, List

import psycopg2
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ConversationPaused, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.stores import TunedSQLTrackerStore
from tests.faults.layout_harness import pg_query

pytestmark = pytest.mark.postgres


@pytest.fixture
def database() -> Any:
    name = f"frontline_pgconn_{uuid.uuid4().hex[:8]}"
    try:
        pg_query(f'CREATE DATABASE "{name}"')
    except psycopg2.OperationalError:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    yield name
    pg_query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_a_turn_after_the_connections_were_killed_reads_the_stored_conversation(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTLINE_DATA_KEYS", Fernet.generate_key().decode())
    store = TunedSQLTrackerStore(Domain.from_yaml('version: "3.1"\n'), dialect="postgresql", host="127.0.0.1",
                                 port=5432, db=database, username="postgres")
    try:
        tracker = DialogueStateTracker.from_events("rest:c-1", [ActionExecuted("action_listen")])
        tracker.update(UserUttered("转人工", {"name": "request_human", "confidence": 0.99}))
        tracker.update(ConversationPaused())
        await store.save(tracker)
        assert (await store.retrieve("rest:c-1")).is_paused()  # read from the database; the pool keeps a connection
        killed = pg_query(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' "
            "AND pid <> pg_backend_pid()", database,
        )
        assert killed, "the store kept no connection to kill"
        again = await store.retrieve("rest:c-1")
        assert again is not None and again.is_paused()
        assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["转人工"]
    finally:
        store.engine.dispose()


def kill_on_first(store: TunedSQLTrackerStore, database: str, statement: str) -> List[int]:
    """Terminate the store's own backend as it is about to run the first SQL containing `statement` (a
    connection killed in the middle of a turn); returns the pids killed."""
    killed: List[int] = []

    def before(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if not killed and statement in sql:
            pid = cursor.connection.get_backend_pid()
            killed.append(pid)
            pg_query(f"SELECT pg_terminate_backend({pid})", database)

    sa.event.listen(store.engine, "before_cursor_execute", before)
    return killed


@pytest.mark.parametrize("statement", ["SELECT", "INSERT"])
async def test_a_connection_killed_in_the_middle_of_a_turn_is_read_and_saved_again(
    database: str, monkeypatch: pytest.MonkeyPatch, statement: str
) -> None:
    monkeypatch.setenv("FRONTLINE_DATA_KEYS", Fernet.generate_key().decode())
    store = TunedSQLTrackerStore(Domain.from_yaml('version: "3.1"\n'), dialect="postgresql", host="127.0.0.1",
                                 port=5432, db=database, username="postgres")
    try:
        tracker = DialogueStateTracker.from_events("rest:c-2", [ActionExecuted("action_listen")])
        tracker.update(UserUttered("转人工", {"name": "request_human", "confidence": 0.99}))
        tracker.update(ConversationPaused())
        await store.save(tracker)
        killed = kill_on_first(store, database, statement)
        tracker = await store.retrieve("rest:c-2")  # a turn: read (killed on SELECT) …
        assert tracker is not None and tracker.is_paused()
        tracker.update(UserUttered("m-1", {"name": "nlu_fallback", "confidence": 0.1}))
        await store.save(tracker)  # … and save (killed on INSERT)
        assert killed, f"no {statement} ran"
        stored = await store.retrieve("rest:c-2")
        assert [e.text for e in stored.events if isinstance(e, UserUttered)] == ["转人工", "m-1"]
        with store.engine.connect() as conn:  # one outbox row per event, none twice
            sequences = [row[0] for row in conn.execute(sa.select(store.outbox.c.sequence))]
        assert sequences == [] or len(sequences) == len(set(sequences))
    finally:
        store.engine.dispose()
