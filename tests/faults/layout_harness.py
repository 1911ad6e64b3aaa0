"""The production layout started for fault runs: `python -m bot run --production --replicas 2`, as a user starts
it, with RabbitMQ and Redis reached through `CuttableProxy`s the test cuts, its own PostgreSQL database, its own
RabbitMQ queue, and its own settings file: the leader's sweep quick (`desk.rasa_timeout_seconds`), the desk
open around the clock (the real clock runs: `FRONTLINE_NOW` is not set).

- RabbitMQ: an endpoints file copied from `endpoints.prod.yml` with the queue `frontline_fault_<run>` and the
  broker's `port` (`FRONTLINE_RABBITMQ_PORT`, the proxy's). The exchange stays Rasa's `rasa-exchange` (the desk's
  consumer declares that one, `bot.desk.events.AMQPConsumer`): other runs' events also reach this queue and are
  ignored (no ticket of theirs here), and this run's events reach other runs' queues.
- Redis: `FRONTLINE_REDIS_PORT` is the proxy's (the lock store, the delivery keys, the desks' pushes).
- PostgreSQL: the tracker store, its outbox and the desks share the run's database; `terminate_backends` kills
  every connection to it but the one asking.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Dict, Iterator, Optional

import yaml

from bot.data_keys import generate_key
from bot.run import latest_model
from bot.settings import repo_root, settings_path
from bot.topology.layout import Plan
from bot.topology.supervisor import alive, read_pid
from tests.conftest import TEST_CHANNEL_ENV
from tests.faults.proxy import CuttableProxy
from tests.topology.ports import free_layout

ROOT = repo_root()
START_TIMEOUT = 420.0
# The desk waits this long for Rasa; a reply left pending is swept after it plus the sweeper's 15 s margin.
RASA_TIMEOUT_SECONDS = 5


def pg_query(sql: str, database: str = "test") -> list:
    """Run one statement on the local PostgreSQL (autocommit) and return its rows (empty for no result)."""
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=database)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


@dataclasses.dataclass
class Layout:
    """The running launcher, its proxies and database."""

    launcher: subprocess.Popen
    plan: Plan
    var: pathlib.Path
    env: Dict[str, str]
    database: str
    queue: str
    rabbitmq: CuttableProxy
    redis: CuttableProxy

    def pid(self, name: str) -> Optional[int]:
        """The pid the launcher wrote for `name` (`rasa-1`, `desk-1`…)."""
        return read_pid(self.var / "run" / f"{name}.pid")

    def kill_9(self, name: str) -> int:
        """SIGKILL the process `name`; return its pid."""
        pid = self.pid(name)
        assert pid is not None and alive(pid), f"{name} is not running"
        os.kill(pid, signal.SIGKILL)
        return pid

    def restarted(self, name: str, old: int) -> bool:
        """True when `name` runs again under a new pid."""
        new = self.pid(name)
        return new is not None and new != old and alive(new)

    def terminate_backends(self) -> int:
        """Kill every PostgreSQL connection to the run's database (the desks', Rasa's, the relay's)."""
        rows = pg_query(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.database}' "
            "AND pid <> pg_backend_pid()",
            self.database,
        )
        return len(rows)

    def outbox_rows(self) -> int:
        """Rows the relay has not had confirmed by RabbitMQ yet."""
        return int(pg_query("SELECT count(*) FROM frontline_outbox", self.database)[0][0])

    def pending_replies(self) -> int:
        """Agent replies stored `pending` (sent to Rasa, no answer yet)."""
        return int(pg_query("SELECT count(*) FROM desk_messages WHERE status = 'pending'", self.database)[0][0])

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the launcher's output and of each process's log."""
        parts = [(self.var / "launcher.log").read_text(errors="replace")[-chars:]]
        for log in sorted((self.var / "logs").glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)


def _endpoints(path: pathlib.Path, queue: str) -> None:
    endpoints = yaml.safe_load((ROOT / "endpoints.prod.yml").read_text(encoding="utf-8"))
    endpoints["event_broker"]["port"] = "${FRONTLINE_RABBITMQ_PORT}"
    endpoints["event_broker"]["queues"] = [queue]
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False), encoding="utf-8")


