"""Mails as the e-mail channel keeps them, for the desk's tests of attachments and kept raw mails: real MIME mails
read by `read_mail` and kept by a real `ThreadStore` in a var folder (what the Rasa server writes), and the
context packet of the ticket such a mail opens."""

from __future__ import annotations

import datetime as dt
import pathlib
import time
from email.message import EmailMessage
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bot.channels.email_parse import MailLimits, read_mail
from bot.channels.email_threads import ThreadStore
from tests.desk.conftest import build_packet

SUPPORT = "support@frontline.test"
# An operator who let HTML and SVG attachments be kept: the desk must still never serve them as a page.
LIMITS = MailLimits(attachment_types=MailLimits().attachment_types + ("text/html", "image/svg+xml"))
NOTES = ("notes.txt", "text/plain", "订单号 12345\n".encode())
PAGE = ("page.html", "text/html", b"<html><body><script>document.title='pwned'</script>hi</body></html>")
PICTURE = ("photo.svg", "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
PROGRAM = ("setup.exe", "application/x-msdownload", b"MZ\x90\x00not really")  # listed, never stored
# The time of the customer's line in `build_packet`'s transcript (the mail that opened the ticket).
TRANSCRIPT_AT = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc).timestamp()

File = Tuple[str, str, bytes]


def mime_mail(sender: str, message_id: str, files: Sequence[File], text: str = "我的订单呢",
              in_reply_to: Optional[str] = None) -> bytes:
    """A customer's mail with these attachments (name, content type, bytes); `in_reply_to`: a mail of the thread."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = SUPPORT
    message["Subject"] = "订单问题"
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    message.set_content(text)
    for filename, content_type, data in files:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def keep_mail(var: pathlib.Path, raw: bytes, at: Optional[float] = None) -> Tuple[str, List[Dict[str, Any]]]:
    """Keep a mail as the channel does (thread it, keep it raw, store its attachments) in `var`; return its
    thread and the attachments as listed in the message metadata."""
    store = ThreadStore(var, clock=(lambda: at) if at is not None else time.time)
    try:
        mail = read_mail(raw, LIMITS)
        thread = store.place(mail).thread.thread
        return thread, store.keep_inbound(thread, mail)[1]
    finally:
        store.close()


def kept_ids(var: pathlib.Path, thread: str) -> List[int]:
    """The ids of the thread's kept mails, oldest first (what the channel puts in each message's metadata)."""
    store = ThreadStore(var)
    try:
        return [mail["id"] for mail in store.inbound(thread)]
    finally:
        store.close()


def email_packet(thread: str, topic: str = "faq_order_status", **overrides: Any) -> Dict[str, Any]:
    """The context packet of the ticket a mail of `thread` opens (`email:<thread>`; orders: alice's skill)."""
    return build_packet(f"email:{thread}", channel="email", topic=topic, **overrides)
