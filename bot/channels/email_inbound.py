"""Mail in: the SMTP listener (`aiosmtpd`) and the IMAP reader (`aioimaplib`), both handing each mail to
`MailTurns.receive`.

The listener accepts mail for the support address only (it relays nothing), up to twice `email.limits.max_mail_bytes`
(a larger mail gets SMTP's 552; one between the two is kept raw and not read), and answers 250 once the mail is
handled, or 451 (try again later) when it could not be, or when the same mail's turn is running now (another copy):
the sending server keeps it and retries, and the retry is handled anew (or found handled).

The reader logs in, selects the mailbox and handles every unseen mail, marking it seen once handled, until a search
finds none; then it waits with IDLE when the server offers it (re-issued every `IDLE_SECONDS`, under the 29 minutes
of RFC 2177), or polls every `email.imap_poll_seconds`. A mail whose turn is running elsewhere (`in_progress`) is
left unseen, and the reader looks again within a quarter of the time its claim takes to go stale: by then its
turn has ended (the mail is a duplicate, marked seen) or was cut (the mail gets its turn). A lost connection is
logged and retried with a growing pause.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from typing import Any, List, Optional

import aioimaplib
from aiosmtpd.smtp import SMTP, Envelope, Session

from bot.channels.email_settings import EmailSettings
from bot.channels.email_turns import IN_PROGRESS, MailTurns, claim_stale_seconds

logger = logging.getLogger(__name__)

IDLE_SECONDS = 600
RETRY_SECONDS = (1, 5, 15, 60)


class ListenerHandler:
    """aiosmtpd's handler: the support address only, then `MailTurns.receive`."""

    def __init__(self, settings: EmailSettings, turns: MailTurns) -> None:
        self.settings = settings
        self.turns = turns

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: List[str]) -> str:
        """Accept any sender, the null path of bounces (`<>`) too (kept so the turn knows it was one)."""
        envelope.mail_from = address or "<>"
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: List[str]) -> str:
        """Only the support address: the listener delivers to Frontline and relays nothing."""
        if address.strip().lower() != self.settings.address.lower():
            return "550 5.1.1 not a mailbox of this service"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Handle the mail; 250 when handled, 451 when it should be sent again later."""
        raw = envelope.original_content or b""
        mail_from = "" if envelope.mail_from == "<>" else (envelope.mail_from or "")
        try:
            outcome = await self.turns.receive(raw, envelope_sender=mail_from, source="smtp")
        except Exception:  # boundary (a mail server is waiting): Rasa or the relay failed, not the mail
            logger.error("email: an inbound mail could not be handled now; the sender was asked to retry (451)")
            logger.debug("inbound mail error", exc_info=True)
            return "451 4.3.0 temporary failure, please try again later"
        if outcome == IN_PROGRESS:  # its turn is running on another copy: the retry finds it handled, or cut
            return "451 4.3.0 this message is being handled, please try again later"
        logger.info("email: inbound mail over SMTP: %s", outcome)
        return "250 2.0.0 OK"


async def start_listener(settings: EmailSettings, turns: MailTurns) -> asyncio.AbstractServer:
    """Start the SMTP listener on `FRONTLINE_EMAIL_SMTP_LISTEN` in the running loop; return the server."""
    assert settings.listen is not None
    host, port = settings.listen
    handler = ListenerHandler(settings, turns)
    limit = settings.limits.max_mail_bytes * 2
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, data_size_limit=limit, hostname=settings.address.rpartition("@")[2] or None, timeout=120),
        host=host,
        port=port,
    )
    logger.info("email: SMTP listener on %s:%d for %s", host, port, settings.address)
    return server


def _literal(lines: List[Any]) -> Optional[bytes]:
    """The message's bytes in a FETCH answer (the one literal), or None."""
    for line in lines:
        if isinstance(line, (bytearray, memoryview)):
            return bytes(line)
    return None


