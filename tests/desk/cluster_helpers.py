"""Helpers of the scale-out tests: desk processes on one PostgreSQL schema, console streams, a Rasa stand-in.

- `DeskNode`: one real desk process (`python -m bot desk`, or `cluster_node.py` with shortened background
  timings) on a free port, started, health-checked, killed with SIGKILL or stopped with SIGINT.
- `Console`: a console's `GET /api/stream`, read in the background frame by frame (`id`, `event`, `data`), with
  `Last-Event-ID` on (re)connect.
- `RecordingRasa`: Rasa's `POST /conversations/{id}/tracker/events` on loopback, recording each body, with an
  optional delay for queue-position updates (to make two notifiers overlap if there were two).
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional, Tuple

import aiohttp
import pytest
from aiohttp import web

from bot.tasks import cancel_and_wait
from bot.data_keys import generate_key
from bot.desk.simulate import CustomerSink
from bot.settings import repo_root

PG_URL = os.environ.get("FRONTLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "cluster-secret"
# One data key for every desk of the cluster (production mode, on PostgreSQL, refuses to start without one).
DATA_KEY = generate_key()


@pytest.fixture(scope="module", autouse=True)
def cluster_data_key() -> Iterator[str]:
    """This test process reads and writes the cluster's database with the desks' data key (import it into a
    test module to use it there)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRONTLINE_DATA_KEYS", DATA_KEY)
        yield DATA_KEY
# A Monday morning in business hours (the queue-position updates only go out while the team is open).
PINNED_NOW = "2025-12-01T10:00:00+08:00"
NODE_SCRIPT = pathlib.Path(__file__).with_name("cluster_node.py")


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def schema_url(schema: str) -> str:
    """The test database's URL with `schema` as the search path (how a desk process is pointed at it)."""
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def new_schema() -> str:
    """A fresh schema name."""
    return f"desk_scale_{uuid.uuid4().hex[:12]}"


