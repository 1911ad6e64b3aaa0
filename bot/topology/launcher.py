"""`python -m bot run --production --replicas N`: the production layout on one machine, supervised.

Checks everything it can before starting anything (HAProxy installed, the shared stores configured and
reachable, every port free, nothing still running from an earlier start), then starts HAProxy, N action
servers, N desks and N Rasa servers on the PostgreSQL, Redis and RabbitMQ the usual variables name, restarts
what dies, and stops everything on one Ctrl-C (or SIGTERM), removing the pid files.

Reuses `bot.run` for what every start shares: the settings check, the environment (`build_env`), the endpoints
file (`write_endpoints`) and the Rasa command line (`rasa_command`).
"""

from __future__ import annotations

import argparse
import logging
import os
import pathlib
import re
import signal
import socket
import string
import sys
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from sqlalchemy.exc import SQLAlchemyError

from bot import data_keys, redis_config, run
from bot.settings import SettingsError, repo_root
from bot.topology import haproxy
from bot.topology.layout import LOOPBACK, LayoutPorts, Plan, plan, port_free
from bot.topology.supervisor import AlreadyRunning, Program, Supervisor

logger = logging.getLogger(__name__)

PRODUCTION_ENDPOINTS = "endpoints.prod.yml"
# Variables of the endpoints file that the launcher sets itself (the secrets `make run` generates when unset).
SET_BY_LAUNCHER = {"FRONTLINE_ACTION_URL", *run.GENERATED_SECRETS}
# The lock store whose Redis comes from the environment (bot/redis_config.py), not from the endpoints file.
REDIS_LOCK_STORE = "bot.lock_store.RedisLockStore"
POLL_SECONDS = 0.5
# HAProxy marks a server UP after two good checks 2 s apart (deploy/haproxy.cfg.template); allow for a slow one
HAPROXY_UP_SECONDS = 30.0
_VARIABLE = re.compile(r"\$\{(\w+)\}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The production arguments of `python -m bot run`."""
    defaults = LayoutPorts()
    group = parser.add_argument_group(
        "production (deploy/README.md)",
        "N Rasa servers, N action servers and N desks behind HAProxy, on PostgreSQL, Redis and RabbitMQ",
    )
    group.add_argument("--production", action="store_true", help="start the production layout")
    group.add_argument("--replicas", type=int, default=None, help="processes of each kind (default 2)")
    group.add_argument("--assistant-port", type=int, default=defaults.assistant, help="public: channels, socket.io")
    group.add_argument("--desk-port", type=int, default=defaults.desk, help="public: the desk")
    group.add_argument("--actions-port", type=int, default=defaults.actions, help="internal: the action servers")
    group.add_argument("--stats-port", type=int, default=defaults.stats, help="internal: HAProxy's statistics")
    group.add_argument(
        "--replica-ports", type=int, default=defaults.replica_base,
        help="base of the replicas' ports: rasa-i on BASE+i, actions-i on BASE+100+i, desk-i on BASE+200+i",
    )
    group.add_argument("--start-timeout", type=float, default=300.0, help="seconds for everything to answer")
    group.add_argument(
        "--print-haproxy", action="store_true", help="print HAProxy's configuration for this layout and exit"
    )


def layout_from(args: argparse.Namespace) -> Plan:
    """The layout the arguments and `FRONTLINE_LISTEN_HOST` (where the public ports listen) ask for."""
    ports = LayoutPorts(
        assistant=args.assistant_port, desk=args.desk_port, actions=args.actions_port, stats=args.stats_port,
        replica_base=args.replica_ports,
    )
    listen_host = os.environ.get("FRONTLINE_LISTEN_HOST", "").strip() or LOOPBACK
    return plan(args.replicas or 2, ports, listen_host)


def _endpoints_path(root: pathlib.Path, name: str) -> pathlib.Path:
    path = pathlib.Path(name)
    return path if path.is_absolute() else root / path


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _shared_redis(label: str, environ: Mapping[str, str]) -> List[Tuple[str, str, int]]:
    """The Redis every replica shares (`bot.redis_config`), as one (what, host, port), or none when unset."""
    try:
        settings = redis_config.redis_settings(environ)
    except SettingsError:
        return []  # named by preflight from the same settings
    return [(label, settings.host, settings.port)] if settings else []


def _services(
    endpoints: Mapping[str, Any], database_url: str, environ: Mapping[str, str]
) -> List[Tuple[str, str, int]]:
    """(what, host, port) of each service the layout needs, from the expanded endpoints, DATABASE_URL and the
    shared Redis's variables."""
    found: List[Tuple[str, str, int]] = []
    for key, label, default_port in (
        ("tracker_store", "the tracker store's PostgreSQL", 5432),
        ("lock_store", "the lock store's Redis", 6379),
        ("event_broker", "the event broker's RabbitMQ", 5672),
    ):
        section = endpoints.get(key) or {}
        host = str(section.get("url") or "").strip()
        if host and "://" not in host:
            found.append((label, host, int(section.get("port") or default_port)))
        elif key == "lock_store" and section.get("type") == REDIS_LOCK_STORE:
            found.extend(_shared_redis(label, environ))
    if database_url:
        from sqlalchemy.engine import make_url

        url = make_url(database_url)
        found.append(("the desk's PostgreSQL (DATABASE_URL)", url.host or LOOPBACK, int(url.port or 5432)))
    return found


def preflight(root: pathlib.Path, layout: Plan, env: Mapping[str, str]) -> List[str]:
    """Everything that would stop the layout from starting, each as one sentence; empty when all is well."""
    import yaml

    problems: List[str] = []
    try:
        haproxy.binary()
    except haproxy.HAProxyError as error:
        problems.append(str(error))
    name = env.get("FRONTLINE_ENDPOINTS") or PRODUCTION_ENDPOINTS
    path = _endpoints_path(root, name)
    expanded: Dict[str, Any] = {}
    if not path.is_file():
        problems.append(f"the endpoints file {path} (FRONTLINE_ENDPOINTS) does not exist")
    else:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text) or {}
        for key in ("tracker_store", "event_broker"):
            if (raw.get(key) or {}).get("dialect") == "sqlite":
                problems.append(
                    f"{name} keeps the {key} in SQLite, which several Rasa servers cannot share: "
                    f"use FRONTLINE_ENDPOINTS={PRODUCTION_ENDPOINTS}"
                )
        if (raw.get("lock_store") or {}).get("type") in (None, "in_memory"):
            problems.append(
                f"{name} has no shared lock store: several Rasa servers need Redis's "
                f"(FRONTLINE_ENDPOINTS={PRODUCTION_ENDPOINTS})"
            )
        unset = sorted({v for v in _VARIABLE.findall(text) if v not in env and v not in SET_BY_LAUNCHER})
        if unset:
            problems.append(f"{name} needs these variables, unset: {', '.join(unset)} (README: Environment variables)")
        expanded = yaml.safe_load(string.Template(text).safe_substitute(env)) or {}
    database_url = env.get("DATABASE_URL", "").strip()
    if not database_url.startswith(("postgresql://", "postgres://", "postgresql+")):
        problems.append("the desks share one database: set DATABASE_URL=postgresql://user@host:5432/db")
        database_url = ""
    if (expanded.get("lock_store") or {}).get("type") == REDIS_LOCK_STORE:
        try:
            if redis_config.redis_settings(env) is None:
                problems.append(
                    "the Rasa servers share a lock store in Redis: set FRONTLINE_REDIS_URL or FRONTLINE_REDIS_HOST"
                )
        except SettingsError as error:
            problems.append(str(error))
    if not (env.get(data_keys.ENV_KEYS) or "").strip():
        problems.append(
            f"production mode encrypts stored conversations: set {data_keys.ENV_KEYS} (docs/security/data.md)"
        )
    for label, host, port in _services(expanded, database_url, env):
        if not _reachable(host, port):
            problems.append(f"cannot reach {label} at {host}:{port}")
    for what, (host, port) in layout.listening().items():
        if not port_free(host if host not in ("", "*") else "0.0.0.0", port):
            problems.append(f"port {port} ({what}) is already in use: is Frontline, or another server, still running?")
    return problems


