"""Pure security checks for WeChat and WeCom callbacks: signatures, replay window, size, XML, AES.

Nothing here knows about sanic or Rasa: functions take strings and bytes and either return a value or raise a
`ChannelRequestError` subclass whose `status` is the HTTP status the channel answers with.

What comes from wechatpy 1.8.18 and what is ours:
- wechatpy: the SHA-1 signer (`WeChatSigner`), the AES-256-CBC cipher (`WeChatCipher`) and the encryption
  layout (`BasePrpCrypto._encrypt`: random(16) || msg_len || msg || receive id, PKCS#7 to 32 bytes), a
  private method reached through `bot.patches.wechatpy_crypto`.
- ours: constant-time comparison (`hmac.compare_digest`), the timestamp window, body size limit, safe XML
  parsing (`defusedxml`, no DTD, no entities, at most `MAX_XML_DEPTH` levels), a strict EncodingAESKey check
  (43 characters, not an `assert`), and a hardened decryption (pad value 1..32 and uniform, `msg_len` fits,
  receive id trailer compared in constant time, strict base64 and UTF-8). wechatpy's own decryption does none of these.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
import logging
import re
import secrets
import string
import time
from bot.patches import wechatpy_crypto
from typing import Any, Dict, Optional, Union
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

logger = logging.getLogger(__name__)

AES_KEY_PATTERN = re.compile(r"^[A-Za-z0-9]{43}$")
BLOCK_SIZE = 32  # WeChat's PKCS#7 block size (not AES's 16)
DEFAULT_REPLAY_WINDOW_SECONDS = 300
DEFAULT_MAX_BODY_BYTES = 64 * 1024
MAX_XML_DEPTH = 16  # WeChat/WeCom messages are 2-3 levels deep (`<xml>`, a field, `ScanCodeInfo`'s children)
# Characters outside XML 1.0's `Char` (https://www.w3.org/TR/xml/#charsets): any of them makes a reply unparseable.
_XML_ILLEGAL = re.compile(r"[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
_RANDOM_ALPHABET = string.ascii_letters + string.digits


class ChannelRequestError(Exception):
    """A callback request the channel refuses. `status` is the HTTP status to answer with."""

    status = 400


class ForbiddenRequest(ChannelRequestError):
    """The request is not proven to come from WeChat/WeCom (403)."""

    status = 403


class InvalidSignature(ForbiddenRequest):
    """`signature` or `msg_signature` is missing or does not match."""


class ReplayedRequest(ForbiddenRequest):
    """The timestamp is missing, not a number, or outside the replay window."""


class DecryptionError(ForbiddenRequest):
    """The `Encrypt` payload does not decrypt to a well-formed message for our AppID/CorpID."""


class MalformedXml(ChannelRequestError):
    """The body is not a well-formed, safe `<xml>` document (400)."""

    status = 400


class BodyTooLarge(ChannelRequestError):
    """The body is larger than the configured limit (413)."""

    status = 413


class InvalidAesKey(ValueError):
    """The EncodingAESKey is not 43 characters of [A-Za-z0-9]."""


def compute_signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """Return WeChat's SHA-1 signature over the sorted, concatenated values.

    Args:
        token: the callback token configured on the platform.
        timestamp: the `timestamp` query parameter.
        nonce: the `nonce` query parameter.
        *extra: further signed values (the `Encrypt` payload or WeCom's `echostr` for `msg_signature`).

    Returns:
        The lowercase hex SHA-1 digest.
    """
    from wechatpy.utils import WeChatSigner

    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce, *extra)
    return signer.signature


def signatures_match(expected: str, given: Optional[str]) -> bool:
    """Compare two hex signatures in constant time (case-insensitive); a missing one never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.lower().encode("utf-8"), given.strip().lower().encode("utf-8"))


