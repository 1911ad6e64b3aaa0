"""The WeChat Official Account (公众号) channel: `bot.channels.wechat.WeChatInput`, named `wechat`.

Served by the Rasa server at `/webhooks/wechat/` (health) and `/webhooks/wechat/webhook` (GET URL
verification, POST messages in plaintext or safe mode). See `docs/channels.md`.

Meeting WeChat's 5-second deadline: each new message runs as a task with a `ReplyCollector` as its output
channel. The request waits up to `reply_budget_seconds` (default 4.0). If the turn finished, the first message
goes back as the passive reply (encrypted in safe mode) and the rest through the customer-service API;
otherwise the request answers `success` and everything is sent through the API when the turn finishes.
Retries (same `MsgId`, or same sender and `CreateTime` for events) join the first delivery and never start a
second turn.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import clock, texts
from bot.calendar.messages import hours_answer
from bot.patches import sanic_framing
from bot.channels import wechat_security as sec
from bot.channels.options import int_option
from bot.channels.dedupe import DEFAULT_TTL_SECONDS, Deduplicator, message_key
from bot.channels.shared_state import LocalState, SharedState, from_env as shared_state_from_env
from bot.channels.wechat_api import (
    DEFAULT_MAX_REPLY_BYTES,
    WECHAT_API_BASE,
    WeChatApiClient,
    WeChatApiError,
    max_reply_bytes,
    split_reply,
)
from bot.i18n import ZH
from bot.language import detect

logger = logging.getLogger(__name__)

SUCCESS = "success"
DEFAULT_REPLY_BUDGET_SECONDS = 4.0
MAX_ECHOSTR_CHARS = 512

# Inbound fields copied into the user message metadata (XML tag -> metadata key).
_METADATA_FIELDS = {
    "PicUrl": "pic_url",
    "MediaId": "media_id",
    "Format": "format",
    "ThumbMediaId": "thumb_media_id",
    "Location_X": "location_x",
    "Location_Y": "location_y",
    "Scale": "scale",
    "Label": "label",
    "Title": "title",
    "Description": "description",
    "Url": "url",
    "AgentID": "agent_id",
}

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def fold_buttons(text: str, buttons: List[Dict[str, Any]]) -> str:
    """Fold a text and its buttons into one message with numbered options (each send counts against quota).

    Args:
        text: the message text.
        buttons: Rasa buttons (`title`, `payload`).

    Returns:
        The text, one numbered line per button, and a hint in the text's language.
    """
    lines = [text.strip()] if text and text.strip() else []
    for index, button in enumerate(buttons, start=1):
        lines.append(f"{index}. {button.get('title') or button.get('payload') or ''}".rstrip())
    if buttons:
        lines.append(texts.choose_by_number(detect(text or "")))
    return "\n".join(lines)


class ButtonMemory:
    """Remembers the last buttons shown to each customer, so a reply of "2" means the second payload.

    Args:
        state: where the payloads are kept: this process's memory (default) or Redis, shared by every Rasa
            replica (`bot.channels.shared_state`), so a "2" reaching another replica still means the same.
    """

    def __init__(self, state: Optional[SharedState] = None) -> None:
        self.state: SharedState = state if state is not None else LocalState()

    def remember(self, recipient_id: str, buttons: List[Dict[str, Any]]) -> None:
        """Store the payloads (or titles) of the buttons just sent to `recipient_id`."""
        self.state.put_buttons(recipient_id, [str(b.get("payload") or b.get("title") or "") for b in buttons])

    def resolve(self, sender_id: str, text: str) -> Optional[str]:
        """Return the payload chosen by a numeric reply, once; None when `text` is not a valid choice."""
        choice = (text or "").strip()
        if not choice.isdigit():
            return None
        options = self.state.get_buttons(sender_id)
        if not options:
            return None
        index = int(choice)
        if not 1 <= index <= len(options) or not options[index - 1]:
            return None
        self.state.drop_buttons(sender_id)
        return options[index - 1]


def welcome_text(lang: str = ZH) -> str:
    """The reply to a `subscribe` event: a welcome, with the service hours when the calendar can tell them."""
    try:
        hours = hours_answer(lang, clock.now())
    except Exception:  # boundary (the subscribe reply): a broken calendar must not break the welcome
        logger.warning("welcome: service hours unavailable")
        logger.debug("hours_answer failed", exc_info=True)
        return texts.WECHAT_WELCOME
    return f"{texts.WECHAT_WELCOME}\n{hours}" if hours.strip() else texts.WECHAT_WELCOME


class WeChatOutput(OutputChannel):
    """Sends through the customer-service message API (`message/custom/send`).

    Used for answers that miss the passive-reply deadline and by Rasa's HTTP API
    (`POST /conversations/{id}/tracker/events?execute_side_effects=true&output_channel=wechat`) to deliver
    agent replies. A failed send (45015 outside the 48-hour window, 45047 quota used up, API down) is logged
    and raised as `WeChatApiError`, so the HTTP API answers 500 with the error text and the desk can show it.

    Args:
        client: the API client of the channel.
        buttons: where to remember the options shown to each customer.
    """

    @classmethod
    def name(cls) -> str:
        """Return the channel name."""
        return "wechat"

    def __init__(self, client: Any, buttons: Optional[ButtonMemory] = None) -> None:
        self.client = client
        self.buttons = buttons or ButtonMemory()

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Send a text through the API; raise `WeChatApiError` after logging when it cannot be delivered."""
        try:
            await self.client.send_text_async(recipient_id, text)
        except WeChatApiError as error:
            logger.error("%s: message to %s not delivered: %s", self.name(), recipient_id, error)
            raise

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        """Send the text and buttons as one message with numbered options."""
        self.buttons.remember(recipient_id, buttons)
        await self.send_text_message(recipient_id, fold_buttons(text, buttons))

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        """Quick replies are folded like buttons."""
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        """Send the `text` of a custom payload; other custom payloads cannot be shown on WeChat."""
        text = json_message.get("text") if isinstance(json_message, dict) else None
        if isinstance(text, str) and text.strip():
            await self.send_text_message(recipient_id, text)
        else:
            logger.warning("%s: a custom payload without text was not sent", self.name())


