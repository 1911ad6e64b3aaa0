"""Mail out: one reply in a thread, with the headers that keep it one thread in the customer's mail program, sent
through the relay of `FRONTLINE_SMTP_URL` (plain, STARTTLS or TLS; with a login when the URL has one).

The standard library's `smtplib` runs in a worker thread: one reply at a time is all a support address sends.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Optional

from bot.channels.email_parse import clean_subject
from bot.channels.email_settings import ServerUrl
from bot.channels.email_threads import Thread

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20.0


CHANNEL = "email"


class MailNotSent(RuntimeError):
    """The relay refused the reply or could not be reached; nothing was sent."""


def not_sent(why: str) -> MailNotSent:
    """The error for a mail that could not be sent, counted as the channel's delivery failure (the Rasa server's
    `frontline_rasa_delivery_failures_total{channel="email"}`, as WeChat's failed sends are)."""
    from bot.servers.rasa_metrics import rasa_meters

    rasa_meters().delivery_failed(CHANNEL)
    return MailNotSent(why)


def reply_subject(subject: str, ticket: Optional[str]) -> str:
    """`Re: <the customer's subject> [T-000123]` (the ticket tag is the threading fallback)."""
    base = clean_subject(subject) or "…"
    return f"Re: {base} [{ticket}]" if ticket else f"Re: {base}"


def build_reply(thread: Thread, text: str, sender: str, auto: bool) -> EmailMessage:
    """The reply mail in `thread`: To the customer, `In-Reply-To` the thread's latest mail, `References` its ids,
    a new `Message-ID` on the support address's domain.

    Args:
        thread: the thread (customer, subject, ids, ticket).
        text: the reply's text.
        sender: the support address.
        auto: an automatic answer (acknowledgement, FAQ answer): marked `Auto-Submitted: auto-replied` (RFC 3834)
            so well-behaved auto-responders do not answer it.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = thread.customer
    message["Subject"] = reply_subject(thread.subject, thread.ticket)
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2] or None)
    if thread.last_message_id:
        message["In-Reply-To"] = thread.last_message_id
    if thread.references:
        message["References"] = " ".join(thread.references)
    if auto:
        message["Auto-Submitted"] = "auto-replied"
    message.set_content(text)
    return message


def _send_blocking(server: ServerUrl, message: EmailMessage, envelope_from: str) -> None:
    context = ssl.create_default_context()
    if server.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT_SECONDS, context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)
    with client:
        client.ehlo()
        if server.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if server.user:
            client.login(server.user, server.password)
        client.send_message(message, from_addr=envelope_from)


async def send(server: ServerUrl, message: EmailMessage, envelope_from: str) -> None:
    """Send one mail through the relay.

    Raises:
        MailNotSent: the relay refused it, or could not be reached (logged without the login, counted).
    """
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, functools.partial(_send_blocking, server, message, envelope_from))
    except (smtplib.SMTPException, OSError, ssl.SSLError) as error:
        logger.error("email: the relay %s did not take a reply: %s", server.describe(), type(error).__name__)
        logger.debug("smtp error", exc_info=True)
        raise not_sent(f"the mail relay {server.describe()} did not take the reply ({type(error).__name__})") from error
