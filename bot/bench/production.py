"""The production layout started for a load bench: `python -m bot run --production --replicas N` as a user starts
it, on free ports, a temporary var folder and a fresh PostgreSQL database, on Redis and RabbitMQ.

What differs from a real deployment, and why:
- a settings file of the run's own (`FRONTLINE_SETTINGS`) raises the abuse limits: the REST customers all come
  from 127.0.0.1, and `limits.conversation_messages` / `widget_connections_per_address` would refuse a bench's
  pace (docs/security/limits.md, "Load tests");
- the clock is pinned to a Monday morning (`FRONTLINE_NOW`): handoffs happen in business hours, whenever the
  bench runs;
- Rasa publishes to a fanout exchange and queue of the run's own (deleted afterwards), and the desks' broker
  consumer is off (`FRONTLINE_BROKER=none`): other runs on the same RabbitMQ never see this run's events, nor
  this run theirs. The measured paths (handoff, agent reply) do not pass through the broker.

Services: `FRONTLINE_BENCH_PG` (default `postgresql://postgres@127.0.0.1:5432`), Redis 127.0.0.1:6379, RabbitMQ
guest/guest on 127.0.0.1:5672 (`FRONTLINE_REDIS_*`, `FRONTLINE_RABBITMQ_*` when set).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Dict, Iterator, List

import yaml

from bot.devtools.postgres import LOCAL, run_sql
from bot.data_keys import generate_key
from bot.run import latest_model
from bot.settings import repo_root
from bot.topology.layout import Plan, free_plan

BENCH_NOW = "2025-12-01T10:00:00+08:00"  # a Monday, 10:00 in Shanghai: business hours
UNLIMITED = "1000000 per minute"
START_TIMEOUT = 600.0
PROCESS_KINDS = ("rasa", "actions", "desk", "haproxy")


def cpu_seconds(pids: List[int]) -> float:
    """CPU seconds (user + system) used so far by these processes and their descendants."""
    parents: Dict[int, int] = {}
    times: Dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    wanted = set(pids)
    grew = True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in wanted} - wanted
        grew = bool(found)
        wanted |= found
    return sum(times.get(pid, 0.0) for pid in wanted)


# The machine's shared services, by process name: their CPU is the whole machine's (other work on it counts too)
SERVICE_PROCESSES = {"postgres": "postgresql", "redis-server": "redis", "beam.smp": "rabbitmq"}


def service_cpu_seconds() -> Dict[str, float]:
    """CPU seconds used so far by every PostgreSQL, Redis and RabbitMQ process of the machine (`/proc`)."""
    used = {name: 0.0 for name in SERVICE_PROCESSES.values()}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                head, tail = stat.read().rsplit(")", 1)
        except OSError:
            continue
        service = SERVICE_PROCESSES.get(head.split("(", 1)[1])
        if service:
            fields = tail.split()
            used[service] += (int(fields[11]) + int(fields[12])) / tick
    return used


class LayoutError(RuntimeError):
    """The production layout did not start (the message says why and where its logs are)."""


@dataclasses.dataclass
class ProductionRun:
    """A running production layout and what a bench needs to drive it."""

    launcher: subprocess.Popen
    layout: Plan
    var: pathlib.Path
    env: Dict[str, str]

    @property
    def desk_secret(self) -> str:
        """The secret of the desk's `/internal` API."""
        return self.env["FRONTLINE_DESK_SECRET"]

    def pids(self, kind: str) -> List[int]:
        """The pids of the running processes of one kind (`desk`, `rasa`…), from their pid files."""
        found = []
        paths = sorted((self.var / "run").glob(f"{kind}-*.pid")) + sorted((self.var / "run").glob(f"{kind}.pid"))
        for path in paths:
            try:
                found.append(int(path.read_text().strip()))
            except (OSError, ValueError):
                continue
        return found


    def cpu_by_kind(self) -> Dict[str, float]:
        """CPU seconds used so far by each kind of process of the layout (with their children): `rasa`,
        `actions`, `desk`, `haproxy`; and by the machine's `postgresql`, `redis` and `rabbitmq`."""
        return {**{kind: cpu_seconds(self.pids(kind)) for kind in PROCESS_KINDS}, **service_cpu_seconds()}

    def servers_marked_down(self) -> Dict[str, int]:
        """How often HAProxy has marked each server DOWN (health checks failed) since it started; a server counts
        once for its start."""
        from bot.topology.haproxy import server_states

        try:
            states = server_states(self.layout.stats_url)
        except OSError:
            return {}
        return {name: int(row.get("chkdown") or 0) for name, row in states.items() if int(row.get("chkdown") or 0)}

    def marked_down_since(self, before: Dict[str, int]) -> Dict[str, int]:
        """The servers HAProxy marked DOWN since `before` (a `servers_marked_down()`), and how often."""
        return {
            name: count - before.get(name, 0)
            for name, count in self.servers_marked_down().items() if count > before.get(name, 0)
        }


def free_layout(replicas: int) -> Plan:
    """A layout of `replicas` processes of each kind on ports nobody uses."""
    try:
        return free_plan(replicas)
    except RuntimeError as error:
        raise LayoutError(str(error)) from None


def _pg_admin(sql: str) -> None:
    run_sql(sql, "postgres", os.environ.get("FRONTLINE_BENCH_PG", LOCAL))