@dataclasses.dataclass
class DeliveryFailure:
    """Late answers of one turn that did not reach the customer.

    Args:
        recipient_id: the customer (OpenID, or UserID on WeCom), so an operator can follow up.
        msg_id: the MsgId of the customer message the answers belonged to, when known.
        error: why the first of them failed (`WeChatApiError`, or an unexpected exception).
        undelivered: how many messages were lost: the failed one and every later one of the turn, which are
            not tried so that the customer never sees a later step without the earlier one.
    """

    recipient_id: str
    msg_id: Optional[str]
    error: Exception
    undelivered: int = 1

    @property
    def errcode(self) -> Optional[int]:
        """The API error code, or None for a transport or unexpected failure."""
        return getattr(self.error, "errcode", None)


class ReplyCollector(WeChatOutput):
    """The output channel of one customer turn: holds messages until the HTTP reply is decided.

    In `collect` mode messages are buffered; `take_buffered()` hands them to the passive reply. After
    `switch_to_api()` the buffer and every later message are sent through the API, in order, by one worker
    task; failures are logged, never raised into the turn. After a failed send the turn's queue stops: the
    remaining and later messages are not sent, and all of them are recorded in `failures` with the customer.

    Args:
        client: the API client of the channel.
        buttons: where to remember the options shown to each customer.
        discard: drop the turn's messages (used for images and other non-text messages, whose reply is a
            request for text).
        msg_id: the MsgId of the customer message, named in the log when an answer is lost.
    """

    def __init__(
        self, client: Any, buttons: Optional[ButtonMemory] = None, discard: bool = False, msg_id: Optional[str] = None
    ) -> None:
        super().__init__(client, buttons)
        self.discard = discard
        self.msg_id = msg_id
        self.mode = "collect"
        self.buffered: List[Tuple[str, str]] = []
        self.queued = 0
        self.sent = 0
        self.failures: List[DeliveryFailure] = []
        self._pending: List[Tuple[str, str]] = []
        self._worker: Optional[asyncio.Task] = None

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Buffer the message, or queue it for the API once the passive reply is gone."""
        if self.discard:
            logger.debug("%s: bot message of a non-text turn dropped", self.name())
            return
        if self.mode == "api":
            self._enqueue([(recipient_id, text)])
        else:
            self.buffered.append((recipient_id, text))

    def take_buffered(self) -> List[Tuple[str, str]]:
        """Return and clear the buffered `(recipient, text)` messages."""
        taken, self.buffered = self.buffered, []
        return taken

    def switch_to_api(self, extra: Optional[List[Tuple[str, str]]] = None) -> None:
        """From now on send through the API: first `extra`, then the buffer, then later messages."""
        self.mode = "api"
        self._enqueue(list(extra or []) + self.take_buffered())

    @property
    def stopped(self) -> bool:
        """True once a send failed: nothing more of this turn is sent."""
        return bool(self.failures)

    def _customer(self, recipient_id: str) -> str:
        return f"{recipient_id} (MsgId {self.msg_id})" if self.msg_id else recipient_id

    def _enqueue(self, messages: List[Tuple[str, str]]) -> None:
        if not messages:
            return
        self.queued += len(messages)
        if self.stopped:
            failure = self.failures[-1]
            failure.undelivered += len(messages)
            logger.warning(
                "%s: %d more late answer(s) to %s not sent: an earlier one of this turn was not delivered",
                self.name(),
                len(messages),
                self._customer(failure.recipient_id),
            )
            return
        self._pending.extend(messages)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._drain())

    def _stop(self, recipient_id: str, error: Exception, reason: str) -> None:
        """Record a failed send, drop the rest of the turn's queue and log whose answer was lost."""
        dropped, self._pending = len(self._pending), []
        self.failures.append(DeliveryFailure(recipient_id, self.msg_id, error, 1 + dropped))
        logger.error(
            "%s: late answer to %s not delivered: %s; %d later message(s) of this turn not sent",
            self.name(),
            self._customer(recipient_id),
            reason,
            dropped,
        )

    async def _drain(self) -> None:
        while self._pending:
            recipient_id, text = self._pending.pop(0)
            try:
                await self.client.send_text_async(recipient_id, text)
                self.sent += 1
            except WeChatApiError as error:
                self._stop(recipient_id, error, str(error))
            except Exception as error:  # boundary (background sender): the worker must never die silently
                self._stop(recipient_id, error, f"unexpected error {type(error).__name__}")
                logger.debug("send failed", exc_info=True)

    async def wait_sent(self) -> None:
        """Wait until every queued message has been tried."""
        while self._worker is not None and not self._worker.done():
            await asyncio.shield(self._worker)


