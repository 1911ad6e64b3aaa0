"""Delivery keys: every output channel sends a desk reply once, however often the desk posts it.

The desk puts `metadata.delivery_key` (`desk-<ticket code>-<message id>`) on every agent `bot` event and posts
the same key again after a timeout or a crash (Rasa sends before it saves the tracker, so a reply can be
delivered and still look failed). Rasa hands the event's metadata to the output channel inside the message
(`BotUttered.message()` merges it in), so `send_response` sees `message["delivery_key"]`.

`DeliveryKeys.send_once` is the one check every channel calls (`bot.channels.webchat`, `bot.channels.wechat_delivery`
for WeChat and WeCom):

- a key already sent for the conversation: skipped, logged at info, nothing sent;
- a key another replica is sending right now: `DeliveryInProgress` (Rasa answers 500, the desk retries later and
  then finds it sent or free);
- otherwise the key is claimed (`sending`, `CLAIM_SECONDS`), the message sent, and the key recorded as sent
  (`KEEP_SECONDS`, 7 days) only after the send succeeded; a failed send releases the claim, so a retry sends.

The same store keeps the widget's *missed* replies: the keys of agent replies emitted while no socket of the
conversation's session was connected (`bot.channels.webchat_replay` replays them from the tracker on the next
`session_request`, then forgets them), and, across replicas, which sockets are connected to which session.

Where the record lives: Redis in production mode (`bot.redis_config`, shared by every replica), else a SQLite
file `$FRONTLINE_VAR/channel-keys.db` (one machine; it survives a Rasa restart). A Redis or disk failure never
blocks a reply: the key is not checked (at worst a duplicate, never a loss) and a warning is logged.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Union

from redis.exceptions import RedisError

from bot.channels.sqlite_file import SqliteFile
from bot.redis_config import redis_settings

logger = logging.getLogger(__name__)

KEEP_SECONDS = 7 * 24 * 3600  # how long a sent key, or a missed reply, is remembered
CLAIM_SECONDS = 120  # a send in flight: longer than the slowest channel (WeChat: 3 × 5 s plus backoff)
PRESENCE_SECONDS = 90  # a socket's presence record lives this long unless its replica renews it
MAX_KEY_CHARS = 200
KEY_PREFIX = "frontline:keys"
DB_FILE = "channel-keys.db"

NEW, SENDING, SENT = "new", "sending", "sent"
REPLAY_CLAIM = "frontline-replay"  # the claim of a conversation's replay: a key no desk reply uses (`desk-…`)


class DeliveryInProgress(RuntimeError):
    """Another request is sending this key right now; retry later (it will then be sent, or free again)."""


def delivery_key(message: Mapping[str, Any]) -> Optional[str]:
    """The `delivery_key` of a message Rasa hands an output channel, or None (no key: always sent).

    Raises:
        ValueError: a key that is not a non-empty string of at most `MAX_KEY_CHARS` characters.
    """
    key = message.get("delivery_key") if isinstance(message, Mapping) else None
    if key is None:
        return None
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_CHARS or not key.isprintable():
        raise ValueError(f"delivery_key must be a printable string of 1 to {MAX_KEY_CHARS} characters")
    return key


class SqliteKeyStore(SqliteFile):
    """Keys, missed replies and (unused on one machine) presence in a SQLite file.

    Args:
        path: the database file (created on first use).
        clock: wall-clock seconds (tests inject one).
    """

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS delivery_keys (conversation TEXT NOT NULL, key TEXT NOT NULL,"
        " state TEXT NOT NULL, until REAL NOT NULL, PRIMARY KEY (conversation, key))",
        "CREATE TABLE IF NOT EXISTS missed_replies (conversation TEXT NOT NULL, key TEXT NOT NULL,"
        " at REAL NOT NULL, PRIMARY KEY (conversation, key))",
    )

    def claim(self, conversation: str, key: str) -> str:
        """`NEW` (claimed for sending now), `SENDING` (someone else is) or `SENT`."""
        now = self._clock()
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT state FROM delivery_keys WHERE conversation=? AND key=? AND until>?", (conversation, key, now)
                ).fetchone()
                if row is None:
                    db.execute(
                        "INSERT OR REPLACE INTO delivery_keys VALUES (?, ?, ?, ?)",
                        (conversation, key, SENDING, now + CLAIM_SECONDS),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return NEW if row is None else str(row[0])

    def confirm(self, conversation: str, key: str) -> None:
        """Record `key` as sent for `KEEP_SECONDS`."""
        with self._lock:
            self._conn().execute(
                "INSERT OR REPLACE INTO delivery_keys VALUES (?, ?, ?, ?)",
                (conversation, key, SENT, self._clock() + KEEP_SECONDS),
            )
            self._conn().execute("DELETE FROM delivery_keys WHERE until<?", (self._clock(),))  # expired keys
            self._conn().execute("DELETE FROM missed_replies WHERE at<?", (self._clock() - KEEP_SECONDS,))

    def release(self, conversation: str, key: str) -> None:
        """Forget a claim whose send failed."""
        with self._lock:
            self._conn().execute(
                "DELETE FROM delivery_keys WHERE conversation=? AND key=? AND state=?", (conversation, key, SENDING)
            )

    def add_missed(self, conversation: str, key: str) -> None:
        """Remember that the reply `key` reached no socket of `conversation`."""
        with self._lock:
            self._conn().execute(
                "INSERT OR IGNORE INTO missed_replies VALUES (?, ?, ?)", (conversation, key, self._clock())
            )

    def missed(self, conversation: str) -> List[str]:
        """The missed keys of `conversation`, oldest first."""
        with self._lock:
            rows = self._conn().execute(
                "SELECT key FROM missed_replies WHERE conversation=? AND at>? ORDER BY at",
                (conversation, self._clock() - KEEP_SECONDS),
            ).fetchall()
        return [str(row[0]) for row in rows]

    def drop_missed(self, conversation: str, keys: List[str]) -> None:
        """Forget missed keys (replayed)."""
        with self._lock:
            self._conn().executemany(
                "DELETE FROM missed_replies WHERE conversation=? AND key=?", [(conversation, k) for k in keys]
            )

    def purge_before(self, cutoff: float) -> int:
        """Delete the keys and missed replies recorded before `cutoff` (epoch seconds), expired ones too, with
        their pages zeroed and the write-ahead log emptied: they hold conversation ids (`python -m bot purge`).

        Returns:
            how many records were deleted.
        """
        with self._lock:
            db = self._conn()
            db.execute("PRAGMA secure_delete=ON")
            deleted = db.execute(
                "DELETE FROM delivery_keys WHERE until < ? OR until - (CASE state WHEN ? THEN ? ELSE ? END) < ?",
                (self._clock(), SENT, KEEP_SECONDS, CLAIM_SECONDS, cutoff),
            ).rowcount
            deleted += db.execute("DELETE FROM missed_replies WHERE at < ?", (cutoff,)).rowcount
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return deleted

    def join(self, conversation: str, socket_id: str) -> None:
        """One machine: presence is the socket.io server's own rooms (nothing to share)."""

    def leave(self, conversation: str, socket_id: str) -> None:
        """One machine: nothing to share."""

    def present(self, conversation: str) -> bool:
        """One machine: no other replica can hold a socket."""
        return False


