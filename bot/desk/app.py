"""The desk's sanic app factory and runner.

`create_app()` builds a uniquely named app and starts nothing. Listeners open the store (creating missing
tables) before the server starts; after it starts they start the broker consumer and this process's background
work: reading the console feed (`bot.desk.stream.Hub.run`), the presence heartbeat (`bot.desk.presence`) and
the leader's rounds (queue-position updates, feed trimming, forgetting dead processes and old idempotency keys,
the sweep of stale pending replies and unfinished closes, abandoned waits (`bot.desk.abandonment`), the scan for tickets turning yellow or red
(`bot.desk.alerts`) and the offers of auto-assignment (`bot.desk.assignment`): on one desk process at a time,
`bot.desk.leader`); they stop all of it cleanly before it stops. Any number of desk processes may serve
the same database. `run()` (behind `python -m bot desk`) serves it on `FRONTLINE_LISTEN_HOST` (127.0.0.1) and
`FRONTLINE_DESK_PORT` (5006). `GET /metrics` answers in Prometheus' text format (`bot.desk.prometheus`, token:
`bot.metrics_http`). Request bodies over `servers.request_max_bytes.desk` get 413 before they are read
(`bot.servers.request_limits`); the demo page exists only in development (`bot.settings.production_mode`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import uuid
from typing import Any, Awaitable, Callable, List, Mapping, Optional

from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.response import json as json_response

from bot import logsafe, metrics_http
from bot.patches import sanic_framing
from bot.tasks import cancel_all
from bot.desk import api, config, prometheus
from bot.desk.console import console_blueprint
from bot.desk.demo import demo_blueprint
from bot.desk.errors import DeskError
from bot.desk.events import Consumer, consumer_for
from bot.desk.leader import LEASE_SECONDS, Lease, run_as_leader
from bot.desk.presence import ALIVE_SECONDS, HEARTBEAT_SECONDS
from bot.desk.rasa_client import RasaClient
from bot.desk.service import Desk
from bot.desk.sla import BusinessHours
from bot.desk.store import Store
from bot.desk.stream import FEED_KEEP_SECONDS, Hub
from bot.key_facts.shown import warm_up_key_facts
from bot.servers import listen, request_limits
from bot.settings import production_mode

logger = logging.getLogger(__name__)

_COUNTER = itertools.count(1)
AUTO = "auto"
POSITION_NOTIFY_SECONDS = 5.0
LEADER_LEASE = "desk_leader"
# Rows of processes silent this long are deleted (they stopped counting after `Cadence.alive`).
FORGET_PROCESSES_SECONDS = 3600.0
# /health gives the database this long to answer.
HEALTH_TIMEOUT_SECONDS = 2.0


@dataclasses.dataclass(frozen=True)
class Cadence:
    """How often the desk's background work runs, in seconds (the defaults are production's; tests shorten them).

    Attributes:
        leader_round: the leader's round: queue-position updates, feed trimming, forgetting dead processes and
            old idempotency keys, the sweep (`bot.desk.sweeper`), the at-risk scan, auto-assignment offers.
        lease: how long the leader's lease lasts without renewal (another desk takes over this long after the
            leader died).
        heartbeat: how often this process marks itself alive.
        alive: a process silent this long is taken for dead (its consoles no longer make their agents online).
        feed_keep: how long console events are kept for catching up (`Last-Event-ID`).
    """

    leader_round: float = POSITION_NOTIFY_SECONDS
    lease: float = LEASE_SECONDS
    heartbeat: float = HEARTBEAT_SECONDS
    alive: float = ALIVE_SECONDS
    feed_keep: float = FEED_KEEP_SECONDS


def create_app(
    settings: Optional[Mapping[str, Any]] = None,
    *,
    store: Optional[Store] = None,
    database_url: Optional[str] = None,
    rasa: Optional[RasaClient] = None,
    broker: Optional[str] = AUTO,
    secret: Optional[str] = None,
    calendar: Optional[BusinessHours] = None,
    notify_positions: bool = True,
    console: bool = True,
    name: Optional[str] = None,
    cadence: Optional[Cadence] = None,
) -> Sanic:
    """Build the desk app.

    Args:
        settings: the whole settings mapping; `settings.yml` when None.
        store: a store to use; otherwise one for `database_url` (or `DATABASE_URL`, or `var/desk.db`).
        database_url: the database when no store is given.
        rasa: the Rasa client; otherwise one for `FRONTLINE_RASA_URL` and `RASA_TOKEN`.
        broker: the event broker URL (`amqp://…`, `sqlite:///…`); `auto` reads `FRONTLINE_BROKER` /
            `endpoints.yml`; None switches the consumer off.
        secret: the internal API secret; `FRONTLINE_DESK_SECRET` (read per request) when None.
        calendar: the business calendar (`add_business_time`, `is_open`, `next_opening`: `BusinessHours`);
            `bot.calendar.get_calendar()` by default.
        notify_positions: tell waiting customers when their queue position improves a lot.
        console: mount the console and dashboard pages (`bot.desk.console`) and, outside production mode,
            the demo page (`bot.desk.demo`).
        name: the app name; unique by default.
        cadence: the timings of the background work (`Cadence()`: production's).

    Returns:
        The sanic app; its `ctx` holds `desk`, `store`, `hub`, `rasa`, `secret`, `lease`.
    """
    desk_settings = config.load(settings)
    sanic_framing.install()  # see bot/patches/sanic_framing.py
    logsafe.install()  # one log record, one line (bot/logsafe.py)
    app = Sanic(name or f"frontline_desk_{next(_COUNTER)}_{uuid.uuid4().hex[:6]}")
    app.config.RESPONSE_TIMEOUT = 3600  # Server-Sent Events streams stay open
    request_limits.apply(app, request_limits.request_limits(desk_settings.raw).desk)
    store = store or Store(database_url or config.database_url())
    rasa = rasa or RasaClient(config.rasa_url(), config.rasa_token(), timeout=desk_settings.rasa_timeout_seconds)
    cadence = cadence or Cadence()
    hub = Hub(store, keep_seconds=cadence.feed_keep)
    desk = Desk(store, desk_settings, rasa, hub, calendar)
    desk.presence.alive_seconds = cadence.alive
    lease = Lease(store, LEADER_LEASE, desk.presence.process_id, cadence.lease)  # both get a new id per worker
    app.ctx.desk = desk
    app.ctx.store = store
    app.ctx.hub = hub
    app.ctx.rasa = rasa
    app.ctx.secret = secret
    app.ctx.migrated = False
    app.ctx.consumer = None
    app.ctx.lease = lease
    app.ctx.background = []
    broker_url = config.broker_url() if broker == AUTO else broker

    suffix = app.name.replace("-", "_")
    app.blueprint(api.internal_blueprint(f"desk_internal_{suffix}"))
    app.blueprint(api.api_blueprint(f"desk_api_{suffix}"))
    app.error_handler.add(DeskError, api.error_handler)
    app.error_handler.add(SanicException, _sanic_error(app))
    app.error_handler.add(Exception, _sanic_error(app))

    @app.get("/health")
    async def health(_request: Any) -> Any:
        consumer: Optional[Consumer] = app.ctx.consumer
        problems = await _problems(store, consumer)
        warm_up = getattr(app.ctx, "warm_up", None)
        if warm_up is not None and not warm_up.done():
            problems.append("starting: building the key-fact pipelines")
        return json_response(
            {"status": "degraded" if problems else "ok", "problems": problems,
             "broker": bool(consumer and consumer.healthy), "leader": lease.held,
             "process": desk.presence.process_id},
            status=503 if problems else 200,
        )

    registry = prometheus.registry_for(desk)

    @app.get(metrics_http.PATH)
    async def metrics(request: Any) -> Any:
        """Prometheus' text format (`bot.desk.prometheus`; who may scrape: `bot.metrics_http`)."""
        return metrics_http.sanic_response(request, registry)

    if console:
        app.blueprint(console_blueprint(f"desk_console_{suffix}"))
        if not production_mode():  # the demo signs identities: a developer's tool, never a deployment's
            app.blueprint(demo_blueprint())

    @app.listener("before_server_start")
    async def open_store(app_: Sanic, _loop: Any) -> None:
        if not app_.ctx.migrated:
            await asyncio.get_running_loop().run_in_executor(None, store.migrate)
            app_.ctx.migrated = True
        # builds the key-fact pipelines (about a second, once per process, longer on a busy machine) in a thread,
        # not awaited: /health says "starting" (503) until they are built, so nothing waits for them unawares
        app_.ctx.warm_up = asyncio.get_running_loop().run_in_executor(None, warm_up_key_facts)

    @app.listener("after_server_start")
    async def start_background(app_: Sanic, _loop: Any) -> None:
        if broker_url and app_.ctx.consumer is None:
            consumer = consumer_for(desk, broker_url)
            if consumer is not None:
                await consumer.start()
                app_.ctx.consumer = consumer
        if not app_.ctx.background:
            loop = asyncio.get_running_loop()
            # One id per serving process: sanic's workers (FRONTLINE_DESK_WORKERS > 1) are forked from one app.
            desk.presence.process_id = lease.holder = uuid.uuid4().hex
            await loop.run_in_executor(None, desk.presence.heartbeat)
            app_.ctx.background = [
                loop.create_task(hub.run()),
                loop.create_task(_every(cadence.heartbeat, desk.presence.heartbeat, "presence heartbeat")),
                loop.create_task(run_as_leader(lease, _leader_round(desk, notify_positions), cadence.leader_round)),
            ]

    @app.listener("before_server_stop")
    async def stop_background(app_: Sanic, _loop: Any) -> None:
        if app_.ctx.consumer is not None:
            await app_.ctx.consumer.stop()
            app_.ctx.consumer = None
        tasks: List[asyncio.Task] = app_.ctx.background
        app_.ctx.background = []
        await cancel_all(tasks)
        if tasks:
            lease.release()
            try:
                desk.presence.leave()
            except Exception:  # boundary: stopping; the process's rows expire by themselves
                logger.debug("leaving the presence table failed", exc_info=True)

    @app.listener("after_server_stop")
    async def close_clients(app_: Sanic, _loop: Any) -> None:
        await rasa.close()

    return app


async def _problems(store: Store, consumer: Optional[Consumer]) -> List[str]:
    """What keeps the desk from working now: the database unreachable, the event broker unreachable."""
    problems = []
    try:
        await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, store.ping), HEALTH_TIMEOUT_SECONDS)
    except Exception as error:  # boundary: any failure of the query is the database's
        logger.debug("health: the database did not answer", exc_info=True)
        problems.append(f"database: {type(error).__name__}")
    if consumer is not None and not consumer.healthy:
        problems.append(consumer.problem or "event broker: the consumer stopped")
    return problems


