"""The one error the desk's services raise for a request they refuse (the API answers it as JSON), and the
refusal they share: an unknown ticket id."""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

from bot.desk.records import Ticket
from bot.desk.store.tickets import TicketRows

logger = logging.getLogger(__name__)


class DeskError(Exception):
    """A request the desk refuses; `status` is the HTTP status to answer with, `message` says why, `headers`
    go on the answer (e.g. `Retry-After` when repeating the request later will do), `details` are more fields
    of the JSON answer next to `error` (e.g. the banned `phrase` of a refused reply)."""

    def __init__(
        self, status: int, message: str, headers: Optional[Dict[str, str]] = None,
        details: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.details = details or {}


def find_ticket(store: TicketRows, code: str) -> Ticket:
    """Return the ticket with public id `code`.

    Args:
        store: the ticket store.
        code: the public id (`T-000123`, or `123`).

    Raises:
        DeskError: 404 when there is no such ticket.
    """
    ticket = store.ticket_by_code(code)
    if ticket is None:
        raise DeskError(404, f"no ticket {code}")
    return ticket
