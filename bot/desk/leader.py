"""Jobs that one desk process at a time must do (queue-position updates, trimming the console feed, forgetting
dead processes), however many desk processes run.

`Lease` is a row in the desk database (`desk_leases`) taken and renewed by one conditional UPDATE, judged by the
database's clock: the holder renews it every round; when the holder stops renewing (killed, hung, cut off from
the database), the lease expires after `seconds` and the next process that asks takes it. A clean stop gives it
up at once. `run_as_leader` runs a job every `every` seconds while this process holds the lease, renews the lease
while the job runs, and cancels the job when the lease is lost, so two processes do not run it at the same time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

from bot.desk.store import Store

logger = logging.getLogger(__name__)

# A leader that stops renewing is replaced after this long (it renews every round, every few seconds).
LEASE_SECONDS = 30.0


class Lease:
    """A named lease in the desk database, held by one process at a time.

    Args:
        store: the desk store.
        name: the lease's name (one per job).
        holder: this process's id.
        seconds: how long a renewal lasts; longer than the time between two renewals.
    """

    def __init__(self, store: Store, name: str, holder: str, seconds: float = LEASE_SECONDS) -> None:
        self.store = store
        self.name = name
        self.holder = holder
        self.seconds = seconds
        self.held = False

    def hold(self) -> bool:
        """Take or renew the lease; True when this process holds it (False when the store is unreachable)."""
        try:
            held = self.store.hold_lease(self.name, self.holder, self.seconds)
        except SQLAlchemyError:
            logger.error("the %s lease could not be renewed (database unreachable)", self.name)
            logger.debug("lease failure", exc_info=True)
            held = False
        if held != self.held:
            logger.info("%s the %s lease", "took" if held else "no longer hold", self.name)
        self.held = held
        return held

    def release(self) -> None:
        """Give the lease up, if held, so another process takes it without waiting for it to expire."""
        if not self.held:
            return
        self.held = False
        try:
            self.store.release_lease(self.name, self.holder)
        except SQLAlchemyError:  # it expires by itself
            logger.warning("the %s lease could not be released; it expires in %.0f s", self.name, self.seconds)
            logger.debug("lease release failure", exc_info=True)


async def run_as_leader(lease: Lease, job: Callable[[], Awaitable[None]], every: float) -> None:
    """Every `every` seconds, run `job` if this process holds `lease`, until cancelled.

    The lease is renewed every `every` seconds while the job runs; the job is cancelled when it is lost. A job's
    error is logged and the next round runs as usual.
    """
    while True:
        await asyncio.sleep(every)
        if not lease.hold():
            continue
        task = asyncio.get_running_loop().create_task(job())
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=every)
                if not task.done() and not lease.hold():
                    logger.warning("the %s lease was lost during a round: stopping the round", lease.name)
                    task.cancel()
                    await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not task.cancelled() and task.exception() is not None:
            logger.error("the %s round failed", lease.name)
            logger.debug("%s round failure", lease.name, exc_info=task.exception())