def programs(
    root: pathlib.Path,
    layout: Plan,
    env: Mapping[str, str],
    endpoints: pathlib.Path,
    model: pathlib.Path,
    haproxy_binary: str,
    haproxy_config: pathlib.Path,
) -> List[Program]:
    """Every process of the layout, HAProxy first, then the action servers, the desks and the Rasa servers."""
    # Replicas listen on the loopback interface only: HAProxy is the public listener. Each kind of process gets
    # only the secrets it needs (bot/servers/process_secrets.py), as `make run` does.
    replica_env = {**env, "FRONTLINE_LISTEN_HOST": LOOPBACK, "FRONTLINE_ACTIONS_HOST": LOOPBACK}

    def env_of(kind: str, **extra: str) -> Dict[str, str]:
        return {**run.process_env(dict(replica_env), kind), **extra}

    found = [
        Program(
            "haproxy", haproxy.command(haproxy_binary, haproxy_config), {"PATH": env.get("PATH", "/usr/bin:/bin")},
            layout.haproxy_health_url, root,
        )
    ]
    found += [
        Program(r.name, run.actions_command(r.port), env_of("actions"), r.health_url, root) for r in layout.of("actions")
    ]
    found += [
        Program(
            r.name, [sys.executable, "-m", "bot", "desk", "run"],
            env_of("desk", FRONTLINE_DESK_PORT=str(r.port), FRONTLINE_DESK_WORKERS="1"), r.health_url, root,
        )
        for r in layout.of("desk")
    ]
    found += [
        Program(r.name, run.rasa_command(root, r.port, model, endpoints), env_of("rasa"), r.health_url, root)
        for r in layout.of("rasa")
    ]
    return found


