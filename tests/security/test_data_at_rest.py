"""Encryption at rest (security review, finding 11): a copied database file or backup reveals no conversation.

The attacker has a copy of `var/` (or of the PostgreSQL databases) but not `FRONTLINE_DATA_KEYS`. Before the
fix every customer's words, and every agent's reply, were plain text in `rasa.db`, `events.db` and `desk.db`.
Key rotation: old rows stay readable with `FRONTLINE_DATA_KEYS=new,old`, `python -m bot rekey` moves them to the
new key, and then the old key can go.
"""

from __future__ import annotations

import pathlib
import sqlite3
import stat
import subprocess
import sys
import uuid
from typing import Any, Dict, Iterator, Tuple

import aiohttp
import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.devtools.postgres import run_sql as psql
from bot import data_keys
from bot.desk.records import MessageRole, MessageStatus
from bot.desk.store import Store
from bot.maintenance import Stores
from bot.settings import repo_root
from bot.stores import TunedSQLEventBroker, TunedSQLTrackerStore
from tests.desk.conftest import PG_URL, pg_available
from tests.security.data_helpers import (
    add_agent, database_bytes, detail_with, env_without, open_ticket, say, tracker,
)

DOMAIN = Domain.empty()


@pytest.mark.stack
async def test_copied_database_files_reveal_no_conversation(stack: Any) -> None:
    words = uuid.uuid4().hex[:10]
    sender = f"at-rest-{uuid.uuid4().hex[:8]}"
    secret = f"我的暗号是 zebra{words}，别告诉别人"
    reply = f"收到，暗号 okapi{words} 已记录"
    agent = add_agent(stack)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        ticket = await open_ticket(http, stack, sender)
        assert await say(http, stack, sender, secret) == []  # paused: to the tracker, the broker and the desk
        detail = await detail_with(http, stack, agent, ticket["id"], "customer", 1)
        assert [m["text"] for m in detail["messages"] if m["role"] == "customer"] == [secret]
        async with http.post(f"{stack.desk_url}/api/tickets/{ticket['id']}/claim", headers=agent["headers"]) as r:
            assert r.status == 200, await r.text()
        async with http.post(f"{stack.desk_url}/api/tickets/{ticket['id']}/messages", headers=agent["headers"],
                             json={"text": reply}) as r:
            assert r.status == 201, await r.text()
        # Through the stores' own classes everything reads back.
        events = (await tracker(http, stack, sender))["events"]
        assert secret in [e.get("text") for e in events if e["event"] == "user"]
        assert reply in [e.get("text") for e in events if e["event"] == "bot"]

    # A copy of the files: no customer's or agent's words, in any table or write-ahead log.
    files = database_bytes(stack.var)
    assert {"rasa.db", "events.db", "desk.db"} <= set(files)
    for name, content in files.items():
        assert f"zebra{words}".encode() not in content, name
        assert f"okapi{words}".encode() not in content, name
    for name in ("rasa.db", "events.db", "desk.db"):
        with sqlite3.connect(stack.var / name) as connection:
            dump = "\n".join(connection.iterdump())
        assert words not in dump, name
    if not stack.env.get(data_keys.ENV_KEYS):  # make run with no setting: a development key, 0600, under var/
        key_file = stack.var / data_keys.KEY_FILE
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_development_key_is_made_once_and_private(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(data_keys.ENV_KEYS, raising=False)
    monkeypatch.delenv("FRONTLINE_ENDPOINTS", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("FRONTLINE_VAR", str(tmp_path))
    first = data_keys.cipher()
    key_file = tmp_path / data_keys.KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Another process (here: a fresh cipher) reads the same key and decrypts what the first wrote.
    again = data_keys.DataCipher(*data_keys.keys_from_environment())
    assert again.decrypt(first.encrypt("悄悄话")) == "悄悄话"
    assert key_file.read_text().strip() not in first.source


@pytest.mark.parametrize("mode", [{"FRONTLINE_ENDPOINTS": "endpoints.prod.yml"},
                                  {"DATABASE_URL": "postgresql://desk@127.0.0.1:5432/frontline"}])
def test_production_mode_refuses_to_start_without_a_data_key(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, mode: Dict[str, str]
) -> None:
    monkeypatch.delenv(data_keys.ENV_KEYS, raising=False)
    monkeypatch.setenv("FRONTLINE_VAR", str(tmp_path))
    for name, value in mode.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(data_keys.DataKeyError, match="production mode needs FRONTLINE_DATA_KEYS"):
        TunedSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"))
    with pytest.raises(data_keys.DataKeyError, match="production mode needs FRONTLINE_DATA_KEYS"):
        Store(f"sqlite:///{tmp_path / 'desk.db'}").migrate()
    assert not (tmp_path / data_keys.KEY_FILE).exists()
    # The desk process stops at start-up, naming the variable (and never prints a key).
    env = {**env_without(data_keys.ENV_KEYS), "FRONTLINE_VAR": str(tmp_path), "FRONTLINE_BROKER": "none",
           "FRONTLINE_DESK_PORT": "9", **mode}
    desk = subprocess.run([sys.executable, "-m", "bot", "desk"], env=env, cwd=repo_root(), capture_output=True,
                          text=True, timeout=120)
    assert desk.returncode != 0 and "production mode needs FRONTLINE_DATA_KEYS" in desk.stdout + desk.stderr


# --- key rotation, on SQLite and PostgreSQL ------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_urls(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[Tuple[str, str, str, str]]:
    """(tracker store URL, broker URL, desk URL, desk schema or "") on fresh SQLite files or PostgreSQL databases."""
    if request.param == "sqlite":
        yield (f"sqlite:///{tmp_path / 'rasa.db'}", f"sqlite:///{tmp_path / 'events.db'}",
               f"sqlite:///{tmp_path / 'desk.db'}", "")
        return
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    names = [f"frontline_keys_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        psql(f'CREATE DATABASE "{name}"')
    try:
        base = PG_URL.rsplit("/", 1)[0]
        yield f"{base}/{names[0]}", f"{base}/{names[1]}", PG_URL, f"keys_{uuid.uuid4().hex[:10]}"
    finally:
        for name in names:
            psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def open_stores(urls: Tuple[str, str, str, str]) -> Stores:
    tracker_url, broker_url, desk_url, schema = urls
    desk = Store(desk_url, schema=schema or None)
    desk.migrate()
    broker = TunedSQLEventBroker.from_url(broker_url)
    return Stores(TunedSQLTrackerStore.from_url(tracker_url, event_broker=broker), broker, desk, desk_url)


async def write_conversation(stores: Stores, sender: str, words: str) -> int:
    """A conversation in the tracker store (published to the broker) and a ticket with a message; the ticket id."""
    tracker_ = DialogueStateTracker.from_events(sender, [
        ActionExecuted("action_listen"), UserUttered(words, {"name": "greet", "confidence": 1.0}), BotUttered("ok"),
    ])
    await stores.tracker.save(tracker_)
    ticket, _ = stores.desk.create_ticket(dict(
        conversation_id=sender, channel="rest", grade="B", reason="asked_for_human", topic=None, skill="general",
        context={"version": 1, "transcript": [{"role": "customer", "text": words}]}, created_at=1.0,
        created_real=1.0, skill_since=1.0, due_first_response=2.0, warn_first_response=2.0, due_resolution=3.0,
        warn_resolution=3.0,
    ))
    stores.desk.add_message(ticket.id, MessageRole.CUSTOMER, words, 1.0, MessageStatus.RECEIVED)
    return ticket.id


async def read_back(urls: Tuple[str, str, str, str], sender: str, ticket_id: int) -> str:
    """The customer's words as each store class reads them (all three must agree)."""
    stores = open_stores(urls)
    try:
        loaded = await TunedSQLTrackerStore(Domain.empty(), host=urls[0]).retrieve_full_tracker(sender)
        from_tracker = [e.text for e in loaded.events if isinstance(e, UserUttered)]
        ticket = stores.desk.get_ticket(ticket_id)
        from_desk = [m.text for m in stores.desk.messages(ticket_id)]
        table = stores.broker.SQLBrokerEvent.__table__
        with stores.broker.engine.connect() as conn:
            rows = [data for (data,) in conn.execute(sa.select(table.c.data).where(table.c.sender_id == sender))]
        from_broker = [stores.broker.cipher.loads(data).get("text") for data in rows]
        assert from_tracker == from_desk == [ticket.context["transcript"][0]["text"]]
        assert from_tracker[0] in from_broker
        return from_tracker[0]
    finally:
        stores.close()


async def test_rotated_key_reads_old_rows_and_rekey_moves_them(
    database_urls: Tuple[str, str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new, other = (data_keys.generate_key() for _ in range(3))
    monkeypatch.setenv(data_keys.ENV_KEYS, old)
    stores = open_stores(database_urls)
    first = await write_conversation(stores, "rot-old", "旧钥匙写的话")
    stores.close()

    monkeypatch.setenv(data_keys.ENV_KEYS, f"{new},{old}")  # rotated: the new key first, the old one kept
    assert await read_back(database_urls, "rot-old", first) == "旧钥匙写的话"
    stores = open_stores(database_urls)
    second = await write_conversation(stores, "rot-new", "新钥匙写的话")
    counts = [stores.tracker.rekey(), stores.broker.rekey(), stores.desk.rekey()]
    assert all(count > 0 for count in counts), counts  # the old rows moved to the new key
    assert [stores.tracker.rekey(), stores.broker.rekey(), stores.desk.rekey()] == [0, 0, 0]  # idempotent
    stores.close()

    monkeypatch.setenv(data_keys.ENV_KEYS, new)  # the old key dropped: every row still reads
    assert await read_back(database_urls, "rot-old", first) == "旧钥匙写的话"
    assert await read_back(database_urls, "rot-new", second) == "新钥匙写的话"

    monkeypatch.setenv(data_keys.ENV_KEYS, other)  # someone else's key reads nothing, and says so
    with pytest.raises(data_keys.DataKeyError, match="cannot be decrypted"):
        await read_back(database_urls, "rot-old", first)


def test_rekey_command_encrypts_rows_written_before_encryption(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installation upgraded from plain rows: they read as they are, and `python -m bot rekey` encrypts them."""
    var = tmp_path / "var"
    var.mkdir()
    store = Store(f"sqlite:///{var / 'desk.db'}")
    store.migrate()
    store.close()
    with sqlite3.connect(var / "desk.db") as connection:
        connection.execute(
            "INSERT INTO desk_messages (ticket_id, role, text, at, status) VALUES (1, 'customer', '明文旧消息', 1.0, 'received')"
        )
    env = {**env_without(data_keys.ENV_KEYS), "FRONTLINE_VAR": str(var), "FRONTLINE_BROKER": "none"}
    env.pop("FRONTLINE_ENDPOINTS", None)
    env.pop("DATABASE_URL", None)
    monkeypatch.setenv("FRONTLINE_VAR", str(var))
    monkeypatch.delenv(data_keys.ENV_KEYS, raising=False)
    assert [m.text for m in Store(f"sqlite:///{var / 'desk.db'}").messages(1)] == ["明文旧消息"]
    done = subprocess.run([sys.executable, "-m", "bot", "rekey"], env=env, cwd=repo_root(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [done.stdout.strip()] and "1 desk values re-encrypted" in done.stdout
    assert "明文旧消息".encode() not in (var / "desk.db").read_bytes() + _wal(var / "desk.db")
    assert [m.text for m in Store(f"sqlite:///{var / 'desk.db'}").messages(1)] == ["明文旧消息"]


def _wal(path: pathlib.Path) -> bytes:
    wal = pathlib.Path(f"{path}-wal")
    return wal.read_bytes() if wal.exists() else b""

