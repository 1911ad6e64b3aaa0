"""Which Rasa replica reads the mail: the e-mail channel's readers behind a lease.

Every Rasa replica loads the e-mail channel, but the SMTP listener has one port and the IMAP reader one mailbox:
two listeners clash on the port, and two readers handle each mail twice. So one replica at a time runs them, the
one holding the lease `frontline:email:readers:<support address>` in Redis (production mode, `bot.redis_config`).
The holder renews it every third of `email.reader_lease_seconds`; a replica that dies (kill -9) stops renewing,
the lease expires, and the next replica that asks takes the readers over within that time. A clean stop gives the
lease up at once. A replica that cannot reach Redis to renew stops its readers before its lease can have expired,
so two never read at the same time. Without Redis (one machine, one Rasa server) the one process holds it.

Readers that stop (the lease lost, Rasa stopping) let the mail turn in progress end (`TURN_SECONDS` at most)
before they go. A mail the old holder handled but had not yet marked seen is read again by the new one; the thread
store's Message-ID record (`email.db`, shared by the replicas) makes it a duplicate, not a second turn. A mail
whose turn the old holder never ended (killed in the middle of it) is read again too: its claim, no longer
touched, goes stale, and the new holder gives it its turn (`bot.channels.email_turns`). Every replica sends,
holder or not: agent replies go out from whichever replica HAProxy gives them to.

A holder that cannot bind the listener's port (another program has it) logs it and tries again every renewal,
keeping the IMAP reader running; Rasa is never stopped for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from typing import Any, Callable, List, Mapping, Optional

from redis.exceptions import RedisError

from bot.channels.email_settings import EmailSettings
from bot.channels.email_turns import TURN_SECONDS, MailTurns
from bot.redis_config import redis_settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "frontline:email:readers"
# Take or renew: the lease is ours when it is free or already ours (one round trip, no read-then-write).
HOLD_SCRIPT = """
local value = redis.call('GET', KEYS[1])
if value == false or value == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def new_holder() -> str:
    """This process's name in the lease: host and pid (what an operator reads in Redis), and a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LocalLease:
    """One machine without Redis: the one Rasa server always holds the readers."""

    holder = "this process"

    def hold(self) -> bool:
        """Always held."""
        return True

    def release(self) -> None:
        """Nothing to give up."""


class RedisLease:
    """The readers' lease in Redis, shared by every Rasa replica.

    Args:
        client: a `redis.Redis` client (with socket timeouts: a call must not hang past the lease).
        name: the key.
        holder: this process's name (`new_holder()`).
        seconds: how long a renewal lasts.
        clock: monotonic seconds (tests inject one).
    """

    def __init__(self, client: Any, name: str, holder: str, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.name = name
        self.holder = holder
        self.seconds = seconds
        self.clock = clock
        self._hold = client.register_script(HOLD_SCRIPT)
        self._release = client.register_script(RELEASE_SCRIPT)
        self._valid_until = 0.0  # our own clock's end of the last renewal that Redis confirmed

    def hold(self) -> bool:
        """Take or renew the lease; True while this process holds it. When Redis cannot be reached, the lease
        counts as held until a third of its time before its last renewal ends (then another replica may take it)."""
        asked = self.clock()
        try:
            taken = bool(self._hold(keys=[self.name], args=[self.holder, int(self.seconds * 1000)]))
        except (RedisError, OSError):  # Redis unreachable or refusing: judged by the last renewal
            logger.error("email: the readers' lease could not be renewed (Redis unreachable)")
            logger.debug("lease renewal failure", exc_info=True)
            return asked < self._valid_until - self.seconds / 3
        self._valid_until = asked + self.seconds if taken else 0.0
        return taken

    def release(self) -> None:
        """Give the lease up (only when it is still ours), so another replica takes it without waiting."""
        self._valid_until = 0.0
        try:
            self._release(keys=[self.name], args=[self.holder])
        except (RedisError, OSError):  # it expires by itself
            logger.warning("email: the readers' lease could not be given up; it expires in %.0f s", self.seconds)
            logger.debug("lease release failure", exc_info=True)


def lease_from_env(settings: EmailSettings, environ: Optional[Mapping[str, str]] = None) -> Any:
    """This process's lease: in Redis in production mode, else `LocalLease`.

    Raises:
        SettingsError: Redis settings Frontline cannot use.
    """
    redis = redis_settings(environ)
    if redis is None:
        return LocalLease()
    timeout = max(1.0, settings.reader_lease_seconds / 6)
    client = redis.client(socket_timeout=timeout, socket_connect_timeout=timeout)
    return RedisLease(client, f"{KEY_PREFIX}:{settings.address.lower()}", new_holder(), settings.reader_lease_seconds)


class Readers:
    """Runs the SMTP listener and the IMAP reader while this process holds the lease (see the module docstring).

    Args:
        settings: the channel's settings.
        turns: the handler every mail goes to.
        lease: `LocalLease` or `RedisLease`.
    """

    def __init__(self, settings: EmailSettings, turns: MailTurns, lease: Any) -> None:
        self.settings = settings
        self.turns = turns
        self.lease = lease
        self.every = max(0.2, settings.reader_lease_seconds / 3)
        self.held = False
        self._listener: Optional[asyncio.AbstractServer] = None
        self._imap: Optional[asyncio.Task] = None
        self._reader: Optional[Any] = None  # the `ImapReader` of `_imap`
        self._listen_failures = 0

    async def run(self) -> None:
        """Hold the lease and run the readers while held, a round every `every` seconds, until cancelled; then
        stop the readers and give the lease up."""
        try:
            while True:
                await self.round()
                await asyncio.sleep(self.every)
        finally:
            await self._stop()
            if self.held:
                self.held = False
                await asyncio.to_thread(self.lease.release)
                logger.info("email: the readers' lease was given up")

    async def round(self) -> None:
        """Take or renew the lease; start the readers when held, stop them when it was lost."""
        held = await asyncio.to_thread(self.lease.hold)
        if held and not self.held:
            logger.info("email: this replica (%s) reads the mail now", self.lease.holder)
        elif self.held and not held:
            logger.warning("email: the readers' lease was lost: this replica stops reading the mail")
            await self._stop()
        self.held = held
        if held:
            await self._start()

    async def _start(self) -> None:
        """Start what is configured and not running (a listener that could not bind is tried again)."""
        from bot.channels import email_inbound

        if self.settings.imap and self._imap is None:
            self._reader = email_inbound.ImapReader(self.settings, self.turns)
            self._imap = asyncio.get_running_loop().create_task(self._reader.run())
        if self.settings.listen and self._listener is None:
            try:
                self._listener = await email_inbound.start_listener(self.settings, self.turns)
                self._listen_failures = 0
            except OSError as error:
                host, port = self.settings.listen
                if self._listen_failures % max(1, int(60 / self.every)) == 0:  # once a minute, not every round
                    logger.error(
                        "email: the SMTP listener cannot listen on %s:%d (%s); trying again every %.0f s",
                        host, port, error.strerror or type(error).__name__, self.every,
                    )
                self._listen_failures += 1

    async def _stop(self) -> None:
        tasks: List[asyncio.Task] = [self._imap] if self._imap is not None else []
        listener, self._listener, self._imap = self._listener, None, None
        if listener is not None:
            listener.close()
            await listener.wait_closed()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._reader is not None:
            await self._reader.finish(TURN_SECONDS)  # a mail's turn is not cut in the middle
            self._reader = None

    @property
    def listening(self) -> bool:
        """True while the SMTP listener is bound."""
        return self._listener is not None
