"""Background asyncio tasks: one way to stop them.

The desk's broker consumer, the tracker store's outbox relay and the desk's own background jobs each run as an
asyncio task; stopping one means cancelling it and waiting until it has ended, without letting its error (logged
where it happened) escape into the code that is shutting down.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Iterable, Optional

logger = logging.getLogger(__name__)


async def cancel_and_wait(*tasks: Optional[asyncio.Task]) -> None:
    """Cancel the tasks (None is skipped) and wait until each has ended."""
    await cancel_all(task for task in tasks if task is not None)


async def cancel_all(tasks: Iterable[asyncio.Task]) -> None:
    """Cancel every task first, then wait for each; an error a task ended with is logged at debug level only."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    for task in pending:
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:  # boundary: shutting down; the task logged its own failure when it happened
            logger.debug("a background task ended with an error while stopping", exc_info=True)