def _write_settings(root: pathlib.Path, var: pathlib.Path) -> pathlib.Path:
    settings = yaml.safe_load((root / "settings.yml").read_text(encoding="utf-8"))
    for key in ("conversation_messages", "widget_connections_per_address", "widget_conversations_per_address"):
        settings["limits"][key] = UNLIMITED
    path = var / "settings.bench.yml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _write_endpoints(root: pathlib.Path, var: pathlib.Path, tag: str) -> pathlib.Path:
    endpoints = yaml.safe_load((root / "endpoints.prod.yml").read_text(encoding="utf-8"))
    endpoints["event_broker"]["queues"] = [f"frontline_bench_{tag}"]
    endpoints["event_broker"]["exchange_name"] = f"frontline-bench-{tag}"
    path = var / "endpoints.bench.yml"
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False), encoding="utf-8")
    return path


def _delete_broker_objects(tag: str) -> None:
    import aio_pika

    user = os.environ.get("FRONTLINE_RABBITMQ_USER", "guest")
    password = os.environ.get("FRONTLINE_RABBITMQ_PASSWORD", "guest")
    host = os.environ.get("FRONTLINE_RABBITMQ_HOST", "127.0.0.1")

    async def delete() -> None:
        connection = await aio_pika.connect(login=user, password=password, host=host)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(f"frontline_bench_{tag}")
            await channel.exchange_delete(f"frontline-bench-{tag}")

    try:
        asyncio.run(delete())
    except Exception:  # noqa: BLE001 - boundary: cleaning up is best effort; the names are the run's own
        print(f"note: could not delete RabbitMQ queue frontline_bench_{tag}", file=sys.stderr)


def _environment(var: pathlib.Path, database: str, settings: pathlib.Path, endpoints: pathlib.Path) -> Dict[str, str]:
    env = {
        **os.environ,
        "FRONTLINE_NOW": BENCH_NOW,
        "FRONTLINE_VAR": str(var),
        "FRONTLINE_SETTINGS": str(settings),
        "FRONTLINE_ENDPOINTS": str(endpoints),
        "FRONTLINE_PG_HOST": "127.0.0.1",
        "FRONTLINE_PG_PORT": "5432",
        "FRONTLINE_PG_DB": database,
        "FRONTLINE_PG_USER": "postgres",
        "FRONTLINE_PG_PASSWORD": "",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "FRONTLINE_BROKER": "none",
        "FRONTLINE_DATA_KEYS": generate_key(),
        "RASA_TOKEN": secrets.token_urlsafe(24),
        "FRONTLINE_ACTION_TOKEN": secrets.token_urlsafe(24),
        "FRONTLINE_DESK_SECRET": secrets.token_urlsafe(24),
        "FRONTLINE_REST_TOKEN": "",
    }
    env.setdefault("FRONTLINE_REDIS_HOST", "127.0.0.1")
    env.setdefault("FRONTLINE_RABBITMQ_HOST", "127.0.0.1")
    env.setdefault("FRONTLINE_RABBITMQ_USER", "guest")
    env.setdefault("FRONTLINE_RABBITMQ_PASSWORD", "guest")
    env.pop("FRONTLINE_LISTEN_HOST", None)
    return env


@contextlib.contextmanager
def production_layout(replicas: int, progress=print) -> Iterator[ProductionRun]:
    """Start the production layout with `replicas` processes of each kind; stop it and drop its database after.

    Raises:
        LayoutError: no trained model, or the layout did not start (with the launcher's last lines).
    """
    root = repo_root()
    model = latest_model(root)
    if model is None:
        raise LayoutError("no trained model under models/: run `make train` first")
    tag = uuid.uuid4().hex[:8]
    database = f"frontline_bench_{tag}"
    _pg_admin(f'CREATE DATABASE "{database}"')
    layout = free_layout(replicas)
    try:
        with tempfile.TemporaryDirectory(prefix="frontline-bench-") as tmp:
            var = pathlib.Path(tmp)
            env = _environment(var, database, _write_settings(root, var), _write_endpoints(root, var, tag))
            output = var / "launcher.log"
            ports = layout.ports
            progress(f"starting the production layout: {replicas} of each kind (a minute or two)…")
            with open(output, "wb") as out:
                launcher = subprocess.Popen(
                    [sys.executable, "-m", "bot", "run", "--production", "--replicas", str(replicas),
                     "--model", str(model), "--assistant-port", str(ports.assistant), "--desk-port", str(ports.desk),
                     "--actions-port", str(ports.actions), "--stats-port", str(ports.stats),
                     "--replica-ports", str(ports.replica_base), "--start-timeout", str(START_TIMEOUT)],
                    cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                )
            try:
                deadline = time.monotonic() + START_TIMEOUT + 60
                while "Frontline is running" not in output.read_text(errors="replace"):
                    if launcher.poll() is not None or time.monotonic() > deadline:
                        raise LayoutError(
                            f"the production layout did not start (launcher exit {launcher.poll()}):\n"
                            + output.read_text(errors="replace")[-3000:]
                        )
                    time.sleep(1)
                yield ProductionRun(launcher, layout, var, env)
            finally:
                _stop(launcher)
    finally:
        _delete_broker_objects(tag)
        _pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _stop(launcher: subprocess.Popen) -> None:
    if launcher.poll() is not None:
        return
    launcher.send_signal(signal.SIGINT)  # the launcher stops every process it started
    try:
        launcher.wait(90)
    except subprocess.TimeoutExpired:
        os.killpg(launcher.pid, signal.SIGKILL)
        launcher.wait()
