"""The desk's figures for Prometheus (`GET /metrics`, `bot.metrics_http`): one registry per desk app.

Two kinds, and how to add them up over several desk processes:

- figures of the shared database, read at each scrape (the same on every desk process of one database: take
  `max()` over the replicas, never `sum()`):
  `frontline_desk_queue_length{skill}`, `frontline_desk_agents_online`,
  `frontline_desk_handoffs_total{reason}` (tickets opened, by reason code),
  `frontline_desk_sla_breached_open_tickets` (open tickets past a due time now),
  `frontline_desk_sla_missed_total` (closed tickets that missed a due time),
  `frontline_desk_replies_failed` (agent replies kept as failed, waiting for a retry),
  `frontline_desk_followups_overdue` (open follow-ups past their due time);
- this process's own counters (`sum()` over the replicas):
  `frontline_desk_delivery_failures_total` (replies Rasa did not take),
  `frontline_desk_broker_events_total`, and `frontline_desk_broker_lag_seconds`: how old the latest customer
  message was when this desk took it from the event broker (Rasa's timestamp to now).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Iterator, List, Optional

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from bot import metrics_http
from bot.desk import records
from bot.desk.records import MessageStatus

logger = logging.getLogger(__name__)


class DeskMeters:
    """This desk process's counters, on the app's registry."""

    def __init__(self, registry: Optional[CollectorRegistry] = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.delivery_failures = Counter(
            "frontline_desk_delivery_failures", "Agent replies Rasa did not take (kept as failed).",
            registry=self.registry,
        )
        self.broker_events = Counter(
            "frontline_desk_broker_events", "Customer messages taken from the event broker.", registry=self.registry
        )
        self.broker_lag = Gauge(
            "frontline_desk_broker_lag_seconds",
            "Age of the latest customer message when this desk took it from the event broker.",
            registry=self.registry,
        )

    def delivery_failed(self) -> None:
        """A reply was not delivered."""
        self.delivery_failures.inc()

    def event_taken(self, timestamp: Any) -> None:
        """A customer message came from the broker; `timestamp`: Rasa's (epoch seconds)."""
        self.broker_events.inc()
        if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
            self.broker_lag.set(max(0.0, time.time() - float(timestamp)))


class DeskFigures:
    """Reads the shared database's figures at each scrape (a prometheus_client custom collector).

    Args:
        desk: the desk (`bot.desk.service.Desk`): its store and who is online.
    """

    def __init__(self, desk: Any) -> None:
        self.desk = desk

    def describe(self) -> List[Any]:
        """The families' names, without reading the database (the registry checks names when registering)."""
        return [
            GaugeMetricFamily("frontline_desk_queue_length", "", labels=["skill"]),
            CounterMetricFamily("frontline_desk_handoffs", "", labels=["reason"]),
            *(GaugeMetricFamily(name, "") for name in (
                "frontline_desk_agents_online", "frontline_desk_sla_breached_open_tickets",
                "frontline_desk_replies_failed", "frontline_desk_followups_overdue")),
            CounterMetricFamily("frontline_desk_sla_missed", ""),
        ]

    def collect(self) -> Iterator[Any]:
        """The figures now; none when the database does not answer (the scrape still succeeds)."""
        try:
            values = self._read()
        except Exception:  # boundary: a scrape must answer while the database is away (/health says why)
            logger.error("reading the desk's figures for /metrics failed")
            logger.debug("metrics read failure", exc_info=True)
            return
        yield from values

    def _read(self) -> list:
        store = self.desk.store
        now = records.now()
        figures = store.ticket_figures(now)
        queue = GaugeMetricFamily("frontline_desk_queue_length", "Tickets waiting in a queue, by skill.",
                                  labels=["skill"])
        for skill, count in _merged(figures.queued_by_skill).items():
            queue.add_metric([skill], count)
        handoffs = CounterMetricFamily("frontline_desk_handoffs", "Tickets opened, by reason code.", labels=["reason"])
        for reason, count in _merged(figures.by_reason).items():
            handoffs.add_metric([reason], count)
        online = sum(1 for agent in store.list_agents() if self.desk.presence.is_online(agent.name, now))
        return [
            queue,
            handoffs,
            GaugeMetricFamily("frontline_desk_agents_online", "Agents with a console open or active now.",
                              value=online),
            GaugeMetricFamily("frontline_desk_sla_breached_open_tickets", "Open tickets past a due time now.",
                              value=figures.open_lights.get(2, 0)),
            CounterMetricFamily("frontline_desk_sla_missed", "Closed tickets that missed a due time.",
                                value=figures.closed - figures.closed_met),
            GaugeMetricFamily("frontline_desk_replies_failed", "Agent replies kept as failed, waiting for a retry.",
                              value=store.count_messages(MessageStatus.FAILED)),
            GaugeMetricFamily("frontline_desk_followups_overdue", "Open follow-ups past their due time.",
                              value=store.count_overdue_followups(now)),
        ]


def _merged(counts: Dict[str, int]) -> Dict[str, int]:
    """Counts by safe label (values that are not short codes added up under `other`)."""
    merged: Dict[str, int] = {}
    for key, count in counts.items():
        name = metrics_http.label(key)
        merged[name] = merged.get(name, 0) + int(count)
    return merged


def registry_for(desk: Any) -> CollectorRegistry:
    """The desk's registry: its process counters (`desk.meters`) and the database's figures."""
    registry = desk.meters.registry
    registry.register(DeskFigures(desk))
    return registry
