"""The production layout for real: `python -m bot run --production --replicas 2` behind HAProxy.

The launcher runs as a separate process, the way a user starts it, on free ports, with its own `var/` folder
and a fresh PostgreSQL database, on Redis and RabbitMQ on 127.0.0.1. It starts HAProxy, 2 Rasa servers, 2 action
servers and 2 desks. The tests run in file order: what is running, turns through HAProxy, socket.io's long
polling, the desk through its port, `kill -9` of `rasa-1`, then a clean stop (Ctrl-C) that must leave nothing.

The desks' broker consumer is off here (`FRONTLINE_BROKER=none`): other worktrees' tests may consume the same
RabbitMQ queue at the same time, and the broker path has its own tests (test_production_stack.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Dict, Iterator, List, Set

import pytest
import requests

from bot.data_keys import generate_key
from bot.run import latest_model
from bot.settings import repo_root
from bot.topology.haproxy import server_states
from bot.topology.layout import Plan
from bot.topology.supervisor import alive, read_pid
from tests.conftest import STACK_NOW, TEST_CHANNEL_ENV
from tests.production.test_production_stack import psql
from tests.topology.ports import free_layout

pytestmark = [pytest.mark.stack, pytest.mark.postgres, pytest.mark.redis]

ROOT = repo_root()
NAMES = ["haproxy", "rasa-1", "rasa-2", "actions-1", "actions-2", "desk-1", "desk-2"]
KINDS = {"haproxy": "haproxy", "rasa": "-m bot rasa ", "actions": "-m bot actions ", "desk": "bot desk run"}
START_TIMEOUT = 420.0


@dataclasses.dataclass
class Topology:
    """The running launcher and what the tests learn about it."""

    launcher: subprocess.Popen
    layout: Plan
    var: pathlib.Path
    env: Dict[str, str]
    output: pathlib.Path
    seen_pids: Set[int] = dataclasses.field(default_factory=set)

    @property
    def run_dir(self) -> pathlib.Path:
        return self.var / "run"

    def pids(self) -> Dict[str, int]:
        found = {}
        for path in self.run_dir.glob("*.pid"):
            pid = read_pid(path)
            if pid is not None:
                found[path.stem] = pid
        self.seen_pids.update(found.values())
        return found

    def states(self) -> Dict[str, Dict[str, str]]:
        return server_states(self.layout.stats_url)

    def say(self, sender: str, text: str) -> requests.Response:
        return requests.post(
            f"{self.layout.assistant_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60
        )


def cmdline(pid: int) -> str:
    return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def parent(pid: int) -> int:
    return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def processes_of(var: pathlib.Path) -> List[int]:
    """Live processes whose environment names this run's var folder (what the launcher started)."""
    marker = f"FRONTLINE_VAR={var}".encode()
    found = []
    for environ in pathlib.Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0") and alive(int(environ.parent.name)):
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    model = latest_model(ROOT)
    if model is None:
        pytest.fail("no trained model under models/: run `make train` first")
    database = f"frontline_topology_{uuid.uuid4().hex[:8]}"
    psql(f'CREATE DATABASE "{database}"')
    layout = free_layout()
    with tempfile.TemporaryDirectory(prefix="frontline-topology-") as tmp:
        var = pathlib.Path(tmp)
        env = {
            **os.environ,
            **TEST_CHANNEL_ENV,
            "FRONTLINE_NOW": STACK_NOW,
            "FRONTLINE_VAR": str(var),
            "FRONTLINE_ENDPOINTS": "endpoints.prod.yml",
            "FRONTLINE_PG_HOST": "127.0.0.1",
            "FRONTLINE_PG_PORT": "5432",
            "FRONTLINE_PG_DB": database,
            "FRONTLINE_PG_USER": "postgres",
            "FRONTLINE_PG_PASSWORD": "",
            "FRONTLINE_REDIS_HOST": "127.0.0.1",
            "FRONTLINE_REDIS_PORT": "6379",
            "FRONTLINE_RABBITMQ_HOST": "127.0.0.1",
            "FRONTLINE_RABBITMQ_USER": "guest",
            "FRONTLINE_RABBITMQ_PASSWORD": "guest",
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
            "FRONTLINE_BROKER": "none",
            "FRONTLINE_DATA_KEYS": generate_key(),
        }
        env.pop("FRONTLINE_LISTEN_HOST", None)
        output = var / "launcher.log"
        ports = layout.ports
        with open(output, "wb") as out:
            launcher = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--production", "--replicas", "2", "--model", str(model),
                 "--assistant-port", str(ports.assistant), "--desk-port", str(ports.desk),
                 "--actions-port", str(ports.actions), "--stats-port", str(ports.stats),
                 "--replica-ports", str(ports.replica_base)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        started = Topology(launcher, layout, var, env, output)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while "Frontline is running" not in output.read_text(errors="replace"):
                if launcher.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the launcher did not start (code {launcher.poll()}):\n{output.read_text()[-4000:]}")
                time.sleep(1)
            started.pids()
            yield started
        finally:
            if launcher.poll() is None:
                launcher.send_signal(signal.SIGINT)
                try:
                    launcher.wait(60)
                except subprocess.TimeoutExpired:
                    launcher.kill()
                    launcher.wait()
            for pid in processes_of(var):  # only if a test failed: what this run started and left behind
                os.kill(pid, signal.SIGKILL)
            if os.environ.get("FRONTLINE_KEEP_LOGS"):
                for log in sorted((var / "logs").glob("*.log")) + [output]:
                    print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
            psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_pid_files_name_the_live_processes_the_launcher_started(topology: Topology) -> None:
    pids = topology.pids()
    assert sorted(pids) == sorted(NAMES)
    for name, pid in pids.items():
        assert alive(pid), name
        assert parent(pid) == topology.launcher.pid, name
        assert KINDS[name.split("-")[0]] in cmdline(pid), (name, cmdline(pid))
    # desk-i and the others listen on their own ports, as HAProxy's configuration says
    config = (topology.run_dir / "haproxy.cfg").read_text()
    for replica in topology.layout.replicas:
        assert f"server {replica.name} 127.0.0.1:{replica.port} check" in config


