"""Real mail servers on loopback for the e-mail tests: an aiosmtpd relay that keeps what it is given, and the
self-signed certificate the TLS tests' servers (the relay, Dovecot) present and the client is told to trust."""

from __future__ import annotations

import email
import email.policy
import pathlib
import smtplib
import ssl
import subprocess
import threading
import time
from email.message import EmailMessage, Message
from typing import Any, Callable, Dict, List, Optional

from aiosmtpd.controller import Controller

from bot.devtools import free_port

SUPPORT = "support@frontline.test"


class Relay:
    """An SMTP relay on loopback (aiosmtpd in its own thread) keeping each mail it accepts."""

    def __init__(self, **smtp_options: Any) -> None:
        self.mails: List[Message] = []
        self.envelopes: List[Any] = []
        self._changed = threading.Condition()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **smtp_options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._changed:
            self.envelopes.append(envelope)
            self.mails.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
            self._changed.notify_all()
        return "250 OK"

    def start(self) -> "Relay":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait_for(self, test: Callable[[Message], bool], timeout: float = 60.0) -> Message:
        """The first mail kept that passes `test`, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for mail in self.mails:
                    if test(mail):
                        return mail
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no such mail among {[m['Subject'] for m in self.mails]}")
                self._changed.wait(left)

    def to(self, address: str) -> List[Message]:
        with self._changed:
            return [m for m in self.mails if m["To"] == address]


def self_signed(folder: pathlib.Path) -> pathlib.Path:
    """Write a certificate for 127.0.0.1 (`cert.pem`) and its key (`key.pem`) into `folder`; return `folder`. A
    client trusts it with `SSL_CERT_FILE=<folder>/cert.pem`."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True, capture_output=True,
    )
    return folder


def tls_context(folder: pathlib.Path) -> ssl.SSLContext:
    """A server's TLS context with the certificate of `self_signed(folder)`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def customer_mail(
    sender: str, subject: str, body: str, message_id: str, in_reply_to: Optional[str] = None,
    references: Optional[str] = None, **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = SUPPORT
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def deliver(port: int, message: EmailMessage, mail_from: Optional[str] = None) -> None:
    """Send a mail to the listener as a forwarding mail server would."""
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        client.send_message(message, from_addr=mail_from if mail_from is not None else message["From"], to_addrs=[SUPPORT])


def body_of(message: Message) -> str:
    return message.get_body(("plain",)).get_content()


def conversation_of(mail_stack: Dict[str, Any], message_id: str) -> str:
    """The Rasa conversation (`email:<thread>`) of the mail `message_id`, from the stack's mail store."""
    import sqlite3

    db = sqlite3.connect(str(mail_stack["var"] / "email.db"))
    (thread,) = db.execute("SELECT thread FROM messages WHERE message_id=?", (message_id,)).fetchone()
    return f"email:{thread}"
