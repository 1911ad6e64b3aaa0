"""Retention (security review, finding 10): raw personal data is not kept forever.

The attacker gets hold of an old copy of the databases (a backup, a disk, a replica). Before the fix every
conversation ever held stayed in Rasa's tracker store, the SQL event broker table and the desk. Now
`python -m bot purge` (cron) deletes the raw conversation after `retention.transcripts_days`, and the desk
forgets the conversation ids of old tickets, keeping only masked, encrypted texts for reports.

The stack test runs the purge beside the running stack, as cron would, with the clock moved past the retention
period: it purges every conversation of the test session that is older than its own (the stack keeps
working: later conversations are new ones).
"""

from __future__ import annotations

import datetime as dt
import pathlib
import sqlite3
import time
import uuid
from typing import Any, Iterator

import aiohttp
import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import data_keys
from bot.desk.records import FollowUpTrigger, MessageRole, MessageStatus
from bot.desk.store import Store
from bot.maintenance import Stores, maintenance_lock
from bot.retention import DAY, RetentionPolicy, purge
from bot.stores import TunedSQLEventBroker, TunedSQLTrackerStore
from tests.conftest import STACK_NOW
from tests.desk.conftest import PG_URL, pg_available
from tests.security.data_helpers import (
    add_agent, database_bytes, detail_with, internal, open_ticket, rest_conversation, run_command, say,
    ticket_status,
)
from tests.security.test_data_at_rest import psql


def iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat()


def rows_of(path: pathlib.Path, table: str, column: str, value: str) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", (value,)).fetchone()[0]


@pytest.mark.stack
async def test_purge_deletes_raw_conversations_past_retention(stack: Any) -> None:
    sender = f"purge-{uuid.uuid4().hex[:10]}"
    conversation = rest_conversation(sender)
    agent = add_agent(stack)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        ticket = await open_ticket(http, stack, sender)
        await say(http, stack, sender, "我家住在幸福路 88 号")
        await detail_with(http, stack, agent, ticket["id"], "customer", 1)
        for step in ("claim", "resolve"):
            async with http.post(f"{stack.desk_url}/api/tickets/{ticket['id']}/{step}", headers=agent["headers"]) as r:
                assert r.status == 200, await r.text()
        await say(http, stack, sender, "/survey_rating" + '{"rating": 4}')
    done_at = time.time() + 1
    var = stack.var
    assert rows_of(var / "rasa.db", "events", "sender_id", conversation) > 0
    assert rows_of(var / "events.db", "events", "sender_id", conversation) > 0

    # Within the retention period (the desk's pinned clock, a day on): nothing of this conversation goes.
    within = run_command(stack, "purge", env={"FRONTLINE_NOW": iso(dt.datetime.fromisoformat(STACK_NOW).timestamp() + DAY)})
    assert within.returncode == 0, within.stderr
    assert rows_of(var / "rasa.db", "events", "sender_id", conversation) > 0
    assert rows_of(var / "desk.db", "desk_tickets", "conversation_id", conversation) == 1

    # Past it (as cron would run it 180 days after this conversation): the raw conversation is gone.
    later = {"FRONTLINE_NOW": iso(done_at + 180 * DAY)}
    past = run_command(stack, "purge", env=later)
    assert past.returncode == 0, past.stderr
    [line] = past.stdout.splitlines()
    assert line.startswith("purge: raw conversations before ") and "deleted 0 tracker" not in line
    assert rows_of(var / "rasa.db", "events", "sender_id", conversation) == 0
    assert rows_of(var / "events.db", "events", "sender_id", conversation) == 0
    assert rows_of(var / "desk.db", "desk_conversations", "sender_id", conversation) == 0
    assert rows_of(var / "desk.db", "desk_tickets", "conversation_id", conversation) == 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        kept = await ticket_status(http, stack, ticket["id"])  # the figures stay for reports
        assert kept["conversation_id"] == f"forgotten:{ticket['id']}" and kept["rating"] == 4
        async with http.get(f"{stack.desk_url}/internal/conversations/{conversation}/ticket", headers=internal(stack)) as r:
            assert r.status == 404
    # Not in any byte of a copy of the files either (deleted rows are zeroed, the logs emptied).
    for name, content in database_bytes(var).items():
        assert sender.encode() not in content, name

    # Idempotent: a second run at the same moment deletes nothing.
    again = run_command(stack, "purge", env=later)
    assert again.returncode == 0, again.stderr
    assert "deleted 0 tracker store events and 0 broker events; the desk forgot 0 tickets' conversation ids " \
           "and 0 conversations" in again.stdout


