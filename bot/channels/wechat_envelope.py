"""The envelope of a WeChat-family callback: the URL check, the signed (and in safe mode encrypted) POST, and
the passive reply sealed the same way.

It reads the request and builds strings; the checks themselves are `bot.channels.wechat_security`'s. The
Official Account signs plaintext callbacks with `signature` and encrypts only in safe mode
(`encrypt_type=aes`); WeCom (and the WeCom-based customer-service API) encrypts everything, the URL check's
`echostr` too.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, List, Optional, Tuple

from sanic.request import Request

from bot.channels import wechat_security as sec
from bot.channels.wechat_settings import ChannelSettings, text

logger = logging.getLogger(__name__)

MAX_ECHOSTR_CHARS = 512  # a plaintext echostr (Official Account)
MAX_ECHOSTR_BYTES = 1024  # an encrypted one (WeCom)


class Envelope:
    """Opens and seals one channel's callbacks.

    Args:
        settings: the channel's token, EncodingAESKey, replay window and body limit (read at each request).
        receive_id: the AppID or CorpID, the trailer of every encrypted message.
        always_encrypted: every callback is encrypted, the URL check too (WeCom).
        required_fields: the fields every opened message must have (微信客服's callback names no sender: its
            messages are fetched afterwards).
    """

    def __init__(
        self, settings: ChannelSettings, receive_id: str, always_encrypted: bool = False,
        required_fields: Tuple[str, ...] = ("FromUserName", "MsgType"),
    ) -> None:
        self.settings = settings
        self.receive_id = receive_id
        self.always_encrypted = always_encrypted
        self.required_fields = required_fields
        self._crypto: Optional[sec.MessageCrypto] = None

    def crypto(self) -> Optional[sec.MessageCrypto]:
        """The message crypto, or None when safe mode is not configured (no key or no receive id)."""
        settings = self.settings
        if self._crypto is None and settings.token and settings.encoding_aes_key and self.receive_id:
            self._crypto = sec.MessageCrypto(settings.token, settings.encoding_aes_key, self.receive_id)
        return self._crypto

    def verify_url(self, args: Any) -> str:
        """Check a GET URL verification and return the body to answer: the echostr, decrypted when encrypted.

        Raises:
            ChannelRequestError: a bad signature, timestamp or echostr.
        """
        if self.always_encrypted:
            return self._verify_encrypted_url(args)
        timestamp, nonce = args.get("timestamp"), args.get("nonce")
        sec.check_signature(self.settings.token, args.get("signature"), timestamp, nonce)
        sec.check_timestamp(timestamp, self.settings.replay_window_seconds)
        echostr = args.get("echostr") or ""
        if not echostr or len(echostr) > MAX_ECHOSTR_CHARS or not echostr.isprintable():
            raise sec.MalformedXml("echostr missing or not a short printable string")
        return echostr

    def _verify_encrypted_url(self, args: Any) -> str:
        """WeCom URL verification: `msg_signature` over the encrypted echostr, answered with its plaintext."""
        crypto = self.crypto()
        if crypto is None:  # pragma: no cover - the channel answers 503 unless configured
            raise sec.ForbiddenRequest("crypto not configured")
        # '+' in an echostr that was not URL-encoded arrives as a space; base64 never contains spaces.
        echostr = (args.get("echostr") or "").replace(" ", "+")
        if not echostr or len(echostr) > MAX_ECHOSTR_BYTES:
            raise sec.MalformedXml("echostr missing or too long")
        timestamp, nonce = args.get("timestamp"), args.get("nonce")
        plaintext = crypto.verify_url(args.get("msg_signature"), timestamp, nonce, echostr)
        sec.check_timestamp(timestamp, self.settings.replay_window_seconds)
        return plaintext

    async def read_body(self, request: Request) -> bytes:
        """The request body, refused as soon as it is known to be over the limit (declared or streamed).

        Raises:
            ChannelRequestError: a bad Content-Length (400) or a body over `max_body_bytes` (413).
        """
        limit = self.settings.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise sec.MalformedXml("bad Content-Length")
            sec.check_body_size(int(length), limit)
        if request.stream is None:
            body = request.body or b""
            sec.check_body_size(len(body), limit)
            return body
        chunks: List[bytes] = []
        size = 0
        while True:
            chunk = await request.stream.read()
            if chunk is None:
                break
            size += len(chunk)
            sec.check_body_size(size, limit)
            chunks.append(chunk)
        return b"".join(chunks)

    def open(self, args: Any, body: bytes) -> Tuple[Dict[str, Any], bool]:
        """Verify a POST and return `(message fields, encrypted)`.

        Raises:
            ChannelRequestError: 403 for a bad signature, stale timestamp or bad ciphertext; 400 for bad XML.
            LookupError: safe mode is requested but not configured.
        """
        timestamp, nonce = args.get("timestamp"), args.get("nonce")
        window = self.settings.replay_window_seconds
        encrypted = self.always_encrypted or (args.get("encrypt_type") or "raw").lower() == "aes"
        if encrypted:
            crypto = self.crypto()
            if crypto is None:
                raise LookupError("safe mode is not configured")
            outer = sec.parse_xml(body)
            encrypt = outer.get("Encrypt")
            if not isinstance(encrypt, str) or not encrypt:
                raise sec.MalformedXml("no Encrypt element")
            crypto.verify_msg_signature(args.get("msg_signature"), timestamp, nonce, encrypt)
            sec.check_timestamp(timestamp, window)
            message = sec.parse_xml(crypto.decrypt(encrypt))
        else:
            sec.check_signature(self.settings.token, args.get("signature"), timestamp, nonce)
            sec.check_timestamp(timestamp, window)
            if self.settings.encoding_aes_key:
                raise sec.ForbiddenRequest("plaintext message while safe mode is configured")
            message = sec.parse_xml(body)
        missing = [field for field in self.required_fields if not text(message.get(field))]
        if missing:
            raise sec.MalformedXml(f"{' and '.join(missing)} missing")
        return message, encrypted

    def seal_reply(self, reply: str, message: Dict[str, Any], encrypted: bool) -> str:
        """A passive text reply to `message`, in an encrypted envelope when the message came in one."""
        xml = (
            "<xml>"
            f"<ToUserName>{sec.cdata(text(message.get('FromUserName')))}</ToUserName>"
            f"<FromUserName>{sec.cdata(text(message.get('ToUserName')))}</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime>"
            "<MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{sec.cdata(reply)}</Content>"
            "</xml>"
        )
        if encrypted:
            crypto = self.crypto()
            assert crypto is not None  # open() proved it exists
            return crypto.encrypt_reply(xml)
        return xml
