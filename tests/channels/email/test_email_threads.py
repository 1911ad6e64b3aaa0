"""The thread store: threading by ids and by ticket number, forged references refused, a mail seen twice handled
once (while its turn runs too), a mail whose turn was cut handled again, at most one acknowledgement a thread a
day, attachments stored never executable."""

from __future__ import annotations

import os
import pathlib
import sqlite3
import stat

from bot.channels.email_parse import read_mail
from bot.channels.email_smtp import build_reply
from bot.channels.email_threads import ThreadStore
from tests.channels.email.mail_helpers import customer_mail


def read(sender: str, message_id: str, subject: str = "退款", **headers: str):
    return read_mail(customer_mail(sender, subject, "body", message_id, **headers).as_bytes())


def test_reply_lands_in_thread_by_ids_and_by_ticket_number(tmp_path: pathlib.Path) -> None:
    store = ThreadStore(tmp_path)
    first = store.place(read("a@example.com", "<1@x>"))
    assert first.new and not first.duplicate
    store.set_ticket(first.thread.thread, "T-000042")
    sent = build_reply(store.thread(first.thread.thread), "ack", "support@frontline.test", auto=True)
    store.record_sent(first.thread.thread, sent["Message-ID"])
    by_id = store.place(read("a@example.com", "<2@x>", in_reply_to=sent["Message-ID"]))
    assert by_id.thread.thread == first.thread.thread and not by_id.new
    by_ticket = store.place(read("a@example.com", "<3@x>", subject="Re: 退款 [T-000042]"))
    assert by_ticket.thread.thread == first.thread.thread
    assert store.thread(first.thread.thread).references == ["<1@x>", sent["Message-ID"], "<2@x>", "<3@x>"]


def test_forged_reference_to_another_customers_thread_starts_a_new_one(tmp_path: pathlib.Path) -> None:
    store = ThreadStore(tmp_path)
    victim = store.place(read("victim@example.com", "<v1@x>"))
    store.set_ticket(victim.thread.thread, "T-000007")
    forged = store.place(read("mallory@example.com", "<m1@x>", subject="[T-000007]", references="<v1@x>"))
    assert forged.new and forged.thread.thread != victim.thread.thread and "another customer" in forged.note


def test_same_mail_twice_is_a_duplicate(tmp_path: pathlib.Path) -> None:
    store = ThreadStore(tmp_path)
    assert not store.place(read("a@example.com", "<d@x>")).duplicate
    assert store.place(read("a@example.com", "<d@x>")).duplicate
    store.forget_message("<d@x>")  # a mail that could not be handled: the sender's retry is handled anew
    assert not store.place(read("a@example.com", "<d@x>")).duplicate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_mail_counts_as_handled_only_once_its_turn_ended(tmp_path: pathlib.Path) -> None:
    clock = Clock()
    store = ThreadStore(tmp_path, clock=clock)
    first = store.place(read("a@example.com", "<c@x>"), stale_after=90)
    assert not first.duplicate and not first.again
    clock.now += 60
    running = store.place(read("a@example.com", "<c@x>"), stale_after=90)  # the other copy, its turn running
    assert running.duplicate and running.running and running.thread.thread == first.thread.thread
    store.touch_message("<c@x>")  # the turn is alive: its claim is fresh again
    clock.now += 80
    assert store.place(read("a@example.com", "<c@x>"), stale_after=90).running  # 140 s placed, 80 s since a sign
    store.finish_message("<c@x>")
    clock.now += 1000
    done = store.place(read("a@example.com", "<c@x>"), stale_after=90)
    assert done.duplicate and not done.running  # handled: never again, however old
    store.touch_message("<c@x>")  # a late touch does not undo the end
    clock.now += 1000
    assert not store.place(read("a@example.com", "<c@x>"), stale_after=90).running


