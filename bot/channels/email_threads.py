"""The e-mail channel's memory: which thread a mail belongs to, what was sent in it, what a mail brought.

One SQLite file, `$FRONTLINE_VAR/email.db` (the Rasa server holds it; the desk sees mails through their tickets):
- `messages`: every Message-ID seen or sent, with its thread (a mail seen twice is not a second turn);
- `threads`: a thread's customer address, subject, ticket number and the ids the next reply must cite;
- `auto_replies`: automatic answers sent per thread and day (at most one acknowledgement a day: no mail loops);
- `inbound`: each received mail, raw and size-limited, with what could not be read, for an agent to see.

Attachments that pass the limits are written under `$FRONTLINE_VAR/email-attachments/<thread>/` with a name
Frontline makes (never the sender's path), readable only by this user and never executable.

A conversation is `email:<thread>` (`bot.conversations`); the thread id is made from the first mail's Message-ID.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pathlib
import re
import secrets
import sqlite3
import threading
import time
from typing import List, Optional, Sequence

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
"""


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
    """Where a mail goes: its thread, whether that thread is new, and whether the mail was seen before."""

    thread: Thread
    new: bool
    duplicate: bool
    note: Optional[str] = None  # why a mail citing a thread was not put in it (a forged or foreign reference)


def thread_id_for(message_id: Optional[str]) -> str:
    """The id of a thread its first mail starts (from its Message-ID; random when it has none)."""
    seed = message_id or secrets.token_hex(16)
    return hashlib.sha256(seed.encode("utf-8", "replace")).hexdigest()[:20]


class ThreadStore:
    """The SQLite memory of the e-mail channel (see the module docstring).

    Args:
        folder: where `email.db` and the attachments go (`$FRONTLINE_VAR`).
        clock: seconds since the epoch (tests pin it).
    """

    def __init__(self, folder: pathlib.Path, clock=time.time) -> None:
        self.folder = pathlib.Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.folder / DB_FILE), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

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

    def place(self, mail: InboundMail) -> Placement:
        """Find the thread of an inbound mail, or start one; record the mail's id in it.

        A mail joins a thread by the ids it cites (`In-Reply-To`, `References`), else by the ticket number in its
        subject, and only when it comes from that thread's customer: a mail citing another customer's thread
        (a forged header, a forwarded mail) starts its own thread, with a `note` saying so.
        """
        with self._lock:
            if mail.message_id:
                seen = self._db.execute("SELECT thread FROM messages WHERE message_id=?", (mail.message_id,)).fetchone()
                if seen is not None:
                    existing = self._thread(seen[0])
                    if existing is not None:
                        return Placement(existing, new=False, duplicate=True)
            found, note = self._find(mail)
            now = self.clock()
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
                refs = (found.references + [mail.message_id])[-MAX_REFERENCES:]
                self._db.execute(
                    "INSERT OR IGNORE INTO messages (message_id, thread, at) VALUES (?, ?, ?)",
                    (mail.message_id, found.thread, now),
                )
                self._db.execute(
                    "UPDATE threads SET last_message_id=?, refs=? WHERE thread=?",
                    (mail.message_id, json.dumps(refs), found.thread),
                )
            return Placement(self._thread(found.thread) or found, new=new, duplicate=False, note=note)

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
    def keep_inbound(self, thread: Optional[str], mail: InboundMail) -> List[dict]:
        """Keep the raw mail (size-limited) and store the attachments that passed the limits.

        Returns:
            One dict per attachment: `filename`, `content_type`, `size`, and `stored` (its path under the var
            folder) or `refused` (why it was not kept).
        """
        listed = [self._store_attachment(thread or "unthreaded", index, item) for index, item in enumerate(mail.attachments)]
        with self._lock:
            self._db.execute(
                "INSERT INTO inbound (thread, message_id, received_at, raw, raw_size, problems, attachments) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (thread, mail.message_id, self.clock(), mail.raw, mail.raw_size, json.dumps(mail.problems, ensure_ascii=False),
                 json.dumps(listed, ensure_ascii=False)),
            )
        return listed

    def _store_attachment(self, thread: str, index: int, item: Attachment) -> dict:
        listed = {"filename": item.filename, "content_type": item.content_type, "size": item.size}
        if item.data is None:
            listed["refused"] = item.refused or "not kept"
            return listed
        folder = self.folder / ATTACHMENTS_DIR / re.sub(r"[^0-9a-z]", "", thread)[:40]
        folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^\w.\-]+", "_", item.filename)[-80:].lstrip(".") or "attachment"
        path = folder / f"{int(self.clock() * 1000)}-{index}-{secrets.token_hex(4)}-{safe}.bin"
        descriptor = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never executable
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(item.data)
        listed["stored"] = str(path.relative_to(self.folder))
        return listed

    def inbound(self, thread: Optional[str] = None) -> Sequence[dict]:
        """The kept mails (of one thread, or all), oldest first: id, thread, message id, size, problems,
        attachments, and the raw bytes."""
        with self._lock:
            query = "SELECT id, thread, message_id, raw_size, problems, attachments, raw FROM inbound"
            rows = self._db.execute(query + (" WHERE thread=?" if thread else "") + " ORDER BY id", (thread,) if thread else ())
            return [
                {"id": r[0], "thread": r[1], "message_id": r[2], "raw_size": r[3], "problems": json.loads(r[4]),
                 "attachments": json.loads(r[5]), "raw": r[6]}
                for r in rows
            ]