class RedisKeyStore:
    """Keys, missed replies and socket presence in Redis, shared by every Rasa replica.

    Args:
        client: a `redis.Redis` client with short timeouts.
        prefix: the key prefix.
        clock: wall-clock seconds (tests inject one).
    """

    def __init__(self, client: Any, prefix: str = KEY_PREFIX, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.prefix = prefix
        self._clock = clock

    def _key(self, kind: str, conversation: str, key: str = "") -> str:
        return f"{self.prefix}:{kind}:{conversation}" + (f":{key}" if key else "")

    def claim(self, conversation: str, key: str) -> str:
        """`NEW` (claimed for sending now), `SENDING` (someone else is) or `SENT`."""
        name = self._key("sent", conversation, key)
        if self.client.set(name, SENDING, nx=True, ex=CLAIM_SECONDS):
            return NEW
        state = self.client.get(name)
        state = state.decode() if isinstance(state, bytes) else state
        if state is None:  # expired between the two calls: try once more
            return NEW if self.client.set(name, SENDING, nx=True, ex=CLAIM_SECONDS) else SENDING
        return SENT if state == SENT else SENDING

    def confirm(self, conversation: str, key: str) -> None:
        """Record `key` as sent for `KEEP_SECONDS`."""
        self.client.set(self._key("sent", conversation, key), SENT, ex=KEEP_SECONDS)

    def release(self, conversation: str, key: str) -> None:
        """Forget a claim whose send failed (only while it is still a claim)."""
        name = self._key("sent", conversation, key)
        state = self.client.get(name)
        if state in (SENDING, SENDING.encode()):
            self.client.delete(name)

    def add_missed(self, conversation: str, key: str) -> None:
        """Remember that the reply `key` reached no socket of `conversation`."""
        name = self._key("missed", conversation)
        pipe = self.client.pipeline(transaction=True)
        pipe.zadd(name, {key: self._clock()}, nx=True)
        pipe.expire(name, KEEP_SECONDS)
        pipe.execute()

    def missed(self, conversation: str) -> List[str]:
        """The missed keys of `conversation`, oldest first."""
        name = self._key("missed", conversation)
        raw = self.client.zrangebyscore(name, self._clock() - KEEP_SECONDS, "+inf")
        return [k.decode() if isinstance(k, bytes) else str(k) for k in raw]

    def drop_missed(self, conversation: str, keys: List[str]) -> None:
        """Forget missed keys (replayed)."""
        if keys:
            self.client.zrem(self._key("missed", conversation), *keys)

    def join(self, conversation: str, socket_id: str) -> None:
        """Record a socket of `conversation`'s session on this replica, for `PRESENCE_SECONDS` unless renewed."""
        name = self._key("present", conversation)
        pipe = self.client.pipeline(transaction=True)
        pipe.zadd(name, {socket_id: self._clock() + PRESENCE_SECONDS})
        pipe.expire(name, PRESENCE_SECONDS)
        pipe.execute()

    def leave(self, conversation: str, socket_id: str) -> None:
        """Forget a socket that disconnected."""
        self.client.zrem(self._key("present", conversation), socket_id)

    def present(self, conversation: str) -> bool:
        """True when any replica holds a live socket of `conversation`'s session."""
        return bool(self.client.zcount(self._key("present", conversation), self._clock(), "+inf"))


KeyStore = Union[SqliteKeyStore, RedisKeyStore]
FAILURES = (RedisError, sqlite3.Error, OSError)


class DeliveryKeys:
    """The one check of delivery keys, and the record of missed widget replies, over a `KeyStore`.

    Every store call is guarded: a failing store is logged and never blocks a reply (keys unchecked: at worst a
    duplicate; presence unknown: the reply counts as missed, so at worst it is shown twice).

    Args:
        store: where the keys live (`from_env()` picks it).
    """

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def _guard(self, what: str, call: Callable[[], Any], default: Any) -> Any:
        try:
            return call()
        except FAILURES as error:
            logger.warning("delivery keys: %s failed (%s: %s)", what, type(error).__name__, error)
            logger.debug("delivery key store error", exc_info=True)
            return default

    async def send_once(
        self, conversation_id: str, message: Mapping[str, Any], send: Callable[[], Awaitable[None]]
    ) -> bool:
        """Send `message` with `send()` unless its delivery key was already sent for `conversation_id`.

        Returns:
            True when it was sent now, False when skipped (its key was sent before).

        Raises:
            DeliveryInProgress: another request is sending the same key right now.
            ValueError: a malformed `delivery_key` (nothing sent).
            Exception: whatever `send()` raised (the key is released, so a retry sends).
        """
        key = delivery_key(message)
        if key is None:
            await send()
            return True
        return await self._send_keyed(conversation_id, key, send)

    async def send_part_once(
        self, conversation_id: str, key: str, part: int, send: Callable[[], Awaitable[None]]
    ) -> bool:
        """Send one part of a keyed reply sent in several (a long WeChat text) unless that part was sent: its own
        key `<key>#<part>`, so a retry after a later part failed sends only the parts still missing.

        Args:
            conversation_id: the conversation.
            key: the reply's delivery key (already checked by `send_once`).
            part: the part's number, from 1, counted over the whole reply.
            send: sends that part.

        Returns / Raises: as `send_once`.
        """
        return await self._send_keyed(conversation_id, f"{key}#{part}", send)

    async def _send_keyed(self, conversation_id: str, key: str, send: Callable[[], Awaitable[None]]) -> bool:
        state = self._guard("checking a key", lambda: self.store.claim(conversation_id, key), NEW)
        if state == SENT:
            logger.info("reply %s to %s was sent before: not sent again", key, conversation_id)
            return False
        if state == SENDING:
            logger.info("reply %s to %s is being sent by another request: try again later", key, conversation_id)
            raise DeliveryInProgress(f"reply {key} is being sent right now; retry later")
        try:
            await send()
        except BaseException:
            self._guard("releasing a key", lambda: self.store.release(conversation_id, key), None)
            raise
        self._guard("recording a sent key", lambda: self.store.confirm(conversation_id, key), None)
        return True

    def add_missed(self, conversation_id: str, key: str) -> None:
        """Remember a reply that reached no socket (replayed on the next `session_request`)."""
        self._guard("recording a missed reply", lambda: self.store.add_missed(conversation_id, key), None)

    def missed(self, conversation_id: str) -> List[str]:
        """The keys of the replies `conversation_id` missed, oldest first."""
        return list(self._guard("reading missed replies", lambda: self.store.missed(conversation_id), []))

    def drop_missed(self, conversation_id: str, keys: List[str]) -> None:
        """Forget replayed replies."""
        self._guard("forgetting replayed replies", lambda: self.store.drop_missed(conversation_id, keys), None)

    def begin_replay(self, conversation_id: str) -> bool:
        """Claim the conversation's replay (False: one is running; True too when the store cannot tell)."""
        return self._guard("claiming a replay", lambda: self.store.claim(conversation_id, REPLAY_CLAIM), NEW) == NEW

    def end_replay(self, conversation_id: str) -> None:
        """Release the replay claim."""
        self._guard("ending a replay", lambda: self.store.release(conversation_id, REPLAY_CLAIM), None)

    def join(self, conversation_id: str, socket_id: str) -> None:
        """A socket joined the conversation's session (renewed by `join` again)."""
        self._guard("recording a socket", lambda: self.store.join(conversation_id, socket_id), None)

    def leave(self, conversation_id: str, socket_id: str) -> None:
        """A socket left."""
        self._guard("forgetting a socket", lambda: self.store.leave(conversation_id, socket_id), None)

    def present_elsewhere(self, conversation_id: str) -> bool:
        """True when another replica holds a socket of the conversation (False when unknown)."""
        return bool(self._guard("reading presence", lambda: self.store.present(conversation_id), False))


_shared: Dict[str, DeliveryKeys] = {}


def from_env(environ: Optional[Mapping[str, str]] = None) -> DeliveryKeys:
    """This process's delivery keys: in Redis in production mode (`bot.redis_config`), else in
    `$FRONTLINE_VAR/channel-keys.db`. One instance per place, shared by every channel of the process.

    Raises:
        SettingsError: Redis settings Frontline cannot use.
    """
    settings = redis_settings(environ)
    if settings is not None:
        where = f"redis:{settings.describe()}"
        if where not in _shared:
            logger.info("delivery keys shared in Redis at %s", settings.describe())
            _shared[where] = DeliveryKeys(RedisKeyStore(settings.client(socket_timeout=0.5, socket_connect_timeout=0.5)))
        return _shared[where]
    from bot.settings import var_dir

    path = var_dir() / DB_FILE
    where = f"sqlite:{path}"
    if where not in _shared:
        _shared[where] = DeliveryKeys(SqliteKeyStore(path))
    return _shared[where]