class ImapReader:
    """Reads a mailbox: unseen mails handled and marked seen; IDLE or polling between rounds."""

    def __init__(self, settings: EmailSettings, turns: MailTurns) -> None:
        assert settings.imap is not None
        self.settings = settings
        self.server = settings.imap
        self.turns = turns
        self.rounds = 0  # finished rounds (tests wait on it)
        self.turn: Optional[asyncio.Future] = None  # the mail being handled
        self.pending = False  # the last round left a mail unseen whose turn was running (`IN_PROGRESS`)
        self.recheck = max(1.0, claim_stale_seconds(settings) / 4)  # then look again after at most this

    async def finish(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) for the turn a stopped reader was in."""
        if self.turn is not None and not self.turn.done():
            await asyncio.wait({self.turn}, timeout=timeout)

    async def _connect(self) -> Any:
        if self.server.security == "tls":
            client = aioimaplib.IMAP4_SSL(self.server.host, self.server.port, ssl_context=ssl.create_default_context())
        else:
            client = aioimaplib.IMAP4(self.server.host, self.server.port)
        await client.wait_hello_from_server()
        answer = await client.login(self.server.user, self.server.password)
        if answer.result != "OK":
            raise ConnectionError(f"IMAP login refused at {self.server.describe()}")
        answer = await client.select(self.server.path)
        if answer.result != "OK":
            raise ConnectionError(f"IMAP mailbox {self.server.path!r} cannot be selected")
        return client

    async def read_unseen(self, client: Any) -> int:
        """Handle every unseen mail; return how many were handled."""
        answer = await client.uid_search("UNSEEN")
        if answer.result != "OK":
            raise ConnectionError("IMAP search failed")
        uids = [uid for line in answer.lines[:1] for uid in re.findall(rb"\d+", bytes(line))]
        handled = 0
        self.pending = False
        for uid in uids:
            fetched = await client.uid("fetch", uid.decode(), "(BODY.PEEK[])")
            raw = _literal(fetched.lines) if fetched.result == "OK" else None
            if raw is None:
                logger.warning("email: IMAP mail uid %s could not be fetched", uid.decode())
                continue
            # shielded: a reader stopped in the middle of a turn (its lease lost, Rasa stopping) lets the turn end
            # (`finish`); the mail stays unseen, and the next reader finds its Message-ID recorded
            self.turn = asyncio.ensure_future(self.turns.receive(raw, envelope_sender=None, source="imap"))
            outcome = await asyncio.shield(self.turn)
            if outcome == IN_PROGRESS:  # left unseen: looked at again soon (`recheck`)
                self.pending = True
                continue
            await client.uid("store", uid.decode(), "+FLAGS", r"(\Seen)")
            logger.info("email: inbound mail over IMAP: %s", outcome)
            handled += 1
        return handled

    async def _wait(self, client: Any) -> None:
        if self.pending:
            await asyncio.sleep(self.recheck)
        elif client.has_capability("IDLE"):
            idle = await client.idle_start(timeout=IDLE_SECONDS)
            try:
                await client.wait_server_push(timeout=IDLE_SECONDS)
            except asyncio.TimeoutError:
                pass
            finally:
                client.idle_done()
                await asyncio.wait_for(idle, 30)
        else:
            await asyncio.sleep(self.settings.imap_poll_seconds)

    async def run(self) -> None:
        """Read until cancelled; reconnect after a failure."""
        failures = 0
        while True:
            client = None
            try:
                client = await self._connect()
                logger.info("email: reading %s at %s", self.server.path, self.server.describe())
                failures = 0
                while True:
                    # again until a round finds nothing: a mail arriving during a round is announced in a
                    # command's answer (aioimaplib drops it), not when IDLE starts, and would wait for IDLE's end
                    while await self.read_unseen(client):
                        pass
                    self.rounds += 1
                    await self._wait(client)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # boundary (a background reader): log, wait, reconnect
                pause = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                logger.error("email: IMAP reading at %s failed (%s); again in %d s", self.server.describe(), type(error).__name__, pause)
                logger.debug("imap error", exc_info=True)
                await asyncio.sleep(pause)
            finally:
                if client is not None:
                    try:
                        await asyncio.wait_for(client.logout(), 5)
                    except Exception:  # noqa: BLE001 - boundary: the connection may be gone already
                        pass
