"""Agent consoles for the desk bench: each holds `GET /api/stream` (Server-Sent Events) open through HAProxy and
notes when each ticket first appeared on any console, and how many events the consoles received."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Dict, List, Optional

import aiohttp

logger = logging.getLogger(__name__)


class Consoles:
    """`count` agents' consoles on one desk URL; `first_seen[ticket id]` = perf_counter time of its first event.

    Args:
        desk_url: the desk's public URL (HAProxy).
        tokens: one agent API token per console.
    """

    def __init__(self, desk_url: str, tokens: List[str]) -> None:
        self.desk_url = desk_url
        self.tokens = tokens
        self.first_seen: Dict[str, float] = {}
        self.events = 0  # events handed to all consoles (one change reaches every console: one push each)
        self.sequences: set = set()  # distinct feed events seen
        self.errors: List[str] = []
        self._ready = 0
        self._all_ready = asyncio.Event()
        self._tasks: List[asyncio.Task] = []
        self._session: Optional[aiohttp.ClientSession] = None

    async def open(self, timeout: float = 60.0) -> None:
        """Connect every console and wait for each one's `hello`.

        Raises:
            RuntimeError: a console did not connect in time.
        """
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
            connector=aiohttp.TCPConnector(limit=len(self.tokens) + 10),
        )
        self._tasks = [asyncio.create_task(self._follow(token)) for token in self.tokens]
        try:
            await asyncio.wait_for(self._all_ready.wait(), timeout)
        except asyncio.TimeoutError:
            raise RuntimeError(
                f"{self._ready} of {len(self.tokens)} consoles connected in {timeout:.0f} s: {self.errors[:3]}"
            ) from None

    async def close(self) -> None:
        """Disconnect every console."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def reset_counts(self) -> None:
        """Count events from now on."""
        self.events = 0
        self.sequences = set()

    async def wait_for(self, ticket_id: str, timeout: float) -> float:
        """When ticket `ticket_id` first appeared on a console (perf_counter time).

        Raises:
            asyncio.TimeoutError: it did not appear within `timeout` seconds.
        """
        deadline = time.perf_counter() + timeout
        while ticket_id not in self.first_seen:
            if time.perf_counter() > deadline:
                raise asyncio.TimeoutError(f"the ticket did not reach a console in {timeout:.0f} s")
            await asyncio.sleep(0.01)
        return self.first_seen[ticket_id]

    async def _follow(self, token: str) -> None:
        assert self._session is not None
        try:
            headers = {"Authorization": f"Bearer {token}"}  # a token never goes in a URL (bot.desk.api: /api/stream)
            async with self._session.get(f"{self.desk_url}/api/stream", headers=headers) as response:
                if response.status != 200:
                    self.errors.append(f"GET /api/stream answered HTTP {response.status}")
                    return
                kind, data = "", ""
                async for raw in response.content:
                    line = raw.decode("utf-8").rstrip("\r\n")
                    if line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif line.startswith("id:") and kind != "hello":
                        self.sequences.add(line[3:].strip())
                    elif not line and kind:
                        self._on_event(kind, data)
                        kind, data = "", ""
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - boundary: a console that fails is reported, the others go on
            self.errors.append(f"{type(error).__name__}: {error}")

    def _on_event(self, kind: str, data: str) -> None:
        if kind == "hello":
            self._ready += 1
            if self._ready == len(self.tokens):
                self._all_ready.set()
            return
        self.events += 1
        if kind == "ticket":
            ticket_id = json.loads(data).get("id")
            if ticket_id and ticket_id not in self.first_seen:
                self.first_seen[ticket_id] = time.perf_counter()
