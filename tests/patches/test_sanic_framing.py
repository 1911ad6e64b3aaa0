"""sanic 21.12's request framing, guarded (`bot.patches.sanic_framing`): real servers on loopback, raw HTTP/1.1.

A negative `Content-Length` froze sanic 21.12.2's event loop for good (the server answered nothing more, at
100% CPU), and a non-numeric one got a 500. Each server here runs in its own process, so a frozen one fails
the test on a socket timeout instead of freezing the test run.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from typing import Iterator

import pytest

from bot.devtools import free_port

SERVER = textwrap.dedent(
    """
    import sys
    from sanic import Sanic, response
    from bot.patches import sanic_framing

    sanic_framing.install()
    app = Sanic("framing_test", configure_logging=False)

    @app.get("/health")
    async def health(request):
        return response.json({"status": "ok"})

    @app.post("/echo")
    async def echo(request):
        return response.text(request.body.decode())

    app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, motd=False)
    """
)


def exchange(port: int, raw: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes on a new connection; return what the server answers until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(raw)
        received = b""
        try:
            while b"\r\n\r\n" not in received or not received.endswith((b"}", b"\n", b"!")):
                chunk = connection.recv(65536)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            pass
        return received


def status(answer: bytes) -> str:
    return answer.split(b"\r\n", 1)[0].decode(errors="replace")


def healthy(port: int) -> bool:
    answer = exchange(port, b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    return status(answer) == "HTTP/1.1 200 OK"


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    number = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(number)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if healthy(number):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the test server did not start")
        yield number
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("length", ["-1", "-100000", "abc", "1e3", ""])
def test_a_bad_content_length_is_a_400_and_the_server_keeps_serving(port: int, length: str) -> None:
    raw = f"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {length}\r\n\r\nhello".encode()
    assert status(exchange(port, raw)) == "HTTP/1.1 400 Bad Request"
    assert healthy(port)


def test_well_framed_bodies_still_work(port: int) -> None:
    plain = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello!"
    answer = exchange(port, plain)
    assert status(answer) == "HTTP/1.1 200 OK" and answer.endswith(b"hello!")
    chunked = (
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nhel\r\n3\r\nlo!\r\n0\r\n\r\n"
    )
    answer = exchange(port, chunked)
    assert status(answer) == "HTTP/1.1 200 OK" and answer.endswith(b"hello!")


def test_install_is_idempotent() -> None:
    from sanic.server.protocols import http_protocol

    from bot.patches import sanic_framing

    sanic_framing.install()
    sanic_framing.install()
    assert http_protocol.Http is sanic_framing.GuardedHttp


@pytest.mark.stack
def test_the_running_servers_are_guarded(stack) -> None:
    """The Rasa server (through its channels), the action server and the desk refuse it and keep serving."""
    # the action server answers only the Rasa server: with its token, as Rasa calls it
    action_token = f"Authorization: Bearer {stack.env['FRONTLINE_ACTION_TOKEN']}\r\n"
    for port, path, health, refused, auth in (
        (stack.ports.rasa, "/webhooks/wechat/webhook", "/", "HTTP/1.1 400 Bad Request", ""),
        # rasa_sdk answers every exception with a 500 (its own catch-all handler)
        (stack.ports.actions, "/webhook", "/health", "HTTP/1.1 500 Internal Server Error", action_token),
        (stack.ports.desk, "/internal/tickets", "/health", "HTTP/1.1 400 Bad Request", ""),
    ):
        raw = f"POST {path} HTTP/1.1\r\nHost: t\r\n{auth}Content-Length: -1\r\n\r\nhello".encode()
        assert status(exchange(port, raw)) == refused, port
        answer = exchange(port, f"GET {health} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        assert status(answer) == "HTTP/1.1 200 OK", port