def _sanic_error(app: Sanic) -> Any:
    def handler(request: Any, exception: Exception) -> Any:
        if request is not None and request.path.startswith(("/api", "/internal")):
            return api.error_handler(request, exception)
        return app.error_handler.default(request, exception)

    return handler


def _leader_round(desk: Desk, notify_positions: bool) -> Callable[[], Awaitable[None]]:
    """The work one desk process at a time does every round."""

    async def round_() -> None:
        desk.hub.trim()
        desk.store.forget_dead_processes(FORGET_PROCESSES_SECONDS)
        desk.calls.trim()
        await desk.sweeper.sweep()
        desk.at_risk.scan()
        desk.assigner.round()
        if notify_positions:
            await desk.delivery.notify_positions()
        desk.abandonment.sweep()

    return round_


async def _every(seconds: float, work: Callable[[], None], what: str) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            work()
        except Exception:  # boundary: a failed round is retried on the next
            logger.error("%s failed", what)
            logger.debug("%s failure", what, exc_info=True)


def run(host: Optional[str] = None, port: Optional[int] = None) -> None:
    """Serve the desk (blocking) on `FRONTLINE_LISTEN_HOST` (127.0.0.1) and `FRONTLINE_DESK_PORT` (5006)."""
    logging.basicConfig(level=os.environ.get("FRONTLINE_LOG_LEVEL", "INFO"))
    app = create_app(name="frontline_desk")
    app.run(
        host=host or listen.listen_host(),
        port=port or config.desk_port(),
        workers=int(os.environ.get("FRONTLINE_DESK_WORKERS", "1")),
        access_log=False,
        motd=False,
    )
