"""Helpers for the WeChat / WeCom channel tests: vectors, message builders, a fake assistant, a real server."""

from __future__ import annotations

import asyncio
import json
import pathlib
import socket
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

import xmltodict
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic
from wechatpy.crypto import WeChatCrypto as PeerCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as PeerWorkCrypto
from wechatpy.utils import WeChatSigner

VECTORS_FILE = pathlib.Path(__file__).parent / "vectors" / "wechat_vectors.json"

TOKEN = "frontline-test-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx0123456789abcdef"
APP_SECRET = "frontline-test-secret"
CORP_ID = "ww0123456789abcdef"
CORP_SECRET = "frontline-wecom-secret"
WECOM_AES_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
AGENT_ID = "1000002"
OPENID = "oUserOpenId123"
ACCOUNT = "gh_10f6c3c3ac5a"


def sign(token: str, *values: str) -> str:
    """WeChat's SHA-1 signature over the token and values, as wechatpy computes it."""
    signer = WeChatSigner()
    signer.add_data(token, *values)
    return signer.signature


def safe_request(
    xml: str, token: str = TOKEN, key: str = AES_KEY, app_id: str = APP_ID, timestamp: Optional[str] = None,
    nonce: str = "87654321", openid: str = OPENID, account: str = ACCOUNT,
) -> Tuple[Dict[str, str], str]:
    """A safe-mode POST built entirely by wechatpy: (query, body)."""
    timestamp = timestamp or str(int(time.time()))
    envelope = xmltodict.parse(PeerCrypto(token, key, app_id).encrypt_message(xml, nonce, timestamp))["xml"]
    query = {
        "signature": sign(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": openid,
        "encrypt_type": "aes",
        "msg_signature": envelope["MsgSignature"],
    }
    body = f"<xml><ToUserName><![CDATA[{account}]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    return query, body


def kf_callback(
    msg_token: str, open_kfid: str, timestamp: Optional[str] = None, nonce: str = "1372623149",
    token: str = TOKEN, key: str = WECOM_AES_KEY, corp_id: str = CORP_ID,
) -> Tuple[Dict[str, str], str]:
    """A 微信客服 `kf_msg_or_event` callback carrying `msg_token` (the Token `sync_msg` takes), signed and encrypted
    by wechatpy's WeCom crypto with the channel's `token`, `key` and `corp_id`: (query, body)."""
    timestamp = timestamp or str(int(time.time()))
    xml = (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><CreateTime>{timestamp}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
        f"<Token><![CDATA[{msg_token}]]></Token><OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
    )
    envelope = xmltodict.parse(PeerWorkCrypto(token, key, corp_id).encrypt_message(xml, nonce, timestamp))["xml"]
    query = {"msg_signature": envelope["MsgSignature"], "timestamp": timestamp, "nonce": nonce}
    body = f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    return query, body


def peer_decrypt_reply(reply: str, token: str = TOKEN, key: str = AES_KEY, app_id: str = APP_ID, work: bool = False) -> Dict[str, Any]:
    """Verify and decrypt our encrypted passive reply with wechatpy; return the reply's fields."""
    envelope = xmltodict.parse(reply)["xml"]
    peer = PeerWorkCrypto(token, key, app_id) if work else PeerCrypto(token, key, app_id)
    plaintext = peer.decrypt_message(reply, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    return xmltodict.parse(plaintext)["xml"]


def load_vectors(kind: Optional[str] = None) -> List[Dict[str, Any]]:
    """The vectors of `tests/channels/vectors/wechat_vectors.json`, optionally of one kind."""
    vectors = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))["vectors"]
    return [v for v in vectors if kind is None or v["kind"] == kind]


def text_message_xml(
    content: str,
    msg_id: str = "6054768590064713728",
    sender: str = "oUserOpenId123",
    account: str = "gh_10f6c3c3ac5a",
    create_time: Optional[int] = None,
    msg_type: str = "text",
    extra: str = "",
) -> str:
    """A plaintext inbound message as WeChat sends it."""
    created = create_time if create_time is not None else int(time.time())
    body = f"<Content><![CDATA[{content}]]></Content>" if msg_type == "text" else ""
    msg_id_xml = f"<MsgId>{msg_id}</MsgId>" if msg_id else ""
    return (
        f"<xml><ToUserName><![CDATA[{account}]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>{body}{extra}{msg_id_xml}</xml>"
    )


class FakeAssistant:
    """Stands in for Rasa's `on_new_message`: records messages, answers after `delay`, or fails.

    Args:
        answer: builds the bot messages (Rasa response dicts) for a user message.
        delay: seconds the turn takes.
        fail: raise instead of answering.
    """

    def __init__(
        self,
        answer: Optional[Callable[[UserMessage], List[Dict[str, Any]]]] = None,
        delay: float = 0.0,
        fail: bool = False,
    ) -> None:
        self.answer = answer or (lambda m: [{"text": f"答复：{m.text}"}])
        self.delay = delay
        self.fail = fail
        self.calls: List[UserMessage] = []
        self.finished = asyncio.Event()

    async def __call__(self, message: UserMessage) -> None:
        self.calls.append(message)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.fail:
                raise RuntimeError("assistant failure (test)")
            for bot_message in self.answer(message):
                await message.output_channel.send_response(message.sender_id, dict(bot_message))
        finally:
            self.finished.set()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    """A real sanic server on a loopback port mounting one channel's blueprint like Rasa does."""

    def __init__(self, channel: InputChannel, assistant: Any) -> None:
        self.channel = channel
        self.assistant = assistant
        self.app = Sanic(f"channels_test_{uuid.uuid4().hex[:12]}", configure_logging=False)
        self.app.blueprint(channel.blueprint(assistant), url_prefix=f"/webhooks/{channel.url_prefix()}")
        self.port = free_port()
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/{self.channel.url_prefix()}/webhook"

    async def start(self) -> None:
        self._server = await self.app.create_server(
            host="127.0.0.1", port=self.port, return_asyncio_server=True, access_log=False
        )
        await self._server.startup()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
