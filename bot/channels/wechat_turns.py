"""One customer message, one turn, within WeChat's 5-second deadline: the passive-reply strategy of the Official
Account and WeCom channels.

Each new message runs as a task with a `ReplyCollector` as its output channel. The request waits up to
`reply_budget_seconds` (default 4.0). If the turn finished, the first message goes back as the passive reply and
the rest through the customer-service API; otherwise the request answers `success` and everything is sent
through the API when the turn finishes. Retries (same `MsgId`, or same sender and `CreateTime` for events) join
the first delivery and never start a second turn; a message another replica claimed first is left to it.

Events start no turn, except a custom-menu `click` whose `EventKey` is an emergency menu key
(`settings.yml: emergency.menu_keys`, `bot.emergency_entry`): it is a turn with the emergency payload
(`/faq_emergency`), answered like a message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Protocol, Tuple

from rasa.core.channels.channel import UserMessage

from bot import clock, conversations, emergency_entry, language, ratelimit, texts
from bot.calendar.messages import hours_answer
from bot.channels import wechat_security as sec
from bot.channels.dedupe import Deduplicator, message_key
from bot.channels.shared_state import SharedState
from bot.channels.wechat_api import split_reply
from bot.channels.wechat_delivery import ButtonMemory, ReplyCollector
from bot.channels.wechat_settings import ChannelSettings, text
from bot.i18n import ZH
from bot.nlu import limits

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

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


def welcome_text(lang: str = ZH) -> str:
    """The reply to a `subscribe` event: a welcome, with the service hours when the calendar can tell them, and
    the emergency keyword (the visible emergency entry: "紧急情况请直接回复“紧急”。")."""
    hint = texts.emergency_keyword_hint(lang)
    try:
        hours = hours_answer(lang, clock.now())
    except Exception:  # boundary (the subscribe reply): a broken calendar must not break the welcome
        logger.warning("welcome: service hours unavailable")
        logger.debug("hours_answer failed", exc_info=True)
        hours = ""
    return "\n".join(line for line in (texts.WECHAT_WELCOME, hours.strip(), hint) if line)


def event_reply(message: Dict[str, Any]) -> Optional[str]:
    """The passive reply to an event: a welcome for `subscribe`, nothing otherwise."""
    if text(message.get("Event")).lower() == "subscribe":
        return welcome_text(ZH)
    return None


def menu_payload(message: Dict[str, Any]) -> Optional[str]:
    """The payload a custom-menu `click` event leads to (the emergency entry for an emergency menu key), or None
    for any other message or key."""
    if text(message.get("MsgType")).lower() != "event" or text(message.get("Event")).lower() != "click":
        return None
    return emergency_entry.menu_payload(text(message.get("EventKey")))


def user_text(message: Dict[str, Any], channel: str) -> Tuple[str, Dict[str, Any], bool]:
    """Turn a message that starts a turn into `(text for Rasa, metadata, is_text)`.

    Text and recognised voice give their text; a text message whose `Content` is empty or blank gives `""`
    (no turn is started for it); a menu click with a payload (`menu_payload`) gives the payload, its key kept
    as `menu_key`; other types give `[type]` and `is_text` False.

    Args:
        message: the verified, parsed message.
        channel: the channel's name, kept in the metadata.
    """
    msg_type = text(message.get("MsgType")).lower()
    metadata: Dict[str, Any] = {
        "channel": channel,
        "msg_type": msg_type,
        "msg_id": text(message.get("MsgId")) or None,
        "account": text(message.get("ToUserName")) or None,
        "create_time": text(message.get("CreateTime")) or None,
    }
    for tag, key in _METADATA_FIELDS.items():
        if isinstance(message.get(tag), str) and message[tag]:
            metadata[key] = message[tag]
    if msg_type == "text":
        return text(message.get("Content")), metadata, True
    if msg_type == "voice" and text(message.get("Recognition")):
        metadata["recognition"] = True
        return text(message.get("Recognition")), metadata, True
    payload = menu_payload(message)
    if payload is not None:
        metadata["menu_key"] = text(message.get("EventKey"))
        return payload, metadata, True
    return f"[{msg_type or 'unknown'}]", metadata, False


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


class TurnChannel(Protocol):
    """What the runner needs of its channel."""

    settings: ChannelSettings
    shared_state: SharedState
    buttons: ButtonMemory
    limiter: ratelimit.Limiter

    def name(self) -> str:
        """The channel's name (logs, metadata, claims, `input_channel`)."""

    def api_client(self) -> Any:
        """The client late answers are sent with."""

    @property
    def reply_max_bytes(self) -> int:
        """The longest text message, in bytes."""


