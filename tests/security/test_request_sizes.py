"""Finding 5: request bodies. sanic read up to 100 MB on every server before any check of ours; now each server
answers 413 as soon as the announced size is over its limit (`settings.yml: servers.request_max_bytes`),
stops reading a chunked body at the limit, and the widget's socket.io messages have the same cap. (The WeChat
and WeCom webhooks read their bodies as streams with their own limit, `max_body_bytes`, as before.)"""

from __future__ import annotations

import json
import socket
import uuid
from typing import Dict

import aiohttp
import pytest
import requests

from bot.run import Stack
from bot.servers.request_limits import request_limits

pytestmark = pytest.mark.stack

LIMITS = request_limits()


def status_line(answer: bytes) -> str:
    return answer.split(b"\r\n", 1)[0].decode("latin-1")


def announce(port: int, path: str, length: int, headers: Dict[str, str]) -> bytes:
    """Send only a request's head announcing `length` bytes of body; return what the server answers at once."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall((head + "\r\n").encode())
        try:
            return sock.recv(65536)
        except TimeoutError:
            return b"(no answer: the server is waiting for the body)"


@pytest.mark.parametrize("server, path", [
    ("rasa", "/webhooks/rest/webhook"),
    ("rasa", "/model/parse"),
    ("actions", "/webhook"),
    ("desk", "/internal/tickets"),
    ("desk", "/api/login"),
])
def test_oversized_body_is_refused_before_it_is_read(stack: Stack, server: str, path: str) -> None:
    limit = getattr(LIMITS, server)
    port = getattr(stack.ports, server)
    # the action server answers a caller without its token 401 whatever the size: send it as Rasa would
    token = stack.env.get("FRONTLINE_ACTION_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if server == "actions" else {}
    answer = announce(port, path, limit + 1, headers)
    assert status_line(answer) == "HTTP/1.1 413 Request Entity Too Large", answer[:200]


def test_oversized_chunked_body_is_cut_off_at_the_limit(stack: Stack) -> None:
    """No Content-Length to check: the server must stop reading at the limit, not at 100 MB."""
    chunk = b"x" * 65536
    sent = 0
    with socket.create_connection(("127.0.0.1", stack.ports.rasa), timeout=10) as sock:
        sock.sendall(b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        try:
            while sent < 4 * LIMITS.rasa:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server closed the connection: it stopped reading
            pass
        answer = sock.recv(65536)
    assert status_line(answer) == "HTTP/1.1 413 Request Entity Too Large", answer[:200]


def test_the_longest_rest_message_still_fits(stack: Stack) -> None:
    """10,000 characters, each escaped in JSON as a surrogate pair (12 bytes): the worst a customer can send."""
    body = json.dumps({"sender": f"size-{uuid.uuid4().hex[:8]}", "message": "😀" * 10_000}).encode()
    assert len(body) > 120_000
    response = requests.post(f"{stack.rasa_url}/webhooks/rest/webhook", data=body,
                             headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 200, response.text[:300]


def test_oversized_socketio_polling_message_is_refused(stack: Stack) -> None:
    base = f"{stack.rasa_url}/socket.io/"
    opened = requests.get(base, params={"EIO": "4", "transport": "polling"}, timeout=10)
    assert opened.status_code == 200, opened.text
    sid = json.loads(opened.text[opened.text.index("{"):])["sid"]
    packet = "42" + json.dumps(["user_uttered", {"message": "x" * (LIMITS.rasa + 1024), "session_id": sid}])
    response = requests.post(base, params={"EIO": "4", "transport": "polling", "sid": sid}, data=packet.encode(),
                             headers={"Content-Type": "text/plain;charset=UTF-8"}, timeout=10)
    assert response.status_code == 413, response.text[:200]


async def test_oversized_socketio_websocket_message_is_refused(stack: Stack) -> None:
    """Over the websocket the connection is closed; before, the message was taken in (and answered)."""
    url = f"ws://127.0.0.1:{stack.ports.rasa}/socket.io/?EIO=4&transport=websocket"
    session_id = uuid.uuid4().hex
    received = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.ws_connect(url, max_msg_size=0) as ws:
            assert (await ws.receive_str()).startswith("0")  # engine.io open
            await ws.send_str("40")
            assert (await ws.receive_str()).startswith("40")  # socket.io connect
            await ws.send_str("42" + json.dumps(["session_request", {"session_id": session_id}]))
            message = {"message": "x" * (LIMITS.rasa + 1024), "session_id": session_id}
            await ws.send_str("42" + json.dumps(["user_uttered", message]))
            while True:
                frame = await ws.receive(timeout=20)
                if frame.type != aiohttp.WSMsgType.TEXT:
                    break
                if frame.data == "2":  # engine.io ping
                    await ws.send_str("3")
                    continue
                received.append(frame.data)
                if "bot_uttered" in frame.data:
                    break
    assert not any("bot_uttered" in data for data in received), received
    assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING), frame
