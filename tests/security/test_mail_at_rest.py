"""The e-mail channel's kept mails and attachments at rest (issue 21): encrypted, re-encrypted by a key rotation,
purged with the retention.

The attacker gets a copy of the Rasa server's var folder (a backup, a disk): `email.db` (with its write-ahead
log) and `email-attachments/`. Before the fix every kept raw mail and every attachment was there in clear, and
stayed for ever. Now both are encrypted with the data keys (`bot.data_keys`), `python -m bot rekey` moves them
to a new key, and `python -m bot purge` deletes a thread past `retention.transcripts_days` (its ticket closed)
with its mails and files.
"""

from __future__ import annotations

import json
import os
import pathlib
import sqlite3
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

import pytest

from bot import data_keys
from bot.channels.email_parse import read_mail
from bot.channels.email_threads import ATTACHMENTS_DIR, DB_FILE, ThreadStore
from bot.desk.store import Store
from bot.maintenance import Stores
from bot.retention import DAY, RetentionPolicy, purge
from bot.settings import repo_root
from tests.channels.email.mail_helpers import customer_mail
from tests.security.data_helpers import env_without

# What the attacker looks for: a mail's words (7-bit, so the raw MIME holds them as they are), an attachment's
# content (base64 in the mail, as it is in the stored file) and its file name (the sender's: it names people).
BODY = "Please refund order 20261107-88431, my passport is E12345678"
BODY_NEEDLE = b"E12345678"
ATTACHMENT = b"scan of the passport page: E99887766 WANG XIAOMING"
ATTACHMENT_NEEDLE = b"E99887766"
FILE_NAME = "passport-wang-xiaoming.txt"
NAME_NEEDLE = b"wang-xiaoming"
NOW = 1_800_000_000.0


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    """One data key in the environment (as production sets it)."""
    value = data_keys.generate_key()
    monkeypatch.setenv(data_keys.ENV_KEYS, value)
    return value


def mail_bytes(sender: str, message_id: str, body: str = BODY, attachment: Optional[bytes] = ATTACHMENT) -> bytes:
    message = customer_mail(sender, "refund", body, message_id)
    if attachment is not None:
        message.add_attachment(attachment, maintype="text", subtype="plain", filename=FILE_NAME)
    return message.as_bytes()


def keep(store: ThreadStore, raw: bytes, thread: Optional[str] = None) -> Tuple[str, int, List[dict]]:
    """Thread and keep a mail as the channel does; return its thread, its kept id and its attachments."""
    mail = read_mail(raw)
    thread = thread or store.place(mail).thread.thread
    kept, listed = store.keep_inbound(thread, mail)
    return thread, kept, listed


def copied_var(var: pathlib.Path) -> Dict[str, bytes]:
    """Every file of the var folder as a copy of it holds them (the database, its log, the attachments)."""
    return {str(path.relative_to(var)): path.read_bytes() for path in sorted(var.rglob("*")) if path.is_file()}


def holding(var: pathlib.Path, *needles: bytes) -> List[str]:
    """The files of the var folder whose name or bytes hold any of the needles (and a dump of `email.db`)."""
    found = [name for name, data in copied_var(var).items()
             if any(needle in data or needle in name.encode() for needle in needles)]
    if (var / DB_FILE).exists():
        with sqlite3.connect(var / DB_FILE) as connection:
            dump = "\n".join(connection.iterdump()).encode()
        if any(needle in dump for needle in needles):
            found.append("sqlite3 dump")
    return found


def test_a_copied_var_folder_reveals_no_kept_mail_or_attachment(tmp_path: pathlib.Path, key: str) -> None:
    store = ThreadStore(tmp_path)
    raw = mail_bytes("wang@example.com", "<at-rest-1@example.com>")
    assert BODY_NEEDLE in raw  # the needle is in what was received: the test would find it if it were kept so
    thread, kept, listed = keep(store, raw)
    store.close()

    assert holding(tmp_path, BODY_NEEDLE, ATTACHMENT_NEEDLE, NAME_NEEDLE) == []
    assert (tmp_path / listed[0]["stored"]).read_bytes().startswith(b"fernet:")
    # The channel and the desk read them back whole with the key.
    store = ThreadStore(tmp_path)
    [found] = store.inbound(thread)
    assert found["id"] == kept and found["raw"] == raw
    assert store.attachment_bytes(listed[0]["stored"]) == ATTACHMENT
    store.close()
    from bot.desk.mail_files import KeptMails

    kept_mails = KeptMails(tmp_path)
    assert kept_mails.raw_mail(thread, str(kept)).data == raw
    assert kept_mails.attachment(thread, f"{kept}-0").data == ATTACHMENT
    [shown] = kept_mails.listing(thread, "T-000001")
    assert shown["kept_bytes"] == len(raw)  # not the ciphertext's length
    assert shown["attachments"][0]["filename"] == FILE_NAME


