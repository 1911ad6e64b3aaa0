"""The WeChat Official Account (公众号) channel: `bot.channels.wechat.WeChatInput`, named `wechat`.

Served by the Rasa server at `/webhooks/wechat/` (health) and `/webhooks/wechat/webhook` (GET URL
verification, POST messages in plaintext or safe mode). See `docs/channels.md`. A follower's conversation id is
`wechat:<OpenID>` (`wecom:<UserID>` on WeCom; `bot.conversations`), and the output channels send only to
conversations of their own channel, to the bare OpenID (UserID) the API needs.

The channel puts together what the WeChat family shares, each in its own module:
- `bot.channels.wechat_settings`: the settings read from `credentials.yml`;
- `bot.channels.wechat_envelope`: signatures, safe-mode decryption and the sealed passive reply;
- `bot.channels.wechat_turns`: one turn per message within WeChat's 5-second deadline, retries joining it;
- `bot.channels.wechat_delivery`: the output channels, `WeChatOutput` (through the customer-service API) and
  `ReplyCollector` (one turn's answers: the passive reply, then the API);
- `bot.channels.wechat_api`: the API clients.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from typing import Any, Dict, List, Optional, Tuple

from rasa.core.channels.channel import InputChannel, OutputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import ratelimit
from bot.channels import delivery_keys
from bot.channels import wechat_security as sec
from bot.channels.delivery_keys import DeliveryKeys
from bot.channels.shared_state import LocalState, SharedState, from_env as shared_state_from_env
from bot.channels.wechat_api import DEFAULT_MAX_REPLY_BYTES, WECHAT_API_BASE, WeChatApiClient, max_reply_bytes
from bot.channels.wechat_delivery import ButtonMemory, WeChatOutput
from bot.channels.wechat_envelope import Envelope
from bot.channels.wechat_settings import ChannelSettings, text
from bot.channels.wechat_turns import OnNewMessage, TurnRunner
from bot.patches import sanic_framing

logger = logging.getLogger(__name__)

SUCCESS = "success"


class WeChatInput(InputChannel):
    """WeChat Official Account callbacks: URL verification and messages, plaintext or safe mode.

    Args:
        token: the callback Token (`WECHAT_TOKEN`); empty means not configured (503).
        encoding_aes_key: the EncodingAESKey for safe mode (`WECHAT_ENCODING_AES_KEY`); when set, plaintext
            POSTs are refused.
        app_id: the AppID (`WECHAT_APP_ID`), the trailer of encrypted messages and the API identity.
        app_secret: the AppSecret (`WECHAT_APP_SECRET`) for the customer-service API.
        api_base: the API host (`WECHAT_API_BASE`; https://api.weixin.qq.com when empty).
        reply_max_bytes: the longest text message (default: settings `compliance.wechat_max_reply_bytes`).
        shared_state: retry claims and buttons shown: this process's memory (default), or Redis shared by
            every Rasa replica (`from_credentials` picks Redis when `FRONTLINE_REDIS_HOST` is set).
        limiter: the abuse limits (`settings.yml: limits` when None): a follower over
            `limits.conversation_messages` gets a polite passive reply and no turn.
        **options: `replay_window_seconds`, `reply_budget_seconds`, `max_body_bytes`, `dedupe_ttl_seconds`
            (see `ChannelSettings`).
    """

    output_class: type = WeChatOutput
    env_prefix = "WECHAT"
    default_api_base = WECHAT_API_BASE
    always_encrypted = False
    required_fields: Tuple[str, ...] = ("FromUserName", "MsgType")  # of every opened callback message

    @classmethod
    def name(cls) -> str:
        """Return the channel name (URL prefix and `output_channel=` value)."""
        return "wechat"

    @classmethod
    def _identity(cls, credentials: Dict[str, Any]) -> Dict[str, str]:
        """The API identity in a `credentials.yml` section, by `__init__` keyword."""
        return {"app_id": text(credentials.get("app_id")), "app_secret": text(credentials.get("app_secret"))}

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        """Build the channel from its `credentials.yml` section (values usually `${WECHAT_…}`)."""
        if not credentials:
            cls.raise_missing_credentials_exception()
        where = f"credentials.yml: {cls.__module__}.{cls.__name__}"
        settings = ChannelSettings.from_credentials(credentials, where, cls.env_prefix)
        return cls(
            **cls._identity(credentials),
            **dataclasses.asdict(settings),
            # not a credential: Redis in production mode (FRONTLINE_REDIS_HOST), shared by every replica
            shared_state=shared_state_from_env(),
        )

    def __init__(
        self,
        token: str = "",
        encoding_aes_key: str = "",
        app_id: str = "",
        app_secret: str = "",
        api_base: str = "",
        reply_max_bytes: Optional[int] = None,
        shared_state: Optional[SharedState] = None,
        limiter: Optional[ratelimit.Limiter] = None,
        **options: Any,
    ) -> None:
        api_base = api_base or os.environ.get(f"{self.env_prefix}_API_BASE", "") or self.default_api_base
        self.settings = ChannelSettings(token, encoding_aes_key, api_base, **options)
        self.app_id = app_id
        self.app_secret = app_secret
        self._reply_max_bytes = reply_max_bytes
        self.shared_state: SharedState = shared_state if shared_state is not None else LocalState()
        self.buttons = ButtonMemory(self.shared_state, self.name())
        self.limiter = limiter or ratelimit.Limiter.from_settings()
        self.envelope = Envelope(
            self.settings, receive_id=app_id, always_encrypted=self.always_encrypted, required_fields=self.required_fields
        )
        self.turns = TurnRunner(self)
        self._client: Any = None
        self._warned_unconfigured = False
        self.delivery_keys: Optional[DeliveryKeys] = None  # `bot.channels.delivery_keys.from_env()` on first use

    # -- configuration ----------------------------------------------------------------------------------------
    def configured(self) -> bool:
        """True when the channel can verify callbacks (a token is set)."""
        return bool(self.settings.token)

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
                self.settings.reply_budget_seconds,
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
                self.app_id, self.app_secret, base_url=self.settings.api_base, max_reply_bytes=self.reply_max_bytes
            )
        return self._client

    def get_output_channel(self) -> Optional[OutputChannel]:
        """An output channel sending through the API (used by Rasa's HTTP API for agent replies)."""
        if self.delivery_keys is None:
            self.delivery_keys = delivery_keys.from_env()
        return self.output_class(self.api_client(), self.buttons, keys=self.delivery_keys)

    # -- request handling -------------------------------------------------------------------------------------
    async def handle_message(self, message: Dict[str, Any], on_new_message: OnNewMessage, started: float) -> Optional[str]:
        """The passive reply to one verified message (None: answer `success`); see `TurnRunner.handle`."""
        return await self.turns.handle(message, on_new_message, started)

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

    def _refuse(self, request: Request, error: sec.ChannelRequestError) -> HTTPResponse:
        level = logging.INFO if error.status == 413 else logging.WARNING
        logger.log(level, "%s: refused %s from %s with %d: %s", self.name(), request.method, request.ip, error.status, error)
        body = {400: "bad request", 403: "forbidden", 413: "payload too large"}.get(error.status, "refused")
        return response.text(body, status=error.status)

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
                return response.text(self.envelope.verify_url(request.args))
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
                body = await self.envelope.read_body(request)
                message, encrypted = self.envelope.open(request.args, body)
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
            return response.text(self.envelope.seal_reply(reply, message, encrypted), content_type="application/xml; charset=utf-8")

        return hook