@dataclasses.dataclass
class Delivery:
    """One inbound message and its turn, shared by all deliveries (retries) of that message."""

    collector: Optional[ReplyCollector] = None
    task: Optional[asyncio.Task] = None
    settled: bool = False  # a response carried the answer, or the answer is committed to the API
    failed: bool = False

    def active(self) -> bool:
        """True while the turn is running or its late answers are being sent."""
        if self.task is not None and not self.task.done():
            return True
        worker = self.collector._worker if self.collector else None
        return worker is not None and not worker.done()


def _budget_option(credentials: Dict[str, Any], where: str) -> float:
    from bot.settings import SettingsError

    value = credentials.get("reply_budget_seconds")
    if value is None or value == "":
        return DEFAULT_REPLY_BUDGET_SECONDS
    try:
        budget = float(str(value).strip())
    except ValueError as error:
        raise SettingsError(f"{where}.reply_budget_seconds must be a number, not {value!r}") from error
    if not 0 < budget <= 4.8:
        raise SettingsError(f"{where}.reply_budget_seconds must be > 0 and <= 4.8 (WeChat waits 5 s), not {budget}")
    return budget


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


class WeChatInput(InputChannel):
    """WeChat Official Account callbacks: URL verification and messages, plaintext or safe mode.

    Args:
        token: the callback Token (`WECHAT_TOKEN`); empty means not configured (503).
        encoding_aes_key: the EncodingAESKey for safe mode (`WECHAT_ENCODING_AES_KEY`); when set, plaintext
            POSTs are refused.
        app_id: the AppID (`WECHAT_APP_ID`), the trailer of encrypted messages and the API identity.
        app_secret: the AppSecret (`WECHAT_APP_SECRET`) for the customer-service API.
        api_base: the API host (`WECHAT_API_BASE`; https://api.weixin.qq.com when empty).
        replay_window_seconds: accepted distance of `timestamp` from now.
        reply_budget_seconds: how long a request waits for the assistant before answering `success`.
        max_body_bytes: the largest accepted body.
        dedupe_ttl_seconds: how long a message is remembered for de-duplication.
        reply_max_bytes: the longest text message (default: settings `compliance.wechat_max_reply_bytes`).
        shared_state: retry claims and buttons shown: this process's memory (default), or Redis shared by
            every Rasa replica (`from_credentials` picks Redis when `FRONTLINE_REDIS_HOST` is set).
    """

    output_class: type = WeChatOutput
    env_prefix = "WECHAT"
    default_api_base = WECHAT_API_BASE
    always_encrypted = False

    @classmethod
    def name(cls) -> str:
        """Return the channel name (URL prefix and `output_channel=` value)."""
        return "wechat"

    @classmethod
    def _options_from_credentials(cls, credentials: Dict[str, Any]) -> Dict[str, Any]:
        where = f"credentials.yml: {cls.__module__}.{cls.__name__}"
        return {
            "replay_window_seconds": int_option(
                credentials, "replay_window_seconds", sec.DEFAULT_REPLAY_WINDOW_SECONDS, 1, where
            ),
            "reply_budget_seconds": _budget_option(credentials, where),
            "max_body_bytes": int_option(credentials, "max_body_bytes", sec.DEFAULT_MAX_BODY_BYTES, 1024, where),
            "dedupe_ttl_seconds": int_option(credentials, "dedupe_ttl_seconds", int(DEFAULT_TTL_SECONDS), 30, where),
            # not a credential: Redis in production mode (FRONTLINE_REDIS_HOST), shared by every replica
            "shared_state": shared_state_from_env(),
        }

    @classmethod
    def _check_aes_key(cls, key: str) -> None:
        from bot.settings import SettingsError

        if key:
            try:
                sec.decode_aes_key(key)
            except sec.InvalidAesKey as error:
                raise SettingsError(f"{cls.env_prefix}_ENCODING_AES_KEY (credentials.yml: encoding_aes_key): {error}") from error

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        """Build the channel from its `credentials.yml` section (values usually `${WECHAT_…}`)."""
        if not credentials:
            cls.raise_missing_credentials_exception()
        key = _text(credentials.get("encoding_aes_key"))
        cls._check_aes_key(key)
        return cls(
            token=_text(credentials.get("token")),
            encoding_aes_key=key,
            app_id=_text(credentials.get("app_id")),
            app_secret=_text(credentials.get("app_secret")),
            api_base=_text(credentials.get("api_base")),
            **cls._options_from_credentials(credentials),
        )

    def __init__(
        self,
        token: str = "",
        encoding_aes_key: str = "",
        app_id: str = "",
        app_secret: str = "",
        api_base: str = "",
        replay_window_seconds: int = sec.DEFAULT_REPLAY_WINDOW_SECONDS,
        reply_budget_seconds: float = DEFAULT_REPLY_BUDGET_SECONDS,
        max_body_bytes: int = sec.DEFAULT_MAX_BODY_BYTES,
        dedupe_ttl_seconds: float = DEFAULT_TTL_SECONDS,
        reply_max_bytes: Optional[int] = None,
        shared_state: Optional[SharedState] = None,
    ) -> None:
        self.token = token
        self.encoding_aes_key = encoding_aes_key
        self.app_id = app_id
        self.app_secret = app_secret
        self.api_base = api_base or os.environ.get(f"{self.env_prefix}_API_BASE", "") or self.default_api_base
        self.replay_window_seconds = replay_window_seconds
        self.reply_budget_seconds = reply_budget_seconds
        self.max_body_bytes = max_body_bytes
        self._reply_max_bytes = reply_max_bytes
        self.shared_state: SharedState = shared_state if shared_state is not None else LocalState()
        self.buttons = ButtonMemory(self.shared_state)
        self.dedupe: Deduplicator[Delivery] = Deduplicator(ttl_seconds=dedupe_ttl_seconds, is_active=Delivery.active)
        self._client: Any = None
        self._crypto: Optional[sec.MessageCrypto] = None
        self._warned_unconfigured = False

    # -- configuration ----------------------------------------------------------------------------------------
    @property
    def receive_id(self) -> str:
        """The AppID expected as the trailer of encrypted messages."""
        return self.app_id

    def configured(self) -> bool:
        """True when the channel can verify callbacks (a token is set)."""
        return bool(self.token)

    def missing_send_settings(self) -> List[str]:
        """The variables still needed to send through the API (late answers, agent replies); empty when none."""
        missing = [f"{self.env_prefix}_APP_ID"] if not self.app_id else []
        return missing + ([f"{self.env_prefix}_APP_SECRET"] if not self.app_secret else [])

    def can_send(self) -> bool:
        """True when messages can be sent through the API (not only passive replies)."""
        return not self.missing_send_settings()

    def _warn_cannot_send(self) -> None:
        missing = self.missing_send_settings()
        if self.configured() and missing:
            logger.warning(
                "%s: %s not set: only passive replies work; answers later than %.1fs and agent replies from the "
                "desk cannot be sent and will be lost",
                self.name(),
                " and ".join(missing),
                self.reply_budget_seconds,
            )

    @property
    def reply_max_bytes(self) -> int:
        """The longest text message in bytes (settings `compliance.wechat_max_reply_bytes`)."""
        if self._reply_max_bytes is None:
            from bot.settings import SettingsError

            try:
                self._reply_max_bytes = max_reply_bytes()
            except (SettingsError, OSError) as error:  # a wrong or unreadable setting: fall back, but say so
                logger.warning("%s: %s; using %d bytes", self.name(), error, DEFAULT_MAX_REPLY_BYTES)
                self._reply_max_bytes = DEFAULT_MAX_REPLY_BYTES
        return self._reply_max_bytes

    def api_client(self) -> Any:
        """The channel's one API client (created on first use; one token refresher per channel)."""
        if self._client is None:
            self._client = WeChatApiClient(
                self.app_id, self.app_secret, base_url=self.api_base, max_reply_bytes=self.reply_max_bytes
            )
        return self._client

    def crypto(self) -> Optional[sec.MessageCrypto]:
        """The message crypto, or None when safe mode is not configured (no key or no AppID)."""
        if self._crypto is None and self.token and self.encoding_aes_key and self.receive_id:
            self._crypto = sec.MessageCrypto(self.token, self.encoding_aes_key, self.receive_id)
        return self._crypto

    def get_output_channel(self) -> Optional[OutputChannel]:
        """An output channel sending through the API (used by Rasa's HTTP API for agent replies)."""
        return self.output_class(self.api_client(), self.buttons)

    def _not_configured(self) -> HTTPResponse:
        if not self._warned_unconfigured:
            logger.warning(
                "%s channel not configured (set %s_TOKEN and the other %s_* variables); answering 503",
                self.name(),
                self.env_prefix,
                self.env_prefix,
            )
            self._warned_unconfigured = True
        return response.text(f"{self.name()} channel not configured", status=503)

    # -- request handling -------------------------------------------------------------------------------------
    def _refuse(self, request: Request, error: sec.ChannelRequestError) -> HTTPResponse:
        level = logging.INFO if error.status == 413 else logging.WARNING
        logger.log(level, "%s: refused %s from %s with %d: %s", self.name(), request.method, request.ip, error.status, error)
        text = {400: "bad request", 403: "forbidden", 413: "payload too large"}.get(error.status, "refused")
        return response.text(text, status=error.status)

    def verify_url(self, args: Any) -> str:
        """Check a GET URL verification and return the body to answer (Official Account: echostr as is).

        Raises:
            ChannelRequestError: a bad signature, timestamp or echostr.
        """
        timestamp, nonce = args.get("timestamp"), args.get("nonce")
        sec.check_signature(self.token, args.get("signature"), timestamp, nonce)
        sec.check_timestamp(timestamp, self.replay_window_seconds)
        echostr = args.get("echostr") or ""
        if not echostr or len(echostr) > MAX_ECHOSTR_CHARS or not echostr.isprintable():
            raise sec.MalformedXml("echostr missing or not a short printable string")
        return echostr

    async def _read_body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise sec.MalformedXml("bad Content-Length")
            sec.check_body_size(int(length), self.max_body_bytes)
        if request.stream is None:
            body = request.body or b""
            sec.check_body_size(len(body), self.max_body_bytes)
            return body
        chunks: List[bytes] = []
        size = 0
        while True:
            chunk = await request.stream.read()
            if chunk is None:
                break
            size += len(chunk)
            sec.check_body_size(size, self.max_body_bytes)
            chunks.append(chunk)
        return b"".join(chunks)

    def authenticate(self, args: Any, body: bytes) -> Tuple[Dict[str, Any], bool]:
        """Verify a POST and return `(message fields, encrypted)`.

        Raises:
            ChannelRequestError: 403 for a bad signature, stale timestamp or bad ciphertext; 400 for bad XML.
            LookupError: safe mode is requested but not configured.
        """
        timestamp, nonce = args.get("timestamp"), args.get("nonce")
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
            sec.check_timestamp(timestamp, self.replay_window_seconds)
            message = sec.parse_xml(crypto.decrypt(encrypt))
        else:
            sec.check_signature(self.token, args.get("signature"), timestamp, nonce)
            sec.check_timestamp(timestamp, self.replay_window_seconds)
            if self.encoding_aes_key:
                raise sec.ForbiddenRequest("plaintext message while safe mode is configured")
            message = sec.parse_xml(body)
        if not _text(message.get("FromUserName")) or not _text(message.get("MsgType")):
            raise sec.MalformedXml("FromUserName or MsgType missing")
        return message, encrypted

    def render_reply(self, text: str, message: Dict[str, Any], encrypted: bool) -> str:
        """Render a passive text reply to `message` (encrypted envelope in safe mode)."""
        xml = (
            "<xml>"
            f"<ToUserName>{sec.cdata(_text(message.get('FromUserName')))}</ToUserName>"
            f"<FromUserName>{sec.cdata(_text(message.get('ToUserName')))}</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime>"
            "<MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{sec.cdata(text)}</Content>"
            "</xml>"
        )
        if encrypted:
            crypto = self.crypto()
            assert crypto is not None  # authenticate() proved it exists
            return crypto.encrypt_reply(xml)
        return xml

    def user_text(self, message: Dict[str, Any]) -> Tuple[str, Dict[str, Any], bool]:
        """Turn a non-event message into `(text for Rasa, metadata, is_text)`.

        Text and recognised voice give their text; a text message whose `Content` is empty or blank gives `""`
        (no turn is started for it); other types give `[type]` and `is_text` False.
        """
        msg_type = _text(message.get("MsgType")).lower()
        metadata: Dict[str, Any] = {
            "channel": self.name(),
            "msg_type": msg_type,
            "msg_id": _text(message.get("MsgId")) or None,
            "account": _text(message.get("ToUserName")) or None,
            "create_time": _text(message.get("CreateTime")) or None,
        }
        for tag, key in _METADATA_FIELDS.items():
            if isinstance(message.get(tag), str) and message[tag]:
                metadata[key] = message[tag]
        if msg_type == "text":
            return _text(message.get("Content")), metadata, True
        if msg_type == "voice" and _text(message.get("Recognition")):
            metadata["recognition"] = True
            return _text(message.get("Recognition")), metadata, True
        return f"[{msg_type or 'unknown'}]", metadata, False

    def event_reply(self, message: Dict[str, Any]) -> Optional[str]:
        """The passive reply to an event: a welcome for `subscribe`, nothing otherwise."""
        if _text(message.get("Event")).lower() == "subscribe":
            return welcome_text("zh")
        return None

    async def _run_turn(self, on_new_message: OnNewMessage, message: UserMessage, entry: Delivery) -> None:
        try:
            await on_new_message(message)
        except asyncio.CancelledError:
            raise
        except Exception:  # boundary (a turn): a failing turn must not take the channel down
            entry.failed = True
            logger.error("%s: the assistant failed on a message", self.name())
            logger.debug("on_new_message failed", exc_info=True)
            collector = entry.collector
            if collector is not None and collector.mode == "api" and not collector.queued and not collector.discard:
                collector.switch_to_api([(message.sender_id, texts.WECHAT_BUSY)])

    def _start_turn(
        self, on_new_message: OnNewMessage, message: Dict[str, Any], entry: Delivery, text: str, meta: Dict[str, Any], is_text: bool
    ) -> None:
        sender = _text(message.get("FromUserName"))
        if is_text:
            chosen = self.buttons.resolve(sender, text)
            if chosen is not None:
                meta["button_choice"] = text
                text = chosen
        entry.collector = ReplyCollector(self.api_client(), self.buttons, discard=not is_text, msg_id=meta.get("msg_id"))
        user_message = UserMessage(
            text,
            output_channel=entry.collector,
            sender_id=sender,
            input_channel=self.name(),
            message_id=meta.get("msg_id") or None,
            metadata=meta,
        )
        entry.task = asyncio.get_running_loop().create_task(self._run_turn(on_new_message, user_message, entry))

    async def handle_message(self, message: Dict[str, Any], on_new_message: OnNewMessage, started: float) -> Optional[str]:
        """Run (or join) the turn for one verified message and return the passive reply text, if any.

        Args:
            message: the verified, parsed message.
            on_new_message: Rasa's handler.
            started: the event-loop time when the request arrived (the budget counts from it).

        Returns:
            The text to reply passively, or None to answer `success`.
        """
        key = message_key(message)
        if key is None:
            raise sec.MalformedXml("neither MsgId nor FromUserName+CreateTime")
        entry, created = self.dedupe.get_or_create(key, Delivery)
        if created and not self.shared_state.claim(f"{self.name()}:{key}", int(self.dedupe.ttl_seconds)):
            # another replica took this message first (a WeChat retry after a slow answer): it answers
            entry.settled = True
            logger.info("%s: %s is being answered by another replica; acknowledged", self.name(), key)
            return None
        msg_type = _text(message.get("MsgType")).lower()
        if msg_type == "event":
            if not created or entry.settled:
                return None
            entry.settled = True
            return self.event_reply(message)
        if created:
            text, meta, is_text = self.user_text(message)
            if is_text and not text:
                entry.settled = True
                logger.info("%s: text message %s without content; no turn, asked for the question", self.name(), key)
                return texts.WECHAT_ASK_QUESTION
            self._start_turn(on_new_message, message, entry, text, meta, is_text)
            if not is_text:
                entry.settled = True
                return texts.WECHAT_TEXT_ONLY
        if entry.settled or entry.task is None or entry.collector is None:
            return None
        loop = asyncio.get_running_loop()
        remaining = self.reply_budget_seconds - (loop.time() - started)
        if remaining > 0 and not entry.task.done():
            await asyncio.wait({entry.task}, timeout=remaining)
        if entry.settled:  # another delivery of this message answered while we waited
            return None
        entry.settled = True
        collector = entry.collector
        if not entry.task.done():
            collector.switch_to_api()
            logger.info("%s: answer not ready in %.1fs, acknowledged; it will follow via the API", self.name(), self.reply_budget_seconds)
            return None
        messages = collector.take_buffered()
        sender = _text(message.get("FromUserName"))
        if entry.failed and not messages:
            messages = [(sender, texts.WECHAT_BUSY)]
        parts = [(recipient, part) for recipient, text in messages for part in split_reply(text, self.reply_max_bytes)]
        if not parts:
            collector.switch_to_api()
            return None
        collector.switch_to_api(parts[1:])
        return parts[0][1]

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The `<name>_webhook` blueprint: `GET /` health, `GET /webhook` verification, `POST /webhook`."""
        sanic_framing.install()  # the callbacks come from the internet: see bot/patches/sanic_framing.py
        self._warn_cannot_send()
        hook = Blueprint(f"{self.name()}_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": self.configured(), "can_send": self.can_send()})

        @hook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if not self.configured():
                return self._not_configured()
            try:
                return response.text(self.verify_url(request.args))
            except sec.ChannelRequestError as error:
                return self._refuse(request, error)
            except Exception:  # boundary (channel handler): never a 500 for a malformed request
                logger.error("%s: URL verification failed unexpectedly", self.name())
                logger.debug("verification error", exc_info=True)
                return response.text("bad request", status=400)

        @hook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            started = asyncio.get_running_loop().time()
            if not self.configured():
                return self._not_configured()
            try:
                body = await self._read_body(request)
                message, encrypted = self.authenticate(request.args, body)
            except sec.ChannelRequestError as error:
                return self._refuse(request, error)
            except LookupError:
                logger.warning("%s: encrypted message but safe mode is not configured", self.name())
                return response.text(f"{self.name()} safe mode not configured", status=503)
            except Exception:  # boundary (channel handler): never a 500 for a malformed request
                logger.error("%s: could not read a message", self.name())
                logger.debug("request error", exc_info=True)
                return response.text("bad request", status=400)
            try:
                reply = await self.handle_message(message, on_new_message, started)
            except sec.ChannelRequestError as error:
                return self._refuse(request, error)
            except Exception:  # boundary (channel handler): answer success rather than make WeChat retry
                logger.error("%s: message handling failed", self.name())
                logger.debug("handling error", exc_info=True)
                reply = None
            if not reply:
                return response.text(SUCCESS)
            return response.text(self.render_reply(reply, message, encrypted), content_type="application/xml; charset=utf-8")

        return hook