def check_signature(token: str, signature: Optional[str], timestamp: str, nonce: str, *extra: str) -> None:
    """Verify a `signature` (three values) or `msg_signature` (four values).

    Args:
        token: the configured token; an empty token never verifies.
        signature: the signature from the query string.
        timestamp: the `timestamp` query parameter.
        nonce: the `nonce` query parameter.
        *extra: the `Encrypt` payload or `echostr` when checking a `msg_signature`.

    Raises:
        InvalidSignature: the signature is missing or wrong, or no token is configured.
    """
    if not token:
        raise InvalidSignature("no token configured")
    if not signature or timestamp is None or nonce is None:
        raise InvalidSignature("signature, timestamp or nonce missing")
    expected = compute_signature(token, timestamp, nonce, *extra)
    if not signatures_match(expected, signature):
        raise InvalidSignature("signature mismatch")


def check_timestamp(timestamp: Optional[str], window_seconds: int, now: Optional[float] = None) -> int:
    """Reject a timestamp outside `now ± window_seconds` (a replayed or forged request).

    Args:
        timestamp: the `timestamp` query parameter (Unix seconds).
        window_seconds: the accepted distance from now, in seconds.
        now: the current Unix time; the system clock when None.

    Returns:
        The timestamp as an int.

    Raises:
        ReplayedRequest: the timestamp is missing, not an integer, or outside the window.
    """
    if timestamp is None or not re.fullmatch(r"\d{1,12}", timestamp.strip()):
        raise ReplayedRequest("timestamp missing or not a number")
    value = int(timestamp)
    current = time.time() if now is None else now
    if abs(current - value) > window_seconds:
        raise ReplayedRequest(f"timestamp {value} outside the {window_seconds}s window")
    return value


def check_body_size(size: Optional[int], limit: int) -> None:
    """Raise `BodyTooLarge` when `size` (bytes) exceeds `limit`."""
    if size is not None and size > limit:
        raise BodyTooLarge(f"body of {size} bytes exceeds the {limit}-byte limit")


def _element_to_value(element: Element) -> Union[str, Dict[str, Any]]:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    result: Dict[str, Any] = {}
    for child in children:
        result.setdefault(child.tag, _element_to_value(child))
    return result


class _DepthLimitedBuilder:
    """A parser target that builds the tree like `TreeBuilder` but refuses elements nested too deeply.

    The parser calls it element by element, so a deeply nested body is refused as soon as it passes the limit,
    before a tree is built (and before anything walks it recursively).

    Args:
        max_depth: the most nested levels accepted, the root counting as 1.
    """

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.depth = 0
        self._builder = TreeBuilder()

    def start(self, tag: str, attrs: Dict[str, str]) -> Element:
        """Open an element; raise `MalformedXml` beyond `max_depth`."""
        self.depth += 1
        if self.depth > self.max_depth:
            raise MalformedXml(f"elements nested deeper than {self.max_depth} levels")
        return self._builder.start(tag, attrs)

    def end(self, tag: str) -> Element:
        """Close an element."""
        self.depth -= 1
        return self._builder.end(tag)

    def data(self, data: str) -> None:
        """Add text to the current element."""
        self._builder.data(data)

    def close(self) -> Element:
        """Return the root element."""
        return self._builder.close()


