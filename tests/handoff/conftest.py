"""Fixtures for the handoff tests: a real loopback HTTP server playing the desk's internal API, and trackers."""

from __future__ import annotations

import json
import pathlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

DATA = pathlib.Path(__file__).parent / "data"
DESK_SECRET = "handoff-test-secret"


class FakeDesk:
    """A tiny HTTP server on 127.0.0.1 that records every request and answers from `routes`.

    `routes` maps (method, path with query) to (status, JSON body); anything else gets `default` (404).
    """

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.routes: Dict[Tuple[str, str], Tuple[int, Any]] = {}
        self.default: Tuple[int, Any] = (404, {"error": "not found"})
        desk = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                desk.requests.append(
                    {"method": method, "path": self.path, "headers": dict(self.headers),
                     "json": json.loads(raw) if raw else None}
                )
                status, body = desk.routes.get((method, self.path), desk.default)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:  # http.server's naming
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> FakeDesk:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_desk(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDesk]:
    """A running fake desk; the desk client of the actions points at it."""
    desk = FakeDesk().start()
    monkeypatch.setenv("FRONTLINE_DESK_URL", desk.url)
    monkeypatch.setenv("FRONTLINE_DESK_SECRET", DESK_SECRET)
    try:
        yield desk
    finally:
        desk.stop()


@pytest.fixture
def dead_desk_url(monkeypatch: pytest.MonkeyPatch) -> str:
    """A loopback address where nothing listens; the desk client of the actions points at it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("FRONTLINE_DESK_URL", url)
    monkeypatch.setenv("FRONTLINE_DESK_SECRET", DESK_SECRET)
    return url


def load_state(name: str) -> Dict[str, Any]:
    """A tracker state from `tests/handoff/data/<name>.json`."""
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def angry_state() -> Dict[str, Any]:
    """An angry VIP customer on the web widget asking about a refund, with personal data in the transcript."""
    return load_state("angry_refund")


@pytest.fixture
def angry_tracker(angry_state: Dict[str, Any]) -> Tracker:
    """`angry_state` as a rasa_sdk Tracker."""
    return Tracker.from_dict(angry_state)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    """A fresh dispatcher."""
    return CollectingDispatcher()
