"""The tracker store on PostgreSQL after its connections were killed (`pg_terminate_backend`): the next turn
reads the conversation as stored, instead of failing on a dead pooled connection (Rasa's `FailSafeTrackerStore`
would then answer that turn from an empty in-memory tracker: a paused conversation no longer paused, its message
not stored where the desk reads it; measured by tests/faults/test_topology_faults.py)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg2
import pytest
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
