"""The simulator's HTTP clients of the desk (`python -m bot desk simulate`, `bot.desk.simulate`).

Two kinds of caller, as in production: the action server, which creates tickets and hands in the survey answers
over the internal API (`X-Frontline-Secret`), and the agents, who sign in (`POST /api/login`) and work tickets
with a bearer token and an `Idempotency-Key` on every state-changing call. Each simulated agent works from a
loopback address of its own (`127.0.0.2`, `127.0.0.3`, …, when the machine has them, as Linux does): its
workstation, which the audit log records and the sign-in limit per address counts.

A session expires on the desk's clock, which the simulation moves: a 401 signs the agent in again and repeats
the call with the same key. A 429 on sign-in (`limits.login_attempts_per_address`) is waited out as its
`Retry-After` says. Any other answer that is not 2xx raises `DeskRefused` with the call, the status and the
body: the simulation stops there, nothing is skipped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any, Dict, Optional

import aiohttp

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Frontline-Secret"
KEY_HEADER = "Idempotency-Key"
# How often a sign-in refused with 429 is tried again (each after the Retry-After it was given).
LOGIN_RETRIES = 5
# The most seconds a Retry-After is waited out (the limit's window is a minute).
MAX_RETRY_AFTER = 65.0
REQUEST_TIMEOUT = 60.0
# Idle connections are dropped after this many seconds, before the desk closes them (sanic's KEEP_ALIVE_TIMEOUT,
# 5 s): a connection reused just as the server closes it ends in "Server disconnected" (seen on a loaded machine).
KEEPALIVE_SECONDS = 2.0


class DeskRefused(RuntimeError):
    """The desk answered a call of the simulation with an error status: the simulation stops there.

    Attributes:
        status: the HTTP status.
        body: the answer's body (text).
    """

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"the desk answered {method} {path} with {status}: {body[:500]}")
        self.status = status
        self.body = body


def workstation(n: int) -> Optional[str]:
    """The loopback address of agent `n` (`127.0.0.<n+1>`), or None when this machine cannot use it (macOS has
    127.0.0.1 alone unless told otherwise): then every agent calls from the default address."""
    address = f"127.0.0.{n + 1}"
    try:
        with socket.socket() as sock:
            sock.bind((address, 0))
    except OSError:
        return None
    return address


async def _answer(response: aiohttp.ClientResponse, method: str, path: str) -> Any:
    text = await response.text()
    if not 200 <= response.status < 300:
        raise DeskRefused(method, path, response.status, text)
    return json.loads(text) if text else None


class Caller:
    """One HTTP client of the desk at `base` (a connection pool; calls from `address` when given)."""

    def __init__(self, base: str, address: Optional[str] = None) -> None:
        self.base = base
        self.address = address
        connector = aiohttp.TCPConnector(local_addr=(address, 0) if address else None,
                                         keepalive_timeout=KEEPALIVE_SECONDS)
        self.http = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))

    async def post(self, path: str, body: Any, headers: Dict[str, str]) -> aiohttp.ClientResponse:
        """POST `body` as JSON (nothing when None); the response, read (`text()` works after the block).

        A kept-alive connection the desk closed as the request went out is tried once more on a new one: every
        call the simulation makes may be repeated (the agents' carry an `Idempotency-Key`; a second ticket for
        the same conversation answers the open one; a survey answer given again is the same answer)."""
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {**headers, "Content-Type": "application/json"} if data is not None else headers
        for again in (True, False):
            try:
                async with self.http.post(f"{self.base}{path}", data=data, headers=headers) as response:
                    await response.read()
                    return response
            except aiohttp.ServerDisconnectedError:
                if not again:
                    raise
                logger.info("simulate: the desk closed a kept-alive connection under POST %s: once more", path)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Close the connections."""
        await self.http.close()


class InternalClient(Caller):
    """The action server's calls: `POST /internal/tickets`, `POST /internal/tickets/{id}/survey`."""

    def __init__(self, base: str, secret: str) -> None:
        super().__init__(base)
        self.headers = {SECRET_HEADER: secret}

    async def call(self, path: str, body: Any) -> Any:
        """POST `body` to `path`; the answer's JSON. Raises `DeskRefused` on any status but 2xx."""
        return await _answer(await self.post(path, body, self.headers), "POST", path)


class AgentClient(Caller):
    """A simulated agent at its workstation: signs in, changes its one-time password, works tickets.

    Args:
        base: the desk's URL.
        name: the agent's name.
        password: its password (the one-time one until `change_password`).
        address: its workstation's loopback address (`workstation`), None for the default.
    """

    def __init__(self, base: str, name: str, password: str, address: Optional[str] = None) -> None:
        super().__init__(base, address)
        self.name = name
        self.password = password
        self.token: Optional[str] = None
        self.sign_ins = 0

    async def sign_in(self) -> Dict[str, Any]:
        """`POST /api/login`; waits out a 429's `Retry-After` (up to `LOGIN_RETRIES` times)."""
        path = "/api/login"
        for attempt in range(LOGIN_RETRIES + 1):
            response = await self.post(path, {"name": self.name, "password": self.password}, {})
            if response.status == 429 and attempt < LOGIN_RETRIES:
                wait = min(MAX_RETRY_AFTER, float(response.headers.get("Retry-After", "1")))
                logger.info("simulate: %s's sign-in was refused for now (429): waiting %.0f s", self.name, wait)
                await asyncio.sleep(wait)
                continue
            answer = await _answer(response, "POST", path)
            self.token = answer["token"]
            self.sign_ins += 1
            return answer
        raise AssertionError("unreachable")  # the last attempt answers or raises

    async def change_password(self, new: str) -> None:
        """`POST /api/me/password` with the current password (the one-time one); the session goes on."""
        await self.act("/api/me/password", {"old_password": self.password, "password": new}, key=None)
        self.password = new

    async def act(self, path: str, body: Any, key: Optional[str]) -> Any:
        """POST `body` to `path` as this agent (signing in first if needed, and again on a 401), with
        `Idempotency-Key: key` when given; the answer's JSON. Raises `DeskRefused` on any other status but 2xx."""
        if self.token is None:
            await self.sign_in()
        for again in (True, False):
            headers = {"Authorization": f"Bearer {self.token}"}
            if key is not None:
                headers[KEY_HEADER] = key
            response = await self.post(path, body, headers)
            if response.status == 401 and again:  # the session expired on the desk's clock
                await self.sign_in()
                continue
            return await _answer(response, "POST", path)
        raise AssertionError("unreachable")
