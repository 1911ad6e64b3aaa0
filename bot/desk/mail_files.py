"""What an e-mail brought, as the desk shows it to an agent: the kept raw mail and the stored attachments.

The Rasa server's e-mail channel keeps them (`bot.channels.email_threads`): each received mail raw and
size-limited in `$FRONTLINE_VAR/email.db` (table `inbound`), and the attachments that passed the limits as files
under `$FRONTLINE_VAR/email-attachments/`. The desk reads that same folder (it only reads; on one machine `make run`
gives every process the same `FRONTLINE_VAR`). Several machines need that folder on a shared volume (or the files
moved to an object store): a desk on another machine finds no mails and lists none.

Both are encrypted at rest with the data keys (`bot.data_keys`); the desk decrypts them when it serves them (what
was kept before encryption is served as it is), so the desk needs the same `FRONTLINE_DATA_KEYS` as the Rasa
server (it needs them for its own database anyway).

A ticket sees only the mails of its own conversation (`email:<thread>`). Files are named by ids the desk makes
(`<mail>-<index>`, digits only), never by a path, and served only as downloads: `Content-Disposition:
attachment`, `X-Content-Type-Options: nosniff`, and a content type from a short allow-list (pictures, PDF, plain
text), `application/octet-stream` for anything else (HTML above all): the console never shows one inline.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pathlib
import re
import sqlite3
from typing import Any, Dict, List, Optional
from urllib.parse import quote

from sanic.response import HTTPResponse, raw

from bot import data_keys
from bot.channels.email_threads import ATTACHMENTS_DIR, DB_FILE
from bot.desk.errors import DeskError
from bot.desk.views import iso

logger = logging.getLogger(__name__)

CHANNEL = "email"
# Served with their own type (a browser still downloads them: Content-Disposition: attachment). Never text/html,
# image/svg+xml or anything else a browser could run.
SAFE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"})
FALLBACK_TYPE = "application/octet-stream"
ATTACHMENT_ID = re.compile(r"(\d{1,12})-(\d{1,4})")
MAIL_ID = re.compile(r"\d{1,12}")


@dataclasses.dataclass(frozen=True)
class KeptFile:
    """A file to hand to an agent: its name for the download, the type its sender declared, its bytes."""

    filename: str
    declared_type: str
    data: bytes


def safe_type(declared: str) -> str:
    """The content type a download is served with: the declared one when allow-listed, else octet-stream."""
    cleaned = (declared or "").split(";", 1)[0].strip().lower()
    return cleaned if cleaned in SAFE_TYPES else FALLBACK_TYPE


def download_name(filename: str) -> str:
    """A `Content-Disposition` value that makes any browser save the file under (a tidy form of) its name."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", filename)[-100:].lstrip(".") or "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename[-200:], safe='')}"


def served(kept: KeptFile) -> HTTPResponse:
    """Answer a download: never inline, never sniffed, never cached, never able to run a script."""
    return raw(kept.data, content_type=safe_type(kept.declared_type), headers={
        "Content-Disposition": download_name(kept.filename),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-store",
    })


