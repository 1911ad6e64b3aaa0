"""The one error the desk's services raise for a request they refuse; the API answers it as JSON."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


class DeskError(Exception):
    """A request the desk refuses; `status` is the HTTP status to answer with, `message` says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
