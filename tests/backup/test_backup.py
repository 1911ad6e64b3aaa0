"""Backups that restore: fill a desk and a tracker store, back up, restore into a FRESH database, find it all.

Through the command line (`python -m bot backup --out DIR`, `python -m bot restore --from DIR`), on SQLite
(files under `FRONTLINE_VAR`, the event broker's table too) and on PostgreSQL (a fresh database per side).
The data is written and read back with the project's own store classes: the desk's `Store` and Rasa's SQL
tracker store (`TunedSQLTrackerStore`), and the restored databases must take new writes.

The channels' records in `FRONTLINE_VAR` too, written and read by the channels' own stores: an e-mail thread
backed up while its store is open restores so that a reply mail citing it lands in it, its kept mail and
attachment decrypt with the same keys; the 微信客服 cursor comes back; a changed or lost file is refused.
"""

from __future__ import annotations

import json
import os
import pathlib
import sqlite3
import subprocess
import sys
import threading
import uuid
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.devtools.postgres import run_sql as psql
from bot.data_keys import cipher, generate_key
from bot.desk import auth
from bot.desk.records import Ticket
from bot.desk.store import Store
from bot.settings import repo_root
from bot.stores import TunedSQLEventBroker, TunedSQLTrackerStore

ROOT = repo_root()
DOMAIN = Domain.from_yaml("""
version: "3.1"
slots:
  language:
    type: text
    mappings: [{type: custom}]
""")
TEXTS = ["退款多久到账", "還在嗎", "please hurry", "订单 12345 没收到"]


def ticket_values(conversation_id: str, created: float) -> Dict[str, Any]:
    return dict(
        conversation_id=conversation_id, channel="socketio", grade="B", reason="request", topic="faq_refund",
        skill="general", team=None, requires_senior=False, customer_id=f"cust-{conversation_id}",
        customer_name="W*", tier="vip", language="zh", vip=True, anger=0.4, assignee=None,
        context={"version": "1.0", "summary": "退款 refund"}, created_at=created, created_real=created,
        skill_since=created, due_first_response=created + 120, warn_first_response=created + 90,
        due_resolution=created + 3600, warn_resolution=created + 2700,
    )


def fill_desk(store: Store, tickets: int = 3) -> None:
    store.migrate()
    auth.create_agent(store, "li", ["general"], False, 3, 1000.0, "a-long-password-1")
    for n in range(tickets):
        ticket, created = store.create_ticket(ticket_values(f"conv-{n}", 1000.0 + n))
        assert created
        for m, text in enumerate(TEXTS):
            store.add_message(ticket.id, "customer", f"{text} #{n}", 1001.0 + n + m, "received",
                              external_id=f"msg-{n}-{m}")
        store.add_message(ticket.id, "agent", "您好，我来处理", 1010.0 + n, "sent", author="li")


def all_tickets(store: Store) -> List[Ticket]:
    """Every ticket of a desk database, oldest first (the console pages them; a backup check wants them all)."""
    with store.engine.connect() as connection:
        ids = [row[0] for row in connection.execute(sa.text("SELECT id FROM desk_tickets ORDER BY id"))]
    return [ticket for ticket in map(store.get_ticket, ids) if ticket is not None]


def desk_contents(store: Store) -> Tuple[List[Ticket], Dict[int, list], List[str]]:
    tickets = all_tickets(store)
    return tickets, {t.id: store.messages(t.id) for t in tickets}, [a.name for a in store.list_agents()]


def conversation(sender: str, n: int) -> DialogueStateTracker:
    events = [ActionExecuted("action_listen")]
    for m, text in enumerate(TEXTS):
        events += [
            UserUttered(f"{text} #{n}", {"name": "faq_refund", "confidence": 0.9}, message_id=f"{sender}-{m}"),
            SlotSet("language", "zh"),
            BotUttered(f"answer {m}"),
            ActionExecuted("action_listen"),
        ]
    return DialogueStateTracker.from_events(sender, events, slots=DOMAIN.slots)


