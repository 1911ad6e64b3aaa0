"""The settings of a WeChat-family channel (Official Account, WeCom): how it checks callbacks and how long it
waits for an answer, read from its `credentials.yml` section and checked there.

The API identity (AppID and AppSecret, or CorpID, Secret and AgentID) is the channel's own; everything here is
shared by the family.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict

from bot.channels import wechat_security as sec
from bot.channels.dedupe import DEFAULT_TTL_SECONDS
from bot.channels.options import int_option, seconds_option

logger = logging.getLogger(__name__)

DEFAULT_REPLY_BUDGET_SECONDS = 4.0
MAX_REPLY_BUDGET_SECONDS = 4.8  # WeChat waits 5 s for the passive reply


def text(value: Any) -> str:
    """A setting or a message field as text: stripped, and "" when absent or not a string."""
    return value.strip() if isinstance(value, str) else ""


def check_aes_key(key: str, env_prefix: str) -> None:
    """Refuse an EncodingAESKey WeChat would never accept (an empty one is no key: safe mode off).

    Raises:
        SettingsError: naming the variable (`<env_prefix>_ENCODING_AES_KEY`) and what is wrong.
    """
    from bot.settings import SettingsError

    if key:
        try:
            sec.decode_aes_key(key)
        except sec.InvalidAesKey as error:
            raise SettingsError(f"{env_prefix}_ENCODING_AES_KEY (credentials.yml: encoding_aes_key): {error}") from error


@dataclasses.dataclass
class ChannelSettings:
    """How a channel checks callbacks and answers them.

    Args:
        token: the callback Token; empty means not configured (503).
        encoding_aes_key: the EncodingAESKey (safe mode on the Official Account; always on WeCom).
        api_base: the API host.
        replay_window_seconds: accepted distance of `timestamp` from now.
        reply_budget_seconds: how long a request waits for the assistant before answering `success`.
        max_body_bytes: the largest accepted body.
        dedupe_ttl_seconds: how long a message is remembered for de-duplication.
    """

    token: str = ""
    encoding_aes_key: str = ""
    api_base: str = ""
    replay_window_seconds: int = sec.DEFAULT_REPLAY_WINDOW_SECONDS
    reply_budget_seconds: float = DEFAULT_REPLY_BUDGET_SECONDS
    max_body_bytes: int = sec.DEFAULT_MAX_BODY_BYTES
    dedupe_ttl_seconds: float = DEFAULT_TTL_SECONDS

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any], where: str, env_prefix: str) -> ChannelSettings:
        """The settings of a `credentials.yml` section (`api_base` as written: empty means the default).

        Args:
            credentials: the section.
            where: how errors name it, e.g. `credentials.yml: bot.channels.wechat.WeChatInput`.
            env_prefix: the prefix of the channel's variables (`WECHAT`, `WECOM`), named in errors.

        Raises:
            SettingsError: a bad EncodingAESKey or option.
        """
        key = text(credentials.get("encoding_aes_key"))
        check_aes_key(key, env_prefix)
        return cls(
            token=text(credentials.get("token")),
            encoding_aes_key=key,
            api_base=text(credentials.get("api_base")),
            replay_window_seconds=int_option(
                credentials, "replay_window_seconds", sec.DEFAULT_REPLAY_WINDOW_SECONDS, 1, where
            ),
            reply_budget_seconds=seconds_option(
                credentials,
                "reply_budget_seconds",
                DEFAULT_REPLY_BUDGET_SECONDS,
                MAX_REPLY_BUDGET_SECONDS,
                where,
                "WeChat waits 5 s",
            ),
            max_body_bytes=int_option(credentials, "max_body_bytes", sec.DEFAULT_MAX_BODY_BYTES, 1024, where),
            dedupe_ttl_seconds=int_option(credentials, "dedupe_ttl_seconds", int(DEFAULT_TTL_SECONDS), 30, where),
        )
