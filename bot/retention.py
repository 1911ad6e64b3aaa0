"""`python -m bot purge`: apply the retention policy (`settings.yml: retention`), safe to run from cron.

After `transcripts_days` the raw conversation goes: its events are deleted from Rasa's SQL tracker store (a
session still going on at the cutoff is kept whole until it is older) and from the SQL event broker table, and
the desk forgets the conversation id of tickets closed before the cutoff and the conversations it saw. The desk
keeps its texts, which are masked (and encrypted), for reports, until `desk_text_days` when set; agent replies
of closed tickets that were never delivered are masked at once. The channels' delivery-key file
(`var/channel-keys.db`, one machine) forgets the keys and missed replies recorded before the cutoff: they hold
conversation ids, and are otherwise kept 7 days, longer than a retention of less than a week. The e-mail
channel's file (`var/email.db`, one machine) deletes each thread whose last mail, received or sent, is older than
the cutoff and whose conversation has no open ticket, with its kept raw mails and attachment files (and kept
mails of no thread received before the cutoff). The notes and tags
agents keep about a customer (`bot.desk.customers`) go when the customer has had no ticket since the cutoff. RabbitMQ is not touched: a consumed message is
gone, and a backlog holds only the events the desk has not consumed yet.

Safe from cron: one run at a time (`bot.maintenance.maintenance_lock`; a second one exits 0 saying so), each
step idempotent (a second run deletes nothing), short transactions, and one summary line on exit 0. Times are
`bot.clock.now()` (`FRONTLINE_NOW` pins it).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import sys
from typing import Any, Mapping, Optional

from bot.settings import SettingsError, load_settings

logger = logging.getLogger(__name__)

DAY = 86400.0
DEFAULT_TRANSCRIPTS_DAYS = 180


@dataclasses.dataclass(frozen=True)
class RetentionPolicy:
    """The `retention` settings.

    Attributes:
        transcripts_days: days the raw conversation is kept (tracker store, broker table, desk conversation ids).
        desk_text_days: days the desk keeps a closed ticket's masked texts; None keeps them.
    """

    transcripts_days: int = DEFAULT_TRANSCRIPTS_DAYS
    desk_text_days: Optional[int] = None

    @classmethod
    def from_settings(cls, settings: Optional[Mapping[str, Any]] = None) -> "RetentionPolicy":
        """The policy of the `retention` section (the defaults when it is missing).

        Raises:
            SettingsError: a value is not a whole number of days (at least 1; `desk_text_days` may be null).
        """
        section = (settings if settings is not None else load_settings()).get("retention")
        if section is None:
            return cls()
        if not isinstance(section, dict):
            raise SettingsError("settings: 'retention' must be a mapping")
        unknown = sorted(set(section) - {"transcripts_days", "desk_text_days"})
        if unknown:
            raise SettingsError(f"settings: 'retention.{unknown[0]}' is not a retention setting")
        transcripts = section.get("transcripts_days", DEFAULT_TRANSCRIPTS_DAYS)
        desk_text = section.get("desk_text_days")
        for key, value, optional in (("transcripts_days", transcripts, False), ("desk_text_days", desk_text, True)):
            if optional and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                allowed = " or null" if optional else ""
                raise SettingsError(f"settings: 'retention.{key}' must be a whole number of days >= 1{allowed}, got {value!r}")
        return cls(transcripts_days=transcripts, desk_text_days=desk_text)


@dataclasses.dataclass
class PurgeReport:
    """What one purge run did (counts)."""

    tracker_events: int = 0
    broker_events: int = 0
    tickets_forgotten: int = 0
    conversations_forgotten: int = 0
    tickets_texts_purged: int = 0
    replies_masked: int = 0
    feed_events: int = 0
    delivery_keys: int = 0
    customer_notes: int = 0
    mails: int = 0
    mail_threads: int = 0
    mail_files: int = 0

    @property
    def changed(self) -> int:
        """Everything deleted or rewritten."""
        return sum(dataclasses.astuple(self))

    def summary(self, policy: RetentionPolicy, cutoff: float) -> str:
        """The one line a run prints."""
        day = dt.datetime.fromtimestamp(cutoff, dt.timezone.utc).date().isoformat()
        texts = f", {self.tickets_texts_purged} closed tickets' texts" if policy.desk_text_days else ""
        return (
            f"purge: raw conversations before {day} ({policy.transcripts_days} days): deleted "
            f"{self.tracker_events} tracker store events and {self.broker_events} broker events; the desk forgot "
            f"{self.tickets_forgotten} tickets' conversation ids and {self.conversations_forgotten} conversations"
            f"{texts}; {self.replies_masked} undelivered replies masked; {self.feed_events} console feed events deleted"
            f"; {self.delivery_keys} channel delivery keys deleted; {self.customer_notes} customer notes and tags of "
            f"customers with no ticket since deleted; {self.mails} kept mails, {self.mail_threads} e-mail threads "
            f"and {self.mail_files} attachment files deleted"
        )


def purge(stores: Any, policy: RetentionPolicy, now: float) -> PurgeReport:
    """Apply the policy to the stores (`bot.maintenance.Stores`) as of `now` (epoch seconds)."""
    from bot.handoff.masking import mask

    report = PurgeReport()
    cutoff = now - policy.transcripts_days * DAY
    if stores.tracker is not None:
        report.tracker_events = stores.tracker.purge_before(cutoff)
    if stores.broker is not None:
        report.broker_events = stores.broker.purge_before(cutoff)
    if stores.channel_keys is not None:
        report.delivery_keys = stores.channel_keys.purge_before(cutoff)
    if stores.mail is not None:
        desk = stores.desk
        # A thread with an open ticket stays; without the desk's database here, so does every thread with a ticket.
        if desk is not None:
            def has_open_ticket(conversation: str) -> bool:
                return desk.open_ticket_for(conversation) is not None
        else:
            def has_open_ticket(conversation: str) -> bool:
                thread = stores.mail.thread(conversation.split(":", 1)[1])
                return thread is not None and thread.ticket is not None
        done = stores.mail.purge_before(cutoff, has_open_ticket)
        report.mails, report.mail_threads, report.mail_files = done.mails, done.threads, done.files
    if stores.desk is not None:
        desk = stores.desk
        report.tickets_forgotten, report.conversations_forgotten = desk.forget_conversations(cutoff, cutoff)
        report.feed_events = desk.trim_feed_before(cutoff)  # kept an hour as a rule; never past retention
        report.customer_notes = desk.purge_customer_notes(cutoff)  # notes of customers with no ticket since
        if policy.desk_text_days is not None:
            report.tickets_texts_purged = desk.purge_texts(now - policy.desk_text_days * DAY)
        for message in desk.undelivered_replies():
            masked = mask(message.text)
            if masked != message.text:
                desk.set_message_status(message.id, message.status, text=masked)
                report.replies_masked += 1
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m bot purge` (none: the policy is in settings.yml)."""
    parser.description = __doc__


def main(args: argparse.Namespace) -> int:
    """`python -m bot purge`: apply the retention policy; one summary line; 0 unless something is wrong."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from bot import clock
    from bot.data_keys import DataKeyError
    from bot.maintenance import Stores, maintenance_lock

    try:
        policy = RetentionPolicy.from_settings()
        stores = Stores.open()
    except (SettingsError, DataKeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        with maintenance_lock(stores.desk_url) as held:
            if not held:
                print("purge: another purge or rekey is running; nothing done")
                return 0
            now = clock.now().timestamp()
            report = purge(stores, policy, now)
        print(report.summary(policy, now - policy.transcripts_days * DAY))
        return 0
    except DataKeyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        stores.close()
