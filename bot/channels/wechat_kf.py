"""The 微信客服 (WeChat Customer Service) channel: `bot.channels.wechat_kf.WeChatKfInput`, named `wechat_kf`.

One service account (`open_kfid`) that customers reach from WeChat chats, mini programs, official accounts and
video channels, through the WeCom `kf` API. Served at `/webhooks/wechat_kf/webhook`, signed and encrypted
exactly like WeCom's callbacks (`bot.channels.wechat_envelope`, trailer the CorpID). The callback only says that
messages wait (`Event` `kf_msg_or_event`, a short-lived `Token`, the `OpenKfId`): it is answered `success` at
once, and the channel pulls the messages with `sync_msg` from its durable cursor (`bot.channels.wechat_kf_sync`).
Each customer message is one turn of conversation `wechat_kf:<external_userid>`; the answers go out with
`send_msg` (no passive reply exists here); `enter_session` is greeted with `send_msg_on_event` and its one-time
`welcome_code`.

Session states (`service_state`, `bot.channels.wechat_kf_api.ServiceState`) and the handoff: WeChat lets the API
send only while a session is new (0) or with the assistant (1), so a session the desk serves stays in 1 from the
assistant's first answer until the desk resolves the ticket, when the survey is sent and the session is ended
(4: the customer's next message opens a new one). States 2 (WeCom's own waiting pool) and 3 (a WeCom servicer
in the WeCom client) belong to WeCom's own agents: while the channel has seen a session there
(`session_status_change`, a servicer's message; kept with the cursor, `bot.channels.wechat_kf_cursor`), the
assistant stays silent for it. See `docs/channels.md`.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Tuple

from rasa.core.channels.channel import OutputChannel

from bot import conversations
from bot.channels import wechat_kf_cursor
from bot.channels.delivery_keys import delivery_key
from bot.channels.wechat import WeChatInput
from bot.channels.wechat_api import WECOM_API_BASE, WeChatApiError
from bot.channels.wechat_delivery import WeChatOutput
from bot.channels.wechat_kf_api import ServiceState, WeChatKfApiClient
from bot.channels.wechat_kf_sync import KfSync
from bot.channels.wechat_settings import text
from bot.channels.wechat_turns import OnNewMessage

logger = logging.getLogger(__name__)

CHANNEL = "wechat_kf"
CALLBACK_EVENT = "kf_msg_or_event"


class WeChatKfOutput(WeChatOutput):
    """Sends through `kf/send_msg`; see `WeChatOutput` (delivery keys, buttons folded, errors raised).

    The desk's survey (delivery key `desk-<code>-resolve`) closes the desk's ticket: once it is sent, the session
    is ended on WeChat too (`service_state` 4).
    """

    @classmethod
    def name(cls) -> str:
        """Return the channel name."""
        return CHANNEL

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        """See `WeChatOutput.send_response`; after the survey, the session is ended."""
        await super().send_response(recipient_id, message)
        key = delivery_key(message)
        if key and key.startswith("desk-") and key.endswith("-resolve"):
            customer = conversations.raw_id(recipient_id, self.channel)
            try:
                await self.client.call_async("trans_state", customer, ServiceState.ENDED)
            except WeChatApiError as error:  # the survey went out; a session left open is harmless
                logger.warning("%s: session of %s not ended after the survey: %s", self.name(), customer, error)


class KfTurnOutput(WeChatKfOutput):
    """The output channel of one customer turn: a failed send is logged, never raised into the turn (Rasa would
    then drop the turn, the customer's message included)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failures: List[WeChatApiError] = []

    async def _send_text(self, recipient_id: str, text: str) -> None:
        try:
            await super()._send_text(recipient_id, text)
        except WeChatApiError as error:
            self.failures.append(error)


class WeChatKfInput(WeChatInput):
    """微信客服 callbacks: encrypted URL verification, and `kf_msg_or_event` answered by pulling messages.

    Args:
        corp_id: the CorpID (`WECHAT_KF_CORP_ID`), the trailer of every encrypted callback.
        secret: the 微信客服 Secret (`WECHAT_KF_SECRET`) for the API.
        open_kfid: the service account this channel answers (`WECHAT_KF_OPEN_KFID`); callbacks for another are
            acknowledged and left alone.
        cursor_store: where the cursor and handled messages are kept (`wechat_kf_cursor.from_env()` when None).
        **options: as `WeChatInput`'s: `token` (`WECHAT_KF_TOKEN`; empty means not configured, 503),
            `encoding_aes_key` (`WECHAT_KF_ENCODING_AES_KEY`, required), `api_base` (`WECHAT_KF_API_BASE`;
            https://qyapi.weixin.qq.com when empty) and the rest.
    """

    output_class: type = WeChatKfOutput
    env_prefix = "WECHAT_KF"
    default_api_base = WECOM_API_BASE
    always_encrypted = True
    required_fields: Tuple[str, ...] = ("MsgType",)  # the callback names no sender

    @classmethod
    def name(cls) -> str:
        """Return the channel name (URL prefix and `output_channel=` value)."""
        return CHANNEL

    @classmethod
    def _identity(cls, credentials: Dict[str, Any]) -> Dict[str, str]:
        """CorpID, Secret and the service account."""
        return {
            "corp_id": text(credentials.get("corp_id")),
            "secret": text(credentials.get("secret")),
            "open_kfid": text(credentials.get("open_kfid")),
        }

    def __init__(
        self, corp_id: str = "", secret: str = "", open_kfid: str = "", cursor_store: Any = None, **options: Any
    ) -> None:
        super().__init__(app_id=corp_id, app_secret=secret, **options)
        self.corp_id = corp_id
        self.secret = secret
        self.open_kfid = open_kfid
        self._cursor_store = cursor_store
        self.sync = KfSync(self)

    def configured(self) -> bool:
        """True when token, EncodingAESKey and CorpID are all set (always encrypted)."""
        return bool(self.settings.token and self.settings.encoding_aes_key and self.corp_id)

    def missing_send_settings(self) -> List[str]:
        """The variables still needed to pull and send (CorpID, Secret, the service account); empty when none."""
        names = (("CORP_ID", self.corp_id), ("SECRET", self.secret), ("OPEN_KFID", self.open_kfid))
        return [f"{self.env_prefix}_{name}" for name, value in names if not value]

    def _warn_cannot_send(self) -> None:
        missing = self.missing_send_settings()
        if self.configured() and missing:
            logger.warning(
                "%s: %s not set: messages cannot be fetched or answered", self.name(), " and ".join(missing)
            )

    def api_client(self) -> WeChatKfApiClient:
        """The channel's one 微信客服 API client."""
        if self._client is None:
            self._client = WeChatKfApiClient(
                self.corp_id, self.secret, self.open_kfid, base_url=self.settings.api_base,
                max_reply_bytes=self.reply_max_bytes,
            )
        return self._client

    def cursor_store(self) -> wechat_kf_cursor.CursorStore:
        """Where the cursor is kept (opened on first use)."""
        if self._cursor_store is None:
            self._cursor_store = wechat_kf_cursor.from_env()
        return self._cursor_store

    def get_output_channel(self) -> Optional[OutputChannel]:
        """An output channel sending through `kf/send_msg` (Rasa's HTTP API uses it for the desk's replies)."""
        return self.output_class(self.api_client(), self.buttons, keys=self._keys())

    def turn_output(self) -> KfTurnOutput:
        """The output channel of one customer turn."""
        return KfTurnOutput(self.api_client(), self.buttons, keys=self._keys())

    def _keys(self) -> Any:
        if self.delivery_keys is None:
            from bot.channels import delivery_keys

            self.delivery_keys = delivery_keys.from_env()
        return self.delivery_keys

    async def handle_message(self, message: Dict[str, Any], on_new_message: OnNewMessage, started: float) -> Optional[str]:
        """Acknowledge a `kf_msg_or_event` callback and pull its messages in the background (never a passive
        reply: 微信客服 has none)."""
        event = text(message.get("Event"))
        if text(message.get("MsgType")).lower() != "event" or event != CALLBACK_EVENT:
            logger.info("%s: callback %r %r ignored", self.name(), text(message.get("MsgType")), event)
            return None
        open_kfid = text(message.get("OpenKfId"))
        if self.open_kfid and open_kfid and open_kfid != self.open_kfid:
            logger.warning(
                "%s: callback for service account %s, not ours (%s); acknowledged, not fetched",
                self.name(), open_kfid, self.open_kfid,
            )
            return None
        if self.missing_send_settings():
            self._warn_cannot_send()
            return None
        self.sync.request(text(message.get("Token")), on_new_message)
        return None

    async def idle(self) -> None:
        """Wait until the background sync has finished (tests, shutdown)."""
        await self.sync.idle()

    def stop(self) -> None:
        """Cancel the background sync (a restart starts again from the saved cursor)."""
        self.sync.cancel()

