"""The e-mail channel: `bot.channels.email.EmailInput`, named `email`.

Mail comes in through an SMTP listener (`FRONTLINE_EMAIL_SMTP_LISTEN`, for a mail server that forwards to
Frontline) and from a mailbox over IMAP (`FRONTLINE_IMAP_URL`, IDLE where the server has it); replies go out
through a relay (`FRONTLINE_SMTP_URL`). The channel is off when none is set (`GET /webhooks/email/` says so).
Both readers run inside the Rasa server (started with it, stopped with it; with several replicas, in the one
holding the readers' lease: `bot.channels.email_readers`) and hand each mail to
`bot.channels.email_turns.MailTurns`. See `docs/channels.md`.

A thread is a conversation `email:<thread>`; the desk's replies on it (Rasa's HTTP API with
`output_channel=email`) go out by `EmailOutput`: To the customer, in the thread, once per delivery key.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import conversations
from bot.channels import delivery_keys, email_smtp
from bot.channels import email_settings as config
from bot.channels.delivery_keys import DeliveryKeys, delivery_key
from bot.channels.email_threads import Thread, ThreadStore
from bot.channels.email_turns import MailTurns
from bot.channels.numbered import button_lines

logger = logging.getLogger(__name__)

CHANNEL = "email"


class EmailOutput(OutputChannel):
    """Sends the desk's messages on an e-mail thread (agent replies, the survey, the hand-back line).

    Args:
        settings: the channel's settings (support address, relay).
        store: the thread store (who the customer is, which ids to cite).
        keys: delivery keys: a keyed message is sent once, whatever the retries.
    """

    def __init__(self, settings: config.EmailSettings, store: ThreadStore, keys: Optional[DeliveryKeys] = None) -> None:
        self.settings = settings
        self.store = store
        self.keys = keys

    @classmethod
    def name(cls) -> str:
        """The channel name."""
        return CHANNEL

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        """Send one message of the conversation `recipient_id` (`email:<thread>`) as a mail in its thread; a
        queue-position update is not mailed (a mail per place in the line would be spam).

        Raises:
            ForeignConversation: not an e-mail conversation.
            MailNotSent: no relay configured, an unknown thread, or the relay refused it.
        """
        thread_id = conversations.raw_id(recipient_id, CHANNEL)
        if message.get("queue") is not None:
            logger.debug("email: queue update of %s not mailed", thread_id)
            return
        text = message.get("text") or ""
        buttons = message.get("buttons") or message.get("quick_replies") or []
        if buttons:
            text = "\n".join([text] + button_lines(buttons))  # the survey's lines carry their own numbers
        if not text.strip():
            return

        async def send() -> None:
            await self.send_text(thread_id, text, auto=False)

        if self.keys is not None and delivery_key(message) is not None:
            await self.keys.send_once(recipient_id, message, send)
        else:
            await send()

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Send a text as a mail in the thread (`recipient_id` is the thread id)."""
        await self.send_text(recipient_id, text, auto=False)

    async def send_text(self, thread_id: str, text: str, auto: bool) -> None:
        """Send `text` in a thread, citing its ids, and remember the mail sent.

        Raises:
            MailNotSent: no relay configured, an unknown thread, or the relay refused it.
        """
        thread = self.store.thread(thread_id)
        if thread is None:
            raise email_smtp.not_sent(f"no e-mail thread {thread_id}")
        await send_in_thread(self.settings, self.store, thread, text, auto)


async def send_in_thread(settings: config.EmailSettings, store: ThreadStore, thread: Thread, text: str, auto: bool) -> None:
    """Build and send one reply in `thread`, then record its Message-ID in the thread.

    Raises:
        MailNotSent: no relay configured, or the relay refused it.
    """
    if settings.smtp is None:
        logger.error("email: %s is not set: a reply in thread %s cannot be sent", config.SMTP_ENV, thread.thread)
        raise email_smtp.not_sent(f"{config.SMTP_ENV} is not set: e-mail replies cannot be sent")
    message = email_smtp.build_reply(thread, text, settings.address, auto)
    await email_smtp.send(settings.smtp, message, settings.address)
    store.record_sent(thread.thread, message["Message-ID"])
    logger.info("email: reply sent in thread %s (%s)", thread.thread, "automatic" if auto else "from the desk")