def test_a_second_purge_waits_for_none_and_does_nothing(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two cron runs at once: the second sees the lock, says so, exits 0 and touches nothing."""
    import subprocess
    import sys

    from bot.settings import repo_root
    from tests.security.data_helpers import env_without

    monkeypatch.setenv("FRONTLINE_VAR", str(tmp_path))
    env = {**env_without(data_keys.ENV_KEYS), "FRONTLINE_VAR": str(tmp_path), "FRONTLINE_BROKER": "none"}
    env.pop("FRONTLINE_ENDPOINTS", None)
    env.pop("DATABASE_URL", None)
    with maintenance_lock(None) as held:
        assert held
        second = subprocess.run([sys.executable, "-m", "bot", "purge"], env=env, cwd=repo_root(),
                                capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == ["purge: another purge or rekey is running; nothing done"]
    with maintenance_lock(None) as held:  # released
        assert held


# --- the rules, on SQLite and PostgreSQL ------------------------------------------------------------------------

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc).timestamp()
OLD = NOW - 200 * DAY
RECENT = NOW - 10 * DAY
CUTOFF = NOW - 180 * DAY


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def stores(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[Stores]:
    """Empty stores: SQLite files, or fresh PostgreSQL databases (tracker store, broker) and a desk schema."""
    if request.param == "sqlite":
        urls = (f"sqlite:///{tmp_path / 'rasa.db'}", f"sqlite:///{tmp_path / 'events.db'}")
        desk = Store(f"sqlite:///{tmp_path / 'desk.db'}")
        names = []
    else:
        if not pg_available():
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
        names = [f"frontline_purge_{uuid.uuid4().hex[:8]}" for _ in range(2)]
        for name in names:
            psql(f'CREATE DATABASE "{name}"')
        base = PG_URL.rsplit("/", 1)[0]
        urls = (f"{base}/{names[0]}", f"{base}/{names[1]}")
        desk = Store(PG_URL, schema=f"purge_{uuid.uuid4().hex[:10]}")
    desk.migrate()
    broker = TunedSQLEventBroker.from_url(urls[1])
    # The tracker store with its broker from the start, as Rasa builds it: its outbox relay publishes each save.
    found = Stores(TunedSQLTrackerStore(Domain.empty(), host=urls[0], event_broker=broker), broker, desk, None)
    try:
        yield found
    finally:
        found.close()
        desk.drop_schema()
        for name in names:
            psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def user(text: str, at: float) -> UserUttered:
    return UserUttered(text, {"name": "greet", "confidence": 1.0}, timestamp=at)


def closed_ticket(store: Store, conversation_id: str, closed_at: float) -> int:
    ticket, _ = store.create_ticket(dict(
        conversation_id=conversation_id, channel="rest", grade="B", reason="asked_for_human", topic="faq_fees",
        skill="general", context={"version": 1, "conversation_id": conversation_id,
                                  "transcript": [{"role": "customer", "text": "旧话"}], "slots": {"x": "旧"},
                                  "customer": {"display_name": "王*"},
                                  "key_facts": [{"kind": "order_number", "value": "20251103123456"}]},
        created_at=closed_at - 60, created_real=closed_at - 60, skill_since=closed_at - 60,
        due_first_response=closed_at, warn_first_response=closed_at, due_resolution=closed_at,
        warn_resolution=closed_at,
    ))
    store.add_message(ticket.id, MessageRole.CUSTOMER, "旧话", closed_at - 30, MessageStatus.RECEIVED)
    store.add_message(ticket.id, MessageRole.AGENT, "请拨 13912345678", closed_at - 20, MessageStatus.FAILED, author="a")
    assert store.close_ticket(ticket.id, "resolved", closed_at, None)
    store.record_rating(ticket.id, 2, "太慢了", closed_at + 1)
    followup, _ = store.add_followup(ticket.id, FollowUpTrigger.MANUAL, "a", closed_at + 3600, "a", closed_at + 2)
    store.add_followup_message(followup, "回访：请拨 13912345678", "a", closed_at + 3)
    store.seen_conversation(conversation_id, "rest", closed_at - 60)
    return ticket.id


def followup_texts(store: Store, ticket_id: int) -> list:
    """The texts of the messages of a ticket's follow-ups."""
    ids = [f.id for f in store.list_followups(ticket_id=ticket_id)]
    return [m.text for found in store.followup_messages(ids).values() for m in found]


async def test_purge_rules_and_idempotence(stores: Stores) -> None:
    # An old conversation; one whose old session ended and a new one goes on; one whose session started
    # before the cutoff and goes on after it (kept whole); a recent one.
    await stores.tracker.save(DialogueStateTracker.from_events("old", [user("很久以前", OLD)]))
    await stores.tracker.save(DialogueStateTracker.from_events("two-sessions", [
        SessionStarted(timestamp=OLD), user("第一次", OLD + 1),
        ActionExecuted("action_session_start", timestamp=RECENT - 1), SessionStarted(timestamp=RECENT),
        user("第二次", RECENT + 1),
    ]))
    await stores.tracker.save(DialogueStateTracker.from_events("long-session", [
        SessionStarted(timestamp=CUTOFF - 60), user("跨过截止", CUTOFF - 30), user("还在聊", CUTOFF + 30),
    ]))
    await stores.tracker.save(DialogueStateTracker.from_events("recent", [user("最近", RECENT)]))
    old_ticket = closed_ticket(stores.desk, "13812345678", OLD)
    recent_ticket = closed_ticket(stores.desk, "recent", RECENT)

    report = purge(stores, RetentionPolicy(transcripts_days=180, desk_text_days=None), NOW)

    def texts(sender: str) -> list:
        return [e[5].get("text") for e in stores.tracker.events_since(0) if e[0] == sender and e[1] == "user"]

    assert texts("old") == [] and texts("two-sessions") == ["第二次"]
    assert texts("long-session") == ["跨过截止", "还在聊"] and texts("recent") == ["最近"]
    assert report.tracker_events == 1 + 2  # "old": its message; "two-sessions": its first session's two events
    assert report.broker_events > 0
    old = stores.desk.get_ticket(old_ticket)
    assert old.conversation_id == f"forgotten:{old.code}" and old.context["conversation_id"] == old.conversation_id
    assert [m.text for m in stores.desk.messages(old_ticket)] == ["旧话", "请拨 139****5678"]  # kept, masked
    assert old.rating == 2 and old.rating_comment == "太慢了"
    assert stores.desk.get_ticket(recent_ticket).conversation_id == "recent"
    assert stores.desk.containment_counts() == (1, 1)  # the old conversation seen is forgotten
    assert (report.tickets_forgotten, report.conversations_forgotten, report.replies_masked) == (1, 1, 2)

    again = purge(stores, RetentionPolicy(transcripts_days=180, desk_text_days=None), NOW)
    assert again.changed == 0, again

    # With desk_text_days, the old ticket's texts go too; its figures stay.
    texts_policy = RetentionPolicy(transcripts_days=180, desk_text_days=30)
    assert purge(stores, texts_policy, NOW).tickets_texts_purged == 1
    old = stores.desk.get_ticket(old_ticket)
    assert stores.desk.messages(old_ticket) == [] and old.rating_comment is None and old.customer_name is None
    assert followup_texts(stores.desk, old_ticket) == []  # what was sent for its follow-ups too
    assert followup_texts(stores.desk, recent_ticket) == ["回访：请拨 13912345678"]
    assert old.context["transcript"] == [] and old.context["slots"] == {} and old.rating == 2
    assert old.context["customer"]["display_name"] is None
    assert old.context["key_facts"] == []  # the order numbers, amounts, dates and phones the customer gave
    assert [m.text for m in stores.desk.messages(recent_ticket)] == ["旧话", "请拨 139****5678"]
    assert purge(stores, texts_policy, NOW).changed == 0


def test_retention_settings_are_validated() -> None:
    from bot.settings import SettingsError

    assert RetentionPolicy.from_settings({}) == RetentionPolicy(180, None)
    assert RetentionPolicy.from_settings({"retention": {"transcripts_days": 30, "desk_text_days": 365}}) == \
        RetentionPolicy(30, 365)
    for bad, key in (({"transcripts_days": 0}, "transcripts_days"), ({"transcripts_days": "180"}, "transcripts_days"),
                     ({"desk_text_days": -1}, "desk_text_days"), ({"forever": True}, "forever")):
        with pytest.raises(SettingsError, match=f"retention.{key}"):
            RetentionPolicy.from_settings({"retention": bad})


def test_purge_deletes_delivery_keys_recorded_before_the_cutoff(tmp_path: pathlib.Path) -> None:
    """The one-machine key file holds conversation ids for 7 days; with a retention of 2 days, purge deletes
    the keys and missed replies recorded before the cutoff (and their bytes), and keeps the newer ones."""
    from bot.channels.delivery_keys import DB_FILE, SENT, SqliteKeyStore

    now = NOW
    clock = [now - 3 * DAY]
    path = tmp_path / DB_FILE
    keys = SqliteKeyStore(path, clock=lambda: clock[0])
    keys.claim("socketio:old-13812345678", "desk-T-1-1")
    keys.confirm("socketio:old-13812345678", "desk-T-1-1")  # sent 3 days ago: still known for 4 more days
    keys.add_missed("socketio:old-13812345678", "desk-T-1-2")
    clock[0] = now - DAY
    keys.claim("socketio:recent", "desk-T-2-1")
    keys.confirm("socketio:recent", "desk-T-2-1")
    keys.add_missed("socketio:recent", "desk-T-2-2")
    clock[0] = now

    report = purge(Stores(None, None, None, None, channel_keys=keys), RetentionPolicy(transcripts_days=2), now)

    assert report.delivery_keys == 2 and "2 channel delivery keys deleted" in report.summary(RetentionPolicy(2), now)
    assert keys.claim("socketio:recent", "desk-T-2-1") == SENT and keys.missed("socketio:recent") == ["desk-T-2-2"]
    assert keys.missed("socketio:old-13812345678") == []
    keys.close()
    for copy in (path, path.parent / f"{DB_FILE}-wal"):  # the log is gone once the last connection closed
        assert not copy.exists() or b"old-13812345678" not in copy.read_bytes(), copy
    again = SqliteKeyStore(path, clock=lambda: now)
    assert purge(Stores(None, None, None, None, channel_keys=again), RetentionPolicy(transcripts_days=2), now).changed == 0
    again.close()


def test_maintenance_opens_the_key_file_only_where_the_channels_use_it(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.channels.delivery_keys import DB_FILE, SqliteKeyStore
    from bot.maintenance import _channel_key_file

    monkeypatch.setenv("FRONTLINE_VAR", str(tmp_path))
    for name in ("FRONTLINE_REDIS_URL", "FRONTLINE_REDIS_HOST", "FRONTLINE_ENDPOINTS", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert _channel_key_file() is None  # no file: nothing ran here
    SqliteKeyStore(tmp_path / DB_FILE).add_missed("socketio:x", "desk-T-1-1")
    found = _channel_key_file()
    assert found is not None and found.path == tmp_path / DB_FILE
    found.close()
    monkeypatch.setenv("FRONTLINE_REDIS_URL", "redis://127.0.0.1:6379/0")
    assert _channel_key_file() is None  # the keys live in Redis and expire there