def _settings(path: pathlib.Path) -> None:
    settings = yaml.safe_load(settings_path().read_text(encoding="utf-8"))
    settings["desk"]["rasa_timeout_seconds"] = RASA_TIMEOUT_SECONDS
    # Open around the clock, on the real clock: `FRONTLINE_NOW` would pin the desk's clock too, and a pinned
    # clock never lets a pending reply grow stale, so the sweep would never run.
    settings["calendar"]["hours"] = {day: ["00:00-24:00"] for day in settings["calendar"]["hours"]}
    settings["calendar"]["use_china_holidays"] = False
    path.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _processes_of(var: pathlib.Path) -> list:
    marker = f"FRONTLINE_VAR={var}".encode()
    found = []
    for environ in pathlib.Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0") and alive(int(environ.parent.name)):
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


def start_layout() -> Iterator[Layout]:
    """Start the layout (a generator for a fixture): yields once everything answers, stops it all after."""
    model = latest_model(ROOT)
    assert model is not None, "no trained model under models/: run `make train` first"
    run_id = uuid.uuid4().hex[:8]
    database, queue = f"frontline_faults_{run_id}", f"frontline_fault_{run_id}"
    pg_query(f'CREATE DATABASE "{database}"')
    rabbitmq = CuttableProxy(("127.0.0.1", 5672)).start()
    redis = CuttableProxy(("127.0.0.1", 6379)).start()
    plan = free_layout()
    tmp = tempfile.TemporaryDirectory(prefix="frontline-faults-")
    var = pathlib.Path(tmp.name)
    _endpoints(var / "endpoints.faults.yml", queue)
    _settings(var / "settings.faults.yml")
    env = {
        **os.environ, **TEST_CHANNEL_ENV,
        "FRONTLINE_VAR": str(var),
        "FRONTLINE_ENDPOINTS": str(var / "endpoints.faults.yml"),
        "FRONTLINE_SETTINGS": str(var / "settings.faults.yml"),
        "FRONTLINE_PG_HOST": "127.0.0.1", "FRONTLINE_PG_PORT": "5432", "FRONTLINE_PG_DB": database,
        "FRONTLINE_PG_USER": "postgres", "FRONTLINE_PG_PASSWORD": "",
        "FRONTLINE_REDIS_HOST": "127.0.0.1", "FRONTLINE_REDIS_PORT": str(redis.port),
        "FRONTLINE_RABBITMQ_HOST": "127.0.0.1", "FRONTLINE_RABBITMQ_PORT": str(rabbitmq.port),
        "FRONTLINE_RABBITMQ_USER": "guest", "FRONTLINE_RABBITMQ_PASSWORD": "guest",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "FRONTLINE_DATA_KEYS": generate_key(),
        "RASA_TOKEN": f"rasa-{uuid.uuid4().hex}",
        "FRONTLINE_DESK_SECRET": f"desk-{uuid.uuid4().hex}",
    }
    for unset in ("FRONTLINE_NOW", "FRONTLINE_LISTEN_HOST", "FRONTLINE_BROKER", "FRONTLINE_REDIS_URL"):
        env.pop(unset, None)
    output = var / "launcher.log"
    ports = plan.ports
    with open(output, "wb") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--production", "--replicas", "2", "--model", str(model),
             "--assistant-port", str(ports.assistant), "--desk-port", str(ports.desk),
             "--actions-port", str(ports.actions), "--stats-port", str(ports.stats),
             "--replica-ports", str(ports.replica_base)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    layout = Layout(launcher, plan, var, env, database, queue, rabbitmq, redis)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "Frontline is running" not in output.read_text(errors="replace"):
            if launcher.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the launcher did not start (code {launcher.poll()}):\n{layout.log_tail()}")
            time.sleep(1)
        yield layout
    finally:
        _stop(layout)
        tmp.cleanup()


def _stop(layout: Layout) -> None:
    launcher = layout.launcher
    if launcher.poll() is None:
        launcher.send_signal(signal.SIGINT)
        try:
            launcher.wait(60)
        except subprocess.TimeoutExpired:
            launcher.kill()
            launcher.wait()
    for pid in _processes_of(layout.var):  # what this run started and left behind, only
        os.kill(pid, signal.SIGKILL)
    if os.environ.get("FRONTLINE_KEEP_LOGS"):
        print(layout.log_tail(3000))
    layout.rabbitmq.close()
    layout.redis.close()
    pg_query(f'DROP DATABASE IF EXISTS "{layout.database}" WITH (FORCE)')
    _delete_queue(layout.queue)


def _delete_queue(queue: str) -> None:
    import aio_pika

    async def delete() -> None:
        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
        async with connection:
            await (await connection.channel()).queue_delete(queue)

    # the fixture's teardown may run inside the test's event loop: delete from a thread with its own loop
    worker = threading.Thread(target=asyncio.run, args=(delete(),), daemon=True)
    worker.start()
    worker.join(30)

