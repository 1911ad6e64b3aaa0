"""The e-mail channel's memory: which thread a mail belongs to, what was sent in it, what a mail brought.

One SQLite file, `$FRONTLINE_VAR/email.db` (the Rasa server holds it; the desk sees mails through their tickets):
- `messages`: every Message-ID seen or sent, with its thread (a mail seen twice is not a second turn), and for an
  inbound mail whose turn has not ended, when that turn last showed it was alive (`claimed_at`, see `place`);
- `threads`: a thread's customer address, subject, ticket number and the ids the next reply must cite;
- `auto_replies`: automatic answers sent per thread and day (at most one acknowledgement a day: no mail loops);
- `inbound`: each received mail, raw and size-limited, with what could not be read, for an agent to see.

Attachments that pass the limits are written under `$FRONTLINE_VAR/email-attachments/<thread>/` with a name
Frontline makes (never the sender's path or name), readable only by this user and never executable.

At rest, the kept raw mails (`inbound.raw`), what each brought (`inbound.attachments`: the senders' file
names) and what could not be read (`inbound.problems`), and the attachment files are encrypted with the data keys
(`bot.data_keys`, the one cipher of every store; bytes in the form `fernet:<token>`): a copied `email.db` or
attachments folder reveals no mail. Mails and files kept before this version are read as they are until
`python -m bot rekey` encrypts them (`rekey`). `python -m bot purge` deletes a thread past the retention with its
kept mails and files (`purge_before`). The file runs with `secure_delete`, so a purged or re-encrypted row is
zeroed in it.

A conversation is `email:<thread>` (`bot.conversations`); the thread id is made from the first mail's Message-ID.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import pathlib
import re
import secrets
import sqlite3
import shutil
import tempfile
import threading
import time
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from bot import data_keys
from bot.channels.email_parse import Attachment, InboundMail

logger = logging.getLogger(__name__)

DB_FILE = "email.db"
ATTACHMENTS_DIR = "email-attachments"
# A thread keeps at most this many ids in the References of our replies (mail programs cut long lists too).
MAX_REFERENCES = 20

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (message_id TEXT PRIMARY KEY, thread TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS threads (
    thread TEXT PRIMARY KEY, customer TEXT NOT NULL, subject TEXT NOT NULL, last_message_id TEXT,
    refs TEXT NOT NULL DEFAULT '[]', ticket TEXT, language TEXT, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS threads_ticket ON threads (ticket);
CREATE TABLE IF NOT EXISTS auto_replies (
    thread TEXT NOT NULL, day TEXT NOT NULL, kind TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (thread, day, kind));
CREATE TABLE IF NOT EXISTS inbound (
    id INTEGER PRIMARY KEY AUTOINCREMENT, thread TEXT, message_id TEXT, received_at REAL NOT NULL,
    raw BLOB NOT NULL, raw_size INTEGER NOT NULL, problems TEXT NOT NULL, attachments TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS inbound_thread ON inbound (thread);
CREATE INDEX IF NOT EXISTS messages_thread ON messages (thread);
"""
# Added after the first version: the kept raw bytes' length (`raw` holds them encrypted, longer). NULL on rows
# kept before it (their `raw` is plain: its length is right).
KEPT_COLUMN = "ALTER TABLE inbound ADD COLUMN kept INTEGER"
# Added after the first version: an inbound mail's claim, the last time its turn was alive (placed, then touched);
# NULL once the turn ended. Rows from before it (and the ids of mails we sent) are NULL: handled.
CLAIM_COLUMN = "ALTER TABLE messages ADD COLUMN claimed_at REAL"


@dataclasses.dataclass(frozen=True)
class MailPurge:
    """What `ThreadStore.purge_before` deleted: kept mails, threads and attachment files."""

    mails: int = 0
    threads: int = 0
    files: int = 0


