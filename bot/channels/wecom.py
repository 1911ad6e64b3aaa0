"""The WeCom (企业微信) application channel: `bot.channels.wecom.WeComInput`, named `wecom`.

Served at `/webhooks/wecom/webhook`. WeCom callbacks are always encrypted: the GET verification carries an
encrypted `echostr` signed by `msg_signature` (answered with its plaintext), and every POST is an
`<Encrypt>` envelope whose trailer is the CorpID (`bot.channels.wechat_envelope`). Active messages go through
`cgi-bin/message/send` as the configured application (AgentID). A callback for another application of the same
corp (another AgentID, when the apps share the callback settings) is acknowledged with `success` and never
reaches the assistant, so it is never answered as our application. Everything else (deadline, retries, message
types) is the Official Account channel's behaviour, see `bot/channels/wechat.py`.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from bot.channels.wechat import WeChatInput
from bot.channels.wechat_api import WECOM_API_BASE, WeComApiClient
from bot.channels.wechat_delivery import WeChatOutput
from bot.channels.wechat_settings import text
from bot.channels.wechat_turns import OnNewMessage

logger = logging.getLogger(__name__)


class WeComOutput(WeChatOutput):
    """Sends through WeCom's application message API (`message/send`); see `WeChatOutput`."""

    @classmethod
    def name(cls) -> str:
        """Return the channel name."""
        return "wecom"


class WeComInput(WeChatInput):
    """WeCom application callbacks: encrypted URL verification and encrypted messages.

    Args:
        corp_id: the CorpID (`WECOM_CORP_ID`), the trailer of every encrypted message.
        corp_secret: the application Secret (`WECOM_CORP_SECRET`) for the message API.
        agent_id: the application AgentID (`WECOM_AGENT_ID`).
        **options: as `WeChatInput`'s: `token` (`WECOM_TOKEN`; empty means not configured, 503),
            `encoding_aes_key` (`WECOM_ENCODING_AES_KEY`, required), `api_base` (`WECOM_API_BASE`;
            https://qyapi.weixin.qq.com when empty) and the rest.
    """

    output_class: type = WeComOutput
    env_prefix = "WECOM"
    default_api_base = WECOM_API_BASE
    always_encrypted = True

    @classmethod
    def name(cls) -> str:
        """Return the channel name (URL prefix and `output_channel=` value)."""
        return "wecom"

    @classmethod
    def _identity(cls, credentials: Dict[str, Any]) -> Dict[str, str]:
        """CorpID, Secret and AgentID (a number in YAML is read as its digits)."""
        return {
            "corp_id": text(credentials.get("corp_id")),
            "corp_secret": text(credentials.get("corp_secret")),
            "agent_id": text(str(credentials.get("agent_id") or "")),
        }

    def __init__(self, corp_id: str = "", corp_secret: str = "", agent_id: str = "", **options: Any) -> None:
        super().__init__(app_id=corp_id, app_secret=corp_secret, **options)
        self.corp_id = corp_id
        self.corp_secret = corp_secret
        self.agent_id = agent_id

    def configured(self) -> bool:
        """True when token, EncodingAESKey and CorpID are all set (WeCom is always encrypted)."""
        return bool(self.settings.token and self.settings.encoding_aes_key and self.corp_id)

    def missing_send_settings(self) -> List[str]:
        """The variables still needed for `message/send` (CorpID, Secret, a numeric AgentID); empty when none."""
        missing = [f"{self.env_prefix}_CORP_ID"] if not self.corp_id else []
        missing += [f"{self.env_prefix}_CORP_SECRET"] if not self.corp_secret else []
        if not str(self.agent_id or "").strip().isdigit():
            missing.append(f"{self.env_prefix}_AGENT_ID")
        return missing

    def api_client(self) -> Any:
        """The channel's one WeCom API client."""
        if self._client is None:
            self._client = WeComApiClient(
                self.corp_id, self.corp_secret, self.agent_id, base_url=self.settings.api_base, max_reply_bytes=self.reply_max_bytes
            )
        return self._client

    async def handle_message(self, message: Dict[str, Any], on_new_message: OnNewMessage, started: float) -> Optional[str]:
        """See `WeChatInput.handle_message`; a message for another AgentID is acknowledged without a turn."""
        agent_id = text(message.get("AgentID"))
        ours = text(self.agent_id)
        if agent_id and ours and agent_id != ours:
            logger.warning(
                "%s: callback for AgentID %s, not our application (AgentID %s); acknowledged without a turn. "
                "Does another application share this callback URL?",
                self.name(),
                agent_id,
                ours,
            )
            return None
        return await super().handle_message(message, on_new_message, started)