def test_haproxy_checks_every_replica_and_finds_it_up(topology: Topology) -> None:
    states = topology.states()
    for kind in ("rasa", "actions", "desk"):
        for i in (1, 2):
            row = states[f"{kind}/{kind}-{i}"]
            assert (row["status"], row["check_status"]) == ("UP", "L7OK"), (kind, i, row)
    assert states["rasa_socketio/rasa-1"]["status"] == "UP"


def test_rest_turns_through_haproxy_are_answered_by_both_replicas(topology: Topology) -> None:
    before = {i: int(topology.states()[f"rasa/rasa-{i}"]["stot"]) for i in (1, 2)}
    for n in range(6):
        answer = topology.say(f"topo-rest-{n}-{uuid.uuid4().hex[:6]}", "退款多久到账？")
        assert answer.status_code == 200, answer.text
        assert answer.json() and answer.json()[0]["text"]
    after = {i: int(topology.states()[f"rasa/rasa-{i}"]["stot"]) for i in (1, 2)}
    assert all(after[i] > before[i] for i in (1, 2)), (before, after)


def test_custom_actions_run_through_the_internal_action_port(topology: Topology) -> None:
    before = sum(int(topology.states()[f"actions/actions-{i}"]["stot"]) for i in (1, 2))
    answer = topology.say(f"topo-hours-{uuid.uuid4().hex[:6]}", "你们几点上班？")
    assert answer.status_code == 200, answer.text
    assert "09:00" in " ".join(m.get("text", "") for m in answer.json())  # action_service_hours, from the calendar
    after = sum(int(topology.states()[f"actions/actions-{i}"]["stot"]) for i in (1, 2))
    assert after > before


