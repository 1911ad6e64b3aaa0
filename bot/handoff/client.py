"""The one client of the desk's internal API, used by the action server.

The base URL comes from `FRONTLINE_DESK_URL` (default http://127.0.0.1:5006) and the shared secret from
`FRONTLINE_DESK_SECRET`, sent as the header `X-Frontline-Secret`. Every call has a timeout; every failure
raises `DeskError` (or its subclass `DeskUnavailable` when the desk cannot be reached or answers 5xx), with a
message that names the call and never the secret.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote

import requests

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:5006"
SECRET_HEADER = "X-Frontline-Secret"
# (connect, read) seconds: a handoff must not hold the customer's turn for long.
DEFAULT_TIMEOUT: Tuple[float, float] = (2.0, 5.0)


def parse_time(value: Any) -> Optional[dt.datetime]:
    """Read an ISO 8601 time from a desk answer (None when missing or unreadable)."""
    if not value:
        return None
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        logger.warning("unreadable time from the desk: %r", value)
        return None


class DeskError(RuntimeError):
    """The desk refused a request or answered something the client cannot use.

    Attributes:
        status: the HTTP status, or None when no answer came.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DeskUnavailable(DeskError):
    """The desk could not be reached, timed out, or answered with a server error."""


class DeskClient:
    """Calls the desk's internal API: create a ticket, list a customer's tickets, record a survey answer."""

    def __init__(
        self,
        base_url: str | None = None,
        secret: str | None = None,
        timeout: Tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        """Configure the client (nothing is sent until a method is called).

        Args:
            base_url: the desk's address; `FRONTLINE_DESK_URL` or http://127.0.0.1:5006 when None.
            secret: the shared secret; `FRONTLINE_DESK_SECRET` when None.
            timeout: (connect, read) timeouts in seconds.
            session: a requests session to reuse (a new one when None).
        """
        self.base_url = (base_url or os.environ.get("FRONTLINE_DESK_URL") or DEFAULT_URL).rstrip("/")
        self.secret = secret if secret is not None else os.environ.get("FRONTLINE_DESK_SECRET", "")
        self.timeout = timeout
        self.session = session or requests.Session()

    def _request(self, method: str, path: str, what: str, json: Any = None) -> Tuple[int, Any]:
        url = f"{self.base_url}{path}"
        headers = {SECRET_HEADER: self.secret} if self.secret else {}
        try:
            response = self.session.request(method, url, json=json, headers=headers, timeout=self.timeout)
        except requests.Timeout as error:
            raise DeskUnavailable(f"{what}: the desk at {self.base_url} did not answer in time") from error
        except requests.RequestException as error:
            raise DeskUnavailable(f"{what}: cannot reach the desk at {self.base_url}: {error}") from error
        if response.status_code >= 500:
            raise DeskUnavailable(f"{what}: the desk answered {response.status_code}", response.status_code)
        if response.status_code in (401, 403):
            raise DeskError(
                f"{what}: the desk refused the shared secret ({response.status_code}); "
                "check FRONTLINE_DESK_SECRET on the action server and the desk",
                response.status_code,
            )
        if response.status_code >= 400:
            raise DeskError(
                f"{what}: the desk answered {response.status_code}: {response.text[:200]}", response.status_code
            )
        if not response.content:
            return response.status_code, None
        try:
            return response.status_code, response.json()
        except ValueError as error:
            raise DeskError(f"{what}: the desk answered something that is not JSON", response.status_code) from error

    def create_ticket(self, packet: Dict[str, Any]) -> Dict[str, Any]:
        """Open a ticket for a conversation (or get the open one back).

        Args:
            packet: the context packet (`docs/context-packet.schema.json`).

        Returns:
            The desk's answer: `id`, `position`, `expected_wait_seconds`, `open_now`, `next_opening`, `due`,
            plus `created` (True on 201, False when the conversation already had an open ticket: 200).

        Raises:
            DeskUnavailable: the desk is down or failing.
            DeskError: the desk refused the packet.
        """
        status, body = self._request("POST", "/internal/tickets", "create ticket", json=packet)
        if not isinstance(body, dict) or not body.get("id"):
            raise DeskError("create ticket: the desk's answer has no ticket id", status)
        return {**body, "created": status == 201}

    def earlier_tickets(self, customer_id: str) -> List[Dict[str, Any]]:
        """Return the customer's earlier tickets, newest first as the desk sends them."""
        path = f"/internal/customers/{quote(str(customer_id), safe='')}/tickets"
        _, body = self._request("GET", path, "earlier tickets")
        if isinstance(body, dict):
            body = body.get("tickets", [])
        if not isinstance(body, list):
            raise DeskError("earlier tickets: the desk's answer is not a list")
        return body

    def post_survey(
        self, ticket_id: str, rating: int, comment: str | None = None, nps: int | None = None
    ) -> Dict[str, Any]:
        """Record a satisfaction answer (1-5, optional comment, optional recommendation score 0-10) on a ticket."""
        path = f"/internal/tickets/{quote(str(ticket_id), safe='')}/survey"
        payload: Dict[str, Any] = {"rating": rating, "comment": comment}
        if nps is not None:
            payload["nps"] = nps
        _, body = self._request("POST", path, "survey answer", json=payload)
        return body if isinstance(body, dict) else {}
