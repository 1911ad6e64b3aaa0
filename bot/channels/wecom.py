"""The WeCom (企业微信) application channel: `bot.channels.wecom.WeComInput`, named `wecom`.

Served at `/webhooks/wecom/webhook`. WeCom callbacks are always encrypted: the GET verification carries an
encrypted `echostr` signed by `msg_signature` (answered with its plaintext), and every POST is an
`<Encrypt>` envelope whose trailer is the CorpID. Active messages go through `cgi-bin/message/send` as the
configured application (AgentID). A callback for another application of the same corp (another AgentID, when
the apps share the callback settings) is acknowledged with `success` and never reaches the assistant, so it is
never answered as our application. Everything else (deadline, retries, message types) is the Official Account
channel's behaviour, see `bot/channels/wechat.py`.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa.core.channels.channel import InputChannel

from bot.channels import wechat_security as sec
from bot.channels.wechat import OnNewMessage, WeChatInput, WeChatOutput, _text
from bot.channels.wechat_api import WECOM_API_BASE, WeComApiClient

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
        token: the callback Token (`WECOM_TOKEN`); empty means not configured (503).
        encoding_aes_key: the EncodingAESKey (`WECOM_ENCODING_AES_KEY`), required.
        corp_id: the CorpID (`WECOM_CORP_ID`), the trailer of every encrypted message.
        corp_secret: the application Secret (`WECOM_CORP_SECRET`) for the message API.
        agent_id: the application AgentID (`WECOM_AGENT_ID`).
        api_base: the API host (`WECOM_API_BASE`; https://qyapi.weixin.qq.com when empty).
        **options: see `WeChatInput`.
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
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        """Build the channel from its `credentials.yml` section (values usually `${WECOM_…}`)."""
        if not credentials:
            cls.raise_missing_credentials_exception()
        key = _text(credentials.get("encoding_aes_key"))
        cls._check_aes_key(key)
        return cls(
            token=_text(credentials.get("token")),
            encoding_aes_key=key,
            corp_id=_text(credentials.get("corp_id")),
            corp_secret=_text(credentials.get("corp_secret")),
            agent_id=_text(str(credentials.get("agent_id") or "")),
            api_base=_text(credentials.get("api_base")),
            **cls._options_from_credentials(credentials),
        )

    def __init__(
        self,
        token: str = "",
        encoding_aes_key: str = "",
        corp_id: str = "",
        corp_secret: str = "",
        agent_id: str = "",
        api_base: str = "",
        **options: Any,
    ) -> None:
        super().__init__(
            token=token, encoding_aes_key=encoding_aes_key, app_id=corp_id, app_secret=corp_secret, api_base=api_base, **options
        )
        self.corp_id = corp_id
        self.corp_secret = corp_secret
        self.agent_id = agent_id

    def configured(self) -> bool:
        """True when token, EncodingAESKey and CorpID are all set (WeCom is always encrypted)."""
        return bool(self.token and self.encoding_aes_key and self.corp_id)

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
                self.corp_id, self.corp_secret, self.agent_id, base_url=self.api_base, max_reply_bytes=self.reply_max_bytes
            )
        return self._client

    async def handle_message(self, message: Dict[str, Any], on_new_message: OnNewMessage, started: float) -> Optional[str]:
        """See `WeChatInput.handle_message`; a message for another AgentID is acknowledged without a turn."""
        agent_id = _text(message.get("AgentID"))
        ours = _text(self.agent_id)
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

    def verify_url(self, args: Any) -> str:
        """WeCom URL verification: `msg_signature` over the encrypted echostr, answered with its plaintext."""
        crypto = self.crypto()
        if crypto is None:  # pragma: no cover - configured() guarantees it
            raise sec.ForbiddenRequest("crypto not configured")
        # '+' in an echostr that was not URL-encoded arrives as a space; base64 never contains spaces.
        echostr = (args.get("echostr") or "").replace(" ", "+")
        if not echostr or len(echostr) > MAX_ECHOSTR_BYTES:
            raise sec.MalformedXml("echostr missing or too long")
        timestamp, nonce = args.get("timestamp"), args.get("nonce")
        plaintext = crypto.verify_url(args.get("msg_signature"), timestamp, nonce, echostr)
        sec.check_timestamp(timestamp, self.replay_window_seconds)
        return plaintext


MAX_ECHOSTR_BYTES = 1024
