"""What the WeChat-family channels send, and how: through the platform's API, and, for one customer turn,
held for the passive reply until the request decides, then sent through the API in order.

`WeChatOutput` is the Official Account's output channel (`bot.channels.wechat` registers it; WeCom's is
`bot.channels.wecom.WeComOutput`). It lives here, not beside `WeChatInput`, because `ReplyCollector`, the output
channel of one turn, is one, and every channel of the family (the WeCom-based customer-service channel too)
delivers late answers through it.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
from typing import Any, Dict, List, Optional, Tuple

from rasa.core.channels.channel import OutputChannel

from bot import conversations
from bot.channels.delivery_keys import DeliveryKeys, delivery_key
from bot.channels.numbered import fold_buttons, self_numbered
from bot.channels.shared_state import LocalState, SharedState
from bot.channels.wechat_api import WeChatApiError
from bot.servers.rasa_metrics import rasa_meters

logger = logging.getLogger(__name__)


class ButtonMemory:
    """Remembers the last buttons shown to each customer, so a reply of "2" means the second payload.

    Args:
        state: where the payloads are kept: this process's memory (default) or Redis, shared by every Rasa
            replica (`bot.channels.shared_state`), so a "2" reaching another replica still means the same.
        channel: the channel whose customers these are: kept under their conversation ids (`wechat:<OpenID>`),
            so WeChat and WeCom customers sharing one Redis never read each other's buttons.
    """

    def __init__(self, state: Optional[SharedState] = None, channel: Optional[str] = None) -> None:
        self.state: SharedState = state if state is not None else LocalState()
        self.channel = channel

    def _key(self, customer: str) -> str:
        return conversations.conversation_id(self.channel, customer) if self.channel else customer

    def remember(self, recipient_id: str, buttons: List[Dict[str, Any]]) -> None:
        """Store the payloads (or titles) of the buttons just sent to `recipient_id`; buttons whose titles number
        themselves (the survey's, `bot.channels.numbered`) are not indexed: the number typed goes to the
        assistant as text, and the buttons shown before them no longer count."""
        if self_numbered(buttons):
            self.state.drop_buttons(self._key(recipient_id))
            return
        self.state.put_buttons(self._key(recipient_id), [str(b.get("payload") or b.get("title") or "") for b in buttons])

    def resolve(self, sender_id: str, text: str) -> Optional[str]:
        """Return the payload chosen by a numeric reply, once; None when `text` is not a valid choice."""
        choice = (text or "").strip()
        if not choice.isdigit():
            return None
        options = self.state.get_buttons(self._key(sender_id))
        if not options:
            return None
        index = int(choice)
        if not 1 <= index <= len(options) or not options[index - 1]:
            return None
        self.state.drop_buttons(self._key(sender_id))
        return options[index - 1]


@dataclasses.dataclass
class KeyedReply:
    """The keyed reply `WeChatOutput.send_response` is sending: its conversation, its delivery key, and how many
    messages (parts) it has gone through so far."""

    conversation_id: str
    key: str
    parts: int = 0


# The keyed reply being sent in this task (one per `send_response`; each request runs in its own task).
_KEYED_REPLY: contextvars.ContextVar[Optional[KeyedReply]] = contextvars.ContextVar("keyed_reply", default=None)


class WeChatOutput(OutputChannel):
    """Sends through the customer-service message API (`message/custom/send`).

    Used for answers that miss the passive-reply deadline and by Rasa's HTTP API
    (`POST /conversations/{id}/tracker/events?execute_side_effects=true&output_channel=wechat`) to deliver
    agent replies. A failed send (45015 outside the 48-hour window, 45047 quota used up, API down) is logged
    and raised as `WeChatApiError`, so the HTTP API answers 500 with the error text and the desk can show it.

    Rasa hands it conversation ids (`wechat:<OpenID>`, `bot.conversations`); `send_response` sends to the OpenID
    of the channel's own conversations only, and refuses any other (another channel's, or an id no channel
    made) with `ForeignConversation`. Below it (`send_text_message` and the rest) ids are the platform's own.
    With `keys`, a reply the desk posts again with the same `delivery_key` is not sent again, and each message
    it goes out as (a long text is split; buttons, custom payloads) has its own key `<key>#<part>`, so a retry
    after a later part failed sends only the parts still missing.

    Args:
        client: the API client of the channel.
        buttons: where to remember the options shown to each customer.
        channel: the channel whose conversations it sends to (default: its own name; WeCom's turns pass `wecom`).
    """

    @classmethod
    def name(cls) -> str:
        """Return the channel name."""
        return "wechat"

    def __init__(
        self, client: Any, buttons: Optional[ButtonMemory] = None, channel: Optional[str] = None,
        keys: Optional[DeliveryKeys] = None,
    ) -> None:
        self.client = client
        self.buttons = buttons or ButtonMemory()
        self.channel = channel or self.name()
        self.keys = keys

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        """Send a message to conversation `recipient_id` (the platform's id of its customer); a message with a
        `delivery_key` already sent to it is skipped (`bot.channels.delivery_keys`).

        Raises:
            ForeignConversation: `recipient_id` is not one of this channel's conversations (nothing is sent).
            DeliveryInProgress: another request is sending the same key.
        """
        customer = conversations.raw_id(recipient_id, self.channel)
        key = delivery_key(message) if self.keys is not None else None
        if self.keys is None or key is None:
            await super().send_response(customer, message)
            return

        async def send_parts() -> None:
            reply = _KEYED_REPLY.set(KeyedReply(recipient_id, key))
            try:
                await OutputChannel.send_response(self, customer, message)
            finally:
                _KEYED_REPLY.reset(reply)

        await self.keys.send_once(recipient_id, message, send_parts)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Send a text through the API (the parts of a keyed reply once each); raise `WeChatApiError` after
        logging when it cannot be delivered."""
        reply = _KEYED_REPLY.get()
        if reply is None or self.keys is None:
            await self._send_text(recipient_id, text)
            return
        for part in self.client.reply_parts(text):
            reply.parts += 1
            await self.keys.send_part_once(
                reply.conversation_id, reply.key, reply.parts, lambda part=part: self._send_text(recipient_id, part)
            )

    async def _send_text(self, recipient_id: str, text: str) -> None:
        try:
            await self.client.send_text_async(recipient_id, text)
        except WeChatApiError as error:
            logger.error("%s: message to %s not delivered: %s", self.name(), recipient_id, error)
            rasa_meters().delivery_failed(self.channel)
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
        channel: the channel of the turn (`wechat`, `wecom`).
    """

    def __init__(
        self, client: Any, buttons: Optional[ButtonMemory] = None, discard: bool = False, msg_id: Optional[str] = None,
        channel: Optional[str] = None,
    ) -> None:
        super().__init__(client, buttons, channel)
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
        rasa_meters().delivery_failed(self.channel)
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