async def fill_tracker(store: TunedSQLTrackerStore, conversations: int = 3) -> Dict[str, list]:
    saved = {}
    for n in range(conversations):
        tracker = conversation(f"sender-{n}", n)
        await store.save(tracker)
        saved[tracker.sender_id] = [e.as_dict() for e in tracker.events]
    return saved


async def tracker_contents(store: TunedSQLTrackerStore, senders: List[str]) -> Dict[str, list]:
    found = {}
    for sender in senders:
        tracker = await store.retrieve(sender)
        assert tracker is not None, sender
        found[sender] = [e.as_dict() for e in tracker.events]
    return found


def cli(env: Dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def base_env(var: pathlib.Path) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FRONTLINE_", "DATABASE_URL"))}
    env["FRONTLINE_VAR"] = str(var)
    # a backup holds the rows encrypted as they are: restoring needs the same keys (docs/security/data.md)
    env["FRONTLINE_DATA_KEYS"] = os.environ["FRONTLINE_DATA_KEYS"]
    return env


@pytest.fixture(autouse=True)
def data_keys(monkeypatch: pytest.MonkeyPatch) -> str:
    """One data key for the stores filled in this process and the backup and restore commands."""
    key = generate_key()
    monkeypatch.setenv("FRONTLINE_DATA_KEYS", key)
    return key


def published_events(path: pathlib.Path) -> List[Any]:
    """The SQL event broker's rows, decrypted as the desk reads them."""
    with sqlite3.connect(path) as connection:
        return [cipher().loads(r[0]) for r in connection.execute("SELECT data FROM events ORDER BY id")]


# --- SQLite ------------------------------------------------------------------------------------------------------


async def test_sqlite_backup_restores_into_a_fresh_var_folder(tmp_path: pathlib.Path) -> None:
    old, new, backup = tmp_path / "old", tmp_path / "new", tmp_path / "backup"
    old.mkdir()
    desk = Store(f"sqlite:///{old / 'desk.db'}")
    fill_desk(desk)
    broker = TunedSQLEventBroker(dialect="sqlite", db=str(old / "events.db"))
    tracker_store = TunedSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(old / "rasa.db"), event_broker=broker)
    saved = await fill_tracker(tracker_store)
    expected_desk = desk_contents(desk)
    published = published_events(old / "events.db")
    assert len(published) == sum(len(events) for events in saved.values())

    made = cli(base_env(old), "backup", "--out", str(backup))
    assert made.returncode == 0, made.stderr
    assert "FRONTLINE_DATA_KEYS" in made.stdout
    manifest = json.loads((backup / "manifest.json").read_text())
    assert {p["name"]: p["engine"] for p in manifest["parts"]} == {"desk": "sqlite", "tracker": "sqlite", "events": "sqlite"}
    assert manifest["parts"][0]["tables"]["desk_messages"] == 3 * (len(TEXTS) + 1)

    restored = cli(base_env(new), "restore", "--from", str(backup))
    assert restored.returncode == 0, restored.stderr
    assert desk_contents(Store(f"sqlite:///{new / 'desk.db'}")) == expected_desk
    fresh_store = TunedSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(new / "rasa.db"))
    assert await tracker_contents(fresh_store, list(saved)) == saved
    assert published_events(new / "events.db") == published

    # the restored databases take new writes where the old ones stopped
    restored_desk = Store(f"sqlite:///{new / 'desk.db'}")
    ticket, created = restored_desk.create_ticket(ticket_values("conv-new", 2000.0))
    assert created and ticket.id == max(t.id for t in expected_desk[0]) + 1
    tracker = await fresh_store.retrieve("sender-0")
    tracker.update(UserUttered("one more", {"name": "greet", "confidence": 1.0}))
    await fresh_store.save(tracker)
    assert len((await fresh_store.retrieve("sender-0")).events) == len(saved["sender-0"]) + 1


