"""The e-mail channel on several Rasa replicas: one replica at a time runs the SMTP listener and the IMAP reader,
behind a lease in a real Redis; when the holder is killed (SIGKILL) another takes over within the lease time, and
every mail sent before, during and after the takeover is one turn and one acknowledgement (the real relay,
aiosmtpd, counts them), read from the real mailbox (a private Dovecot) and the real listener port. A holder
killed in the middle of a mail's turn leaves a claim that goes stale: the successor gives that mail its turn.

Also: the lease itself against Redis (taken by one, renewed, given up, expired, lost with Redis), and a listener
port taken by another program (logged, retried, never a crash).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import imaplib
import json
import os
import pathlib
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional

import pytest
import redis

from bot.channels import email_inbound, email_readers, email_turns
from bot.channels.email import EmailOutput
from bot.channels.email_settings import load
from bot.channels.email_threads import ThreadStore
from bot.channels.email_turns import MailTurns
from bot.devtools import free_port
from bot.settings import SettingsError, repo_root
from tests.channels.email import dovecot
from tests.channels.email.mail_helpers import Relay, customer_mail
from tests.channels.email.reader_replica import DIE_AFTER_TURN, DIE_MID_TURN

LEASE_SECONDS = 2.0
TURN_SECONDS = 2.0  # a stopping reader's grace for its turn, in the replicas (60 in production)
CUSTOMER = "alice@example.com"


@pytest.fixture()
def client() -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=6379, db=1, socket_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    yield client
    client.close()


@pytest.fixture()
def address(client: redis.Redis) -> Iterator[str]:
    """A support address of this test's own (its lease key is this test's only)."""
    address = f"support-{uuid.uuid4().hex[:10]}@frontline.test"
    yield address
    client.delete(f"{email_readers.KEY_PREFIX}:{address}")


def lease(client: redis.Redis, address: str, seconds: float = LEASE_SECONDS) -> email_readers.RedisLease:
    return email_readers.RedisLease(
        redis.Redis(**client.connection_pool.connection_kwargs), f"{email_readers.KEY_PREFIX}:{address}",
        email_readers.new_holder(), seconds,
    )


# -- the lease ------------------------------------------------------------------------------------------------
def test_one_replica_holds_the_lease_until_it_gives_it_up_or_stops_renewing(client: redis.Redis, address: str) -> None:
    first, second = lease(client, address), lease(client, address)
    assert first.hold() and not second.hold()
    assert first.hold() and not second.hold()  # renewed, still its own
    first.release()
    assert second.hold() and not first.hold()
    time.sleep(LEASE_SECONDS + 0.3)  # the holder stops renewing (killed)
    assert first.hold() and not second.hold()
    second.release()  # not its own: nothing given up
    assert client.get(first.name) == first.holder.encode()


def test_a_holder_cut_off_from_redis_stops_before_its_lease_can_end(client: redis.Redis, address: str) -> None:
    held = lease(client, address, seconds=3.0)
    now = [100.0]
    held.clock = lambda: now[0]
    assert held.hold()
    held.client = None
    held._hold = lambda **_: (_ for _ in ()).throw(redis.ConnectionError("cut"))
    now[0] = 100.9
    assert held.hold()  # a blip: still within the last renewal's first two thirds
    now[0] = 102.1
    assert not held.hold()  # another replica may take it within a second: stop reading now
    dead = email_readers.RedisLease(
        redis.Redis(host="127.0.0.1", port=free_port(), socket_timeout=0.2, socket_connect_timeout=0.2),
        "frontline:email:readers:nobody", "me", 3.0,
    )
    assert not dead.hold()  # never held: never reads


# -- a listener port another program holds ----------------------------------------------------------------------
async def test_a_listener_port_in_use_is_logged_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    settings = load(
        {"FRONTLINE_EMAIL_ADDRESS": "support@frontline.test", "FRONTLINE_EMAIL_SMTP_LISTEN": f"127.0.0.1:{port}"},
        settings={"email": {"reader_lease_seconds": 1}},
    )
    readers = email_readers.Readers(settings, turns=None, lease=email_readers.LocalLease())  # type: ignore[arg-type]
    task = asyncio.create_task(readers.run())
    try:
        await asyncio.sleep(0.8)
        assert f"cannot listen on 127.0.0.1:{port}" in caplog.text and not task.done() and not readers.listening
        squatter.close()
        deadline = time.monotonic() + 5
        while not readers.listening:
            assert time.monotonic() < deadline, "the listener was not tried again"
            await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"220 ")
        writer.close()
    finally:
        squatter.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert not readers.listening


# -- two replicas, a takeover -----------------------------------------------------------------------------------
pytest_dovecot = pytest.mark.skipif(not dovecot.available(), reason="needs Debian's dovecot-imapd: make install-dovecot")


@pytest.fixture()
def mailbox() -> Iterator[dovecot.Dovecot]:
    with tempfile.TemporaryDirectory(prefix="frontline-dovecot-") as folder:
        started = dovecot.Dovecot(pathlib.Path(folder)).start()
        try:
            yield started
        finally:
            started.stop()


class SlowTurns:
    """Stands in for `MailTurns`: a turn that takes a second."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.finished: List[bytes] = []

    async def receive(self, raw: bytes, envelope_sender: Optional[str] = None, source: str = "smtp") -> str:
        self.started.set()
        await asyncio.sleep(1.0)
        self.finished.append(raw)
        return "recorded"