class KeptMails:
    """Reads what the e-mail channel kept of one thread's mails.

    Args:
        folder: the Rasa server's var folder (`$FRONTLINE_VAR`), where `email.db` and the attachments are.
    """

    def __init__(self, folder: pathlib.Path) -> None:
        self.folder = pathlib.Path(folder)

    def _query(self, sql: str, args: tuple) -> List[tuple]:
        path = self.folder / DB_FILE
        if not path.is_file():
            return []
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=2)  # never creates it
            try:
                return db.execute(sql, args).fetchall()
            finally:
                db.close()
        except sqlite3.Error as error:
            logger.error("desk: the kept mails in %s cannot be read: %s", path, error)
            logger.debug("kept mails failure", exc_info=True)
            raise DeskError(503, "the kept e-mails cannot be read just now; try again") from error

    def listing(self, thread: str, code: str) -> List[Dict[str, Any]]:
        """The kept mails of a thread, oldest first, with their attachments and the desk's URLs for them.

        Args:
            thread: the thread id (the conversation `email:<thread>`).
            code: the ticket's public id (in the URLs).

        Returns:
            One dict per mail: `id` (the id its message carries, `mail`), `message_id`, `received_at`, `size` (as
            received), `kept_bytes`, `problems`,
            `raw_url` (None when nothing was kept), `attachments` (`filename`, `content_type`, `size`, and `id`
            with `url` when stored, or `refused` saying why not).
        """
        columns = {row[0] for row in self._query("SELECT name FROM pragma_table_info('inbound')", ())}
        # `kept`: the kept bytes' length (`raw` is encrypted, longer); a file the channel has not opened since the
        # upgrade has no such column yet, and only plain rows, whose length is right
        kept = "coalesce(kept, length(raw))" if "kept" in columns else "length(raw)"
        rows = self._query(
            f"SELECT id, message_id, received_at, raw_size, {kept}, problems, attachments FROM inbound "
            "WHERE thread=? ORDER BY id", (thread,),
        )
        base = f"/api/tickets/{quote(code, safe='')}"
        mails = []
        for mail_id, message_id, received_at, size, kept, problems, attachments in rows:
            listed = []
            for index, item in enumerate(_json_list(attachments)):
                item = item if isinstance(item, dict) else {}
                entry = {key: item.get(key) for key in ("filename", "content_type", "size")}
                if item.get("stored"):
                    entry["id"] = f"{mail_id}-{index}"
                    entry["url"] = f"{base}/attachments/{entry['id']}"
                else:
                    entry["refused"] = item.get("refused") or "not kept"
                listed.append(entry)
            mails.append({
                "id": mail_id, "message_id": message_id, "received_at": iso(received_at), "size": size,
                "kept_bytes": kept or 0, "problems": _json_list(problems),
                "raw_url": f"{base}/mails/{mail_id}/raw" if kept else None, "attachments": listed,
            })
        return mails

    def attachment(self, thread: str, attachment_id: str) -> KeptFile:
        """A stored attachment of one of the thread's mails.

        Raises:
            DeskError: 400 not an attachment id; 404 none of this thread's, not stored, or its file is gone.
        """
        match = ATTACHMENT_ID.fullmatch(attachment_id or "")
        if match is None:
            raise DeskError(400, "an attachment id is '<mail>-<number>', digits only (see the ticket's 'mails')")
        mail_id, index = int(match.group(1)), int(match.group(2))
        rows = self._query("SELECT attachments FROM inbound WHERE id=? AND thread=?", (mail_id, thread))
        listed = _json_list(rows[0][0]) if rows else []
        item = listed[index] if index < len(listed) and isinstance(listed[index], dict) else {}
        stored = item.get("stored")
        if not stored:
            raise DeskError(404, f"this ticket has no stored attachment {attachment_id}")
        root = (self.folder / ATTACHMENTS_DIR).resolve()
        path = (self.folder / str(stored)).resolve()
        if not path.is_relative_to(root):  # the channel wrote the path; still, never serve outside the folder
            logger.error("desk: attachment %s points outside %s: refused", attachment_id, root)
            raise DeskError(404, f"this ticket has no stored attachment {attachment_id}")
        try:
            data = path.read_bytes()
        except OSError as error:
            logger.warning("desk: attachment %s is listed but its file cannot be read: %s", attachment_id, error)
            raise DeskError(404, f"the file of attachment {attachment_id} is gone (removed or purged)") from error
        return KeptFile(str(item.get("filename") or "attachment"), str(item.get("content_type") or ""), _clear(data))

    def raw_mail(self, thread: str, mail_id: str) -> KeptFile:
        """The kept raw bytes of one of the thread's mails (as received, cut at the channel's `keep_raw_bytes`).

        Raises:
            DeskError: 400 not a mail id; 404 none of this thread's, or nothing kept.
        """
        if MAIL_ID.fullmatch(mail_id or "") is None:
            raise DeskError(400, "a mail id is a whole number (see the ticket's 'mails')")
        rows = self._query("SELECT raw FROM inbound WHERE id=? AND thread=?", (int(mail_id), thread))
        if not rows or not rows[0][0]:
            raise DeskError(404, f"this ticket has no kept mail {mail_id}")
        return KeptFile(f"mail-{mail_id}.eml", FALLBACK_TYPE, _clear(rows[0][0]))


def _clear(stored: bytes) -> bytes:
    """Kept bytes decrypted (`bot.data_keys`; kept before encryption: as they are).

    Raises:
        DeskError: 503 when no data key decrypts them (a key dropped before `python -m bot rekey`, or a desk
            configured with other keys than the Rasa server).
    """
    try:
        return data_keys.cipher().decrypt_bytes(stored)
    except data_keys.DataKeyError as error:
        logger.error("desk: a kept mail or attachment cannot be decrypted: %s", error)
        raise DeskError(503, "this file cannot be decrypted with the desk's data keys; ask an administrator") from error


def _json_list(stored: Optional[str]) -> List[Any]:
    """A kept mail's attachment list or problems, decrypted (kept before encryption: as they are) and parsed.

    Raises:
        DeskError: 503, see `_clear`.
    """
    try:
        text = data_keys.cipher().decrypt(stored)
    except data_keys.DataKeyError as error:
        logger.error("desk: a kept mail's listing cannot be decrypted: %s", error)
        raise DeskError(503, "the kept e-mails cannot be decrypted with the desk's data keys; ask an administrator") \
            from error
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []
