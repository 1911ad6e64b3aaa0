"""Reading one inbound e-mail: pure functions over bytes, nothing of sanic, SMTP or IMAP.

`read_mail(raw, limits)` never raises on what a sender can put in a mail (malformed MIME, unknown or lying
charsets, GBK/GB18030 without a label, HTML, huge parts, many attachments, forged headers): whatever it could
not read becomes a `problems` entry (logged by the caller), and the raw mail is kept size-limited for an agent.

What it gives the assistant is the customer's own words: the subject, and the body with quoted history and the
signature cut off; HTML turned into text by the standard library's parser, with no remote content fetched (no
image, no link is ever followed: the parser only collects text).
"""

from __future__ import annotations

import dataclasses
import email
import email.header
import email.policy
import email.utils
import html.parser
import logging
import re
from email.message import Message
from typing import List, Optional, Tuple

logger = logging.getLogger(__name__)

# Charsets tried, in order, for a part whose declared charset is missing, unknown or wrong (GB18030 is a superset
# of GBK and GB2312, the labels Chinese mail programs use, often wrongly).
FALLBACK_CHARSETS = ("utf-8", "gb18030", "big5")
# Header names whose presence marks a mail no one should answer (RFC 3834, RFC 2369, RFC 2919).
LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post")
NO_REPLY_RE = re.compile(r"^(no-?reply|do-?not-?reply|mailer-daemon|postmaster|bounces?)([+.\-_].*)?@", re.I)
TICKET_IN_SUBJECT_RE = re.compile(r"\[(?:#\s*)?(T-\d{1,12})\]", re.I)
MESSAGE_ID_RE = re.compile(r"<[^<>\s]{1,250}>")
# The lines that start quoted history, in the mail programs customers use (Outlook, Gmail, Apple Mail, Foxmail,
# QQ Mail, NetEase); everything from the first one on is dropped.
QUOTE_START_RES = (
    re.compile(r"^\s*On .{1,200} wrote:\s*$", re.I),
    re.compile(r"^\s*在 ?.{1,200}(写道|寫道)[:：]\s*$"),
    re.compile(r"^\s*-{2,}\s*(Original Message|原始邮件|原始郵件)\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*(From|发件人|寄件者)\s*[:：].{0,300}$", re.I),
    re.compile(r"^\s*_{10,}\s*$"),
)
SIGNATURE_RES = (
    re.compile(r"^-- ?$"),  # the standard delimiter (RFC 3676)
    re.compile(r"^\s*(Sent from my |发自我的|從我的 ).{0,60}$", re.I),
)


@dataclasses.dataclass(frozen=True)
class MailLimits:
    """What one mail may bring (settings `email.limits`).

    Args:
        max_mail_bytes: a larger mail is not read (kept raw up to `keep_raw_bytes`, an agent sees it).
        keep_raw_bytes: how much of the raw mail is kept for an agent.
        max_attachments: attachments beyond this many are listed but not stored.
        max_attachment_bytes: a larger attachment is listed but not stored.
        attachment_types: the content types stored (anything else, an executable above all, is only listed).
        max_text_chars: the longest text given to the assistant (subject and body).
    """

    max_mail_bytes: int = 10 * 1024 * 1024
    keep_raw_bytes: int = 256 * 1024
    max_attachments: int = 10
    max_attachment_bytes: int = 5 * 1024 * 1024
    attachment_types: Tuple[str, ...] = (
        "image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain", "text/csv",
    )
    max_text_chars: int = 10000


@dataclasses.dataclass(frozen=True)
class Attachment:
    """One attachment as the sender described it; `data` is None when it was not kept (and `refused` says why)."""

    filename: str
    content_type: str
    size: int
    data: Optional[bytes]
    refused: Optional[str] = None


@dataclasses.dataclass
class InboundMail:
    """What Frontline read from one mail."""

    message_id: Optional[str]
    in_reply_to: List[str]
    references: List[str]
    sender: str  # the address replies go to (Reply-To, else From), lower-cased; "" when none is usable
    sender_name: str
    subject: str
    body: str  # the customer's words: quoted history and signature cut off
    attachments: List[Attachment]
    auto_reason: Optional[str]  # why no one may answer it automatically (RFC 3834), None when a person wrote
    problems: List[str]
    raw: bytes  # the raw mail, at most `keep_raw_bytes`
    raw_size: int

    @property
    def ticket_code(self) -> Optional[str]:
        """The ticket number in the subject (`[T-000123]`), the threading fallback; None when there is none."""
        found = TICKET_IN_SUBJECT_RE.search(self.subject or "")
        return found.group(1).upper() if found else None

    @property
    def text(self) -> str:
        """Subject and body as one message for the assistant (a subject alone, or a body alone, too)."""
        subject = clean_subject(self.subject)
        parts = [part for part in (subject, self.body.strip()) if part]
        return "\n".join(parts)


