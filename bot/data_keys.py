"""Encryption at rest: the data keys (`FRONTLINE_DATA_KEYS`) and `DataCipher`, the one class every store
encrypts and decrypts conversation data with.

What is encrypted (so a copied database file or backup reveals no conversation): the `data` of every event in
Rasa's SQL tracker store and in the SQL event broker table (`bot.stores`; the desk reads the broker table
through this class too), and in the desk's database the message texts, each ticket's context packet and its
survey comment (`bot.desk.store`), and the e-mail channel's kept raw mails and attachment files
(`bot.channels.email_threads`). Ids, times, statuses, intent and action names stay readable: the stores
query them.

Keys: `FRONTLINE_DATA_KEYS` holds one or more Fernet keys (32 random bytes, url-safe base64), separated by
commas, newest first. The first encrypts; every one of them decrypts. Rotation: put a new key first
(`FRONTLINE_DATA_KEYS=new,old`), restart, run `python -m bot rekey` (every stored value re-encrypted under the
new key), then drop the old key. A new key: `python -c "from cryptography.fernet import Fernet;
print(Fernet.generate_key().decode())"`.

Without the variable: in development (`make run`, no setting at all) a key is generated once into
`var/data.key` (mode 0600, git-ignored, next to the databases it protects: for development only); in
production mode (`bot.settings.production_mode`) every process that opens a store refuses to start.

Stored form: `fernet:` + the Fernet token. A value without that prefix was written before encryption existed
and is read as it is, until `python -m bot rekey` encrypts it. Bytes (the e-mail channel's kept raw mails and
attachment files, `bot.channels.email_threads`) are stored the same way, as ASCII bytes (`encrypt_bytes`).
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import tempfile
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.settings import production_mode, var_dir

logger = logging.getLogger(__name__)

ENV_KEYS = "FRONTLINE_DATA_KEYS"
KEY_FILE = "data.key"
PREFIX = "fernet:"
BYTES_PREFIX = PREFIX.encode("ascii")

_CACHE: Dict[Tuple[str, str], "DataCipher"] = {}
_LOCK = threading.Lock()


class DataKeyError(RuntimeError):
    """The data keys are missing, malformed, or cannot decrypt a stored value.

    A RuntimeError: Rasa loads a configured tracker store catching ImportError only, so this stops the process.
    """


def generate_key() -> str:
    """A new random Fernet key (url-safe base64 text)."""
    return Fernet.generate_key().decode("ascii")


class DataCipher:
    """Encrypts and decrypts stored conversation data with a key ring (the first key encrypts).

    Args:
        keys: Fernet keys, newest first.
        source: where the keys came from, for messages (never the keys themselves).

    Raises:
        DataKeyError: no key, or a key that is not a Fernet key.
    """

    def __init__(self, keys: Sequence[str | bytes], source: str = ENV_KEYS) -> None:
        fernets: List[Fernet] = []
        for number, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                raise DataKeyError(
                    f"{source}: key {number} is not a Fernet key (32 bytes, url-safe base64); make one with "
                    "python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\""
                ) from None
        if not fernets:
            raise DataKeyError(f"{source}: no key")
        self.source = source
        self.key_count = len(fernets)
        self._primary = fernets[0]
        self._ring = MultiFernet(fernets)

    @staticmethod
    def is_encrypted(stored: Optional[str]) -> bool:
        """True when a stored value is in the encrypted form (`fernet:…`)."""
        return isinstance(stored, str) and stored.startswith(PREFIX)

    def encrypt(self, text: str) -> str:
        """The stored form of `text`, encrypted under the first key."""
        return PREFIX + self._primary.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: Optional[str]) -> Optional[str]:
        """The text of a stored value (a value written before encryption comes back as it is; None stays None).

        Raises:
            DataKeyError: no key of the ring decrypts it (a key dropped before `python -m bot rekey`, or another
                installation's data).
        """
        if not self.is_encrypted(stored):
            return stored
        assert stored is not None
        try:
            return self._ring.decrypt(stored[len(PREFIX):].encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise DataKeyError(
                f"a stored value cannot be decrypted with any of the {self.key_count} key(s) of {self.source}: "
                "was a key dropped before `python -m bot rekey` ran?"
            ) from None

    @staticmethod
    def is_encrypted_bytes(stored: Optional[bytes]) -> bool:
        """True when stored bytes are in the encrypted form (`fernet:…`)."""
        return isinstance(stored, (bytes, bytearray, memoryview)) and bytes(stored[:len(BYTES_PREFIX)]) == BYTES_PREFIX

    def encrypt_bytes(self, data: bytes) -> bytes:
        """The stored form of `data` (a file, a raw mail), encrypted under the first key: `fernet:` + token."""
        return BYTES_PREFIX + self._primary.encrypt(bytes(data))

    def decrypt_bytes(self, stored: bytes) -> bytes:
        """The bytes of a stored value (bytes written before encryption come back as they are).

        Raises:
            DataKeyError: see `decrypt`.
        """
        stored = bytes(stored)
        if not self.is_encrypted_bytes(stored):
            return stored
        try:
            return self._ring.decrypt(stored[len(BYTES_PREFIX):])
        except InvalidToken:
            raise DataKeyError(
                f"stored bytes cannot be decrypted with any of the {self.key_count} key(s) of {self.source}: "
                "was a key dropped before `python -m bot rekey` ran?"
            ) from None

    def refreshed_bytes(self, stored: bytes) -> Optional[bytes]:
        """`stored` encrypted under the first key, or None when it already is: what rekey writes for bytes.

        Raises:
            DataKeyError: see `decrypt`.
        """
        stored = bytes(stored)
        if self.is_encrypted_bytes(stored):
            try:
                self._primary.decrypt(stored[len(BYTES_PREFIX):])
                return None
            except InvalidToken:
                pass
        return self.encrypt_bytes(self.decrypt_bytes(stored))

    def dumps(self, value: Any) -> str:
        """`value` as JSON, encrypted."""
        return self.encrypt(json.dumps(value, ensure_ascii=False))

    def loads(self, stored: Optional[str]) -> Any:
        """A stored JSON value, decrypted (or written before encryption) and parsed; None for None or empty."""
        text = self.decrypt(stored)
        return json.loads(text) if text else None

    def refreshed(self, stored: Optional[str]) -> Optional[str]:
        """`stored` encrypted under the first key, or None when it already is (or is None): what rekey writes.

        Raises:
            DataKeyError: see `decrypt`.
        """
        if stored is None:
            return None
        if self.is_encrypted(stored):
            token = stored[len(PREFIX):].encode("ascii")
            try:
                self._primary.decrypt(token)
                return None
            except InvalidToken:
                pass
        text = self.decrypt(stored)
        assert text is not None
        return self.encrypt(text)


def rekey_column(engine: Any, table: Any, column: str, cipher: DataCipher, batch: int = 500) -> int:
    """Re-encrypt one column of a table with an integer `id` under the first key; return the rows changed.

    Values already under the first key (and NULLs) are left alone, so a second run changes nothing; values
    written before encryption are encrypted. One short transaction per `batch` rows.

    Args:
        engine: the SQLAlchemy engine.
        table: the SQLAlchemy table (with an `id` column).
        column: the encrypted column's name.
        cipher: the cipher with the keys.

    Raises:
        DataKeyError: a value no key decrypts.
    """
    import sqlalchemy as sa

    target = table.c[column]
    update = table.update().where(table.c.id == sa.bindparam("row_id")).values({column: sa.bindparam("fresh")})
    changed, last = 0, None
    while True:
        query = sa.select(table.c.id, target).order_by(table.c.id).limit(batch)
        if last is not None:
            query = query.where(table.c.id > last)
        with engine.begin() as conn:
            rows = conn.execute(query).all()
            updates = [{"row_id": row_id, "fresh": fresh} for row_id, value in rows
                       if (fresh := cipher.refreshed(value)) is not None]
            if updates:
                conn.execute(update, updates)
        changed += len(updates)
        if len(rows) < batch:
            return changed
        last = rows[-1][0]


def development_key_path() -> pathlib.Path:
    """Where development mode keeps its generated key: `var/data.key` (`FRONTLINE_VAR`)."""
    return var_dir() / KEY_FILE


def _development_key(path: pathlib.Path) -> str:
    """The key in `path`, generated first when the file does not exist (atomically: processes started together
    all end up with the one key)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".data.key.")  # created 0600
        try:
            os.write(handle, (generate_key() + "\n").encode("ascii"))
            os.fsync(handle)
            os.close(handle)
            try:
                os.link(temporary, path)  # fails when another process made the file first: then use that one
                logger.info("%s is unset: generated a development data key in %s (mode 0600)", ENV_KEYS, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)
    if path.stat().st_mode & 0o077:
        logger.warning("%s can be read by other users: chmod 600 it", path)
    return path.read_text(encoding="ascii").strip()