def test_restore_refuses_a_database_that_holds_data_unless_replace(tmp_path: pathlib.Path) -> None:
    old, backup = tmp_path / "old", tmp_path / "backup"
    old.mkdir()
    fill_desk(Store(f"sqlite:///{old / 'desk.db'}"), tickets=2)
    env = {**base_env(old), "FRONTLINE_EVENTS_DB": str(old / "events.db")}
    assert cli(env, "backup", "--out", str(backup)).returncode == 0
    other = tmp_path / "other"
    other.mkdir()
    in_use = Store(f"sqlite:///{other / 'desk.db'}")
    fill_desk(in_use, tickets=5)
    in_use.close()  # Frontline stopped, as a restore asks
    refused = cli(base_env(other), "restore", "--from", str(backup))
    assert refused.returncode == 1
    assert f"desk: {other / 'desk.db'} already holds data: restore into a fresh database" in refused.stderr
    check = Store(f"sqlite:///{other / 'desk.db'}")
    assert len(all_tickets(check)) == 5  # untouched
    check.close()
    replaced = cli(base_env(other), "restore", "--from", str(backup), "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert len(all_tickets(Store(f"sqlite:///{other / 'desk.db'}"))) == 2


def test_replace_ignores_the_write_ahead_log_a_crashed_process_left(tmp_path: pathlib.Path) -> None:
    import shutil

    old, backup, crashed, target = tmp_path / "old", tmp_path / "backup", tmp_path / "crashed", tmp_path / "target"
    for folder in (old, crashed, target):
        folder.mkdir()
    fill_desk(Store(f"sqlite:///{old / 'desk.db'}"), tickets=2)
    assert cli(base_env(old), "backup", "--out", str(backup)).returncode == 0
    fill_desk(Store(f"sqlite:///{crashed / 'desk.db'}"), tickets=4)
    # a process that wrote into the log and died before the log went into the file
    writer = sqlite3.connect(crashed / "desk.db")
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("UPDATE desk_tickets SET topic = 'stale'")
    writer.commit()
    for name in ("desk.db", "desk.db-wal"):
        shutil.copy(crashed / name, target / name)
    writer.close()
    assert (target / "desk.db-wal").stat().st_size > 0
    replaced = cli(base_env(target), "restore", "--from", str(backup), "--replace")
    assert replaced.returncode == 0, replaced.stderr
    restored = all_tickets(Store(f"sqlite:///{target / 'desk.db'}"))
    assert [(t.conversation_id, t.topic) for t in restored] == [("conv-0", "faq_refund"), ("conv-1", "faq_refund")]


def test_backup_into_a_folder_that_holds_files_is_refused(tmp_path: pathlib.Path) -> None:
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "something").write_text("x")
    result = cli(base_env(tmp_path), "backup", "--out", str(tmp_path / "backup"))
    assert result.returncode == 1 and "is not empty: back up into a new folder" in result.stderr


def test_a_sqlite_backup_taken_while_the_desk_writes_is_one_consistent_snapshot(tmp_path: pathlib.Path) -> None:
    from bot.backup import archive
    from bot.backup.parts import find_parts

    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    desk = Store(f"sqlite:///{old / 'desk.db'}")
    fill_desk(desk, tickets=1)
    ticket = all_tickets(desk)[0]
    stop = threading.Event()

    def write() -> None:  # another connection keeps appending messages, one transaction each
        n = 0
        while not stop.is_set():
            desk.add_message(ticket.id, "customer", "x" * 2000, 3000.0 + n, "received", external_id=f"w-{n}")
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        manifests = [archive.backup(find_parts(base_env(old)), tmp_path / f"backup-{i}") for i in range(5)]
    finally:
        stop.set()
        writer.join()
    counts = [m["parts"][0]["tables"]["desk_messages"] for m in manifests]
    assert counts == sorted(counts) and counts[-1] > counts[0]  # taken while the table grew
    archive.restore(find_parts(base_env(new)), tmp_path / "backup-2")
    restored = Store(f"sqlite:///{new / 'desk.db'}").messages(ticket.id)
    # a snapshot: exactly the messages stored before it, none missing in between
    assert len(restored) == counts[2] and [m.id for m in restored] == sorted(m.id for m in restored)
    assert [m.id for m in restored] == list(range(restored[0].id, restored[0].id + len(restored)))