def clean_subject(subject: str) -> str:
    """The subject without reply prefixes (`Re:`, `Fwd:`, `回复：`, `答复:`, `转发:`) and our ticket tag."""
    text = TICKET_IN_SUBJECT_RE.sub("", subject or "")
    prefix = re.compile(r"^\s*((re|fw|fwd|aw|sv|回复|回覆|答复|转发|轉寄)\s*[:：]\s*)+", re.I)
    return prefix.sub("", text).strip()


# --- charsets --------------------------------------------------------------------------------------------------


def decode_bytes(data: bytes, declared: Optional[str], problems: List[str]) -> str:
    """Decode a part's bytes: the declared charset when it exists and fits, else the fallbacks, else UTF-8 with
    replacement characters (noted in `problems`)."""
    tried = []
    if declared:
        name = declared.strip().strip('"').lower()
        if name in ("gb2312", "gbk", "x-gbk", "cp936"):
            name = "gb18030"  # mail programs label GB18030 text as GB2312/GBK; the superset reads all of them
        tried.append(name)
        try:
            return data.decode(name)
        except LookupError:
            problems.append(f"unknown charset {declared[:40]!r}")
        except UnicodeDecodeError:
            problems.append(f"text not in its declared charset {declared[:40]!r}")
    for name in FALLBACK_CHARSETS:
        if name in tried:
            continue
        try:
            return data.decode(name)
        except UnicodeDecodeError:
            continue
    problems.append("text in no known charset (undecodable bytes replaced)")
    return data.decode("utf-8", errors="replace")


def header_text(message: Message, name: str, problems: List[str]) -> str:
    """One header as text, encoded words (`=?GBK?B?…?=`) decoded with the charset fallbacks; "" when absent."""
    value = message.get(name)
    if value is None:
        return ""
    try:
        pieces = email.header.decode_header(str(value))
    except Exception:  # noqa: BLE001 - boundary: a header any sender can break
        problems.append(f"malformed {name} header")
        return str(value)[:500]
    out = []
    for chunk, charset in pieces:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset, problems))
        else:
            out.append(chunk)
    return re.sub(r"[\r\n\t]+", " ", "".join(out)).strip()


# --- HTML ------------------------------------------------------------------------------------------------------