@dataclasses.dataclass(frozen=True)
class Thread:
    """One e-mail thread: a conversation `email:<thread>`."""

    thread: str
    customer: str
    subject: str
    last_message_id: Optional[str]
    references: List[str]
    ticket: Optional[str]
    language: Optional[str]


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a mail goes: its thread, whether that thread is new, and whether the mail was seen before.

    `duplicate`: no turn for this copy, either because the mail's turn ended (handled) or because it is running
    now (`running`: another copy, SMTP and IMAP at once; the copy's source should offer it again later). `again`:
    the mail was placed before and its turn was cut (its claim went stale): this copy is its turn, in its thread.
    """

    thread: Thread
    new: bool
    duplicate: bool
    note: Optional[str] = None  # why a mail citing a thread was not put in it (a forged or foreign reference)
    running: bool = False
    again: bool = False
    cut_ago: float = 0.0  # with `again`: seconds since the cut turn last showed it was alive


def thread_id_for(message_id: Optional[str]) -> str:
    """The id of a thread its first mail starts (from its Message-ID; random when it has none)."""
    seed = message_id or secrets.token_hex(16)
    return hashlib.sha256(seed.encode("utf-8", "replace")).hexdigest()[:20]


class ThreadStore:
    """The SQLite memory of the e-mail channel (see the module docstring).

    Args:
        folder: where `email.db` and the attachments go (`$FRONTLINE_VAR`).
        clock: seconds since the epoch (tests pin it).

    Raises:
        DataKeyError: no data key (production mode without `FRONTLINE_DATA_KEYS`): the channel does not start.
    """

    def __init__(self, folder: pathlib.Path, clock=time.time) -> None:
        self.folder = pathlib.Path(folder)
        self.cipher = data_keys.cipher()  # fail at start-up, not at the first mail
        self.folder.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.folder / DB_FILE), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")  # the maintenance commands open the file beside the channel
        self._db.execute("PRAGMA secure_delete=ON")  # a purged or re-encrypted mail is zeroed, not left in free pages
        self._db.executescript(SCHEMA)
        self._add_column("inbound", "kept", KEPT_COLUMN)
        self._add_column("messages", "claimed_at", CLAIM_COLUMN)

    def _add_column(self, table: str, column: str, statement: str) -> None:
        """Upgrade a file made by an earlier version (a column it lacks)."""
        if column not in {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}:
            try:
                self._db.execute(statement)
            except sqlite3.OperationalError:  # another process added it first
                pass

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    # -- threads ----------------------------------------------------------------------------------------------
    def _thread(self, thread: str) -> Optional[Thread]:
        row = self._db.execute(
            "SELECT thread, customer, subject, last_message_id, refs, ticket, language FROM threads WHERE thread=?",
            (thread,),
        ).fetchone()
        if row is None:
            return None
        return Thread(row[0], row[1], row[2], row[3], json.loads(row[4] or "[]"), row[5], row[6])

    def thread(self, thread: str) -> Optional[Thread]:
        """A thread by id, or None."""
        with self._lock:
            return self._thread(thread)

    def place(self, mail: InboundMail, stale_after: float = float("inf")) -> Placement:
        """Find the thread of an inbound mail, or start one; record the mail's id in it, claimed for its turn.

        A mail joins a thread by the ids it cites (`In-Reply-To`, `References`), else by the ticket number in its
        subject, and only when it comes from that thread's customer: a mail citing another customer's thread
        (a forged header, a forwarded mail) starts its own thread, with a `note` saying so.

        A mail's id counts as handled only once its turn ended (`finish_message`); until then its claim holds the
        last time the turn was alive (`touch_message`). Found again, a handled mail is a `duplicate`; a claimed
        one is `running` (no second turn: the copy is offered again later), unless its claim is older than
        `stale_after` seconds: its turn was cut (the replica reading it was killed), and this copy takes the
        claim over (a conditional update: one copy wins) and is the mail's turn (`again`), in its thread.
        """
        with self._lock:
            now = self.clock()
            if mail.message_id:
                seen = self._db.execute(
                    "SELECT thread, claimed_at FROM messages WHERE message_id=?", (mail.message_id,)
                ).fetchone()
                if seen is not None:
                    existing = self._thread(seen[0])
                    if existing is not None:
                        return self._seen_again(existing, mail.message_id, seen[1], now, stale_after)
            found, note = self._find(mail)
            if found is None:
                found = Thread(thread_id_for(mail.message_id), mail.sender, mail.subject[:300], None, [], None, None)
                self._db.execute(
                    "INSERT OR IGNORE INTO threads (thread, customer, subject, refs, created_at) VALUES (?, ?, ?, '[]', ?)",
                    (found.thread, found.customer, found.subject, now),
                )
                new = True
            else:
                new = False
            if mail.message_id:
                placed = self._db.execute(
                    "INSERT OR IGNORE INTO messages (message_id, thread, at, claimed_at) VALUES (?, ?, ?, ?)",
                    (mail.message_id, found.thread, now, now),
                ).rowcount
                if not placed:  # another process placed it a moment ago: its turn is running
                    return Placement(found, new=False, duplicate=True, running=True)
                refs = (found.references + [mail.message_id])[-MAX_REFERENCES:]
                self._db.execute(
                    "UPDATE threads SET last_message_id=?, refs=? WHERE thread=?",
                    (mail.message_id, json.dumps(refs), found.thread),
                )
            return Placement(self._thread(found.thread) or found, new=new, duplicate=False, note=note)

    def _seen_again(
        self, thread: Thread, message_id: str, claimed_at: Optional[float], now: float, stale_after: float
    ) -> Placement:
        """A mail whose id is recorded: handled, running, or cut and taken over by this copy (see `place`)."""
        if claimed_at is None:
            return Placement(thread, new=False, duplicate=True)
        if now - claimed_at <= stale_after:
            return Placement(thread, new=False, duplicate=True, running=True)
        taken = self._db.execute(
            "UPDATE messages SET claimed_at=? WHERE message_id=? AND claimed_at=?", (now, message_id, claimed_at)
        ).rowcount
        if not taken:  # another copy took it over first
            return Placement(thread, new=False, duplicate=True, running=True)
        return Placement(thread, new=False, duplicate=False, again=True, cut_ago=now - claimed_at)

    def _find(self, mail: InboundMail) -> tuple:
        cited = list(dict.fromkeys(mail.in_reply_to + list(reversed(mail.references))))
        candidates: List[str] = []
        if cited:
            marks = ",".join("?" * len(cited))
            rows = self._db.execute(f"SELECT DISTINCT thread FROM messages WHERE message_id IN ({marks})", cited)
            candidates.extend(row[0] for row in rows)
        code = mail.ticket_code
        if code:
            candidates.extend(row[0] for row in self._db.execute("SELECT thread FROM threads WHERE ticket=?", (code,)))
        note = None
        for candidate in dict.fromkeys(candidates):
            thread = self._thread(candidate)
            if thread is None:
                continue
            if thread.customer == mail.sender:
                return thread, None
            note = "the mail cites another customer's thread (forged or forwarded): a new thread was started"
        return None, note

    def touch_message(self, message_id: str) -> None:
        """Renew the claim of a mail whose turn is running (it is alive: not stale)."""
        with self._lock:
            self._db.execute(
                "UPDATE messages SET claimed_at=? WHERE message_id=? AND claimed_at IS NOT NULL",
                (self.clock(), message_id),
            )

    def finish_message(self, message_id: str) -> None:
        """The mail's turn ended: its id counts as handled (a copy found later is a duplicate)."""
        with self._lock:
            self._db.execute("UPDATE messages SET claimed_at=NULL WHERE message_id=?", (message_id,))

    def forget_message(self, message_id: str) -> None:
        """Forget an inbound mail's id (it could not be handled): the same mail sent again is handled anew."""
        with self._lock:
            self._db.execute("DELETE FROM messages WHERE message_id=?", (message_id,))

    def record_sent(self, thread: str, message_id: str) -> None:
        """Remember a mail we sent in a thread: a reply citing it lands there, and the next reply cites it."""
        with self._lock:
            current = self._thread(thread)
            if current is None:
                return
            refs = (current.references + [message_id])[-MAX_REFERENCES:]
            self._db.execute(
                "INSERT OR IGNORE INTO messages (message_id, thread, at) VALUES (?, ?, ?)", (message_id, thread, self.clock())
            )
            self._db.execute(
                "UPDATE threads SET last_message_id=?, refs=? WHERE thread=?", (message_id, json.dumps(refs), thread)
            )

    def set_ticket(self, thread: str, ticket: str) -> None:
        """Remember the ticket of a thread (the subject tag of replies, and the threading fallback)."""
        with self._lock:
            self._db.execute("UPDATE threads SET ticket=? WHERE thread=?", (ticket, thread))

    def set_language(self, thread: str, language: str) -> None:
        """Remember the customer's language in a thread (the desk's replies are wrapped in it)."""
        with self._lock:
            self._db.execute("UPDATE threads SET language=? WHERE thread=?", (language, thread))

    # -- loop guard -------------------------------------------------------------------------------------------
    def take_auto_reply(self, thread: str, day: str, kind: str, per_day: int) -> bool:
        """Count one automatic answer of `kind` in a thread on `day`; False (nothing counted) when `per_day` were
        already sent: at most one acknowledgement a thread a day, so two auto-responders never loop."""
        with self._lock:
            row = self._db.execute(
                "SELECT count FROM auto_replies WHERE thread=? AND day=? AND kind=?", (thread, day, kind)
            ).fetchone()
            if row is not None and row[0] >= per_day:
                return False
            self._db.execute(
                "INSERT INTO auto_replies (thread, day, kind, count) VALUES (?, ?, ?, 1) "
                "ON CONFLICT (thread, day, kind) DO UPDATE SET count = count + 1",
                (thread, day, kind),
            )
            return True

    # -- what a mail brought ----------------------------------------------------------------------------------
    def keep_inbound(self, thread: Optional[str], mail: InboundMail) -> Tuple[int, List[dict]]:
        """Keep the raw mail (size-limited) and store the attachments that passed the limits, both encrypted.

        Returns:
            The kept mail's id (the desk's mail id: the message it came with carries it, so the console shows
            its files under that message), and one dict per attachment: `filename`, `content_type`, `size`, and
            `stored` (its path under the var folder) or `refused` (why it was not kept).
        """
        listed = [self._store_attachment(thread or "unthreaded", index, item) for index, item in enumerate(mail.attachments)]
        raw = self.cipher.encrypt_bytes(mail.raw) if mail.raw else b""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO inbound (thread, message_id, received_at, raw, raw_size, problems, attachments, kept) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (thread, mail.message_id, self.clock(), raw, mail.raw_size, self.cipher.dumps(mail.problems),
                 self.cipher.dumps(listed), len(mail.raw or b"")),
            )
        return int(cursor.lastrowid), listed

    def kept_mail(self, thread: str, message_id: str) -> Optional[Tuple[int, List[dict]]]:
        """The id and attachment list of a mail already kept in a thread (by a turn that was cut), or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, attachments FROM inbound WHERE thread=? AND message_id=? ORDER BY id LIMIT 1",
                (thread, message_id),
            ).fetchone()
        return None if row is None else (int(row[0]), list(self.cipher.loads(row[1]) or []))

    def _store_attachment(self, thread: str, index: int, item: Attachment) -> dict:
        listed = {"filename": item.filename, "content_type": item.content_type, "size": item.size}
        if item.data is None:
            listed["refused"] = item.refused or "not kept"
            return listed
        folder = self.folder / ATTACHMENTS_DIR / _folder_name(thread)
        for private in (folder.parent, folder):  # readable by this user only (made 0755 by earlier versions)
            private.mkdir(mode=0o700, exist_ok=True)
            private.chmod(0o700)
        # named by Frontline only: the sender's file name (it may name a person) is in the encrypted listing
        path = folder / f"{int(self.clock() * 1000)}-{index}-{secrets.token_hex(4)}.bin"
        descriptor = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never executable
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(self.cipher.encrypt_bytes(item.data))
        listed["stored"] = str(path.relative_to(self.folder))
        return listed

    def inbound(self, thread: Optional[str] = None) -> Sequence[dict]:
        """The kept mails (of one thread, or all), oldest first: id, thread, message id, size, problems,
        attachments, and the raw bytes."""
        with self._lock:
            query = "SELECT id, thread, message_id, raw_size, problems, attachments, raw FROM inbound"
            rows = self._db.execute(query + (" WHERE thread=?" if thread else "") + " ORDER BY id", (thread,) if thread else ())
            return [
                {"id": r[0], "thread": r[1], "message_id": r[2], "raw_size": r[3], "problems": self.cipher.loads(r[4]),
                 "attachments": self.cipher.loads(r[5]), "raw": self.cipher.decrypt_bytes(r[6])}
                for r in rows
            ]

    def attachment_bytes(self, stored: str) -> bytes:
        """The bytes of a stored attachment (`stored`: its path under the var folder, as listed), decrypted.

        Raises:
            OSError: the file is gone.
            DataKeyError: no data key decrypts it.
        """
        return self.cipher.decrypt_bytes((self.folder / stored).read_bytes())

    # -- maintenance (python -m bot rekey, python -m bot purge) -----------------------------------------------
    def rekey(self) -> int:
        """Re-encrypt the kept mails (raw bytes, attachment list, problems) and the attachment files under the first
        data key (those kept before encryption are encrypted); return how many mails and files changed. A second
        run changes nothing.

        A file is replaced whole (a new private file renamed over it): a reader sees the old or the new one,
        and both decrypt while the old key is still in `FRONTLINE_DATA_KEYS`.

        Raises:
            DataKeyError: a mail or file no key decrypts.
        """
        changed = 0
        with self._lock:
            rows = self._db.execute("SELECT id, raw, attachments, problems FROM inbound ORDER BY id").fetchall()
        for row_id, raw, attachments, problems in rows:
            fresh = self.cipher.refreshed_bytes(raw) if raw else None
            listed, trouble = self.cipher.refreshed(attachments), self.cipher.refreshed(problems)
            if fresh is None and listed is None and trouble is None:
                continue
            with self._lock:
                self._db.execute(
                    "UPDATE inbound SET raw=coalesce(?, raw), kept=coalesce(kept, ?), attachments=coalesce(?, "
                    "attachments), problems=coalesce(?, problems) WHERE id=?",
                    (fresh, len(bytes(raw or b"")), listed, trouble, row_id),
                )
            changed += 1
        for path in self._attachment_files():
            fresh = self.cipher.refreshed_bytes(path.read_bytes())
            if fresh is not None:
                _replace_privately(path, fresh)
                changed += 1
        self.checkpoint()
        return changed

    def _attachment_files(self) -> Iterator[pathlib.Path]:
        root = self.folder / ATTACHMENTS_DIR
        if not root.is_dir():
            return
        for folder in sorted(root.iterdir()):
            if folder.is_dir() and not folder.is_symlink():
                for path in sorted(folder.iterdir()):
                    if path.is_file() and not path.is_symlink() and not path.name.startswith("."):
                        yield path

    def purge_before(self, cutoff: float, has_open_ticket: Callable[[str], bool]) -> MailPurge:
        """Delete the threads whose last mail (received or sent) is older than `cutoff` (epoch seconds) and whose
        conversation has no open ticket, with their kept mails, attachment files, ids and auto-reply counts; and
        the kept mails of no thread (no usable sender) received before `cutoff`.

        Args:
            cutoff: the retention's cutoff (`retention.transcripts_days` ago).
            has_open_ticket: whether a conversation (`email:<thread>`) has an open ticket at the desk.
        """
        from bot import conversations

        with self._lock:
            rows = self._db.execute(f"SELECT t.thread, {_LAST_MAIL} FROM threads t").fetchall()
        expired = [thread for thread, last in rows
                   if last < cutoff and not has_open_ticket(conversations.conversation_id("email", thread))]
        mails = threads = files = 0
        for thread in expired:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")  # the channel (another process) waits: no mail slips in
                try:
                    last = self._db.execute(f"SELECT {_LAST_MAIL} FROM threads t WHERE thread=?", (thread,)).fetchone()
                    if last is None or last[0] >= cutoff:  # a mail came in meanwhile: the thread is not old
                        self._db.execute("ROLLBACK")
                        continue
                    kept = self._db.execute("SELECT attachments FROM inbound WHERE thread=?", (thread,)).fetchall()
                    mails += self._db.execute("DELETE FROM inbound WHERE thread=?", (thread,)).rowcount
                    self._db.execute("DELETE FROM messages WHERE thread=?", (thread,))
                    self._db.execute("DELETE FROM auto_replies WHERE thread=?", (thread,))
                    threads += self._db.execute("DELETE FROM threads WHERE thread=?", (thread,)).rowcount
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            files += self._remove_files(kept) + self._remove_folder(thread)
        with self._lock:  # mails of no thread (no usable sender), or of a thread gone
            orphans = self._db.execute(
                "SELECT id, attachments FROM inbound WHERE received_at < ? AND (thread IS NULL OR thread NOT IN "
                "(SELECT thread FROM threads))", (cutoff,),
            ).fetchall()
            if orphans:
                self._db.executemany("DELETE FROM inbound WHERE id=?", [(row[0],) for row in orphans])
        mails += len(orphans)
        files += self._remove_files([(row[1],) for row in orphans])
        self.checkpoint()
        return MailPurge(mails=mails, threads=threads, files=files)

    def _remove_files(self, rows: Sequence[tuple]) -> int:
        """Delete the stored files listed in `inbound.attachments` values; return how many were there."""
        root = (self.folder / ATTACHMENTS_DIR).resolve()
        removed = 0
        for (listing,) in rows:
            for item in _listed(self.cipher.decrypt(listing)):
                path = (self.folder / str(item.get("stored") or "")).resolve()
                if item.get("stored") and path.is_relative_to(root) and path.is_file():
                    path.unlink()
                    removed += 1
        return removed

    def _remove_folder(self, thread: str) -> int:
        """Delete a purged thread's attachment folder and what is left in it; return the files it still held."""
        folder = self.folder / ATTACHMENTS_DIR / _folder_name(thread)
        if not folder.is_dir() or folder.is_symlink():
            return 0
        left = sum(1 for path in folder.iterdir() if path.is_file() and not path.name.startswith("."))
        shutil.rmtree(folder, ignore_errors=True)
        return left

    def checkpoint(self) -> None:
        """Empty the write-ahead log (it still holds the pages as they were before a purge or a rekey)."""
        with self._lock:
            busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:
            logger.warning("%s: the write-ahead log could not be emptied now (a reader is active)", self.folder / DB_FILE)


# The time of a thread's last mail, received or sent (or its start): `t` is the `threads` row.
_LAST_MAIL = (
    "max(t.created_at, coalesce((SELECT max(at) FROM messages m WHERE m.thread = t.thread), 0), "
    "coalesce((SELECT max(received_at) FROM inbound i WHERE i.thread = t.thread), 0))"
)


def _folder_name(thread: str) -> str:
    """The attachments folder of a thread (its id, only ever hex digits, cut to 40)."""
    return re.sub(r"[^0-9a-z]", "", thread)[:40]


def _listed(listing: Optional[str]) -> List[dict]:
    try:
        value = json.loads(listing or "[]")
    except ValueError:
        return []
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _replace_privately(path: pathlib.Path, data: bytes) -> None:
    """Write `data` to a new private file beside `path` and rename it over `path` (atomic for readers)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".rekey-")  # created 0600
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