def test_a_mail_whose_turn_was_cut_is_handled_again_in_its_thread_by_one_copy(tmp_path: pathlib.Path) -> None:
    clock = Clock()
    store = ThreadStore(tmp_path, clock=clock)
    first = store.place(read("a@example.com", "<k@x>"), stale_after=90)
    store.keep_inbound(first.thread.thread, read("a@example.com", "<k@x>"))
    clock.now += 91  # its reader was killed: nobody touched the claim
    other = ThreadStore(tmp_path, clock=clock)  # the successor replica, on the same file
    again = other.place(read("a@example.com", "<k@x>"), stale_after=90)
    assert again.again and not again.duplicate and again.thread.thread == first.thread.thread and again.cut_ago == 91
    assert other.kept_mail(first.thread.thread, "<k@x>") == (store.inbound()[0]["id"], [])
    assert store.place(read("a@example.com", "<k@x>"), stale_after=90).running  # the claim is the successor's
    assert store.thread(first.thread.thread).references == ["<k@x>"]  # not cited twice
    other.finish_message("<k@x>")
    clock.now += 1000
    assert store.place(read("a@example.com", "<k@x>"), stale_after=90).duplicate
    assert other.kept_mail(first.thread.thread, "<nothing@x>") is None
    other.close()


def test_ids_recorded_before_claims_existed_and_sent_mails_count_as_handled(tmp_path: pathlib.Path) -> None:
    with sqlite3.connect(tmp_path / "email.db") as old:  # a file of the version before claims
        old.executescript(
            "CREATE TABLE messages (message_id TEXT PRIMARY KEY, thread TEXT NOT NULL, at REAL NOT NULL);"
            "CREATE TABLE threads (thread TEXT PRIMARY KEY, customer TEXT NOT NULL, subject TEXT NOT NULL, "
            "last_message_id TEXT, refs TEXT NOT NULL DEFAULT '[]', ticket TEXT, language TEXT, created_at REAL NOT NULL);"
            "INSERT INTO threads VALUES ('t-old', 'a@example.com', 'old', '<old@x>', '[\"<old@x>\"]', NULL, NULL, 1);"
            "INSERT INTO messages VALUES ('<old@x>', 't-old', 1);"
        )
    clock = Clock()
    store = ThreadStore(tmp_path, clock=clock)
    clock.now += 10**6
    upgraded = store.place(read("a@example.com", "<old@x>"), stale_after=90)
    assert upgraded.duplicate and not upgraded.running and upgraded.thread.thread == "t-old"
    store.record_sent("t-old", "<sent@frontline>")
    clock.now += 10**6
    assert not store.place(read("a@example.com", "<sent@frontline>"), stale_after=90).running


def test_one_acknowledgement_per_thread_per_day(tmp_path: pathlib.Path) -> None:
    store = ThreadStore(tmp_path)
    assert store.take_auto_reply("t1", "2025-12-01", "ack", 1)
    assert not store.take_auto_reply("t1", "2025-12-01", "ack", 1)
    assert store.take_auto_reply("t1", "2025-12-02", "ack", 1)
    assert store.take_auto_reply("t2", "2025-12-01", "ack", 1)


def test_attachments_stored_private_and_not_executable_raw_kept(tmp_path: pathlib.Path) -> None:
    store = ThreadStore(tmp_path)
    message = customer_mail("a@example.com", "pic", "see", "<p@x>")
    message.add_attachment(b"\x89PNG...", maintype="image", subtype="png", filename="../../../etc/cron.d/x.png")
    message.add_attachment(b"#!/bin/sh\nrm -rf /", maintype="application", subtype="x-sh", filename="run.sh")
    mail = read_mail(message.as_bytes())
    kept, listed = store.keep_inbound("t1", mail)
    stored = tmp_path / listed[0]["stored"]
    assert stored.parent.parent == tmp_path / "email-attachments" and stored.read_bytes().startswith(b"fernet:")
    assert store.attachment_bytes(listed[0]["stored"]) == b"\x89PNG..."  # encrypted at rest, read back whole
    mode = stat.S_IMODE(os.stat(stored).st_mode)
    assert mode == 0o600 and not mode & 0o111
    for folder in (stored.parent, stored.parent.parent):  # no other user lists the threads' files
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert "refused" in listed[1] and "stored" not in listed[1]
    assert kept == [found["id"] for found in store.inbound("t1")][0]
    assert store.inbound("t1")[0]["raw"] == mail.raw and store.inbound("t1")[0]["attachments"] == listed