class _TextOfHtml(html.parser.HTMLParser):
    """Collects the visible text of HTML: no script, style or head; block elements become line breaks. Nothing
    is fetched: images, links and styles are tags whose attributes are never read."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "hr"}
    HIDDEN = {"script", "style", "head", "title", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: List[str] = []
        self.hidden = 0
        self.quoted = 0

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag == "blockquote":
            self.quoted += 1  # quoted history in HTML mail: not the customer's words
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self.hidden:
            self.hidden -= 1
        elif tag == "blockquote" and self.quoted:
            self.quoted -= 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden and not self.quoted:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """The visible text of an HTML body (see `_TextOfHtml`); never fetches anything."""
    parser = _TextOfHtml()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # boundary: html.parser is lenient, but a sender's markup is not to be trusted
        logger.debug("html parse error", exc_info=True)
    lines = [re.sub(r"[ \t\xa0]+", " ", line).strip() for line in "".join(parser.parts).splitlines()]
    return "\n".join(line for line in lines if line)


# --- the customer's own words ------------------------------------------------------------------------------------


def strip_quotes_and_signature(text: str) -> str:
    """The text before quoted history (`> …` lines, "On … wrote:", "在…写道：", an Outlook header block) and
    before the signature (`-- `, "Sent from my …")."""
    kept: List[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if any(pattern.match(line) for pattern in QUOTE_START_RES + SIGNATURE_RES):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def _addresses(message: Message, problems: List[str]) -> Tuple[str, str]:
    for name in ("Reply-To", "From"):
        raw = header_text(message, name, problems)
        if not raw:
            continue
        display, address = email.utils.parseaddr(raw)
        address = address.strip().lower()
        if re.fullmatch(r"[^@\s<>,;\"]{1,64}@[A-Za-z0-9.\-]{1,253}\.[A-Za-z0-9\-]{2,63}", address):
            return address, display[:200]
        problems.append(f"unusable {name} address")
    return "", ""


def _message_ids(value: str) -> List[str]:
    return MESSAGE_ID_RE.findall(value or "")[:50]


def auto_submitted_reason(message: Message, envelope_sender: Optional[str], sender: str) -> Optional[str]:
    """Why a mail must get no automatic answer (RFC 3834 § 2 and 5), or None when a person wrote it.

    Args:
        message: the parsed mail.
        envelope_sender: the SMTP `MAIL FROM` (Return-Path); `""` is the null path of bounces; None: not known.
        sender: the reply address found (Reply-To, else From).
    """
    auto = str(message.get("Auto-Submitted") or "").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto[:40]}"
    precedence = str(message.get("Precedence") or "").strip().lower()
    if precedence in ("bulk", "list", "junk", "auto_reply"):
        return f"Precedence: {precedence}"
    for name in LIST_HEADERS:
        if message.get(name) is not None:
            return f"mailing list ({name})"
    if message.get("X-Autoreply") is not None or message.get("X-Autorespond") is not None:
        return "auto-reply header"
    return_path = envelope_sender if envelope_sender is not None else message.get("Return-Path")
    if return_path is not None and str(return_path).strip() in ("", "<>"):
        return "null return path (a bounce)"
    content_type = message.get_content_type()
    if content_type == "multipart/report":
        return "delivery report"
    if not sender:
        return "no usable sender address"
    if NO_REPLY_RE.match(sender):
        return "no-reply sender"
    return None


def _walk(message: Message, limits: MailLimits, problems: List[str]) -> Tuple[str, str, List[Attachment]]:
    plain: List[str] = []
    markup: List[str] = []
    attachments: List[Attachment] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        try:
            filename = part.get_filename()
        except Exception:  # noqa: BLE001 - boundary: a malformed filename parameter
            filename = None
            problems.append("malformed attachment name")
        try:
            payload = part.get_payload(decode=True)
        except Exception:  # noqa: BLE001 - boundary: a transfer encoding the library cannot read
            payload = None
        if payload is None:
            payload = b""
            problems.append(f"unreadable {content_type} part")
        if disposition == "attachment" or filename or not content_type.startswith("text/"):
            attachments.append(_attachment(filename, content_type, payload, len(attachments), limits))
            continue
        text = decode_bytes(payload, part.get_content_charset(), problems)
        (markup if content_type == "text/html" else plain).append(text)
    return "\n".join(plain), "\n".join(markup), attachments


def _attachment(filename: Optional[str], content_type: str, payload: bytes, index: int, limits: MailLimits) -> Attachment:
    name = re.sub(r"[\x00-\x1f/\\:]+", "_", (filename or f"attachment-{index + 1}"))[:120] or f"attachment-{index + 1}"
    refused = None
    if index >= limits.max_attachments:
        refused = f"more than {limits.max_attachments} attachments"
    elif len(payload) > limits.max_attachment_bytes:
        refused = f"larger than {limits.max_attachment_bytes} bytes"
    elif content_type not in limits.attachment_types:
        refused = f"type {content_type} not accepted"
    return Attachment(name, content_type, len(payload), None if refused else payload, refused)


def read_mail(raw: bytes, limits: MailLimits = MailLimits(), envelope_sender: Optional[str] = None) -> InboundMail:
    """Read one mail as it arrived (SMTP DATA or an IMAP fetch). Never raises on what is in the mail.

    Args:
        raw: the mail's bytes.
        limits: the size and attachment limits.
        envelope_sender: the SMTP `MAIL FROM` (`""` for the null path); None when not known (IMAP: Return-Path).

    Returns:
        The mail as read; `problems` lists what could not be read, `auto_reason` why no one may answer it.
    """
    problems: List[str] = []
    kept = bytes(raw[: limits.keep_raw_bytes])
    if len(raw) > limits.max_mail_bytes:
        problems.append(f"mail of {len(raw)} bytes is larger than {limits.max_mail_bytes}: not read")
        # only the headers are read, to thread it and to know who wrote
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:65536]
        raw_to_parse = head + b"\r\n\r\n"
    else:
        raw_to_parse = raw
    try:
        message = email.message_from_bytes(raw_to_parse, policy=email.policy.compat32)
    except Exception:  # noqa: BLE001 - boundary: the parser is lenient, but nothing a sender sends may crash the channel
        problems.append("unreadable MIME structure")
        message = email.message_from_bytes(b"\r\n\r\n")
    defects = [type(d).__name__ for d in getattr(message, "defects", [])]
    if defects:
        problems.append("malformed MIME: " + ", ".join(sorted(set(defects)))[:200])
    sender, sender_name = _addresses(message, problems)
    subject = header_text(message, "Subject", problems)[:500]
    plain, markup, attachments = ("", "", []) if len(raw) > limits.max_mail_bytes else _walk(message, limits, problems)
    body = plain if plain.strip() else html_to_text(markup)
    body = strip_quotes_and_signature(body)[: limits.max_text_chars]
    message_ids = _message_ids(str(message.get("Message-ID") or ""))
    return InboundMail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=_message_ids(str(message.get("In-Reply-To") or "")),
        references=_message_ids(str(message.get("References") or "")),
        sender=sender,
        sender_name=sender_name,
        subject=subject,
        body=body,
        attachments=attachments,
        auto_reason=auto_submitted_reason(message, envelope_sender, sender),
        problems=problems,
        raw=kept,
        raw_size=len(raw),
    )
