"""The Rasa server's figures for Prometheus (`GET /metrics`, `bot.metrics_http`), one registry per process.

- `frontline_rasa_turns_total{channel}` and `frontline_rasa_turn_seconds{channel}` (histogram): a turn is a
  saved customer message (`user` event); its latency runs from Rasa's timestamp of that message to the commit
  of the turn's events (NLU, policies, custom actions and the channel's sends included). Counted by the
  tracker store (`bot.stores.TunedSQLTrackerStore`), so every channel counts alike.
- `frontline_rasa_handoffs_total{reason}`: `action_handoff` run, by the `handoff_reason` set in the same turn.
- `frontline_rasa_delivery_failures_total{channel}`: replies a channel could not send (WeChat / WeCom API
  refused or unreachable; for `email`, the relay refused or unreachable, or none set: `email_smtp.not_sent`).
- `frontline_rasa_outbox_pending_events`: events stored but not yet confirmed by the event broker (the
  producer's side of the broker lag; `bot.outbox`), read at each scrape.

The route is added by `metrics_route()`, a `main_process_start` listener of `python -m bot rasa`
(`bot.servers.rasa_server`), at the server's top level, apart from the channels' `/webhooks/…`.
"""

from __future__ import annotations

import functools
import logging
import time
import weakref
from typing import Any, Callable, Iterable, Iterator, List, Optional

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from bot import metrics_http
from bot.conversations import channel_of

logger = logging.getLogger(__name__)

HANDOFF_ACTION = "action_handoff"
REASON_SLOT = "handoff_reason"
# Seconds; a turn with custom actions and a WeChat send is normally under 2 s, a slow one up to the 30 s timeout.
TURN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class _OutboxCollector:
    """Reads the outbox's length at each scrape, from the tracker store that registered it (held weakly)."""

    def __init__(self) -> None:
        self.pending: Optional[Callable[[], Callable[[], int]]] = None

    def describe(self) -> List[GaugeMetricFamily]:
        """The family's name, without reading the database."""
        return [GaugeMetricFamily("frontline_rasa_outbox_pending_events", "")]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "frontline_rasa_outbox_pending_events", "Events stored but not yet confirmed by the event broker."
        )
        reader = self.pending() if self.pending is not None else None
        if reader is not None:
            try:
                family.add_metric([], float(reader()))
            except Exception:  # boundary: a scrape must answer while the database is away
                logger.debug("reading the outbox length failed", exc_info=True)
        yield family


class RasaMeters:
    """The Rasa server's counters on their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.turns = Counter("frontline_rasa_turns", "Customer messages answered (turns saved).", ["channel"],
                             registry=self.registry)
        self.turn_seconds = Histogram(
            "frontline_rasa_turn_seconds", "Seconds from a customer message to its turn being saved.", ["channel"],
            buckets=TURN_BUCKETS, registry=self.registry,
        )
        self.handoffs = Counter("frontline_rasa_handoffs", "Handoffs to a human, by reason code.", ["reason"],
                                registry=self.registry)
        self.delivery_failures = Counter(
            "frontline_rasa_delivery_failures", "Replies a channel could not send.", ["channel"],
            registry=self.registry,
        )
        self._outbox = _OutboxCollector()
        self.registry.register(self._outbox)

    def watch_outbox(self, relay: Any) -> None:
        """Report the outbox length of this relay (`bot.outbox.OutboxRelay.pending`); the latest one wins."""
        ref = weakref.ref(relay)

        def reader() -> Optional[Callable[[], int]]:
            found = ref()
            return found.pending if found is not None else None

        self._outbox.pending = reader

    def observe_turn(self, sender_id: str, events: Iterable[Any], saved_at: Optional[float] = None) -> None:
        """Count the turns and handoffs among a save's new events (Rasa `Event` objects).

        Args:
            sender_id: the conversation id (`<channel>:<id>`); only its channel becomes a label.
            events: the events the save stored.
            saved_at: when they were committed (epoch seconds; now when None).
        """
        saved_at = time.time() if saved_at is None else saved_at
        channel = metrics_http.label(channel_of(sender_id))
        reason: Optional[str] = None
        handoff = False
        for event in events:
            kind = getattr(event, "type_name", None)
            if kind == "user":
                self.turns.labels(channel).inc()
                stamp = getattr(event, "timestamp", None)
                if isinstance(stamp, (int, float)):
                    self.turn_seconds.labels(channel).observe(max(0.0, saved_at - float(stamp)))
            elif kind == "action" and getattr(event, "action_name", None) == HANDOFF_ACTION:
                handoff = True
            elif kind == "slot" and getattr(event, "key", None) == REASON_SLOT:
                reason = getattr(event, "value", None)
        if handoff:
            self.handoffs.labels(metrics_http.label(reason) if reason else metrics_http.OTHER).inc()

    def delivery_failed(self, channel: str) -> None:
        """A reply on `channel` could not be sent."""
        self.delivery_failures.labels(metrics_http.label(channel)).inc()


@functools.lru_cache(maxsize=1)
def rasa_meters() -> RasaMeters:
    """This process's meters (created on first use)."""
    return RasaMeters()


def metrics_route() -> Any:
    """A sanic `main_process_start` listener that adds `GET /metrics` to the Rasa server's app (before sanic
    finalises its routes, after Rasa registered its API and the channels)."""

    def listener(app: Any, _loop: Any) -> None:
        async def metrics(request: Any) -> Any:
            return metrics_http.sanic_response(request, rasa_meters().registry)

        if not any(route.path.strip("/") == metrics_http.PATH.strip("/") for route in app.router.routes):
            app.add_route(metrics, metrics_http.PATH, methods=["GET"], name="frontline_metrics")

    return listener
