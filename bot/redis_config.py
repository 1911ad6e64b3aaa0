"""Where Redis is and how to log in to it: the one reader of the Redis settings, for every Redis use.

Production mode shares one Redis between the Rasa replicas: Rasa's lock store (`bot.lock_store`), the WeChat and
WeCom channels' retry claims and buttons (`bot.channels.shared_state`) and the widget's socket.io pushes
(`bot.channels.webchat`). All of them read it here, from the environment:

- `FRONTLINE_REDIS_URL`: `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS (the server's
  certificate is verified; `?ssl_ca_certs=/path/ca.pem` names the CA that signed it, `ssl_certfile` and
  `ssl_keyfile` a client certificate). The port defaults to 6379, the database to 1.
- or, as before, `FRONTLINE_REDIS_HOST`, `FRONTLINE_REDIS_PORT` (6379) and `FRONTLINE_REDIS_DB` (1);
- `FRONTLINE_REDIS_PASSWORD`: the password, when the URL carries none (a secret: from the environment only).

Neither `FRONTLINE_REDIS_URL` nor `FRONTLINE_REDIS_HOST` set: one machine, no Redis (`redis_settings()` is None).
Redis must stay on a private network whatever the password: see docs/security/namespaces.md.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, Mapping, Optional
from urllib.parse import parse_qs, quote, unquote, urlsplit

from bot.settings import SettingsError

logger = logging.getLogger(__name__)

DEFAULT_PORT = 6379
DEFAULT_DB = 1  # the database Rasa's lock store has always used
# Query arguments of FRONTLINE_REDIS_URL: the TLS files (only meaningful with rediss://).
TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")


@dataclasses.dataclass(frozen=True)
class RedisSettings:
    """One Redis server and how to log in to it.

    Args:
        host: the host name or address.
        port: the TCP port.
        db: the database number.
        username: the ACL user (Redis 6), or None for the default user.
        password: the password, or None.
        tls: connect with TLS (`rediss://`), verifying the server's certificate.
        tls_files: `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile` as given.
    """

    host: str
    port: int = DEFAULT_PORT
    db: int = DEFAULT_DB
    username: Optional[str] = None
    password: Optional[str] = dataclasses.field(default=None, repr=False)
    tls: bool = False
    tls_files: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def url(self) -> str:
        """The connection URL, password included (never log it: `describe()` is for logs)."""
        login = ""
        if self.username or self.password:
            login = quote(self.username or "", safe="")
            login += f":{quote(self.password, safe='')}" if self.password else ""
            login += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'rediss' if self.tls else 'redis'}://{login}{host}:{self.port}/{self.db}"

    def describe(self) -> str:
        """`host:port/db`, with `(TLS)` and `(password)` when used: what logs may say."""
        extras = [word for word, used in (("TLS", self.tls), ("password", bool(self.password))) if used]
        return f"{self.host}:{self.port}/{self.db}" + (f" ({', '.join(extras)})" if extras else "")

    def options(self) -> Dict[str, Any]:
        """Keyword arguments for redis-py's `from_url(self.url, **options)` besides the URL: the TLS files."""
        return dict(self.tls_files) if self.tls else {}

    def client(self, **extra: Any) -> Any:
        """A synchronous `redis.Redis` client (`extra`: e.g. `socket_timeout`)."""
        import redis

        return redis.Redis.from_url(self.url, **self.options(), **extra)


def _number(name: str, value: str, default: int, low: int, high: int) -> int:
    value = (value or "").strip() or str(default)
    if not value.isdigit() or not low <= int(value) <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return int(value)


def _from_url(url: str, password: Optional[str]) -> RedisSettings:
    """The settings of `FRONTLINE_REDIS_URL` (its messages never repeat the URL: it may hold the password)."""
    name = "FRONTLINE_REDIS_URL"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise SettingsError(f"{name} is not a URL: {error}") from None
    if parts.scheme not in ("redis", "rediss"):
        raise SettingsError(f"{name} must start with redis:// or rediss:// (TLS), not {parts.scheme or 'nothing'}://")
    if not parts.hostname:
        raise SettingsError(f"{name} names no host: redis://[:password@]host[:port][/db]")
    path = unquote(parts.path or "").strip("/")
    db = _number(f"the database of {name}", path, DEFAULT_DB, 0, 1_000_000)
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - set(TLS_OPTIONS))
    if unknown:
        raise SettingsError(f"{name}: unknown option(s) {', '.join(unknown)}; known: {', '.join(TLS_OPTIONS)}")
    in_url = unquote(parts.password) if parts.password else None
    if in_url and password and in_url != password:
        raise SettingsError(f"{name} and FRONTLINE_REDIS_PASSWORD give two different passwords: set one")
    return RedisSettings(
        host=parts.hostname,
        port=port or DEFAULT_PORT,
        db=db,
        username=unquote(parts.username) if parts.username else None,
        password=in_url or password,
        tls=parts.scheme == "rediss",
        tls_files={key: values[-1] for key, values in query.items() if values[-1]},
    )


def redis_settings(environ: Optional[Mapping[str, str]] = None) -> Optional[RedisSettings]:
    """The Redis of production mode, or None on one machine (see the module docstring).

    Args:
        environ: the environment (`os.environ` when omitted).

    Returns:
        The settings, or None when neither `FRONTLINE_REDIS_URL` nor `FRONTLINE_REDIS_HOST` is set.

    Raises:
        SettingsError: a URL, port or database Frontline cannot use (the message names the variable, never the
            password).
    """
    environ = os.environ if environ is None else environ
    password = environ.get("FRONTLINE_REDIS_PASSWORD") or None
    url = (environ.get("FRONTLINE_REDIS_URL") or "").strip()
    if url:
        return _from_url(url, password)
    host = (environ.get("FRONTLINE_REDIS_HOST") or "").strip()
    if not host:
        return None
    return RedisSettings(
        host=host,
        port=_number("FRONTLINE_REDIS_PORT", environ.get("FRONTLINE_REDIS_PORT", ""), DEFAULT_PORT, 1, 65535),
        db=_number("FRONTLINE_REDIS_DB", environ.get("FRONTLINE_REDIS_DB", ""), DEFAULT_DB, 0, 1_000_000),
        password=password,
    )