# --- PostgreSQL ---------------------------------------------------------------------------------------------------


@pytest.fixture()
def databases() -> Iterator[Tuple[str, str]]:
    names = (f"frontline_backup_a_{uuid.uuid4().hex[:8]}", f"frontline_backup_b_{uuid.uuid4().hex[:8]}")
    for name in names:
        psql(f'CREATE DATABASE "{name}"')
    yield names
    for name in names:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def production_env(var: pathlib.Path, database: str) -> Dict[str, str]:
    return {
        **base_env(var),
        "FRONTLINE_ENDPOINTS": "endpoints.prod.yml",
        "FRONTLINE_PG_HOST": "127.0.0.1", "FRONTLINE_PG_PORT": "5432", "FRONTLINE_PG_DB": database,
        "FRONTLINE_PG_USER": "postgres", "FRONTLINE_PG_PASSWORD": "",
        "FRONTLINE_REDIS_HOST": "127.0.0.1", "FRONTLINE_REDIS_PORT": "6379",
        "FRONTLINE_RABBITMQ_HOST": "127.0.0.1", "FRONTLINE_RABBITMQ_USER": "guest",
        "FRONTLINE_RABBITMQ_PASSWORD": "guest",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
    }


def pg_tracker_store(database: str) -> TunedSQLTrackerStore:
    return TunedSQLTrackerStore(DOMAIN, dialect="postgresql", host="127.0.0.1", port=5432, db=database,
                                username="postgres")


@pytest.mark.postgres
async def test_postgresql_backup_restores_into_a_fresh_database(tmp_path: pathlib.Path, databases) -> None:
    source, fresh = databases
    desk = Store(f"postgresql://postgres@127.0.0.1:5432/{source}")
    fill_desk(desk)
    saved = await fill_tracker(pg_tracker_store(source))
    expected_desk = desk_contents(desk)
    desk.close()
    backup = tmp_path / "backup"

    made = cli(production_env(tmp_path, source), "backup", "--out", str(backup))
    assert made.returncode == 0, made.stderr
    manifest = json.loads((backup / "manifest.json").read_text())
    assert [(p["name"], p["engine"], p["file"]) for p in manifest["parts"]] == [
        ("desk", "postgresql", "desk.pgdump"), ("tracker", "postgresql", "tracker.pgdump")
    ]
    desk_tables = set(manifest["parts"][0]["tables"])
    assert {"desk_agents", "desk_conversations", "desk_messages", "desk_state", "desk_tickets", "desk_tokens"} <= desk_tables
    assert all(name.startswith("desk_") for name in desk_tables)  # the desk's tables only
    # the tracker store's database whole: its events and its outbox (empty: every event was published)
    assert manifest["parts"][1]["tables"] == {"events": sum(len(e) for e in saved.values()), "frontline_outbox": 0}

    restored = cli(production_env(tmp_path, fresh), "restore", "--from", str(backup))
    assert restored.returncode == 0, restored.stderr
    restored_desk = Store(f"postgresql://postgres@127.0.0.1:5432/{fresh}")
    try:
        assert desk_contents(restored_desk) == expected_desk
        restored_tracker = pg_tracker_store(fresh)
        assert await tracker_contents(restored_tracker, list(saved)) == saved
        # the sequences came along: new rows continue after the restored ones
        ticket, created = restored_desk.create_ticket(ticket_values("conv-new", 2000.0))
        assert created and ticket.id == max(t.id for t in expected_desk[0]) + 1
        tracker = await restored_tracker.retrieve("sender-1")
        tracker.update(UserUttered("one more", {"name": "greet", "confidence": 1.0}))
        await restored_tracker.save(tracker)
        assert len((await pg_tracker_store(fresh).retrieve("sender-1")).events) == len(saved["sender-1"]) + 1
        restored_tracker.engine.dispose()
    finally:
        restored_desk.close()

    # again into the same database: it holds data now
    again = cli(production_env(tmp_path, fresh), "restore", "--from", str(backup))
    assert again.returncode == 1 and "already holds data" in again.stderr
    assert "password" not in made.stdout + made.stderr + restored.stdout + restored.stderr


