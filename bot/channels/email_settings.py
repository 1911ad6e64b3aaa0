"""The e-mail channel's configuration: where mail comes from and goes to (environment: addresses and passwords
are secrets), and how it is answered (`settings.yml: email`).

Environment (the channel is off when none of the last three is set):
- `FRONTLINE_EMAIL_ADDRESS`: the support address (the From of every reply);
- `FRONTLINE_IMAP_URL`: a mailbox to read, `imaps://user:password@host:993/INBOX` (`imap://` plain, for loopback);
- `FRONTLINE_EMAIL_SMTP_LISTEN`: the inbound SMTP listener, `host:port` (e.g. `127.0.0.1:2525`);
- `FRONTLINE_SMTP_URL`: the relay replies go out through: `smtp://` plain, `smtp+starttls://`, `smtps://`, with an
  optional `user:password@`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import unquote, urlsplit

from bot.channels.email_parse import MailLimits
from bot.settings import SettingsError, load_settings

ADDRESS_ENV = "FRONTLINE_EMAIL_ADDRESS"
IMAP_ENV = "FRONTLINE_IMAP_URL"
LISTEN_ENV = "FRONTLINE_EMAIL_SMTP_LISTEN"
SMTP_ENV = "FRONTLINE_SMTP_URL"
ENV_NAMES = (ADDRESS_ENV, IMAP_ENV, LISTEN_ENV, SMTP_ENV)

SMTP_SCHEMES = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "tls"}
IMAP_SCHEMES = {"imap": False, "imaps": True}
ANSWER_MODES = ("automatic", "suggest")


@dataclasses.dataclass(frozen=True)
class ServerUrl:
    """A mail server from a URL: host, port, security, login (never printed: `describe()` leaves it out)."""

    host: str
    port: int
    security: str  # plain | starttls | tls
    user: str = ""
    password: str = ""
    path: str = ""

    def describe(self) -> str:
        """`host:port (security)`, without the login."""
        return f"{self.host}:{self.port} ({self.security})"


def parse_smtp_url(url: str) -> ServerUrl:
    """Read `FRONTLINE_SMTP_URL`.

    Raises:
        SettingsError: an unknown scheme, or no host.
    """
    parts = urlsplit(url.strip())
    security = SMTP_SCHEMES.get(parts.scheme.lower())
    if security is None or not parts.hostname:
        raise SettingsError(f"{SMTP_ENV}: expected smtp://, smtp+starttls:// or smtps:// with a host")
    try:
        port = parts.port or {"plain": 25, "starttls": 587, "tls": 465}[security]
    except ValueError as error:
        raise SettingsError(f"{SMTP_ENV}: {error}") from None
    return ServerUrl(parts.hostname, port, security, unquote(parts.username or ""), unquote(parts.password or ""))


def parse_imap_url(url: str) -> ServerUrl:
    """Read `FRONTLINE_IMAP_URL` (the path is the mailbox, INBOX when none).

    Raises:
        SettingsError: an unknown scheme, no host, or no user.
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in IMAP_SCHEMES or not parts.hostname or not parts.username:
        raise SettingsError(f"{IMAP_ENV}: expected imaps://user:password@host:993/INBOX (imap:// on loopback)")
    tls = IMAP_SCHEMES[parts.scheme.lower()]
    try:
        port = parts.port or (993 if tls else 143)
    except ValueError as error:
        raise SettingsError(f"{IMAP_ENV}: {error}") from None
    mailbox = unquote(parts.path.lstrip("/")) or "INBOX"
    return ServerUrl(parts.hostname, port, "tls" if tls else "plain", unquote(parts.username), unquote(parts.password or ""), mailbox)


def parse_listen(value: str) -> Tuple[str, int]:
    """Read `FRONTLINE_EMAIL_SMTP_LISTEN` (`host:port`).

    Raises:
        SettingsError: not `host:port`.
    """
    host, _, port = value.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"{LISTEN_ENV}: expected host:port, e.g. 127.0.0.1:2525")
    return host.strip("[]"), int(port)


