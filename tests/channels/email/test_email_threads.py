"""The thread store: threading by ids and by ticket number, forged references refused, a mail seen twice handled
once, at most one acknowledgement a thread a day, attachments stored never executable."""

from __future__ import annotations

import os
import pathlib
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
    assert "refused" in listed[1] and "stored" not in listed[1]
    assert kept == [found["id"] for found in store.inbound("t1")][0]
    assert store.inbound("t1")[0]["raw"] == mail.raw and store.inbound("t1")[0]["attachments"] == listed