def test_the_desk_answers_through_its_port_and_takes_a_handoff(topology: Topology) -> None:
    health = requests.get(f"{topology.layout.desk_url}/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    sender = f"topo-handoff-{uuid.uuid4().hex[:8]}"
    assert topology.say(sender, "/request_human").status_code == 200
    # Rasa → action server (internal port) → desk (public port) opened a ticket; read it through the desk port
    ticket = requests.get(
        f"{topology.layout.desk_url}/internal/conversations/rest:{sender}/ticket",
        headers={"X-Frontline-Secret": topology.env["FRONTLINE_DESK_SECRET"]}, timeout=10,
    )
    assert ticket.status_code == 200, ticket.text
    assert ticket.json()["id"].startswith("T-")
    console = requests.get(f"{topology.layout.desk_url}/console", timeout=10)
    assert console.status_code == 200


async def test_socketio_long_polling_sticks_to_one_replica(topology: Topology) -> None:
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    received: asyncio.Queue = asyncio.Queue()
    confirmed: asyncio.Queue = asyncio.Queue()
    client.on("bot_uttered", lambda data: received.put_nowait(data))
    client.on("session_confirm", lambda data: confirmed.put_nowait(data))
    # long polling only: every exchange is a new HTTP request, which only the replica that made the session knows
    await client.connect(topology.layout.assistant_url, socketio_path="/socket.io", transports=["polling"])
    try:
        await client.emit("session_request", {"session_id": None})  # a new widget: the server signs its session
        session = await asyncio.wait_for(confirmed.get(), 20)
        for _ in range(3):
            await client.emit("user_uttered", {"message": "退款多久到账", "session_id": session, "customData": {}})
            answer = await asyncio.wait_for(received.get(), 30)
            assert answer.get("text")
        assert client.connected
    finally:
        await client.disconnect()


def test_kill_9_of_rasa_1_is_restarted_while_turns_are_answered(topology: Topology) -> None:
    old = topology.pids()["rasa-1"]
    os.kill(old, signal.SIGKILL)
    # Until the kernel has torn down every thread of rasa-1 (its main thread a zombie already), its listening
    # socket still accepts connections, then resets them: a request that reaches it then gets a 502, as HAProxy
    # never replays a request it has sent (it could store a customer's message twice); the client's retry
    # covers it. From the moment rasa-1 is gone (reaped by the launcher), every turn must be answered by rasa-2.
    deadline = time.monotonic() + 10
    while pathlib.Path(f"/proc/{old}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    answered = 0
    seen_down = False
    deadline = time.monotonic() + 300
    while True:
        assert time.monotonic() < deadline, f"rasa-1 not back: {topology.output.read_text()[-2000:]}"
        response = topology.say(f"topo-kill-{answered}-{uuid.uuid4().hex[:6]}", "退款多久到账？")
        assert response.status_code == 200, (answered, response.status_code, response.text)
        assert response.json() and response.json()[0]["text"]
        answered += 1
        state = topology.states()["rasa/rasa-1"]["status"]
        seen_down = seen_down or state.startswith("DOWN")
        new = topology.pids().get("rasa-1")
        if seen_down and state == "UP" and new not in (None, old):
            break
        time.sleep(0.3)
    assert not alive(old)
    assert alive(new) and parent(new) == topology.launcher.pid and KINDS["rasa"] in cmdline(new)
    assert answered >= 5  # turns went on while rasa-1 was down and starting again
    log = topology.output.read_text()
    assert "rasa-1 died (killed by SIGKILL); starting it again in 1 s" in log
    assert f"rasa-1 is back (pid {new})" in log
    # both replicas answer again
    before = int(topology.states()["rasa/rasa-1"]["stot"])
    for n in range(4):
        assert topology.say(f"topo-after-{n}-{uuid.uuid4().hex[:6]}", "退款多久到账？").status_code == 200
    assert int(topology.states()["rasa/rasa-1"]["stot"]) > before


def test_ctrl_c_stops_everything_and_removes_the_pid_files(topology: Topology) -> None:
    topology.pids()
    assert len(topology.seen_pids) >= len(NAMES) + 1  # the restarted rasa-1 too
    topology.launcher.send_signal(signal.SIGINT)
    assert topology.launcher.wait(60) == 0
    assert "Stopped." in topology.output.read_text()
    assert list(topology.run_dir.glob("*.pid")) == []
    assert [pid for pid in topology.seen_pids if alive(pid)] == []
    assert processes_of(topology.var) == []
    for what, (_host, port) in topology.layout.listening().items():
        assert _can_bind(port), f"port {port} ({what}) still taken"


def _can_bind(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