def parse_xml(body: Union[bytes, str], max_depth: int = MAX_XML_DEPTH) -> Dict[str, Any]:
    """Parse a callback body safely into a dict of the `<xml>` element's children.

    DTDs, entity declarations and external references are refused (`defusedxml`), and so are elements nested
    more than `max_depth` levels. Leaf values are stripped strings; nested elements (e.g. `ScanCodeInfo`)
    become nested dicts; a repeated tag keeps its first value.

    Args:
        body: the raw request body.
        max_depth: the most nested levels accepted, `<xml>` counting as 1.

    Returns:
        The children of the root `<xml>` element.

    Raises:
        MalformedXml: the body is empty, not well-formed, uses DTD/entities, is nested too deeply, or has
            another root element.
    """
    import defusedxml
    from defusedxml.ElementTree import DefusedXMLParser

    if not body or not (body.strip() if isinstance(body, (bytes, str)) else body):
        raise MalformedXml("empty body")
    try:
        parser = DefusedXMLParser(
            target=_DepthLimitedBuilder(max_depth), forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
        parser.feed(body)
        root = parser.close()
    except (ParseError, defusedxml.DefusedXmlException, ValueError, TypeError) as error:
        raise MalformedXml(f"not well-formed or unsafe XML: {type(error).__name__}") from error
    if root.tag != "xml":
        raise MalformedXml(f"root element is <{root.tag}>, not <xml>")
    value = _element_to_value(root)
    return value if isinstance(value, dict) else {}


def xml_text(value: str) -> str:
    """Remove the characters XML 1.0 does not allow, which make a passive reply unparseable for WeChat.

    These are control characters such as U+000B or U+0008 (text pasted from Word), lone surrogates, U+FFFE
    and U+FFFF.

    Args:
        value: the text.

    Returns:
        The text without those characters (tab, line feed and carriage return are kept).
    """
    return _XML_ILLEGAL.sub("", value)


def cdata(value: str) -> str:
    """Wrap text in CDATA, without XML-illegal characters and splitting any `]]>`, so the XML stays well-formed."""
    return "<![CDATA[" + xml_text(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def random_nonce(length: int = 10) -> str:
    """Return a random numeric nonce like WeChat's own."""
    return "".join(secrets.choice(string.digits) for _ in range(length))


def random16() -> bytes:
    """Return 16 random ASCII letters/digits, the prefix of each encrypted message (from `secrets`)."""
    return "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(16)).encode("ascii")


@dataclasses.dataclass(frozen=True)
class Decrypted:
    """The parts of a decrypted `Encrypt` payload."""

    message: str
    receive_id: str
    msg_len: int
    pad: int
    random16: bytes


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """Turn a 43-character EncodingAESKey into the 32-byte AES key.

    Raises:
        InvalidAesKey: the key is not exactly 43 characters of [A-Za-z0-9].
    """
    if not isinstance(encoding_aes_key, str) or not AES_KEY_PATTERN.match(encoding_aes_key):
        raise InvalidAesKey("EncodingAESKey must be exactly 43 characters of [A-Za-z0-9]")
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:  # pragma: no cover - 43 base64 characters always give 32 bytes
        raise InvalidAesKey("EncodingAESKey does not decode to 32 bytes")
    return key


class MessageCrypto:
    """WeChat/WeCom message encryption (安全模式) for one token, key and AppID/CorpID, hardened.

    Args:
        token: the callback token.
        encoding_aes_key: the 43-character EncodingAESKey.
        receive_id: the AppID (Official Account) or CorpID (WeCom) expected as the plaintext trailer.

    Raises:
        InvalidAesKey: the key is malformed.
        ValueError: token or receive id is empty.
    """

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if not token:
            raise ValueError("token is empty")
        if not receive_id:
            raise ValueError("AppID/CorpID is empty")
        self.token = token
        self.receive_id = receive_id
        self.key = decode_aes_key(encoding_aes_key)

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        """Return the `msg_signature` over token, timestamp, nonce and the encrypted payload."""
        return compute_signature(self.token, timestamp, nonce, encrypt)

    def verify_msg_signature(self, msg_signature: Optional[str], timestamp: str, nonce: str, encrypt: str) -> None:
        """Raise `InvalidSignature` unless `msg_signature` signs the four values."""
        check_signature(self.token, msg_signature, timestamp, nonce, encrypt)

    def encrypt(self, text: str, random_prefix: Optional[bytes] = None) -> str:
        """Encrypt a message (wechatpy's layout and cipher) and return it as base64.

        Args:
            text: the plaintext (usually reply XML).
            random_prefix: the 16 random bytes; fresh ones from `secrets` when None (tests inject them).
        """
        prefix = random16() if random_prefix is None else random_prefix
        if len(prefix) != 16:
            raise ValueError("the random prefix must be 16 bytes")
        return wechatpy_crypto.encrypt(self.key, text, self.receive_id, prefix)

    def decrypt_detailed(self, encrypt: str) -> Decrypted:
        """Decrypt a base64 payload with every structural check.

        Raises:
            DecryptionError: bad base64, bad length, bad padding, `msg_len` out of range, invalid UTF-8, or a
                trailer that is not our AppID/CorpID.
        """
        from wechatpy.crypto.base import WeChatCipher

        try:
            ciphertext = base64.b64decode((encrypt or "").strip(), validate=True)
        except (binascii.Error, ValueError) as error:
            raise DecryptionError("Encrypt is not base64") from error
        if not ciphertext or len(ciphertext) % 16:
            raise DecryptionError("ciphertext length is not a positive multiple of the AES block")
        plain = WeChatCipher(self.key).decrypt(ciphertext)
        pad = plain[-1]
        if not 1 <= pad <= BLOCK_SIZE or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
            raise DecryptionError("bad padding")
        body = plain[:-pad]
        if len(body) < 20:
            raise DecryptionError("plaintext too short")
        prefix, msg_len = body[:16], int.from_bytes(body[16:20], "big")
        if 20 + msg_len > len(body):
            raise DecryptionError("msg_len does not fit the plaintext")
        message, trailer = body[20 : 20 + msg_len], body[20 + msg_len :]
        if not hmac.compare_digest(trailer, self.receive_id.encode("utf-8")):
            raise DecryptionError("AppID/CorpID trailer does not match")
        try:
            text = message.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DecryptionError("message is not UTF-8") from error
        return Decrypted(text, trailer.decode("utf-8"), msg_len, pad, prefix)

    def decrypt(self, encrypt: str) -> str:
        """Decrypt a base64 payload and return the message (see `decrypt_detailed`)."""
        return self.decrypt_detailed(encrypt).message

    def decrypt_message(self, encrypt: str, msg_signature: Optional[str], timestamp: str, nonce: str) -> str:
        """Verify `msg_signature` over the payload, then decrypt it.

        Raises:
            InvalidSignature: the signature does not match.
            DecryptionError: the payload is malformed or for another AppID/CorpID.
        """
        self.verify_msg_signature(msg_signature, timestamp, nonce, encrypt)
        return self.decrypt(encrypt)

    def verify_url(self, msg_signature: Optional[str], timestamp: str, nonce: str, echostr: str) -> str:
        """WeCom URL verification: check `msg_signature` over `echostr`, return the decrypted echostr."""
        self.verify_msg_signature(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def encrypt_reply(
        self,
        reply_xml: str,
        nonce: Optional[str] = None,
        timestamp: Optional[str] = None,
        random_prefix: Optional[bytes] = None,
    ) -> str:
        """Encrypt a passive reply and wrap it in the signed envelope WeChat expects.

        Args:
            reply_xml: the plaintext reply XML.
            nonce: the envelope nonce; random when None.
            timestamp: the envelope timestamp; now when None.
            random_prefix: the 16 random bytes (tests only).

        Returns:
            `<xml>` with `Encrypt`, `MsgSignature`, `TimeStamp` and `Nonce`.
        """
        nonce = nonce or random_nonce()
        timestamp = timestamp or str(int(time.time()))
        encrypt = self.encrypt(reply_xml, random_prefix)
        signature = self.signature(timestamp, nonce, encrypt)
        return (
            "<xml>\n"
            f"<Encrypt>{cdata(encrypt)}</Encrypt>\n"
            f"<MsgSignature>{cdata(signature)}</MsgSignature>\n"
            f"<TimeStamp>{timestamp}</TimeStamp>\n"
            f"<Nonce>{cdata(nonce)}</Nonce>\n"
            "</xml>"
        )
