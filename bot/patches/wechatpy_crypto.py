"""wechatpy's message encryption, with the 16 random bytes chosen by the caller.

`encrypt()` is WeChat's encryption layout as wechatpy implements it (`BasePrpCrypto._encrypt`: random(16) ||
msg_len || msg || receive id, PKCS#7 to 32 bytes, AES-256-CBC), used by `bot.channels.wechat_security`; tests
pass the random bytes to compare with the official vectors.

Why not the public API: wechatpy's public `encrypt_message` draws the random bytes itself and wraps the result
in reply XML; only the private `_encrypt` returns the bare ciphertext, and only overriding
`get_random_string` sets the random bytes.
"""

from __future__ import annotations

import logging

from bot.patches.versions import pin

logger = logging.getLogger(__name__)

PIN = pin("wechatpy", "==1.8.18", __name__, recheck=(
    "wechatpy/crypto/base.py: BasePrpCrypto(key), its private _encrypt(text, receive_id) (the layout above, "
    "base64 bytes returned) and get_random_string() (still where the 16 random bytes come from)"
))


def encrypt(key: bytes, text: str, receive_id: str, random_prefix: bytes) -> str:
    """Encrypt a message in WeChat's layout with wechatpy's cipher and return it as base64.

    Args:
        key: the 32-byte AES key (decoded EncodingAESKey).
        text: the plaintext (usually reply XML).
        receive_id: the AppID or CorpID appended to the message.
        random_prefix: the 16 random bytes that start the plaintext.
    """
    from wechatpy.crypto.base import BasePrpCrypto

    class _Prp(BasePrpCrypto):
        def get_random_string(self) -> bytes:  # type: ignore[override]
            return random_prefix

    encrypted = _Prp(key)._encrypt(text, receive_id)
    return encrypted.decode("ascii") if isinstance(encrypted, bytes) else str(encrypted)
