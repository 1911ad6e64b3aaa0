"""Secrets masked out of every log line of a process, whichever library writes it.

Libraries log URLs whole: urllib3 writes `GET /cgi-bin/token?grant_type=…&appid=…&secret=<AppSecret>` at
DEBUG for every WeChat token fetch and `POST …/message/custom/send?access_token=<token>` for every message; a
`requests` network error carries the same URL into a logged traceback; sanic's access log carries
`?token=<RASA_TOKEN>` of the desk's calls to Rasa's HTTP API. `install()`, called once per process by
`python -m bot` (every process of ours starts there), masks in every record:

- the values of the query arguments `access_token`, `secret`, `corpsecret`, `token` (any name ending in
  `token`, `secret` or `password`), in URLs and in `key=value` text;
- `Authorization` and `X-Frontline-Secret` header values, and `"access_token": "…"` in JSON;
- the value of every secret of the environment (`bot.servers.process_secrets`) wherever it appears.

It works on the record itself (a log record factory, so every handler, file or console, gets the masked text;
and a filter on `sanic.access`, whose URL travels in an `extra` field set after the factory runs).
"""

from __future__ import annotations

import logging
import os
import re
import traceback
from typing import Any, Callable, Iterable, List, Optional

logger = logging.getLogger(__name__)

MASK = "***"
# Secret values shorter than this are not masked by value (too likely to match ordinary text).
MIN_SECRET_LENGTH = 8
# `token=`, `access_token=`, `secret=`, `corpsecret=`, `app_secret=`, `password=`…
_QUERY = re.compile(r"(?i)\b(\w*(?:token|secret|password))=([^&\s'\"#<>]+)")
_HEADER = re.compile(r"(?i)\b(authorization|x-frontline-secret)(['\"]?\s*[:=]\s*['\"]?)((?:bearer|basic)\s+)?([^\s'\",}]+)")
_JSON = re.compile(r"(?i)(\"(?:access_token|secret|corpsecret|token|password)\"\s*:\s*\")([^\"]+)(\")")
_SANIC_ACCESS = "sanic.access"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return `text` with secrets masked (see the module docstring).

    Args:
        text: a log line.
        secrets: literal secret values to mask wherever they appear.

    Returns:
        The masked text (the same string when there was nothing to mask).
    """
    for value in secrets:
        if value in text:
            text = text.replace(value, MASK)
    text = _QUERY.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{MASK}", text)
    return _JSON.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)


def environment_secrets(environ: Optional[dict] = None) -> List[str]:
    """The values of the environment's secrets long enough to mask by value, longest first."""
    from bot.servers.process_secrets import secret_names

    env = os.environ if environ is None else environ
    values = {env[name] for name in secret_names() if len(env.get(name) or "") >= MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)


def redact_record(record: logging.LogRecord, secrets: Iterable[str] = ()) -> None:
    """Mask secrets in a record's message and traceback, in place (the message is formatted only if it changes).

    Args:
        record: the record.
        secrets: literal secret values to mask.
    """
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - boundary: a record whose arguments do not fit its format is left to logging
        return
    masked = redact(message, secrets)
    if masked != message:
        record.msg, record.args = masked, ()
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        masked = redact(text, secrets)
        if masked != text:
            record.exc_text = masked  # formatters print exc_text when it is set
    request = getattr(record, "request", None)
    if isinstance(request, str):
        record.request = redact(request, secrets)


class _AccessLogFilter(logging.Filter):
    """Masks the URL of sanic's access log lines (an `extra` field, set after the record factory ran)."""

    def __init__(self, secrets: List[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record, self.secrets)
        return True


def install(environ: Optional[dict] = None) -> None:
    """Mask secrets in every log record of this process from now on (idempotent).

    Args:
        environ: where the secret values are read (default: this process's environment, read now).
    """
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
    if getattr(previous, "frontline_redaction", False):
        return
    secrets = environment_secrets(environ)

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record, secrets)
        return record

    factory.frontline_redaction = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
    logging.getLogger(_SANIC_ACCESS).addFilter(_AccessLogFilter(secrets))
