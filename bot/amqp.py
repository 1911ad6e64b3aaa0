"""RabbitMQ connection URLs, built in one place for Rasa's broker (`bot.pika_broker`) and the desk's consumer
(`bot.desk.config.broker_url`): the user and password are percent-encoded, so a password with `@ : / %` works."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit


def amqp_url(host: str, port: Any = 5672, username: str = "guest", password: str = "guest", vhost: str = "/") -> str:
    """The `amqp://user:password@host:port/vhost` URL, user and password percent-encoded.

    Args:
        host: a host name, or an `amqp://` / `amqps://` URL (its own credentials, when it has them, are kept).
        port: the port when `host` is a name (or a URL without one).
        username: the user (encoded here: give it as it is).
        password: the password (encoded here: give it as it is).
        vhost: the virtual host when `host` is a name.
    """
    credentials = f"{quote(str(username), safe='')}:{quote(str(password), safe='')}@"
    if host.startswith(("amqp://", "amqps://")):
        parts = urlsplit(host)
        if "@" in parts.netloc:
            return host
        netloc = f"{credentials}{parts.netloc}"
        if parts.port is None and port:
            netloc = f"{netloc}:{port}"
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, parts.fragment))
    path = "/" if vhost in ("", "/") else "/" + quote(vhost, safe="")
    return f"amqp://{credentials}{host}:{port}{path}"