def test_a_desk_with_other_keys_serves_no_ciphertext(tmp_path: pathlib.Path, key: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.desk.errors import DeskError
    from bot.desk.mail_files import KeptMails

    store = ThreadStore(tmp_path)
    thread, kept, _ = keep(store, mail_bytes("wang@example.com", "<at-rest-2@example.com>"))
    store.close()
    monkeypatch.setenv(data_keys.ENV_KEYS, data_keys.generate_key())  # a desk configured with another key
    for read in (lambda: KeptMails(tmp_path).raw_mail(thread, str(kept)),
                 lambda: KeptMails(tmp_path).attachment(thread, f"{kept}-0")):
        with pytest.raises(DeskError) as raised:
            read()
        assert raised.value.status == 503 and "cannot be decrypted" in raised.value.message


def plain_mail_of_before(var: pathlib.Path, store: ThreadStore, raw: bytes) -> Tuple[str, int, str]:
    """A mail kept by the version before encryption: its raw bytes and its attachment file in clear."""
    thread, kept, listed = keep(store, raw)
    with sqlite3.connect(var / DB_FILE) as connection:
        connection.execute("UPDATE inbound SET raw=?, kept=NULL, attachments=?, problems='[]' WHERE id=?",
                           (raw, json.dumps(listed), kept))
    (var / listed[0]["stored"]).write_bytes(ATTACHMENT)
    return thread, kept, listed[0]["stored"]


def test_the_desk_lists_a_file_of_before_the_upgrade(tmp_path: pathlib.Path, key: str) -> None:
    """An `email.db` the channel has not opened since the upgrade (no `kept` column): still listed, still served."""
    from bot.desk.mail_files import KeptMails

    store = ThreadStore(tmp_path)
    raw = mail_bytes("li@example.com", "<old-file@example.com>")
    thread, kept, _ = plain_mail_of_before(tmp_path, store, raw)
    store.close()
    with sqlite3.connect(tmp_path / DB_FILE) as connection:
        connection.execute("ALTER TABLE inbound DROP COLUMN kept")
    [mail] = KeptMails(tmp_path).listing(thread, "T-1")
    assert mail["kept_bytes"] == len(raw) and KeptMails(tmp_path).raw_mail(thread, str(kept)).data == raw
    assert KeptMails(tmp_path).attachment(thread, f"{kept}-0").data == ATTACHMENT


def test_rekey_moves_kept_mails_and_files_to_the_new_key(tmp_path: pathlib.Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    old, new, other = (data_keys.generate_key() for _ in range(3))
    monkeypatch.setenv(data_keys.ENV_KEYS, old)
    store = ThreadStore(tmp_path)
    plain_raw = mail_bytes("li@example.com", "<before@example.com>")
    plain_thread, plain_kept, plain_file = plain_mail_of_before(tmp_path, store, plain_raw)
    store.close()
    assert holding(tmp_path, BODY_NEEDLE, ATTACHMENT_NEEDLE, NAME_NEEDLE)  # the installation before this version
    store = ThreadStore(tmp_path)
    old_raw = mail_bytes("wang@example.com", "<old-key@example.com>", body="under the old key E12345678")
    old_thread, old_kept, old_listed = keep(store, old_raw)
    store.close()

    monkeypatch.setenv(data_keys.ENV_KEYS, f"{new},{old}")  # rotated: the new key first, the old one kept
    store = ThreadStore(tmp_path)
    assert store.inbound(plain_thread)[0]["raw"] == plain_raw and store.inbound(old_thread)[0]["raw"] == old_raw
    assert store.rekey() == 4  # two raw mails, two files
    assert store.rekey() == 0  # a second run changes nothing
    store.close()
    assert holding(tmp_path, BODY_NEEDLE, ATTACHMENT_NEEDLE, NAME_NEEDLE) == []  # the plain mail is gone too

    monkeypatch.setenv(data_keys.ENV_KEYS, new)  # the old key dropped: everything still reads
    store = ThreadStore(tmp_path)
    assert store.inbound(plain_thread)[0]["raw"] == plain_raw and store.inbound(old_thread)[0]["raw"] == old_raw
    assert store.attachment_bytes(plain_file) == ATTACHMENT == store.attachment_bytes(old_listed[0]["stored"])
    assert os.stat(tmp_path / plain_file).st_mode & 0o777 == 0o600  # the rewritten file is private still
    store.close()
    from bot.desk.mail_files import KeptMails

    assert KeptMails(tmp_path).listing(plain_thread, "T-1")[0]["kept_bytes"] == len(plain_raw)

    monkeypatch.setenv(data_keys.ENV_KEYS, other)  # someone else's key reads nothing, and says so
    store = ThreadStore(tmp_path)
    with pytest.raises(data_keys.DataKeyError, match="cannot be decrypted"):
        store.attachment_bytes(plain_file)
    with pytest.raises(data_keys.DataKeyError, match="cannot be decrypted"):
        store.inbound(plain_thread)
    store.close()


def test_rekey_command_encrypts_mails_kept_before_encryption(tmp_path: pathlib.Path, key: str) -> None:
    var = tmp_path / "var"
    store = ThreadStore(var)
    plain_mail_of_before(var, store, mail_bytes("li@example.com", "<cmd@example.com>"))
    store.close()
    env = {**env_without("DATABASE_URL"), "FRONTLINE_VAR": str(var), "FRONTLINE_BROKER": "none"}
    env.pop("FRONTLINE_ENDPOINTS", None)
    done = subprocess.run([sys.executable, "-m", "bot", "rekey"], env=env, cwd=repo_root(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [done.stdout.strip()], done.stdout  # one line
    assert "and 2 kept e-mails and attachment files, under" in done.stdout, done.stdout
    assert holding(var, BODY_NEEDLE, ATTACHMENT_NEEDLE, NAME_NEEDLE) == []


def desk_ticket(desk: Store, conversation_id: str, closed_at: Optional[float]) -> int:
    """A ticket of a conversation: closed at `closed_at`, or open (None)."""
    at = (closed_at or NOW) - 60
    ticket, _ = desk.create_ticket(dict(
        conversation_id=conversation_id, channel="email", grade="B", reason="asked_for_human", topic="faq_fees",
        skill="general", context={"version": 1, "conversation_id": conversation_id, "transcript": [], "slots": {}},
        created_at=at, created_real=at, skill_since=at, due_first_response=at, warn_first_response=at,
        due_resolution=at, warn_resolution=at,
    ))
    if closed_at is not None:
        assert desk.close_ticket(ticket.id, "resolved", closed_at, None)
    return ticket.id


def test_purge_deletes_threads_past_retention_with_their_mails_and_files(tmp_path: pathlib.Path, key: str) -> None:
    policy = RetentionPolicy(transcripts_days=30)
    old_at, recent_at = NOW - 40 * DAY, NOW - 5 * DAY
    clock = [old_at]
    var = tmp_path / "var"
    store = ThreadStore(var, clock=lambda: clock[0])
    closed, closed_kept, closed_files = keep(store, mail_bytes("a@example.com", "<closed@x>"))
    _, second, more_files = keep(store, mail_bytes("a@example.com", "<closed-2@x>"), thread=closed)
    still_open, _, open_files = keep(store, mail_bytes("b@example.com", "<open@x>"))
    answered, _, _ = keep(store, mail_bytes("c@example.com", "<answered@x>"))
    nobody, _, orphan_files = keep(store, mail_bytes("d@example.com", "<no-sender@x>"))
    store.keep_inbound(None, read_mail(mail_bytes("e@example.com", "<unthreaded@x>")))  # no usable sender
    clock[0] = recent_at
    store.record_sent(answered, "<our-reply@frontline.test>")  # our reply is recent: the thread is too
    recent, _, recent_files = keep(store, mail_bytes("f@example.com", "<recent@x>"))
    store.set_ticket(closed, "T-000001")
    desk = Store(f"sqlite:///{tmp_path / 'desk.db'}")
    desk.migrate()
    desk_ticket(desk, f"email:{closed}", closed_at=old_at + 60)
    desk_ticket(desk, f"email:{still_open}", closed_at=None)
    stores = Stores(None, None, desk, None, mail=store)
    try:
        report = purge(stores, policy, NOW)
        # closed: two mails, two files; nobody's thread (never a ticket): one mail, one file; the unthreaded one
        assert (report.mails, report.mail_threads, report.mail_files) == (4, 2, 4), report
        assert "4 kept mails, 2 e-mail threads and 4 attachment files deleted" in report.summary(policy, NOW)
        assert store.thread(closed) is None and store.thread(nobody) is None
        assert store.inbound(closed) == [] and [m["thread"] for m in store.inbound()] == [still_open, answered, recent]
        for listed in (closed_files, more_files, orphan_files):
            assert not (var / listed[0]["stored"]).exists()
        assert not (var / ATTACHMENTS_DIR / closed).exists()  # the purged thread's folder is gone
        assert not any((var / ATTACHMENTS_DIR / "unthreaded").iterdir())  # the old unthreaded mail's file too
        for listed in (open_files, recent_files):
            assert (var / listed[0]["stored"]).exists()
        assert store.thread(still_open) is not None and store.thread(answered) is not None
        # a mail of the purged thread sent again starts a new thread (its ids are forgotten)
        assert store.place(read_mail(mail_bytes("a@example.com", "<closed-3@x>"))).new
        with sqlite3.connect(var / DB_FILE) as connection:
            assert connection.execute("SELECT count(*) FROM messages WHERE thread=?", (closed,)).fetchone()[0] == 0
        assert purge(stores, policy, NOW).changed == 0  # idempotent
        assert closed_kept and second  # (ids of what went)
    finally:
        stores.close()


def test_purge_without_the_desk_keeps_threads_that_have_a_ticket(tmp_path: pathlib.Path, key: str) -> None:
    """On a machine without the desk's database, a thread with a ticket is kept (it may still be open)."""
    store = ThreadStore(tmp_path, clock=lambda: NOW - 40 * DAY)
    ticketed, _, _ = keep(store, mail_bytes("a@example.com", "<t@x>"))
    store.set_ticket(ticketed, "T-000009")
    plain, _, _ = keep(store, mail_bytes("b@example.com", "<p@x>"))
    report = purge(Stores(None, None, None, None, mail=store), RetentionPolicy(transcripts_days=30), NOW)
    assert (report.mails, report.mail_threads) == (1, 1)
    assert store.thread(ticketed) is not None and store.thread(plain) is None
    store.close()


def test_the_channel_refuses_to_keep_mails_without_a_key_in_production(tmp_path: pathlib.Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Production mode without `FRONTLINE_DATA_KEYS`: the e-mail channel's store does not open (no mail kept in
    clear, no key made next to the mails); in development a key is made once in `var/data.key`, as for every
    store."""
    monkeypatch.delenv(data_keys.ENV_KEYS, raising=False)
    monkeypatch.setenv("FRONTLINE_VAR", str(tmp_path))
    monkeypatch.setenv("FRONTLINE_ENDPOINTS", "endpoints.prod.yml")
    with pytest.raises(data_keys.DataKeyError, match="production mode needs FRONTLINE_DATA_KEYS"):
        ThreadStore(tmp_path / "mail")
    assert not (tmp_path / "mail" / DB_FILE).exists() and not (tmp_path / data_keys.KEY_FILE).exists()
    monkeypatch.delenv("FRONTLINE_ENDPOINTS")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    store = ThreadStore(tmp_path / "mail")
    thread, kept, _ = keep(store, mail_bytes("wang@example.com", "<dev@example.com>"))
    assert (tmp_path / data_keys.KEY_FILE).exists() and store.inbound(thread)[0]["id"] == kept
    store.close()
    assert holding(tmp_path / "mail", BODY_NEEDLE, ATTACHMENT_NEEDLE, NAME_NEEDLE) == []


def test_a_mail_arriving_during_the_purge_keeps_its_thread(tmp_path: pathlib.Path, key: str) -> None:
    """The purge lists the old threads, asks the desk about each, then deletes: a mail that joins the thread in
    between makes it recent again, and the thread stays with all its mails."""
    clock = [NOW - 40 * DAY]
    store = ThreadStore(tmp_path, clock=lambda: clock[0])
    thread, _, _ = keep(store, mail_bytes("a@example.com", "<race-1@x>"))
    clock[0] = NOW

    def mail_arrives_meanwhile(conversation: str) -> bool:
        reply = customer_mail("a@example.com", "Re: refund", "still waiting", "<race-2@x>", in_reply_to="<race-1@x>")
        keep(store, reply.as_bytes())  # threaded by its In-Reply-To, kept now
        return False

    done = store.purge_before(NOW - 30 * DAY, mail_arrives_meanwhile)
    assert (done.mails, done.threads, done.files) == (0, 0, 0)
    assert [m["message_id"] for m in store.inbound(thread)] == ["<race-1@x>", "<race-2@x>"]
    store.close()