@dataclasses.dataclass(frozen=True)
class EmailSettings:
    """Everything the channel needs (see the module docstring and `settings.yml: email`)."""

    address: str
    imap: Optional[ServerUrl]
    listen: Optional[Tuple[str, int]]
    smtp: Optional[ServerUrl]
    answer_faq: str = "automatic"
    faq_min_confidence: float = 0.8
    urgent_subject_words: Tuple[str, ...] = ("紧急", "緊急", "urgent", "emergency")
    acknowledgements_per_thread_per_day: int = 1
    answers_per_thread_per_day: int = 3
    imap_poll_seconds: float = 60.0
    reader_lease_seconds: float = 30.0
    limits: MailLimits = MailLimits()

    @property
    def enabled(self) -> bool:
        """True when mail can come in (IMAP or the listener)."""
        return bool(self.imap or self.listen)


def _section(settings: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    settings = load_settings() if settings is None else settings
    section = settings.get("email") or {}
    if not isinstance(section, Mapping):
        raise SettingsError("settings: 'email' must be a mapping")
    return dict(section)


def _number(section: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise SettingsError(f"settings: 'email.{key}' must be a number from {low} to {high}")
    return value


def _limits(section: Mapping[str, Any]) -> MailLimits:
    raw = section.get("limits") or {}
    if not isinstance(raw, Mapping):
        raise SettingsError("settings: 'email.limits' must be a mapping")
    default = MailLimits()
    values: Dict[str, Any] = {}
    for field in dataclasses.fields(MailLimits):
        if field.name not in raw:
            continue
        if field.name == "attachment_types":
            types = raw[field.name]
            if not isinstance(types, list) or not all(isinstance(t, str) and "/" in t for t in types):
                raise SettingsError("settings: 'email.limits.attachment_types' must be a list of content types")
            values[field.name] = tuple(t.lower() for t in types)
        else:
            values[field.name] = int(_number(raw, field.name, getattr(default, field.name), 0, 1 << 31))
    return dataclasses.replace(default, **values)


def load(environ: Optional[Mapping[str, str]] = None, settings: Optional[Mapping[str, Any]] = None) -> EmailSettings:
    """The channel's settings from the environment and `settings.yml: email`.

    Raises:
        SettingsError: a variable or setting Frontline cannot use (naming it).
    """
    environ = os.environ if environ is None else environ
    section = _section(settings)
    imap = parse_imap_url(environ[IMAP_ENV]) if environ.get(IMAP_ENV, "").strip() else None
    listen = parse_listen(environ[LISTEN_ENV]) if environ.get(LISTEN_ENV, "").strip() else None
    smtp = parse_smtp_url(environ[SMTP_ENV]) if environ.get(SMTP_ENV, "").strip() else None
    address = environ.get(ADDRESS_ENV, "").strip()
    if (imap or listen or smtp) and "@" not in address:
        raise SettingsError(f"{ADDRESS_ENV}: the support address (the From of replies) must be set with the channel")
    mode = section.get("answer_faq", "automatic")
    if mode not in ANSWER_MODES:
        raise SettingsError(f"settings: 'email.answer_faq' must be one of {', '.join(ANSWER_MODES)}")
    words = section.get("urgent_subject_words", list(EmailSettings.urgent_subject_words))
    if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
        raise SettingsError("settings: 'email.urgent_subject_words' must be a list of words")
    return EmailSettings(
        address=address,
        imap=imap,
        listen=listen,
        smtp=smtp,
        answer_faq=mode,
        faq_min_confidence=float(_number(section, "faq_min_confidence", 0.8, 0.0, 1.0)),
        urgent_subject_words=tuple(w.strip().lower() for w in words),
        acknowledgements_per_thread_per_day=int(_number(section, "acknowledgements_per_thread_per_day", 1, 0, 100)),
        answers_per_thread_per_day=int(_number(section, "answers_per_thread_per_day", 3, 0, 100)),
        imap_poll_seconds=float(_number(section, "imap_poll_seconds", 60, 1, 86400)),
        reader_lease_seconds=float(_number(section, "reader_lease_seconds", 30, 1, 3600)),
        limits=_limits(section),
    )
