"""Which agents are online, for wait estimates: a console connected, or an API request a moment ago.

Counted per desk process (keep one desk process, `FRONTLINE_DESK_WORKERS=1`).
"""

from __future__ import annotations

import logging
from typing import Dict

from bot.desk import records

logger = logging.getLogger(__name__)

# How long an agent counts as online after an API request without a console connected.
ONLINE_AFTER_REQUEST_SECONDS = 300.0


class Presence:
    """Console event streams and latest API requests of the agents, in this desk process."""

    def __init__(self) -> None:
        self.streams: Dict[str, int] = {}  # agent name -> open console event streams
        self.last_seen: Dict[str, float] = {}  # agent name -> time of the agent's latest API request

    def is_online(self, name: str, now: float) -> bool:
        """An agent is online while a console of theirs is connected, or for `ONLINE_AFTER_REQUEST_SECONDS`
        after their latest API request (an agent working through the API, or between two reconnects)."""
        if self.streams.get(name, 0) > 0:
            return True
        return now - self.last_seen.get(name, float("-inf")) <= ONLINE_AFTER_REQUEST_SECONDS

    def seen(self, name: str) -> None:
        """An agent made an authenticated request."""
        self.last_seen[name] = records.now()

    def connected(self, name: str) -> None:
        """An agent's console opened its event stream: the agent is online."""
        self.streams[name] = self.streams.get(name, 0) + 1

    def disconnected(self, name: str) -> None:
        """An agent's console closed its event stream (online while any other stays open)."""
        left = self.streams.get(name, 0) - 1
        if left > 0:
            self.streams[name] = left
        else:
            self.streams.pop(name, None)