class EmailInput(InputChannel):
    """The e-mail channel (see the module docstring).

    Args:
        settings: the channel's settings (`from_credentials` reads them from the environment and settings.yml).
    """

    @classmethod
    def name(cls) -> str:
        """Return the channel name (URL prefix and `output_channel=` value)."""
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        """Build the channel from its `credentials.yml` section (values `${FRONTLINE_…}`)."""
        if not credentials:
            cls.raise_missing_credentials_exception()
        environ = {
            config.ADDRESS_ENV: str(credentials.get("address") or ""),
            config.IMAP_ENV: str(credentials.get("imap_url") or ""),
            config.LISTEN_ENV: str(credentials.get("smtp_listen") or ""),
            config.SMTP_ENV: str(credentials.get("smtp_url") or ""),
        }
        return cls(config.load(environ))

    def __init__(self, settings: config.EmailSettings, store: Optional[ThreadStore] = None) -> None:
        self.settings = settings
        self._store = store
        self.keys: Optional[DeliveryKeys] = None
        self.turns: Optional[MailTurns] = None
        self.readers: Optional[Any] = None  # `email_readers.Readers` once started
        self._tasks: List[asyncio.Task] = []

    @property
    def store(self) -> ThreadStore:
        """The thread store (opened on first use, under `$FRONTLINE_VAR`)."""
        if self._store is None:
            from bot.settings import var_dir

            self._store = ThreadStore(var_dir())
        return self._store

    def get_output_channel(self) -> Optional[OutputChannel]:
        """The output for the desk's messages (Rasa's HTTP API with `output_channel=email`)."""
        if self.keys is None:
            self.keys = delivery_keys.from_env()
        return EmailOutput(self.settings, self.store, self.keys)

    def mail_turns(self, agent: Callable[[], Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> MailTurns:
        """The handler of inbound mails for this channel."""

        async def send_mail(thread: Thread, text: str, auto: bool) -> None:
            await send_in_thread(self.settings, self.store, thread, text, auto)

        return MailTurns(self.settings, self.store, agent, on_new_message, send_mail)

    async def start_readers(self, app: Any, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Run the SMTP listener and the IMAP reader that are configured, while this replica holds the readers'
        lease (`bot.channels.email_readers`: one replica at a time reads the mail)."""
        from bot.channels import email_readers

        self.turns = self.mail_turns(lambda: app.ctx.agent, on_new_message)
        self.readers = email_readers.Readers(self.settings, self.turns, email_readers.lease_from_env(self.settings))
        await self.readers.round()  # the first round before the server answers: a lone replica listens at once
        self._tasks.append(asyncio.get_running_loop().create_task(self.readers.run()))

    async def stop_readers(self) -> None:
        """Stop what `start_readers` started (the lease is given up)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The `email_webhook` blueprint: `GET /` health; the readers start and stop with the server."""
        hook = Blueprint(f"{self.name()}_webhook", __name__)
        if not self.settings.enabled:
            logger.info("email channel off (set %s or %s to turn it on)", config.LISTEN_ENV, config.IMAP_ENV)

        @hook.listener("after_server_start")
        async def start(app: Any, _: Any) -> None:
            if self.settings.enabled:
                await self.start_readers(app, on_new_message)

        @hook.listener("before_server_stop")
        async def stop(app: Any, _: Any) -> None:
            await self.stop_readers()

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json(
                {
                    "status": "ok",
                    "configured": self.settings.enabled,
                    "smtp_listener": bool(self.settings.listen),
                    "imap": bool(self.settings.imap),
                    "reading": bool(self.readers is not None and self.readers.held),  # this replica holds the readers
                    "can_send": self.settings.smtp is not None,
                }
            )

        return hook