def servers_down(layout: Plan) -> List[str]:
    """The replicas HAProxy does not see UP yet (all of them while its statistics do not answer)."""
    try:
        states = haproxy.server_states(layout.stats_url)
    except OSError:
        return [replica.name for replica in layout.replicas]
    return [
        replica.name for replica in layout.replicas
        if states.get(f"{replica.kind}/{replica.name}", {}).get("status") != "UP"
    ]


def create_desk_tables(database_url: str) -> None:
    """Create the desk's missing tables once, before the desks start: N desks creating them at once collide.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database refused.
    """
    from bot.desk.store import Store

    store = Store(database_url)
    try:
        store.migrate()
    finally:
        store.close()


def banner(layout: Plan, var: pathlib.Path) -> str:
    """What the launcher prints once everything answers."""
    n = len(layout.of("rasa"))
    return f"""
Frontline is running in production mode: {n} Rasa servers, {n} action servers and {n} desks behind HAProxy.
  Assistant (channels, socket.io, Rasa's HTTP API): {layout.assistant_url}
  Agent console:        {layout.desk_url}/console   (create an agent: python -m bot desk add-agent NAME --skills general)
  Supervisor dashboard: {layout.desk_url}/dashboard   (a supervisor: add-agent NAME --skills general --role supervisor)
  Action servers (internal):       {layout.actions_url}
  HAProxy's statistics (internal): {layout.stats_url}
Pid files: {var / 'run'}/. Logs: {var / 'logs'}/. Press Ctrl-C once to stop everything.
"""