class TurnRunner:
    """Runs (or joins) the turn of each verified message and decides the passive reply.

    Args:
        channel: the channel the messages came in on.
    """

    def __init__(self, channel: TurnChannel) -> None:
        self.channel = channel
        self.dedupe: Deduplicator[Delivery] = Deduplicator(
            ttl_seconds=channel.settings.dedupe_ttl_seconds, is_active=Delivery.active
        )

    async def handle(self, message: Dict[str, Any], on_new_message: OnNewMessage, started: float) -> Optional[str]:
        """Run (or join) the turn for one verified message and return the passive reply text, if any.

        Args:
            message: the verified, parsed message.
            on_new_message: Rasa's handler.
            started: the event-loop time when the request arrived (the budget counts from it).

        Returns:
            The text to reply passively, or None to answer `success`.

        Raises:
            MalformedXml: the message has neither a MsgId nor a sender and CreateTime.
        """
        name = self.channel.name()
        key = message_key(message)
        if key is None:
            raise sec.MalformedXml("neither MsgId nor FromUserName+CreateTime")
        entry, created = self.dedupe.get_or_create(key, Delivery)
        if created and not self.channel.shared_state.claim(f"{name}:{key}", int(self.dedupe.ttl_seconds)):
            # another replica took this message first (a WeChat retry after a slow answer): it answers
            entry.settled = True
            logger.info("%s: %s is being answered by another replica; acknowledged", name, key)
            return None
        msg_type = text(message.get("MsgType")).lower()
        if msg_type == "event" and menu_payload(message) is None:
            if not created or entry.settled:
                return None
            entry.settled = True
            return event_reply(message)
        if created:
            content, meta, is_text = user_text(message, name)
            if is_text and not content:
                entry.settled = True
                logger.info("%s: text message %s without content; no turn, asked for the question", name, key)
                return texts.WECHAT_ASK_QUESTION
            wait = self.channel.limiter.hit(ratelimit.CONVERSATION, name, text(message.get("FromUserName")))
            if wait is not None:  # abuse limit: a polite reply, no turn
                entry.settled = True
                logger.info("%s: %s over the conversation's limit; no turn", name, key)
                return texts.too_many_messages(language.detect(limits.head(content)) if is_text else ZH, wait)
            self._start(on_new_message, message, entry, content, meta, is_text)
            if not is_text:
                entry.settled = True
                return texts.WECHAT_TEXT_ONLY
        if entry.settled or entry.task is None or entry.collector is None:
            return None
        return await self._passive_reply(message, entry, started)

    async def _passive_reply(self, message: Dict[str, Any], entry: Delivery, started: float) -> Optional[str]:
        """Wait for the turn within the budget; the first part of its answer, the rest through the API."""
        assert entry.task is not None and entry.collector is not None
        budget = self.channel.settings.reply_budget_seconds
        remaining = budget - (asyncio.get_running_loop().time() - started)
        if remaining > 0 and not entry.task.done():
            await asyncio.wait({entry.task}, timeout=remaining)
        if entry.settled:  # another delivery of this message answered while we waited
            return None
        entry.settled = True
        collector = entry.collector
        if not entry.task.done():
            collector.switch_to_api()
            logger.info("%s: answer not ready in %.1fs, acknowledged; it will follow via the API", self.channel.name(), budget)
            return None
        messages = collector.take_buffered()
        if entry.failed and not messages:
            messages = [(text(message.get("FromUserName")), texts.WECHAT_BUSY)]
        parts = [
            (recipient, part) for recipient, reply in messages for part in split_reply(reply, self.channel.reply_max_bytes)
        ]
        if not parts:
            collector.switch_to_api()
            return None
        collector.switch_to_api(parts[1:])
        return parts[0][1]

    def _start(
        self,
        on_new_message: OnNewMessage,
        message: Dict[str, Any],
        entry: Delivery,
        content: str,
        meta: Dict[str, Any],
        is_text: bool,
    ) -> None:
        """Start the turn as a task, its answers held by a new collector (dropped for a non-text message)."""
        channel = self.channel
        sender = text(message.get("FromUserName"))
        if is_text:
            chosen = channel.buttons.resolve(sender, content)
            if chosen is not None:
                meta["button_choice"] = content
                content = chosen
        entry.collector = ReplyCollector(
            channel.api_client(), channel.buttons, discard=not is_text, msg_id=meta.get("msg_id"), channel=channel.name()
        )
        user_message = UserMessage(
            content,
            output_channel=entry.collector,
            sender_id=conversations.conversation_id(channel.name(), sender),
            input_channel=channel.name(),
            message_id=meta.get("msg_id") or None,
            metadata=meta,
        )
        entry.task = asyncio.get_running_loop().create_task(self._run(on_new_message, user_message, entry))

    async def _run(self, on_new_message: OnNewMessage, message: UserMessage, entry: Delivery) -> None:
        """Run one turn; a failure is logged, and the customer told, once the answer is committed to the API."""
        try:
            await on_new_message(message)
        except asyncio.CancelledError:
            raise
        except Exception:  # boundary (a turn): a failing turn must not take the channel down
            entry.failed = True
            logger.error("%s: the assistant failed on a message", self.channel.name())
            logger.debug("on_new_message failed", exc_info=True)
            collector = entry.collector
            if collector is not None and collector.mode == "api" and not collector.queued and not collector.discard:
                customer = conversations.raw_id(message.sender_id, self.channel.name())
                collector.switch_to_api([(customer, texts.WECHAT_BUSY)])