@pytest.mark.postgres
def test_a_postgresql_backup_does_not_restore_into_sqlite(tmp_path: pathlib.Path, databases) -> None:
    source, _ = databases
    fill_desk(Store(f"postgresql://postgres@127.0.0.1:5432/{source}"), tickets=1)
    TunedSQLTrackerStore(DOMAIN, dialect="postgresql", host="127.0.0.1", port=5432, db=source,
                         username="postgres").engine.dispose()
    backup = tmp_path / "backup"
    assert cli(production_env(tmp_path, source), "backup", "--out", str(backup)).returncode == 0
    refused = cli(base_env(tmp_path / "sqlite"), "restore", "--from", str(backup))
    assert refused.returncode == 1
    assert "desk: the backup is of postgresql, this installation's is sqlite" in refused.stderr


# --- the channels' own records (FRONTLINE_VAR) ---------------------------------------------------------------------

ATTACHMENT = b"photo of the parcel label 12345, received torn"


def customer_mail_bytes(message_id: str, in_reply_to: str = "", attachment: bool = False) -> bytes:
    from tests.channels.email.mail_helpers import customer_mail

    headers = {"in_reply_to": in_reply_to} if in_reply_to else {}
    message = customer_mail("wang@example.com", "订单没收到", "还没到，怎么办", message_id, **headers)
    if attachment:
        message.add_attachment(ATTACHMENT, maintype="image", subtype="png", filename="label.png")
    return message.as_bytes()


def fill_channels(var: pathlib.Path) -> Tuple[Any, Dict[str, Any]]:
    """An e-mail thread (a customer's mail with an attachment, kept; our answer sent), a 微信客服 cursor and a
    delivery key, written by the channels' own stores in `var`; the e-mail store is left open (in use)."""
    from bot.channels.delivery_keys import DB_FILE as KEYS_FILE, SqliteKeyStore
    from bot.channels.email_parse import read_mail
    from bot.channels.email_threads import ThreadStore
    from bot.channels.wechat_kf_cursor import DB_FILE as KF_FILE, SqliteCursorStore

    mails = ThreadStore(var)
    first = read_mail(customer_mail_bytes("<first@example.com>", attachment=True))
    thread = mails.place(first).thread.thread
    kept, listed = mails.keep_inbound(thread, first)
    mails.finish_message("<first@example.com>")
    mails.set_ticket(thread, "T-000042")
    mails.record_sent(thread, "<answer-1@frontline.test>")
    kf = SqliteCursorStore(var / KF_FILE)
    kf.save_cursor("wkAAA", "CURSOR-after-page-7")
    kf.mark_done("wkAAA", "msg-7-3")
    kf.close()
    keys = SqliteKeyStore(var / KEYS_FILE)
    assert keys.claim("socketio:c1", "desk-T-000042-9") == "new"
    keys.confirm("socketio:c1", "desk-T-000042-9")  # the desk's reply was sent: a retry of it is not
    keys.close()
    return mails, {"thread": thread, "kept": kept, "stored": listed[0]["stored"], "raw": first.raw}