class SwitchedLease(email_readers.LocalLease):
    def __init__(self) -> None:
        self.held = True

    def hold(self) -> bool:
        return self.held


@pytest_dovecot
async def test_readers_losing_the_lease_let_the_turn_in_progress_end(mailbox: dovecot.Dovecot) -> None:
    append_imap(mailbox, "slow")
    settings = load(
        {"FRONTLINE_EMAIL_ADDRESS": "support@frontline.test",
         "FRONTLINE_IMAP_URL": f"imap://{mailbox.user}:{mailbox.password}@127.0.0.1:{mailbox.port}/INBOX"},
        settings={"email": {"reader_lease_seconds": 1, "imap_poll_seconds": 3600}},
    )
    turns, held = SlowTurns(), SwitchedLease()
    readers = email_readers.Readers(settings, turns, held)  # type: ignore[arg-type]
    task = asyncio.create_task(readers.run())
    try:
        await asyncio.wait_for(turns.started.wait(), 20)
        held.held = False  # lost in the middle of the turn
        deadline = time.monotonic() + 10
        while readers.held or readers._reader is not None:
            assert time.monotonic() < deadline, "the readers did not stop"
            await asyncio.sleep(0.05)
        assert len(turns.finished) == 1  # the turn ended, not cut
        assert len(await asyncio.to_thread(unseen, mailbox)) == 1  # not marked seen: the next holder reads it again
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class HeldTurns(MailTurns):
    """The real `MailTurns` and thread store, its turn held until the test lets it end (no Rasa)."""

    def __init__(self, settings: Any, store: ThreadStore) -> None:
        super().__init__(settings, store, agent=lambda: None, on_new_message=None, send_mail=None)  # type: ignore[arg-type]
        self.started, self.release = asyncio.Event(), asyncio.Event()
        self.turned: List[str] = []

    async def _converse(self, mail: Any, thread: Any, kept: int, attachments: List[dict]) -> str:
        self.started.set()
        await self.release.wait()
        self.turned.append(mail.subject)
        return "acknowledged"