def main(args: argparse.Namespace) -> int:
    """Start the production layout and supervise it until Ctrl-C or SIGTERM; return the exit status."""
    try:
        layout = layout_from(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    root = repo_root()
    if args.print_haproxy:
        print(haproxy.render(layout, root), end="")
        return 0
    from bot.settings import SettingsError

    try:
        run.check_settings()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    var = pathlib.Path(os.environ.get("FRONTLINE_VAR") or root / "var")
    extra = {"FRONTLINE_ENDPOINTS": os.environ.get("FRONTLINE_ENDPOINTS") or PRODUCTION_ENDPOINTS}
    problems = preflight(root, layout, {**os.environ, **extra})
    model = args.model or run.latest_model(root)
    if model is None:
        problems.append("no trained model under models/: run `make train` first")
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    assert model is not None
    run_dir, log_dir = var / "run", var / "logs"
    run_dir.mkdir(parents=True, exist_ok=True)
    env = run.build_env(
        var, run.Ports(rasa=layout.ports.assistant, actions=layout.ports.actions, desk=layout.ports.desk), extra
    )
    # our own processes reach the public ports where HAProxy listens
    env["FRONTLINE_RASA_URL"] = layout.assistant_url
    env["FRONTLINE_DESK_URL"] = layout.desk_url
    endpoints = run.write_endpoints(
        root, var, run.Ports(rasa=layout.ports.assistant, actions=layout.ports.actions, desk=layout.ports.desk),
        env["FRONTLINE_ENDPOINTS"],
    )
    try:
        create_desk_tables(env["DATABASE_URL"])
    except SQLAlchemyError as error:
        print(f"error: could not create the desk's tables: {error}", file=sys.stderr)
        return 1
    executable = haproxy.binary()
    config = run_dir / "haproxy.cfg"
    config.write_text(haproxy.render(layout, root), encoding="utf-8")
    try:
        haproxy.check(executable, config)
    except haproxy.HAProxyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    supervisor = Supervisor(programs(root, layout, env, endpoints, model, executable, config), run_dir, log_dir)
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    n = len(layout.of("rasa"))
    print(f"Starting HAProxy, {n} action servers, {n} desks and {n} Rasa servers (a minute or two)…", flush=True)
    try:
        supervisor.start()
    except AlreadyRunning as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    status = 0
    try:
        if not supervisor.wait_until_running(args.start_timeout, lambda: stopping):
            if not stopping:
                waiting = [name for name, state in supervisor.states().items() if state.value != "running"]
                print(f"error: not running after start-up: {', '.join(waiting)} (see {log_dir})", file=sys.stderr)
                status = 1
            return status
        # running is not reachable yet: HAProxy routes to a replica after two good checks
        deadline = time.monotonic() + HAPROXY_UP_SECONDS
        while servers_down(layout) and time.monotonic() < deadline and not stopping:
            supervisor.poll()
            time.sleep(POLL_SECONDS)
        if stopping:
            return status
        down = servers_down(layout)
        if down:
            print(f"error: HAProxy does not see these up: {', '.join(down)} (see {log_dir})", file=sys.stderr)
            return 1
        if "RASA_TOKEN" not in os.environ:
            print("RASA_TOKEN was not set: this run generated one, which the desk holds.")
        print(banner(layout, var), flush=True)
        while not stopping:
            supervisor.poll()
            if "haproxy" in supervisor.given_up():
                print("error: HAProxy keeps dying: nothing is reachable; stopping the rest", file=sys.stderr)
                status = 1
                break
            time.sleep(POLL_SECONDS)
    finally:
        print("Stopping…", flush=True)
        supervisor.stop()
        print("Stopped.", flush=True)
    return status


def dispatch(args: argparse.Namespace) -> Optional[int]:
    """`python -m bot run`'s way in: the exit status of a production run, or None for the default `make run`."""
    if getattr(args, "production", False):
        return main(args)
    if getattr(args, "replicas", None) is not None or getattr(args, "print_haproxy", False):
        print("error: --replicas and --print-haproxy go with --production", file=sys.stderr)
        return 2
    return None