async def test_the_channels_records_restore_so_a_reply_mail_lands_in_its_thread(tmp_path: pathlib.Path) -> None:
    from bot.channels.email_parse import read_mail
    from bot.channels.email_threads import ThreadStore
    from bot.channels.wechat_kf_cursor import SqliteCursorStore

    old, new, backup = tmp_path / "old", tmp_path / "new", tmp_path / "backup"
    old.mkdir()
    fill_desk(Store(f"sqlite:///{old / 'desk.db'}"), tickets=1)
    in_use, saved = fill_channels(old)
    # the channel holds the file open: the thread is still in its write-ahead log, not yet in email.db
    assert (old / "email.db-wal").stat().st_size > 0
    made = cli(base_env(old), "backup", "--out", str(backup))
    in_use.close()
    assert made.returncode == 0, made.stderr
    manifest = json.loads((backup / "manifest.json").read_text())
    by_name = {p["name"]: p for p in manifest["parts"]}
    assert by_name["email"]["tables"]["threads"] == 1 and by_name["email"]["tables"]["inbound"] == 1
    assert by_name["email"]["tables"]["messages"] == 2  # the customer's mail and our answer
    assert list(by_name["email-attachments"]["files"]) == [saved["stored"].split("/", 1)[1]]
    assert by_name["wechat-kf"]["tables"]["kf_cursor"] == 1 and by_name["channel-keys"]["tables"]["delivery_keys"] == 1
    assert "email-attachments: 1 files" in made.stdout
    # the copy is as private as the channel's own files, and as unreadable without the keys
    copied = backup / "email-attachments" / saved["stored"].split("/", 1)[1]
    assert copied.stat().st_mode & 0o777 == 0o600 and copied.parent.stat().st_mode & 0o777 == 0o700
    assert ATTACHMENT not in copied.read_bytes()

    restored = cli(base_env(new), "restore", "--from", str(backup))
    assert restored.returncode == 0, restored.stderr
    assert "email-attachments: 1 files restored" in restored.stdout
    placed = (new / saved["stored"])
    assert placed.stat().st_mode & 0o777 == 0o600 and placed.parent.stat().st_mode & 0o777 == 0o700
    mails = ThreadStore(new)
    try:
        # the customer answers our answer: the restored store finds the thread by the Message-ID it cites
        reply = mails.place(read_mail(customer_mail_bytes("<second@example.com>", "<answer-1@frontline.test>")))
        assert reply.thread.thread == saved["thread"] and not reply.new and not reply.duplicate
        assert reply.thread.ticket == "T-000042"
        # the first mail again (a re-delivery) is known: no second turn
        assert mails.place(read_mail(customer_mail_bytes("<first@example.com>"))).duplicate
        # the kept mail and its attachment decrypt with the same keys
        [kept] = mails.inbound(saved["thread"])
        assert kept["id"] == saved["kept"] and kept["raw"] == saved["raw"]
        assert mails.attachment_bytes(saved["stored"]) == ATTACHMENT
    finally:
        mails.close()
    kf = SqliteCursorStore(new / "wechat-kf.db")
    assert kf.cursor("wkAAA") == "CURSOR-after-page-7" and kf.is_done("wkAAA", "msg-7-3")
    kf.close()
    with sqlite3.connect(new / "channel-keys.db") as connection:
        assert connection.execute("SELECT conversation, key FROM delivery_keys").fetchall() == [
            ("socketio:c1", "desk-T-000042-9")
        ]

    # again into the same folder: the channels' records are there now, and are not overwritten
    (new / "desk.db").unlink()
    again = cli(base_env(new), "restore", "--from", str(backup))
    assert again.returncode == 1 and f"email: {new / 'email.db'} already holds data" in again.stderr


def test_without_email_files_the_backup_leaves_them_out_and_redis_keeps_the_cursor(tmp_path: pathlib.Path) -> None:
    from bot.backup import archive
    from bot.backup.parts import BackupError, find_parts
    from bot.channels.wechat_kf_cursor import SqliteCursorStore

    fill_desk(Store(f"sqlite:///{tmp_path / 'desk.db'}"), tickets=1)
    SqliteCursorStore(tmp_path / "wechat-kf.db").save_cursor("wkAAA", "C1")
    manifest = archive.backup(find_parts(base_env(tmp_path)), tmp_path / "backup")
    assert [p["name"] for p in manifest["parts"]] == ["desk", "wechat-kf"]
    assert any(line.startswith("email-attachments: ") for line in manifest["skipped"])
    # production mode: the cursor and the delivery keys are Redis', not files of this machine
    redis_env = {**base_env(tmp_path), "FRONTLINE_REDIS_HOST": "127.0.0.1", "FRONTLINE_REDIS_PORT": "6379"}
    assert [p.name for p in find_parts(redis_env)] == ["desk", "tracker", "events", "email", "email-attachments"]
    fresh_redis_env = {**redis_env, "FRONTLINE_VAR": str(tmp_path / "new")}
    with pytest.raises(BackupError, match="holds wechat-kf, which this installation does not have .with Redis"):
        archive.restore(find_parts(fresh_redis_env), tmp_path / "backup")
    assert not (tmp_path / "new" / "desk.db").exists()


