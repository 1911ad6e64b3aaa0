"""Conversation ids: each channel owns a namespace, so no channel can reach another channel's conversations.

A conversation id (Rasa's sender id, the desk's `conversation_id`) is `<channel>:<the channel's own id>`:

| channel | conversation id | the channel's own id |
|---|---|---|
| widget (`socketio`) | `socketio:<session id>` | the session id the server issued (signed) |
| REST (`rest`) | `rest:<sender>` | the caller's `sender` |
| WeChat (`wechat`) | `wechat:<OpenID>` | the follower's OpenID |
| WeCom (`wecom`) | `wecom:<UserID>` | the member's UserID |
| 微信客服 (`wechat_kf`) | `wechat_kf:<external_userid>` | the WeChat customer's external_userid |
| e-mail (`email`) | `email:<thread>` | the thread id made from its first mail's Message-ID |

Before, every channel used its own id as the conversation id, so a widget visitor who picked a WeChat follower's
OpenID as session id wrote into that follower's conversation (and its ticket), and a REST caller could do the
same with any id. Now a channel's input makes ids only in its own namespace (`conversation_id`), its output
sends only to ids of its own namespace (`raw_id` refuses the others), and the desk refuses a ticket whose
channel is not the namespace of its conversation id (`channel_of`).

The channel's own id may contain anything, `:` included: only the first `:` separates.
"""

from __future__ import annotations

import logging
import re
from typing import Optional

logger = logging.getLogger(__name__)

SEPARATOR = ":"
# A channel name as Rasa's channels name themselves (`socketio`, `rest`, `wechat`, `wecom`).
_CHANNEL_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class ForeignConversation(ValueError):
    """A conversation id that does not belong to the channel asked about."""


def conversation_id(channel: str, raw: str) -> str:
    """The conversation id of a channel's own id (`wechat`, `oAbc…` → `wechat:oAbc…`).

    Args:
        channel: the channel's name (`InputChannel.name()`).
        raw: the id the channel knows the customer by (session id, sender, OpenID, UserID); not empty.

    Returns:
        `<channel>:<raw>`.

    Raises:
        ValueError: the channel name is not a lowercase name, or `raw` is empty.
    """
    if not _CHANNEL_RE.match(channel or ""):
        raise ValueError(f"not a channel name: {channel!r}")
    if not isinstance(raw, str) or not raw:
        raise ValueError(f"{channel}: an empty id has no conversation")
    return f"{channel}{SEPARATOR}{raw}"


def channel_of(conversation: str) -> Optional[str]:
    """The channel whose namespace a conversation id is in (`wechat:oAbc…` → `wechat`), or None when it has none.

    Args:
        conversation: a conversation id.

    Returns:
        The channel name, or None for an id made by no channel (no `:`, or no channel name before it, or nothing
        after it).
    """
    if not isinstance(conversation, str):
        return None
    channel, separator, raw = conversation.partition(SEPARATOR)
    if not separator or not raw or not _CHANNEL_RE.match(channel):
        return None
    return channel


def belongs_to(conversation: str, channel: str) -> bool:
    """True when `conversation` is in `channel`'s namespace."""
    return channel_of(conversation) == channel


def raw_id(conversation: str, channel: str) -> str:
    """The channel's own id of one of its conversations (`wechat:oAbc…`, `wechat` → `oAbc…`): what its output
    sends to (the OpenID for WeChat's API, the room of a widget session, the recipient a REST caller knows).

    Args:
        conversation: the conversation id.
        channel: the channel that is about to send.

    Returns:
        The part after `<channel>:`.

    Raises:
        ForeignConversation: the conversation is not in `channel`'s namespace (another channel's, or an id no
            channel made): nothing may be sent to it through this channel.
    """
    if not belongs_to(conversation, channel):
        raise ForeignConversation(f"conversation {conversation!r} is not a {channel} conversation")
    return conversation.partition(SEPARATOR)[2]