async def test_a_copy_arriving_while_the_mails_turn_runs_is_retried_not_turned(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SMTP and IMAP copies of one mail at once: the second is answered 451 (the sender retries) while the
    first copy's turn runs, however long (it keeps its claim fresh), and found handled once it ended."""
    monkeypatch.setattr(email_turns, "TURN_SECONDS", 0.0)  # a claim goes stale after the 1 s lease untouched
    listen = free_port()
    settings = load({"FRONTLINE_EMAIL_ADDRESS": "support@frontline.test", "FRONTLINE_EMAIL_SMTP_LISTEN": f"127.0.0.1:{listen}"},
                    settings={"email": {"reader_lease_seconds": 1}})
    store = ThreadStore(tmp_path)
    turns = HeldTurns(settings, store)
    server = await email_inbound.start_listener(settings, turns)
    raw = customer_mail(CUSTOMER, "twice", "body", "<twice@example.com>").as_bytes()

    def smtp_code() -> int:
        with smtplib.SMTP("127.0.0.1", listen, timeout=10) as smtp:
            smtp.ehlo()
            smtp.mail(CUSTOMER)
            smtp.rcpt("support@frontline.test")
            return smtp.data(raw)[0]

    try:
        first = asyncio.create_task(turns.receive(raw, source="imap"))  # the IMAP copy, its turn held
        await asyncio.wait_for(turns.started.wait(), 5)
        await asyncio.sleep(2.0)  # twice the stale time: only the running turn's touches keep the claim fresh
        assert await asyncio.to_thread(smtp_code) == 451
        turns.release.set()
        assert await first == "acknowledged"
        assert await asyncio.to_thread(smtp_code) == 250  # the sender's retry: handled, "seen before"
        assert turns.turned == ["twice"]
    finally:
        server.close()
        await server.wait_closed()
        store.close()


class Replica:
    """`reader_replica.py` in a process of its own."""

    def __init__(self, env: Dict[str, str], log: pathlib.Path) -> None:
        self.log_path = log
        self.handle = open(log, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.channels.email.reader_replica"], cwd=repo_root(), env=env,
            stdout=subprocess.DEVNULL, stderr=self.handle, start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.handle.close()


def send_smtp(port: int, address: str, subject: str, timeout: float = 30.0) -> None:
    """Send one mail to the listener as a mail server would: again and again until it is taken (250)."""
    raw = customer_mail(CUSTOMER, subject, "body of " + subject, f"<{subject}@example.com>").as_bytes()
    deadline = time.monotonic() + timeout
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                smtp.sendmail(CUSTOMER, [address], raw)
            return
        except (OSError, smtplib.SMTPException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def append_imap(server: dovecot.Dovecot, subject: str) -> None:
    with imaplib.IMAP4("127.0.0.1", server.port) as imap:
        imap.login(server.user, server.password)
        message = customer_mail(CUSTOMER, subject, "body of " + subject, f"<{subject}@example.com>")
        imap.append("INBOX", "", imaplib.Time2Internaldate(time.time()), message.as_bytes())


def unseen(server: dovecot.Dovecot) -> List[bytes]:
    with imaplib.IMAP4("127.0.0.1", server.port) as imap:
        imap.login(server.user, server.password)
        imap.select("INBOX")
        return imap.search(None, "UNSEEN")[1][0].split()


def turns(path: pathlib.Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(test, timeout: float, what: str, replicas: List[Replica]) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {r.pid}\n{r.log()[-3000:]}" for r in replicas)
            raise AssertionError(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.05)


DIE_MID_TURN_ID = f"<{DIE_MID_TURN}@example.com>"


def kept_mails(var: pathlib.Path) -> List[tuple]:
    """(Message-ID, thread) of each kept mail in the replicas' `email.db` (read without their data key)."""
    with contextlib.closing(sqlite3.connect(var / "email.db")) as db:
        return db.execute("SELECT message_id, thread FROM inbound ORDER BY id").fetchall()


def replica_env(var: pathlib.Path, address: str, listen: int, server: dovecot.Dovecot, relay: Relay) -> Dict[str, str]:
    """The environment every replica is given (the launcher gives them all the same)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("FRONTLINE_")},
        "FRONTLINE_VAR": str(var),  # one machine: every replica's email.db is this one
        "FRONTLINE_REDIS_URL": "redis://127.0.0.1:6379/1",
        "FRONTLINE_EMAIL_ADDRESS": address,
        "FRONTLINE_EMAIL_SMTP_LISTEN": f"127.0.0.1:{listen}",  # the same port for both: one machine
        "FRONTLINE_IMAP_URL": f"imap://{server.user}:{server.password}@127.0.0.1:{server.port}/INBOX",
        "FRONTLINE_SMTP_URL": f"smtp://127.0.0.1:{relay.port}",
        "TEST_TURNS_FILE": str(var / "turns.jsonl"),
        "TEST_LEASE_SECONDS": str(LEASE_SECONDS),
        "TEST_TURN_SECONDS": str(TURN_SECONDS),
    }


def holder_pid(client: redis.Redis, address: str) -> Optional[int]:
    value = client.get(f"{email_readers.KEY_PREFIX}:{address}")
    return int(value.decode().split(":")[1]) if value else None


@pytest_dovecot
def test_one_replica_reads_the_mail_and_another_takes_over_when_it_is_killed(client: redis.Redis, address: str) -> None:
    with tempfile.TemporaryDirectory(prefix="frontline-dovecot-") as mail_folder, \
            tempfile.TemporaryDirectory(prefix="frontline-email-replicas-") as tmp:
        server = dovecot.Dovecot(pathlib.Path(mail_folder)).start()
        relay = Relay().start()
        var = pathlib.Path(tmp)
        listen = free_port()
        env = replica_env(var, address, listen, server, relay)
        replicas = [Replica(env, var / f"replica-{i}.log") for i in (1, 2)]
        try:
            wait_for(lambda: all("replica started" in r.log() for r in replicas) and
                     holder_pid(client, address) is not None, 60, "the replicas to start", replicas)
            first = next(r for r in replicas if r.pid == holder_pid(client, address))
            second = next(r for r in replicas if r is not first)

            # before: only the holder listens and reads
            for subject in ("before-smtp-1", "before-smtp-2"):
                send_smtp(listen, address, subject)
            for subject in ("before-imap-1", "before-imap-2"):
                append_imap(server, subject)
            wait_for(lambda: len(turns(var / "turns.jsonl")) == 4, 20, "the mails before", replicas)
            assert {t["pid"] for t in turns(var / "turns.jsonl")} == {first.pid}
            assert "reads the mail now" not in second.log() and "SMTP listener on" not in second.log()
            assert "cannot listen" not in second.log()  # it never tried: it does not hold the lease

            # the holder dies (SIGKILL) after a mail's turn, before marking it seen
            append_imap(server, DIE_AFTER_TURN)
            wait_for(lambda: first.process.poll() is not None, 20, "the holder's death", replicas)
            killed = time.monotonic()
            assert first.process.returncode == -signal.SIGKILL

            # during: mail keeps coming while nobody reads (a mail server retries; the mailbox keeps it)
            during = threading.Thread(target=send_smtp, args=(listen, address, "during-smtp"))
            during.start()
            append_imap(server, "during-imap")
            wait_for(lambda: holder_pid(client, address) == second.pid, LEASE_SECONDS + 10, "the takeover", replicas)
            took = time.monotonic() - killed
            during.join(30)
            assert not during.is_alive()

            # after
            send_smtp(listen, address, "after-smtp")
            append_imap(server, "after-imap")
            subjects = [
                "before-smtp-1", "before-smtp-2", "before-imap-1", "before-imap-2", DIE_AFTER_TURN, "during-smtp",
                "during-imap", "after-smtp", "after-imap",
            ]
            wait_for(lambda: {t["subject"] for t in turns(var / "turns.jsonl")} >= set(subjects), 20, "every mail", replicas)
            wait_for(lambda: unseen(server) == [], 10, "the mailbox read", replicas)
            time.sleep(0.5)  # anything handled twice would show now

            done = turns(var / "turns.jsonl")
            assert collections.Counter(t["subject"] for t in done) == collections.Counter(subjects)  # each once
            assert [t["pid"] for t in done if t["subject"] in subjects[:5]] == [first.pid] * 5
            assert [t["pid"] for t in done if t["subject"] in subjects[5:]] == [second.pid] * 4
            acknowledged = collections.Counter(m["Subject"] for m in relay.to(CUSTOMER))
            assert acknowledged == collections.Counter(f"Re: {s}" for s in subjects)
            # the mail the killed holder had handled was read again, and known: no second turn
            assert f"mail <{DIE_AFTER_TURN}@example.com> seen before" in second.log()
            assert took < LEASE_SECONDS + 3, f"the takeover took {took:.1f} s"

            # any replica sends (a desk reply reaches whichever one HAProxy picks): this process holds no lease
            store = ThreadStore(var)
            try:
                thread = next(t["thread"] for t in done if t["subject"] == "before-imap-1")
                settings = load({**env, "FRONTLINE_EMAIL_SMTP_LISTEN": "", "FRONTLINE_IMAP_URL": ""}, settings={})
                asyncio.run(EmailOutput(settings, store).send_text(thread, "an agent's reply", auto=False))
                reply = relay.wait_for(lambda m: "an agent's reply" in m.get_content(), 10)
                assert reply["In-Reply-To"] == relay.wait_for(lambda m: m["Subject"] == "Re: before-imap-1")["Message-ID"]
            finally:
                store.close()

            # a clean stop gives the lease up at once
            second.process.send_signal(signal.SIGTERM)
            assert second.process.wait(20) == 0
            assert holder_pid(client, address) is None and "given up" in second.log()
        finally:
            for replica in replicas:
                replica.stop()
            relay.stop()
            server.stop()


@pytest_dovecot
def test_a_mail_whose_turn_the_killed_holder_cut_gets_one_turn_from_its_successor(
    client: redis.Redis, address: str, mailbox: dovecot.Dovecot,
) -> None:
    with tempfile.TemporaryDirectory(prefix="frontline-email-replicas-") as tmp:
        relay = Relay().start()
        var = pathlib.Path(tmp)
        env = replica_env(var, address, free_port(), mailbox, relay)
        replicas = [Replica(env, var / f"replica-{i}.log") for i in (1, 2)]
        try:
            wait_for(lambda: all("replica started" in r.log() for r in replicas) and
                     holder_pid(client, address) is not None, 60, "the replicas to start", replicas)
            first = next(r for r in replicas if r.pid == holder_pid(client, address))
            second = next(r for r in replicas if r is not first)

            append_imap(mailbox, DIE_MID_TURN)  # the holder places and keeps it, and is killed in its turn
            wait_for(lambda: first.process.poll() is not None, 20, "the holder's death", replicas)
            killed = time.monotonic()
            assert first.process.returncode == -signal.SIGKILL and turns(var / "turns.jsonl") == []
            [(kept_id, turns_thread)] = kept_mails(var)  # placed and kept before the kill
            assert kept_id == DIE_MID_TURN_ID

            wait_for(lambda: turns(var / "turns.jsonl") != [], 25, "the successor's turn", replicas)
            waited = time.monotonic() - killed
            wait_for(lambda: unseen(mailbox) == [], 10, "the mail marked seen", replicas)
            append_imap(mailbox, "after")  # the successor reads on
            wait_for(lambda: len(turns(var / "turns.jsonl")) == 2, 10, "the next mail", replicas)
            time.sleep(2 * TURN_SECONDS)  # a second turn of the cut mail would show now

            done = turns(var / "turns.jsonl")
            assert [(t["subject"], t["pid"]) for t in done] == [(DIE_MID_TURN, second.pid), ("after", second.pid)]
            acknowledged = collections.Counter(m["Subject"] for m in relay.to(CUSTOMER))
            assert acknowledged == collections.Counter({f"Re: {DIE_MID_TURN}": 1, "Re: after": 1})
            log = second.log()
            # found while its claim was fresh (the takeover is faster than a claim goes stale): left unseen, not lost
            assert f"mail <{DIE_MID_TURN}@example.com> is in its turn already" in log
            assert f"mail <{DIE_MID_TURN}@example.com>: its turn was cut" in log and "handled again in thread" in log
            assert "seen before" not in log
            assert waited < LEASE_SECONDS + TURN_SECONDS + 8, f"the cut mail waited {waited:.1f} s"
            assert done[0]["thread"] == turns_thread  # its turn, in the thread it was placed in
            assert kept_mails(var) == [(DIE_MID_TURN_ID, turns_thread), ("<after@example.com>", done[1]["thread"])]
        finally:
            for replica in replicas:
                replica.stop()
            relay.stop()


@pytest.mark.parametrize("seconds", [0, 7200, "30"])
def test_a_lease_time_frontline_cannot_use_is_refused(seconds: Any) -> None:
    with pytest.raises(SettingsError, match="reader_lease_seconds"):
        load({"FRONTLINE_EMAIL_ADDRESS": "support@frontline.test"}, settings={"email": {"reader_lease_seconds": seconds}})


def test_every_rasa_replica_of_the_production_layout_shares_the_var_folder_and_the_mail_settings(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the takeover rests on: the launcher gives every Rasa replica the same `$FRONTLINE_VAR` (one
    `email.db`), Redis (one lease) and mail variables (one listener port: only the holder binds it)."""
    from bot import run
    from bot.topology import launcher, layout

    mail = {
        "FRONTLINE_EMAIL_ADDRESS": "support@frontline.test", "FRONTLINE_EMAIL_SMTP_LISTEN": "127.0.0.1:2525",
        "FRONTLINE_IMAP_URL": "imap://user:pw@127.0.0.1:143/INBOX", "FRONTLINE_SMTP_URL": "smtp://127.0.0.1:25",
        "FRONTLINE_REDIS_URL": "redis://127.0.0.1:6379/1",
    }
    for name, value in mail.items():
        monkeypatch.setenv(name, value)
    plan = layout.plan(3)
    env = run.build_env(tmp_path, run.Ports(rasa=plan.ports.assistant, actions=plan.ports.actions, desk=plan.ports.desk))
    found = launcher.programs(
        repo_root(), plan, env, tmp_path / "endpoints.yml", tmp_path / "model.tar.gz", "haproxy", tmp_path / "haproxy.cfg"
    )
    rasa = [p for p in found if p.name.startswith("rasa-")]
    assert len(rasa) == 3
    for name, value in {**mail, "FRONTLINE_VAR": str(tmp_path)}.items():
        assert [p.env.get(name) for p in rasa] == [value] * 3, name