@pytest.mark.parametrize("damage", ["attachment changed", "attachment missing", "file added", "email.sqlite changed",
                                    "email.sqlite missing", "cursor changed"])
def test_a_tampered_or_incomplete_backup_is_refused_before_anything_is_written(tmp_path: pathlib.Path,
                                                                               damage: str) -> None:
    old, new, backup = tmp_path / "old", tmp_path / "new", tmp_path / "backup"
    old.mkdir()
    in_use, saved = fill_channels(old)
    in_use.close()
    assert cli(base_env(old), "backup", "--out", str(backup)).returncode == 0
    attachment = backup / "email-attachments" / saved["stored"].split("/", 1)[1]
    if damage == "attachment changed":
        attachment.write_bytes(attachment.read_bytes()[:-1] + b"x")
        expected = f"email-attachments: the files in {backup / 'email-attachments'} are not the ones backed up: " \
                   f"{saved['stored'].split('/', 1)[1]} (changed)"
    elif damage == "attachment missing":
        attachment.unlink()
        expected = f"{saved['stored'].split('/', 1)[1]} (missing)"
    elif damage == "file added":
        (attachment.parent / "extra.bin").write_bytes(b"x")
        expected = "extra.bin (not in the manifest)"
    elif damage == "email.sqlite changed":
        with sqlite3.connect(backup / "email.sqlite") as connection:  # a valid database, with a thread less
            connection.execute("DELETE FROM messages WHERE message_id = '<answer-1@frontline.test>'")
        expected = f"email: {backup / 'email.sqlite'} is not the file backed up (its SHA-256 differs"
    elif damage == "email.sqlite missing":
        (backup / "email.sqlite").unlink()
        expected = f"email: {backup / 'email.sqlite'} is missing"
    else:
        data = bytearray((backup / "wechat-kf.sqlite").read_bytes())
        data[-1] ^= 0xFF
        (backup / "wechat-kf.sqlite").write_bytes(bytes(data))
        expected = f"wechat-kf: {backup / 'wechat-kf.sqlite'} is not the file backed up"
    refused = cli(base_env(new), "restore", "--from", str(backup))
    assert refused.returncode == 1 and expected in refused.stderr, refused.stderr
    assert not new.exists() or not any(path.is_file() for path in new.rglob("*"))  # nothing written


def test_replace_swaps_the_attachments_folder_for_the_backups(tmp_path: pathlib.Path) -> None:
    from bot.backup import archive
    from bot.backup.parts import find_parts

    old, other, backup = tmp_path / "old", tmp_path / "other", tmp_path / "backup"
    old.mkdir()
    in_use, saved = fill_channels(old)
    in_use.close()
    archive.backup(find_parts(base_env(old)), backup)
    other.mkdir()
    in_other, other_saved = fill_channels(other)
    in_other.close()
    with pytest.raises(Exception, match="already holds data"):
        archive.restore(find_parts(base_env(other)), backup)
    assert (other / other_saved["stored"]).is_file()
    restored = archive.restore(find_parts(base_env(other)), backup, replace=True)
    assert restored["email-attachments"] == {"files": 1}
    assert (other / saved["stored"]).is_file() and not (other / other_saved["stored"]).exists()
    assert not (other / "email-attachments.replaced").exists() and not (other / "email-attachments.restoring").exists()
