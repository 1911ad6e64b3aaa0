"""Widget session ids the server issues, signed, so a browser cannot pick whose conversation it writes into.

The widget keeps its session id in the browser and sends it with every message; Rasa's socket.io channel took
whatever it sent as the conversation id. Now the server issues each session id (`SessionIds.issue`): a random
part and an HMAC-SHA256 of it under a server secret, `<32 hex>.<43 base64url>`. A session id the server did not
issue (unsigned, forged, or another server's) is refused: `session_request` answers it with a fresh one, as it
answered an invalid one before, and a message that carries one is dropped.

The secret: `FRONTLINE_SESSION_SECRET` (at least 32 characters; the same on every Rasa replica), else a random
one kept in `$FRONTLINE_VAR/widget-session.secret` (created on first use, readable by its owner only), so one
machine keeps its sessions across restarts without any setting. Changing the secret starts every widget
conversation afresh (the browser gets a new session id on its next connection).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import pathlib
import re
import secrets
from typing import Any, Mapping, Optional

from bot.settings import SettingsError

logger = logging.getLogger(__name__)

ENV_SECRET = "FRONTLINE_SESSION_SECRET"
SECRET_FILE = "widget-session.secret"
MIN_SECRET_LENGTH = 32
_CONTEXT = b"frontline-widget-session-v1"
_SESSION_RE = re.compile(r"^([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$")


class SessionIds:
    """Issues and checks widget session ids.

    Args:
        secret: the server secret (at least `MIN_SECRET_LENGTH` characters).

    Raises:
        SettingsError: the secret is too short.
    """

    def __init__(self, secret: str) -> None:
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            raise SettingsError(f"{ENV_SECRET} must be at least {MIN_SECRET_LENGTH} characters")
        self._key = hmac.new(secret.encode("utf-8"), _CONTEXT, hashlib.sha256).digest()

    def _sign(self, random_part: str) -> str:
        digest = hmac.new(self._key, random_part.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def issue(self) -> str:
        """A new session id: 128 random bits and their signature."""
        random_part = secrets.token_hex(16)
        return f"{random_part}.{self._sign(random_part)}"

    def valid(self, value: Any) -> bool:
        """True when `value` is a session id this server (or one sharing its secret) issued."""
        match = _SESSION_RE.match(value) if isinstance(value, str) else None
        return bool(match) and hmac.compare_digest(match.group(2), self._sign(match.group(1)))


def _stored_secret(path: pathlib.Path) -> str:
    """The secret in `path`, created first when there is none (atomically: replicas sharing a folder agree)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(fresh, path)  # fails when another process created it first: theirs wins
        except FileExistsError:
            pass
        finally:
            fresh.unlink()
        logger.info("widget session secret created in %s (set %s to choose one)", path, ENV_SECRET)
    return path.read_text(encoding="ascii").strip()


def session_secret(environ: Optional[Mapping[str, str]] = None, folder: Optional[pathlib.Path] = None) -> str:
    """The widget session secret: `FRONTLINE_SESSION_SECRET`, else the one kept under `FRONTLINE_VAR`.

    Args:
        environ: the environment (`os.environ` when omitted).
        folder: where the kept secret lives (`bot.settings.var_dir()` when omitted).

    Returns:
        The secret; a random one for this process only (with a warning) when none is set and the folder cannot
        be written.

    Raises:
        SettingsError: `FRONTLINE_SESSION_SECRET` is set but shorter than 32 characters.
    """
    environ = os.environ if environ is None else environ
    given = environ.get(ENV_SECRET, "")
    if given:
        if len(given) < MIN_SECRET_LENGTH:
            raise SettingsError(f"{ENV_SECRET} must be at least {MIN_SECRET_LENGTH} characters")
        return given
    try:
        if folder is None:
            from bot.settings import var_dir

            folder = var_dir()
        return _stored_secret(folder / SECRET_FILE)
    except OSError as error:
        logger.warning(
            "%s unset and %s cannot be kept (%s): widget sessions last until this process stops", ENV_SECRET,
            SECRET_FILE, error,
        )
        return secrets.token_urlsafe(48)
