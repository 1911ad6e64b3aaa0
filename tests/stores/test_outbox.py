"""The tracker store's outbox (`bot.outbox`): a turn's events are stored with their outbox rows in one transaction,
published in order with Rasa's sequence, kept until the broker confirmed, and published after a crash (kill -9)
between the commit and the publish."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any, Dict, List

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.stores import TunedSQLEventBroker, TunedSQLTrackerStore

DOMAIN = Domain.from_yaml('version: "3.1"\n')
ROOT = pathlib.Path(__file__).resolve().parents[2]


class FlakyBroker:
    """A broker that refuses while `down`, and records what it confirmed."""

    def __init__(self) -> None:
        self.down = False
        self.confirmed: List[Dict[str, Any]] = []

    async def publish_confirmed(self, bodies: List[Dict[str, Any]]) -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        self.confirmed.extend(bodies)


def turn(tracker: DialogueStateTracker, text: str) -> None:
    tracker.update(UserUttered(text, {"name": "nlu_fallback", "confidence": 0.2}))
    tracker.update(ActionExecuted("action_listen"))


async def test_published_events_carry_the_conversation_and_rasas_sequence(tmp_path: pathlib.Path) -> None:
    broker = FlakyBroker()
    store = TunedSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"), event_broker=broker)
    tracker = DialogueStateTracker.from_events("rest:a", [ActionExecuted("action_listen")])
    turn(tracker, "one")
    await store.save(tracker)
    sequences = [body["sequence"] for body in broker.confirmed]
    assert [body["event"] for body in broker.confirmed] == ["action", "user", "action"]
    assert {body["sender_id"] for body in broker.confirmed} == {"rest:a"}
    with store.engine.connect() as conn:
        ids = [row[0] for row in conn.exec_driver_sql("SELECT id FROM events ORDER BY id")]
    assert sequences == ids  # the tracker row ids
    assert store.relay.pending() == 0
    await store.relay.stop()


async def test_an_unreachable_broker_keeps_the_rows_and_the_relay_publishes_them_in_order(tmp_path: pathlib.Path) -> None:
    broker = FlakyBroker()
    store = TunedSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"), event_broker=broker)
    tracker = DialogueStateTracker.from_events("rest:b", [ActionExecuted("action_listen")])
    broker.down = True
    for text in ["one", "two", "three"]:
        turn(tracker, text)
        await store.save(tracker)  # the turn goes on; nothing is lost
    assert broker.confirmed == [] and store.relay.pending() == 7
    with store.engine.connect() as conn:  # the outbox names the events (their tracker rows, encrypted) and copies none
        columns = [row[1] for row in conn.exec_driver_sql("PRAGMA table_info(frontline_outbox)")]
    assert columns == ["id", "sender_id", "sequence"]
    broker.down = False
    deadline = time.monotonic() + 10
    while store.relay.pending() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    texts = [body["text"] for body in broker.confirmed if body["event"] == "user"]
    assert texts == ["one", "two", "three"]
    sequences = [body["sequence"] for body in broker.confirmed]
    assert sequences == sorted(sequences) and len(set(sequences)) == 7
    await store.relay.stop()


CRASHING_RASA = textwrap.dedent('''
    import asyncio, os, signal, sys
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from bot.stores import TunedSQLEventBroker, TunedSQLTrackerStore

    class DiesWhilePublishing(TunedSQLEventBroker):
        """The real SQL broker, except that the process is killed (SIGKILL) when it is asked to publish."""
        def publish_many(self, events):
            os.kill(os.getpid(), signal.SIGKILL)

    async def main(folder, text):
        broker = DiesWhilePublishing(dialect="sqlite", db=folder + "/events.db")
        store = TunedSQLTrackerStore(Domain.empty(), dialect="sqlite", db=folder + "/rasa.db", event_broker=broker)
        tracker = await store.retrieve("socketio:crash") or DialogueStateTracker.from_events(
            "socketio:crash", [ActionExecuted("action_listen")])
        tracker.update(UserUttered(text, {"name": "nlu_fallback", "confidence": 0.2}, message_id="m-" + text))
        await store.save(tracker)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
''')


async def test_kill_9_between_commit_and_publish_loses_nothing(tmp_path: pathlib.Path, desk_with_ticket: Any) -> None:
    desk, code = desk_with_ticket("socketio:crash")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for text in ["first", "second"]:
        died = subprocess.run([sys.executable, "-c", CRASHING_RASA, str(tmp_path), text], env=env, cwd=ROOT,
                              capture_output=True, timeout=120)
        assert died.returncode == -signal.SIGKILL, died.stderr.decode()[-2000:]
    # Both turns are committed, nothing reached the broker.
    broker = TunedSQLEventBroker(dialect="sqlite", db=str(tmp_path / "events.db"))
    assert broker.engine.execute("SELECT count(*) FROM events").scalar() == 0
    # Rasa starts again: what the crashes left is published at once, before any new turn.
    store = TunedSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"), event_broker=broker)
    deadline = time.monotonic() + 10
    while store.relay.pending() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert store.relay.pending() == 0
    # The desk tails the broker: each message reaches the ticket once, in order; a second pass adds nothing.
    from bot.desk.events import SQLBrokerTail

    tail = SQLBrokerTail(desk, f"sqlite:///{tmp_path / 'events.db'}")
    desk.inbox.ingest({"sender_id": "socketio:crash", "event": "action", "name": "action_handoff", "sequence": 0})
    tail.poll_once()
    desk.store.set_state(tail.state_key, "0")
    tail.poll_once()
    ticket = desk.tickets.find(code)
    assert [m.text for m in desk.store.messages(ticket.id)] == ["first", "second"]
    await store.relay.stop()


async def test_bodies_another_relay_published_are_not_kept_in_memory(tmp_path: pathlib.Path) -> None:
    """With several replicas, a row this process wrote may be published (and deleted) by another one's relay: the
    body it kept in memory for it must go once the outbox no longer holds the row."""
    store = TunedSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"), event_broker=FlakyBroker())
    store.relay.remember({987654: {"sender_id": "rest:gone", "event": "user", "text": "秘密", "sequence": 987654}})
    assert await store.relay.flush() == 0  # nothing waits in the outbox
    assert 987654 not in store.relay._fresh
    await store.relay.stop()