def keys_from_environment() -> Tuple[List[str], str]:
    """The data keys and where they come from: `FRONTLINE_DATA_KEYS`, else the development key file.

    Raises:
        DataKeyError: production mode without `FRONTLINE_DATA_KEYS`.
    """
    raw = os.environ.get(ENV_KEYS, "").strip()
    if raw:
        return [key.strip() for key in raw.split(",") if key.strip()], ENV_KEYS
    if production_mode():
        raise DataKeyError(
            f"production mode needs {ENV_KEYS} (the key that encrypts stored conversations): set it to a key made "
            "with python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\" "
            "and keep it with your other secrets, away from the database backups"
        )
    path = development_key_path()
    return [_development_key(path)], str(path)


def cipher() -> DataCipher:
    """The process's cipher for the configured keys (built once per key source; cheap to call per row).

    Raises:
        DataKeyError: see `keys_from_environment` and `DataCipher`.
    """
    raw = os.environ.get(ENV_KEYS, "").strip()
    cache_key = ("env", raw) if raw else ("file", os.environ.get("FRONTLINE_VAR", ""))
    found = _CACHE.get(cache_key)
    if found is not None and (raw or not production_mode()):
        return found
    with _LOCK:
        keys, source = keys_from_environment()  # raises in production mode without keys
        found = _CACHE.setdefault(cache_key, DataCipher(keys, source))
        return found
