"""Rasa's Redis lock store, connected from the one place that reads the Redis settings (`bot.redis_config`).

`endpoints.prod.yml` names it (`lock_store: type: bot.lock_store.RedisLockStore`), so the lock store logs in
with the same password and TLS as the channels (`FRONTLINE_REDIS_URL`, or `FRONTLINE_REDIS_HOST` / `_PORT` /
`_DB` and `FRONTLINE_REDIS_PASSWORD`); its section keeps only `key_prefix` and, if wanted, `socket_timeout`.

Releasing a turn's lock when Redis is unreachable does not fail the turn: the turn ran and its events are stored
(Rasa releases the lock last, in a `finally`). Rasa's store raises there, so the REST channel answered 500 for a
stored message and the caller's resend stored it twice (fault runs, docs/reliability.md). The release is retried
in the background every `RELEASE_RETRY_SECONDS` until Redis answers or the ticket has expired by itself
(Rasa's lock lifetime); until then the conversation's next turn waits for it, as for a turn still running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Optional

from rasa.core.lock_store import DEFAULT_SOCKET_TIMEOUT_IN_SECONDS, LOCK_LIFETIME
from rasa.core.lock_store import RedisLockStore as RasaRedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.redis_config import redis_settings
from bot.settings import SettingsError

logger = logging.getLogger(__name__)

RELEASE_RETRY_SECONDS = 1.0


class RedisLockStore(RasaRedisLockStore):
    """Rasa's `RedisLockStore` on the Redis of `bot.redis_config` (password, `rediss://`).

    Args:
        endpoint_config: the `lock_store` section of the endpoints file (Rasa passes it): `key_prefix`
            (letters and digits) and `socket_timeout` (seconds) are read from it.

    Raises:
        SettingsError: no Redis is configured, or its settings are unusable.
    """

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **_: Any) -> None:
        settings = redis_settings()
        if settings is None:
            raise SettingsError(
                "the Redis lock store needs FRONTLINE_REDIS_URL (or FRONTLINE_REDIS_HOST): see bot/redis_config.py"
            )
        section = dict(endpoint_config.kwargs) if endpoint_config is not None else {}
        tls = settings.options()
        super().__init__(
            host=settings.host,
            port=settings.port,
            db=settings.db,
            username=settings.username,
            password=settings.password,
            use_ssl=settings.tls,
            ssl_certfile=tls.get("ssl_certfile"),
            ssl_keyfile=tls.get("ssl_keyfile"),
            ssl_ca_certs=tls.get("ssl_ca_certs"),
            key_prefix=section.get("key_prefix"),
            socket_timeout=float(section.get("socket_timeout", DEFAULT_SOCKET_TIMEOUT_IN_SECONDS)),
        )
        logger.info("Rasa's conversation locks in Redis at %s", settings.describe())

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Release a turn's ticket; when Redis is unreachable, log it and retry in the background."""
        import redis

        try:
            super().cleanup(conversation_id, ticket_number)
        except redis.exceptions.RedisError as error:
            logger.warning(
                "releasing a conversation's lock failed (Redis: %s); releasing it again in the background",
                type(error).__name__,
            )
            try:
                asyncio.get_running_loop().create_task(self._release_later(conversation_id, ticket_number))
            except RuntimeError:  # no loop (a command line tool): the ticket expires by itself
                pass

    async def _release_later(self, conversation_id: str, ticket_number: int) -> None:
        import redis

        give_up = time.monotonic() + LOCK_LIFETIME
        while time.monotonic() < give_up:
            await asyncio.sleep(RELEASE_RETRY_SECONDS)
            try:
                super().cleanup(conversation_id, ticket_number)
            except redis.exceptions.RedisError:
                continue
            logger.info("a conversation's lock was released once Redis answered again")
            return
