"""One log record, one line: control characters that reach our log lines from customer data are escaped.

A conversation id or a text with a CR/LF in it, logged as it is, forges log lines (`…\\nINFO bot.desk: ticket
T-000001 resolved by admin`). `install()` wraps the process's log record factory so that every record of our
loggers (`bot.…`, `actions.…`) has the control characters (C0, C1, DEL, U+2028, U+2029) of its message and
its arguments (strings, and objects such as errors whose text holds one) written as escapes (`\\n`, `\\r`, `\\x1b`, `\\u2028`). Records of other libraries are left
as they are. The REST channel also refuses such a sender outright (`bot.channels.rest.check_sender`).

Installed once per process, where each of our processes starts: the Rasa server's tracker store and REST
channel (`bot.stores`, `bot.channels.rest`), the action package (`actions/__init__.py`) and the desk app
(`bot.desk.app.create_app`).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

logger = logging.getLogger(__name__)

OUR_LOGGERS = ("bot", "actions")
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_INSTALLED = False
_LOCK = threading.Lock()


def escape_controls(text: str) -> str:
    """`text` with every control character written as a visible escape (`\\n`, `\\r`, `\\x1b`, `\\u2028`)."""

    def escaped(match: re.Match) -> str:
        char = match.group(0)
        return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")

    return CONTROL.sub(escaped, text)


def _clean(value: Any) -> Any:
    """A log argument safe to format: strings (and objects whose text, e.g. an error's, has a control
    character) escaped; numbers and other values left for their format (`%d`, `%.2f`)."""
    if isinstance(value, str):
        return escape_controls(value) if CONTROL.search(value) else value
    if value is None or isinstance(value, (int, float)):
        return value
    text = str(value)
    return escape_controls(text) if CONTROL.search(text) else value


def is_ours(name: str) -> bool:
    """True for the loggers of Frontline's own code (`bot`, `bot.…`, `actions`, `actions.…`)."""
    return any(name == root or name.startswith(root + ".") for root in OUR_LOGGERS)


def install() -> None:
    """Escape control characters in every log record of our loggers from now on (idempotent)."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if is_ours(record.name):
                record.msg = _clean(record.msg)
                if isinstance(record.args, tuple):
                    record.args = tuple(_clean(arg) for arg in record.args)
                elif isinstance(record.args, dict):
                    record.args = {key: _clean(value) for key, value in record.args.items()}
            return record

        logging.setLogRecordFactory(factory)
        _INSTALLED = True
