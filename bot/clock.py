"""The system clock, which `FRONTLINE_NOW` can pin for demos and tests.

`FRONTLINE_NOW` is an ISO 8601 time with an offset (`2025-10-03T20:15:00+08:00`). Every process of Frontline
reads the time through `now()`, so one variable moves the whole system to another moment.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

logger = logging.getLogger(__name__)

ENV_VAR = "FRONTLINE_NOW"


class ClockError(ValueError):
    """`FRONTLINE_NOW` is set to something that is not an ISO 8601 time with an offset."""


def pinned() -> dt.datetime | None:
    """Return the pinned time from `FRONTLINE_NOW`, or None when the real clock is in use."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as error:
        raise ClockError(
            f"{ENV_VAR}={raw!r} is not an ISO 8601 time such as 2025-10-03T20:15:00+08:00"
        ) from error
    if value.tzinfo is None:
        raise ClockError(f"{ENV_VAR}={raw!r} needs an offset, such as +08:00")
    return value


def now() -> dt.datetime:
    """Return the current time, timezone-aware (UTC unless pinned with an offset)."""
    return pinned() or dt.datetime.now(dt.timezone.utc)
