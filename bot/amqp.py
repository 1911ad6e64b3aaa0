"""RabbitMQ in one place for Rasa's broker (`bot.pika_broker`) and the desk's consumer (`bot.desk.events`):
the connection URL (`amqp_url`: user and password percent-encoded, so a password with `@ : / %` works), and the
queue both declare (`QUEUE_ARGUMENTS`).

The queue is single-active-consumer (`x-single-active-consumer: true`): however many desk processes consume it,
RabbitMQ delivers to one at a time and hands over to another, in queue order, when that one's connection ends,
so one conversation's messages are never split between desks. RabbitMQ refuses to redeclare an existing queue
with other arguments (PRECONDITION_FAILED), so the queue got a new name (`frontline_events_ordered` in
`endpoints.prod.yml`); the queue of earlier versions, named in the endpoints file's `event_broker.drain_queues`
(`frontline_events`), is unbound, drained and deleted by the desk (`bot.desk.events`). Named there, not built in:
a desk drains only the queues its own configuration names, never another deployment's on a shared RabbitMQ.
"""

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


# The arguments of the queue Rasa's broker publishes to and the desk consumes (declared the same on both sides).
QUEUE_ARGUMENTS = {"x-single-active-consumer": True}


def queue_arguments_refused(queue: str) -> str:
    """What to do when RabbitMQ refused to declare `queue` with `QUEUE_ARGUMENTS` (PRECONDITION_FAILED): the queue
    exists with other arguments, made by an older version or by Rasa's own pika broker."""
    return (
        f"RabbitMQ queue {queue!r} exists without x-single-active-consumer (an older Frontline, or Rasa's own pika "
        "broker, declared it): name a new queue in the endpoints file's event_broker.queues (endpoints.prod.yml: "
        "frontline_events_ordered) and the old one in event_broker.drain_queues: the desk stores what is left in it "
        "and deletes it"
    )