class DeskNode:
    """One desk process.

    Args:
        name: a label for messages.
        database_url: the desk database.
        rasa_url: the Rasa stand-in.
        log_dir: where its output goes.
        cadence: `Cadence` fields (seconds) for `cluster_node.py`; None runs `python -m bot desk`.
        extra_env: more environment variables.
    """

    def __init__(
        self, name: str, database_url: str, rasa_url: str, log_dir: pathlib.Path,
        cadence: Optional[Dict[str, float]] = None, extra_env: Optional[Dict[str, str]] = None,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.cadence = cadence
        self.log = log_dir / f"{name}.log"
        self.env = dict(os.environ)
        self.env.pop("FRONTLINE_NOW", None)
        self.env.update(
            DATABASE_URL=database_url, FRONTLINE_RASA_URL=rasa_url, RASA_TOKEN="rasa-token",
            FRONTLINE_DESK_SECRET=SECRET, FRONTLINE_DESK_PORT=str(self.port), FRONTLINE_BROKER="none",
            FRONTLINE_VAR=str(log_dir / "var"), PYTHONPATH=str(repo_root()), FRONTLINE_DATA_KEYS=DATA_KEY,
        )
        self.env.update(extra_env or {})  # a caller's value wins (e.g. its own FRONTLINE_DATA_KEYS)
        self.process: Optional[subprocess.Popen] = None
        self.starts = 0

    def start(self) -> None:
        """Start the process (again, after a kill, on the same port)."""
        if self.cadence is None:
            command = [sys.executable, "-m", "bot", "desk"]
        else:
            command = [sys.executable, str(NODE_SCRIPT), str(self.port), json.dumps(self.cadence)]
        self.starts += 1
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(command, env=self.env, cwd=repo_root(), stdout=out, stderr=out)

    async def wait_healthy(self, http: aiohttp.ClientSession, seconds: float = 60.0) -> Dict[str, Any]:
        """Wait until `/health` answers 200; return its JSON."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.output()
            try:
                async with http.get(f"{self.base}/health") as response:
                    if response.status == 200:
                        return await response.json()
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"desk {self.name} did not start:\n{self.output()}")

    async def health(self, http: aiohttp.ClientSession) -> Dict[str, Any]:
        """The `/health` JSON."""
        async with http.get(f"{self.base}/health") as response:
            return await response.json()

    def kill(self) -> None:
        """SIGKILL the process (no clean-up of any kind) and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the process cleanly (SIGINT), killing it when it does not stop."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def output(self) -> str:
        """What the process printed (the end of it)."""
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


class Console:
    """A console's event stream, read in the background.

    Args:
        http: the client session.
        token: the agent's bearer token.
    """

    def __init__(self, http: aiohttp.ClientSession, token: str) -> None:
        self.http = http
        self.token = token
        self.events: List[Tuple[int, str, Dict[str, Any]]] = []  # (id, event, data), hello and pings left out
        self.hellos: List[int] = []
        self.last_id: Optional[int] = None
        self.connections = 0
        self._task: Optional[asyncio.Task] = None
        self._response: Optional[aiohttp.ClientResponse] = None

    async def connect(self, base: str, last_id: Optional[int] = None) -> None:
        """Open the stream on the desk at `base` (with `Last-Event-ID` when given) and read it in the background;
        returns once `hello` arrived."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        self._response = await self.http.get(f"{base}/api/stream", headers=headers,
                                             timeout=aiohttp.ClientTimeout(total=None, sock_read=None))
        assert self._response.status == 200, await self._response.text()
        self.connections += 1
        hellos = len(self.hellos)
        self._task = asyncio.get_running_loop().create_task(self._read(self._response))
        deadline = time.monotonic() + 10
        while len(self.hellos) == hellos:
            assert time.monotonic() < deadline, "no hello"
            assert not self._task.done(), "the stream ended before hello"
            await asyncio.sleep(0.01)

    async def _read(self, response: aiohttp.ClientResponse) -> None:
        fields: Dict[str, str] = {}
        try:
            while True:
                line = await response.content.readline()
                if not line:
                    return
                text = line.decode().rstrip("\n")
                if text:
                    if not text.startswith(":"):
                        key, _, value = text.partition(": ")
                        fields[key] = value
                    continue
                if "id" in fields:
                    self.last_id = int(fields["id"])
                if fields.get("event") == "hello":
                    self.hellos.append(int(fields["id"]))
                elif "data" in fields and "event" in fields:
                    self.events.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
                fields = {}
        except (aiohttp.ClientError, ConnectionError, asyncio.IncompleteReadError):
            return  # the desk went away

    @property
    def connected(self) -> bool:
        """True while the stream is being read."""
        return self._task is not None and not self._task.done()

    async def wait_closed(self, seconds: float = 10.0) -> None:
        """Wait until the desk ends the stream (e.g. it was killed)."""
        assert self._task is not None
        await asyncio.wait_for(asyncio.shield(self._task), seconds)

    async def close(self) -> None:
        """Close the stream from the console's side."""
        if self._response is not None:
            self._response.close()
        await cancel_and_wait(self._task)

    async def wait_for_id(self, target: int, seconds: float = 10.0) -> None:
        """Wait until the console has seen event id `target` (or later)."""
        deadline = time.monotonic() + seconds
        while (self.last_id or 0) < target:
            assert time.monotonic() < deadline, f"the console is at {self.last_id}, not {target}"
            await asyncio.sleep(0.02)

    def ids(self) -> List[int]:
        """The ids of the events received, in arrival order (across connections)."""
        return [event_id for event_id, _, _ in self.events]


class RecordingRasa(CustomerSink):
    """Rasa's tracker-events endpoint on loopback (the simulator's sink, `bot.desk.simulate.CustomerSink`),
    recording each call.

    Args:
        queue_delay: seconds to wait before answering a queue-position update.
    """

    def __init__(self, queue_delay: float = 0.0) -> None:
        super().__init__()
        self.queue_delay = queue_delay
        self.calls: List[Tuple[str, Any]] = []

    async def _events(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.queue_delay and any((e.get("metadata") or {}).get("queue") for e in body):
            await asyncio.sleep(self.queue_delay)
        self.calls.append((request.match_info["cid"], body))
        return web.json_response({"sender_id": request.match_info["cid"], "events": body})

    def queue_updates(self) -> List[Tuple[str, int]]:
        """(conversation, place told) of every queue-position update received."""
        return [
            (cid, event["metadata"]["queue"]) for cid, body in self.calls for event in body
            if (event.get("metadata") or {}).get("queue")
        ]


async def create_ticket(http: aiohttp.ClientSession, base: str, packet: Dict[str, Any]) -> Dict[str, Any]:
    """`POST /internal/tickets` on a desk; the answer (201 expected)."""
    async with http.post(f"{base}/internal/tickets", json=packet, headers={"X-Frontline-Secret": SECRET}) as response:
        assert response.status == 201, await response.text()
        return await response.json()


def schema_with_tables() -> Iterator[Tuple[str, Any]]:
    """A fresh PostgreSQL schema with the desk's tables, and a store on it; dropped afterwards (a fixture body)."""
    from sqlalchemy.exc import OperationalError

    from bot.desk.store import Store

    schema = new_schema()
    store = Store(PG_URL, schema=schema)
    try:
        store.migrate()
    except OperationalError:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    yield schema, store
    store.drop_schema()
