"""`Idempotency-Key` on the agents' state-changing calls: a client that lost an answer repeats the request with
the same key and gets the first answer, and nothing happens twice.

- The key is the agent's own: printable ASCII, 1 to `MAX_KEY_LENGTH` characters (else 400).
- The first request with a key is recorded before it runs (`Store.start_call`), its answer after, whatever it
  was (2xx, 4xx, 502: the answer is the outcome, e.g. a reply kept as failed), then sent.
- A repeat (same agent, same key) with the same method, path and body gets that answer again, with the header
  `Idempotent-Replayed: true`; with another method, path or body: 422; while the first is still running: 409
  ("in progress, retry", with `Retry-After: 1`: the console repeats it); when the first never finished (its desk stopped): 409 saying to reload the ticket.
- Keys are kept `KEEP_SECONDS` (24 h), trimmed in the leader's round.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Awaitable, Callable, Optional, Tuple

from bot.desk.errors import DeskError
from bot.desk.store import Store

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
KEEP_SECONDS = 24 * 3600.0
INTERNAL_ERROR = (500, {"error": "internal error"})

Answer = Tuple[int, Any]  # (HTTP status, JSON body)


def validate_key(raw: str) -> str:
    """Return the key if it is one (printable ASCII, 1 to `MAX_KEY_LENGTH` characters).

    Raises:
        DeskError: 400 saying what a key must be.
    """
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in raw):
        raise DeskError(400, f"'{HEADER}' must be 1 to {MAX_KEY_LENGTH} printable ASCII characters")
    return raw


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests the same request: the sha256 of the method, the path and the body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode("ascii"), path.encode("utf-8"), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def answer_of(work: Callable[[], Awaitable[Answer]]) -> Answer:
    """Run a call; a refusal (`DeskError`) is its answer too."""
    try:
        return await work()
    except DeskError as error:
        return error.status, {**error.details, "error": error.message}


class IdempotentCalls:
    """Runs the agents' state-changing calls once per `Idempotency-Key`.

    Args:
        store: the desk store (`desk_idempotency`).
        abandoned_after: seconds after which a first request still without an answer counts as abandoned (its
            desk stopped): longer than any call takes (Rasa's timeout plus a margin).
    """

    def __init__(self, store: Store, abandoned_after: float) -> None:
        self.store = store
        self.abandoned_after = abandoned_after

    async def run(
        self, agent: str, key: Optional[str], method: str, path: str, body: bytes,
        work: Callable[[], Awaitable[Answer]],
    ) -> Tuple[Answer, bool]:
        """Run `work` for `agent`, once per `key` (every time when `key` is None).

        Returns:
            (the answer, whether it is a replay of the first one).

        Raises:
            DeskError: 400 a malformed key; 422 the key was used for another request; 409 the first request with
                the key is in progress, or never finished.
        """
        if key is None:
            return await answer_of(work), False
        key = validate_key(key)
        request = f"{method.upper()} {path}"
        mark = fingerprint(method, path, body)
        earlier = self.store.start_call(agent, key, request, mark)
        if earlier is not None:
            if earlier.fingerprint != mark:
                raise DeskError(422, f"this {HEADER} was used for another request ({earlier.request}): use a new key")
            if earlier.status is None:
                if earlier.age < self.abandoned_after:
                    raise DeskError(409, f"the first request with this {HEADER} is in progress, retry",
                                    headers={"Retry-After": "1"})
                raise DeskError(
                    409, f"the first request with this {HEADER} never finished (its desk stopped): reload the ticket "
                    "to see what happened"
                )
            return (earlier.status, earlier.response), True
        try:
            result = await answer_of(work)
        except Exception:
            self.store.finish_call(agent, key, *INTERNAL_ERROR)
            raise
        self.store.finish_call(agent, key, *result)
        return result, False

    def trim(self) -> int:
        """Forget the keys older than `KEEP_SECONDS`; return how many."""
        return self.store.trim_calls(KEEP_SECONDS)
