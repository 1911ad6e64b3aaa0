"""The desk's one client for Rasa's HTTP API (the desk is the only holder of `RASA_TOKEN`).

It appends events to a conversation's tracker with side effects, so `bot` events are sent on the customer's
channel: `POST {rasa_url}/conversations/{id}/tracker/events?execute_side_effects=true&output_channel=…&token=…`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp

logger = logging.getLogger(__name__)

# Channels whose output cannot be pushed: the events are stored in the tracker (visible there) only.
NO_PUSH_CHANNELS = frozenset({"rest", "cmdline", "unknown", ""})
# Longest wait for a parse (suggested answers): the console shows none rather than wait on a stuck Rasa.
PARSE_TIMEOUT_SECONDS = 5.0


class RasaUnavailable(RuntimeError):
    """Rasa could not be reached or refused the events; nothing was delivered."""

    def __init__(self, message: str, detail: str = "") -> None:
        """Keeps Rasa's own answer (`detail`), which names channel errors such as WeChat's 45015."""
        super().__init__(message)
        self.detail = detail


# Channel API errors Rasa passes on in its answer, with what the agent should know.
CHANNEL_ERRORS = {
    "45015": "the customer's 48-hour WeChat window has passed: the customer must write first",
    "45047": "the WeChat message quota for this customer is used up until the customer writes again",
    "43004": "the customer no longer follows the WeChat account",
}


def channel_error(detail: str) -> Optional[str]:
    """The agent-facing explanation of a channel error named in Rasa's answer, or None."""
    for code, explanation in CHANNEL_ERRORS.items():
        if code in (detail or ""):
            return f"{explanation} (WeChat error {code})"
    return None


class RasaClient:
    """Client for Rasa's HTTP API.

    Args:
        base_url: Rasa's address, e.g. `http://127.0.0.1:5005` (`FRONTLINE_RASA_URL`).
        token: Rasa's auth token (`RASA_TOKEN`); sent as the `token` query argument.
        timeout: seconds per request.
    """

    def __init__(self, base_url: str, token: str = "", timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._session: Optional[aiohttp.ClientSession] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
            self._loop = loop
        return self._session

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    @staticmethod
    def output_channel_for(channel: str) -> Optional[str]:
        """Return the `output_channel` value for a ticket's channel (None: collect into the tracker only)."""
        return None if channel in NO_PUSH_CHANNELS else channel

    async def append_events(
        self, conversation_id: str, events: List[Dict[str, Any]], channel: str
    ) -> Dict[str, Any]:
        """Append events to a tracker with side effects, sending `bot` events on `channel`.

        Args:
            conversation_id: the sender id.
            events: Rasa event dicts (`bot`, `slot`, `resume`, …).
            channel: the ticket's channel (`socketio`, `wechat`, `rest`, …).

        Returns:
            The tracker Rasa returns.

        Raises:
            RasaUnavailable: Rasa is down, timed out, or answered with an error status.
        """
        params = {"execute_side_effects": "true"}
        output = self.output_channel_for(channel)
        if output:
            params["output_channel"] = output
        if self.token:
            params["token"] = self.token
        url = f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/tracker/events"
        try:
            async with self._client().post(url, params=params, json=events) as response:
                if response.status >= 300:
                    body = (await response.text())[:300]
                    logger.error("Rasa refused events for a conversation: HTTP %s", response.status)
                    logger.debug("Rasa answered: %s", body)
                    raise RasaUnavailable(f"Rasa answered HTTP {response.status}", detail=body)
                return await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            logger.error("Rasa is unreachable at %s", self.base_url)
            logger.debug("Rasa request failed", exc_info=True)
            raise RasaUnavailable(f"Rasa is unreachable at {self.base_url}: {type(error).__name__}") from error

    async def tracker(self, conversation_id: str) -> Dict[str, Any]:
        """Return a conversation's tracker (all events).

        Raises:
            RasaUnavailable: Rasa is down or answered with an error status.
        """
        params = {"include_events": "ALL"}
        if self.token:
            params["token"] = self.token
        url = f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/tracker"
        try:
            async with self._client().get(url, params=params) as response:
                if response.status >= 300:
                    raise RasaUnavailable(f"Rasa answered HTTP {response.status}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            raise RasaUnavailable(f"Rasa is unreachable at {self.base_url}: {type(error).__name__}") from error

    async def parse(self, text: str) -> Dict[str, Any]:
        """Parse a text with the loaded model, as the assistant would (`POST /model/parse`): intent,
        `intent_ranking`, entities. Nothing is added to any conversation.

        Raises:
            RasaUnavailable: Rasa is down, has no model, or answered with an error status.
        """
        params = {"token": self.token} if self.token else {}
        timeout = aiohttp.ClientTimeout(total=min(self.timeout, PARSE_TIMEOUT_SECONDS))  # an agent is waiting
        url = f"{self.base_url}/model/parse"
        try:
            async with self._client().post(url, params=params, json={"text": text}, timeout=timeout) as response:
                if response.status >= 300:
                    logger.error("Rasa refused to parse a message: HTTP %s", response.status)
                    raise RasaUnavailable(f"Rasa answered HTTP {response.status}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            logger.error("Rasa is unreachable at %s", self.base_url)
            logger.debug("Rasa parse failed", exc_info=True)
            raise RasaUnavailable(f"Rasa is unreachable at {self.base_url}: {type(error).__name__}") from error
