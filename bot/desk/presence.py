"""Which agents are online, for wait estimates: a console connected, or an API request a moment ago, on any desk
process.

Each process knows its own consoles and requests at once (in memory) and shares them through the desk database
(`bot.desk.store.processes`): its open console streams per agent (written on each connect and disconnect, and
again with every heartbeat), and each agent's latest request (written at most every `SEEN_WRITE_SECONDS` per
agent). It reads what the other processes shared at most every `REFRESH_SECONDS` (one second). A process whose heartbeat
stops for `alive_seconds` (killed, or cut off from the database) no longer counts: the agents of its consoles stay
online only through their recent requests, as for a console that is reconnecting.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Dict, Optional, Set, Tuple

from sqlalchemy.exc import SQLAlchemyError

from bot.desk import records
from bot.desk.store import Store

logger = logging.getLogger(__name__)

# How long an agent counts as online after an API request without a console connected.
ONLINE_AFTER_REQUEST_SECONDS = 300.0
# A desk process sends a heartbeat this often; one silent for ALIVE_SECONDS is taken for dead.
HEARTBEAT_SECONDS = 5.0
ALIVE_SECONDS = 15.0
# An agent's request is written to the database at most this often (per agent and process).
SEEN_WRITE_SECONDS = 15.0
# What the other processes shared is read at most this often.
REFRESH_SECONDS = 1.0


class Presence:
    """The agents' console streams and latest API requests: this process's in memory, the others' from the store.

    Args:
        store: the desk store (where processes share presence).
        process_id: this process's id in the store (random by default).
        alive_seconds: a process with no heartbeat for this long no longer counts.
        refresh_seconds: what the other processes shared is read again after this long.
    """

    def __init__(
        self, store: Store, process_id: Optional[str] = None, alive_seconds: float = ALIVE_SECONDS,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self.store = store
        self.process_id = process_id or uuid.uuid4().hex
        self.alive_seconds = alive_seconds
        self.refresh_seconds = refresh_seconds
        self.streams: Dict[str, int] = {}  # agent name -> console event streams open on this process
        self.last_seen: Dict[str, float] = {}  # agent name -> time of the agent's latest API request here
        self._written_seen: Dict[str, float] = {}
        self._shared: Tuple[Set[str], Dict[str, float]] = (set(), {})
        self._shared_at = float("-inf")

    def is_online(self, name: str, now: float) -> bool:
        """An agent is online while a console of theirs is connected to any desk process, or for
        `ONLINE_AFTER_REQUEST_SECONDS` after their latest API request (an agent working through the API, or
        between two reconnects)."""
        if self.streams.get(name, 0) > 0:
            return True
        if now - self.last_seen.get(name, float("-inf")) <= ONLINE_AFTER_REQUEST_SECONDS:
            return True
        online, seen = self.shared()
        return name in online or now - seen.get(name, float("-inf")) <= ONLINE_AFTER_REQUEST_SECONDS

    def shared(self) -> Tuple[Set[str], Dict[str, float]]:
        """What the other desk processes shared: (agents with a console open there, latest request per agent).

        Read from the store at most every `refresh_seconds`; the last reading while the store is unreachable.
        """
        if time.monotonic() - self._shared_at >= self.refresh_seconds:
            try:
                self._shared = self.store.shared_presence(self.process_id, self.alive_seconds)
                self._shared_at = time.monotonic()
            except SQLAlchemyError:
                logger.error("reading the other desk processes' presence failed")
                logger.debug("presence read failure", exc_info=True)
        return self._shared

    def seen(self, name: str) -> None:
        """An agent made an authenticated request."""
        now = records.now()
        self.last_seen[name] = now
        if abs(now - self._written_seen.get(name, float("-inf"))) < SEEN_WRITE_SECONDS:
            return
        try:
            self.store.set_agent_seen(name, now)
            self._written_seen[name] = now
        except SQLAlchemyError:
            logger.error("sharing an agent's presence failed")
            logger.debug("presence write failure", exc_info=True)

    def connected(self, name: str) -> None:
        """An agent's console opened its event stream: the agent is online."""
        self.streams[name] = self.streams.get(name, 0) + 1
        self._share(name)

    def disconnected(self, name: str) -> None:
        """An agent's console closed its event stream (online while any other stays open)."""
        left = self.streams.get(name, 0) - 1
        if left > 0:
            self.streams[name] = left
        else:
            self.streams.pop(name, None)
        self._share(name)

    def _share(self, name: str) -> None:
        try:
            self.store.set_streams(self.process_id, name, self.streams.get(name, 0))
        except SQLAlchemyError:  # the next heartbeat writes every count again
            logger.error("sharing an agent's console stream failed")
            logger.debug("presence write failure", exc_info=True)

    def heartbeat(self) -> None:
        """Mark this process alive and write its console streams again (repairing any write that failed).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the store is unreachable.
        """
        self.store.heartbeat(self.process_id, dict(self.streams))

    def leave(self) -> None:
        """This process stops: its consoles no longer count anywhere.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the store is unreachable.
        """
        self.store.forget_process(self.process_id)
