"""The mailbox path against a real IMAP server (a private Dovecot on loopback): unseen mails are read once and
marked seen, a mail arriving while the reader waits is pushed by IDLE (the poll interval is an hour); a server
without IDLE is polled every `email.imap_poll_seconds`; `imaps://` reads over TLS from a server whose certificate
the reader trusts (and refuses one it does not); a wrong password is a logged, retried failure, never a crash."""

from __future__ import annotations

import asyncio
import imaplib
import pathlib
import tempfile
import time
from typing import Iterator, List, Optional

import pytest

from bot.channels import email_inbound
from bot.channels.email_settings import load
from tests.channels.email import dovecot
from tests.channels.email.mail_helpers import customer_mail, self_signed

pytestmark = pytest.mark.skipif(not dovecot.available(), reason="needs Debian's dovecot-imapd: make install-dovecot")


@pytest.fixture()
def server() -> Iterator[dovecot.Dovecot]:
    # not pytest's tmp_path: Dovecot's own users must reach the mail folder, and tmp_path's parents are private
    with tempfile.TemporaryDirectory(prefix="frontline-dovecot-") as folder:
        started = dovecot.Dovecot(pathlib.Path(folder)).start()
        try:
            yield started
        finally:
            started.stop()


class Recorder:
    """Stands in for `MailTurns`: keeps what the reader hands over."""

    def __init__(self) -> None:
        self.mails: List[bytes] = []

    async def receive(self, raw: bytes, envelope_sender: Optional[str] = None, source: str = "smtp") -> str:
        self.mails.append(raw)
        return "recorded"


def connect(server: dovecot.Dovecot) -> imaplib.IMAP4:
    """A test's own IMAP client (over TLS, unchecked, to a TLS-only server)."""
    if server.tls:
        import ssl

        unchecked = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        unchecked.check_hostname, unchecked.verify_mode = False, ssl.CERT_NONE
        return imaplib.IMAP4_SSL("127.0.0.1", server.port, ssl_context=unchecked)
    return imaplib.IMAP4("127.0.0.1", server.port)


def append(server: dovecot.Dovecot, subject: str) -> None:
    with connect(server) as client:
        client.login(server.user, server.password)
        message = customer_mail("alice@example.com", subject, "body of " + subject, f"<{subject}@example.com>")
        client.append("INBOX", "", imaplib.Time2Internaldate(time.time()), message.as_bytes())


def unseen(server: dovecot.Dovecot) -> List[bytes]:
    with connect(server) as client:
        client.login(server.user, server.password)
        client.select("INBOX")
        return client.search(None, "UNSEEN")[1][0].split()


