"""One Rasa replica's e-mail channel in a process of its own, for the takeover test (`test_email_replicas.py`):
the real `EmailInput.start_readers` (lease in Redis, SMTP listener, IMAP reader, the thread store in
`$FRONTLINE_VAR/email.db`), with the assistant's turn replaced by a line in a file and an acknowledgement mailed
through the relay. Stopped by SIGTERM (a clean stop), or killed.

`TEST_TURNS_FILE`: where each turn is written (one JSON line: pid, subject). `TEST_LEASE_SECONDS`: the lease.
`TEST_TURN_SECONDS`: the time a stopping reader grants a turn (`email_turns.TURN_SECONDS`, 60 in production), so
a cut turn's claim goes stale within the test's seconds. The first mail whose subject holds `die-after-turn`
kills this process (SIGKILL) right after its turn, before the IMAP reader marks it seen; the first whose subject
holds `die-mid-turn` kills it in the middle of the turn (the mail placed and kept, nothing written or mailed):
the two worst moments for a takeover.

Run as `python -m tests.channels.email.reader_replica`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pathlib
import signal
import sys
import types
from typing import Any, List, Optional

from bot.channels import email_settings as config
from bot.channels import email_turns
from bot.channels.email import EmailInput
from bot.channels.email_parse import InboundMail
from bot.channels.email_threads import Thread
from bot.channels.email_turns import ACKNOWLEDGED, DUPLICATE, IN_PROGRESS, MailTurns

DIE_AFTER_TURN = "die-after-turn"
DIE_MID_TURN = "die-mid-turn"


def die_once(why: str) -> None:
    """SIGKILL this process, once per test (a replica that turned the mail again must live to be counted)."""
    died = pathlib.Path(os.environ["TEST_TURNS_FILE"] + f".{why}")
    if not died.exists():
        died.touch()
        os.kill(os.getpid(), signal.SIGKILL)


class RecordingTurns(MailTurns):
    """`MailTurns` whose turn is a line in `TEST_TURNS_FILE` and an acknowledgement by mail (no Rasa here)."""

    async def _converse(self, mail: InboundMail, thread: Thread, kept: int, attachments: List[dict]) -> str:
        if DIE_MID_TURN in mail.subject:
            die_once(DIE_MID_TURN)  # placed and kept, the turn not ended
        with open(os.environ["TEST_TURNS_FILE"], "a", encoding="utf-8") as turns:
            turns.write(json.dumps({"pid": os.getpid(), "subject": mail.subject, "thread": thread.thread}) + "\n")
            turns.flush()
            os.fsync(turns.fileno())
        await self.send_mail(thread, f"received: {mail.subject}", True)
        return ACKNOWLEDGED

    async def receive(self, raw: bytes, envelope_sender: Optional[str] = None, source: str = "smtp") -> str:
        outcome = await super().receive(raw, envelope_sender, source)
        if DIE_AFTER_TURN.encode() in raw and outcome not in (DUPLICATE, IN_PROGRESS):
            die_once(DIE_AFTER_TURN)  # the turn is done, the mail not yet marked seen
        return outcome


class Replica(EmailInput):
    def mail_turns(self, agent: Any, on_new_message: Any) -> MailTurns:
        async def send_mail(thread: Thread, text: str, auto: bool) -> None:
            from bot.channels.email import send_in_thread

            await send_in_thread(self.settings, self.store, thread, text, auto)

        return RecordingTurns(self.settings, self.store, agent, on_new_message, send_mail)


async def main() -> None:
    lease = float(os.environ["TEST_LEASE_SECONDS"])
    email_turns.TURN_SECONDS = float(os.environ.get("TEST_TURN_SECONDS", email_turns.TURN_SECONDS))
    settings = config.load(os.environ, settings={"email": {"reader_lease_seconds": lease, "imap_poll_seconds": 3600}})
    channel = Replica(settings)

    async def on_new_message(message: Any) -> None:  # never called: the turn is RecordingTurns'
        raise AssertionError("no Rasa in this process")

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await channel.start_readers(types.SimpleNamespace(ctx=types.SimpleNamespace(agent=None)), on_new_message)
    logging.getLogger(__name__).info("replica started")
    await stop.wait()
    await channel.stop_readers()
    logging.getLogger(__name__).info("stopped cleanly")


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
    asyncio.run(main())