async def wait_until(test, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_unseen_mails_read_once_then_idle_pushes_a_new_one(server: dovecot.Dovecot) -> None:
    append(server, "first")
    append(server, "second")
    settings = load(
        {"FRONTLINE_EMAIL_ADDRESS": "support@frontline.test",
         "FRONTLINE_IMAP_URL": f"imap://{server.user}:{server.password}@127.0.0.1:{server.port}/INBOX"},
        settings={"email": {"imap_poll_seconds": 3600}},
    )
    turns = Recorder()
    reader = email_inbound.ImapReader(settings, turns)
    task = asyncio.create_task(reader.run())
    try:
        await wait_until(lambda: reader.rounds >= 1, 20)
        assert [b"Subject: first" in m for m in turns.mails] == [True, False]
        assert b"Subject: second" in turns.mails[1]
        assert unseen(server) == []
        await asyncio.sleep(0.5)  # the reader is idling now
        started = time.monotonic()
        append(server, "third")
        await wait_until(lambda: len(turns.mails) == 3, 10)
        assert time.monotonic() - started < 10 and b"Subject: third" in turns.mails[2]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(turns.mails) == 3  # nothing read twice


class ArrivingRecorder(Recorder):
    """A recorder during whose first mail another mail arrives (the reader is busy in its round, not idling)."""

    def __init__(self, server: dovecot.Dovecot) -> None:
        super().__init__()
        self.server = server

    async def receive(self, raw: bytes, envelope_sender: Optional[str] = None, source: str = "smtp") -> str:
        if not self.mails:
            await asyncio.to_thread(append, self.server, "arrived during the round")
        return await super().receive(raw, envelope_sender, source)


async def test_a_mail_arriving_during_a_round_is_read_without_waiting_for_idle_to_end(server: dovecot.Dovecot) -> None:
    append(server, "first")
    settings = load(
        {"FRONTLINE_EMAIL_ADDRESS": "support@frontline.test",
         "FRONTLINE_IMAP_URL": f"imap://{server.user}:{server.password}@127.0.0.1:{server.port}/INBOX"},
        settings={"email": {"imap_poll_seconds": 3600}},
    )
    turns = ArrivingRecorder(server)
    task = asyncio.create_task(email_inbound.ImapReader(settings, turns).run())
    try:
        await wait_until(lambda: len(turns.mails) == 2, 10)  # not after IDLE's 10 minutes
        assert b"Subject: arrived during the round" in turns.mails[1]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_wrong_password_is_logged_and_retried(server: dovecot.Dovecot, caplog: pytest.LogCaptureFixture) -> None:
    settings = load(
        {"FRONTLINE_EMAIL_ADDRESS": "support@frontline.test",
         "FRONTLINE_IMAP_URL": f"imap://{server.user}:wrong@127.0.0.1:{server.port}/INBOX"},
        settings={},
    )
    reader = email_inbound.ImapReader(settings, Recorder())
    task = asyncio.create_task(reader.run())
    try:
        await wait_until(lambda: "IMAP reading" in caplog.text, 20)
        assert not task.done() and "wrong" not in caplog.text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture()
def server_without_idle() -> Iterator[dovecot.Dovecot]:
    with tempfile.TemporaryDirectory(prefix="frontline-dovecot-") as folder:
        started = dovecot.Dovecot(pathlib.Path(folder), capabilities="IMAP4rev1 LITERAL+ UIDPLUS").start()
        try:
            yield started
        finally:
            started.stop()


async def test_a_server_without_idle_is_polled(server_without_idle: dovecot.Dovecot) -> None:
    server = server_without_idle
    settings = load(
        {"FRONTLINE_EMAIL_ADDRESS": "support@frontline.test",
         "FRONTLINE_IMAP_URL": f"imap://{server.user}:{server.password}@127.0.0.1:{server.port}/INBOX"},
        settings={"email": {"imap_poll_seconds": 1}},
    )
    turns = Recorder()
    reader = email_inbound.ImapReader(settings, turns)
    task = asyncio.create_task(reader.run())
    try:
        await wait_until(lambda: reader.rounds >= 1, 20)
        assert turns.mails == []
        # each second a round, with nothing to read (IDLE would have held the first round open for ten minutes)
        await wait_until(lambda: reader.rounds >= 3, 10)
        append(server, "polled")
        await wait_until(lambda: len(turns.mails) == 1, 10)
        assert b"Subject: polled" in turns.mails[0] and unseen(server) == []
        rounds = reader.rounds
        await wait_until(lambda: reader.rounds >= rounds + 2, 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(turns.mails) == 1  # nothing read twice


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return self_signed(tmp_path_factory.mktemp("imap-tls"))


@pytest.fixture()
def tls_server(certificate: pathlib.Path) -> Iterator[dovecot.Dovecot]:
    with tempfile.TemporaryDirectory(prefix="frontline-dovecot-") as folder:
        started = dovecot.Dovecot(pathlib.Path(folder), tls=(certificate / "cert.pem", certificate / "key.pem")).start()
        try:
            yield started
        finally:
            started.stop()


async def test_imaps_reads_over_tls_from_a_trusted_server_only(
    tls_server: dovecot.Dovecot, certificate: pathlib.Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = tls_server
    append(server, "secret")
    settings = load(
        {"FRONTLINE_EMAIL_ADDRESS": "support@frontline.test",
         "FRONTLINE_IMAP_URL": f"imaps://{server.user}:{server.password}@127.0.0.1:{server.port}/INBOX"},
        settings={"email": {"imap_poll_seconds": 3600}},
    )
    assert settings.imap is not None and settings.imap.security == "tls"
    # not trusted yet: the handshake fails, logged and retried, nothing read
    turns = Recorder()
    task = asyncio.create_task(email_inbound.ImapReader(settings, turns).run())
    try:
        await wait_until(lambda: "IMAP reading" in caplog.text, 20)
        assert turns.mails == [] and server.password not in caplog.text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate / "cert.pem"))  # now the reader trusts it
    reader = email_inbound.ImapReader(settings, turns)
    task = asyncio.create_task(reader.run())
    try:
        await wait_until(lambda: reader.rounds >= 1, 20)
        assert len(turns.mails) == 1 and b"Subject: secret" in turns.mails[0]
        assert unseen(server) == []
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
