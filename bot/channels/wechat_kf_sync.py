"""Pulling 微信客服 messages: one sync at a time, from the durable cursor, each message handled once.

A `kf_msg_or_event` callback asks for a sync (`KfSync.request`). The sync reads the saved cursor, fetches pages
with `sync_msg` until `has_more` is 0 and, page by page:

1. skips each message already marked done (a page re-read after a restart in its middle);
2. handles the others in order: a customer's text is a turn of the assistant (answers through `send_msg`; a
   click on a menu item whose `menu_id` is an emergency menu key is the emergency payload, `bot.emergency_entry`),
   `enter_session` is greeted with its `welcome_code`, a failed send and a session taken by WeCom's own
   servicers are logged and remembered; then marks the message done;
3. saves the page's `next_cursor`.

A callback arriving during a sync makes the sync run once more when it ends, so no announced message waits for
the next callback. With several replicas one sync runs at a time behind the store's lease: a replica whose
callback finds the lease taken waits for it (every `LEASE_POLL_SECONDS`, at most `LEASE_SECONDS`) and then syncs
from the saved cursor, since the holder may have fetched its last page before this callback's message arrived. A failing `sync_msg` stops the sync with the cursor where it was: the next callback (or the
next message) fetches the same page again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional, Protocol

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot import conversations, emergency_entry, language, ratelimit, texts
from bot.channels.wechat_api import WeChatApiError
from bot.channels.wechat_kf_api import ServiceState
from bot.channels.wechat_kf_cursor import LEASE_SECONDS, new_holder
from bot.channels.wechat_turns import OnNewMessage, welcome_text
from bot.i18n import ZH
from bot.nlu import limits

logger = logging.getLogger(__name__)

CUSTOMER, SYSTEM, SERVICER = 3, 4, 5  # `origin`: the customer, an event, a WeCom servicer in the WeCom client
# `session_status_change.change_type`: 1 taken from the pool, 2 transferred, 3 ended, 4 taken up again
LEASE_POLL_SECONDS = 0.25
_WITH_WECOM = (ServiceState.QUEUE, ServiceState.HUMAN)
_STATE_AFTER_CHANGE = {1: ServiceState.HUMAN, 2: ServiceState.HUMAN, 3: ServiceState.ENDED, 4: ServiceState.HUMAN}


class KfChannel(Protocol):
    """What the sync needs of its channel (`bot.channels.wechat_kf.WeChatKfInput`)."""

    open_kfid: str
    limiter: ratelimit.Limiter
    buttons: Any

    def name(self) -> str:
        """The channel's name."""

    def api_client(self) -> Any:
        """The 微信客服 API client."""

    def cursor_store(self) -> Any:
        """The durable cursor."""

    def turn_output(self) -> Any:
        """A new output channel for one turn."""


class KfSync:
    """The channel's background sync.

    Args:
        channel: the 微信客服 channel.
    """

    def __init__(self, channel: KfChannel) -> None:
        self.channel = channel
        self.holder = new_holder()
        self.task: Optional[asyncio.Task] = None
        self.lease_wait_seconds = float(LEASE_SECONDS)  # how long a sync waits for another replica's
        self.handled = 0  # messages handled by this process (logs, tests)
        self._again: Optional[str] = None  # the token of a callback that came during a sync
        self._on_new_message: Optional[OnNewMessage] = None

    def request(self, token: str, on_new_message: OnNewMessage) -> None:
        """Start a sync, or have the running one go once more (with the newer token) when it ends."""
        self._on_new_message = on_new_message
        if self.task is not None and not self.task.done():
            self._again = token
            return
        self.task = asyncio.get_running_loop().create_task(self._run(token))

    async def idle(self) -> None:
        """Wait for the running sync, if any."""
        while self.task is not None and not self.task.done():
            await asyncio.wait({self.task})

    def cancel(self) -> None:
        """Cancel the running sync (what it handled is marked; the cursor is where the last page left it)."""
        if self.task is not None:
            self.task.cancel()

    async def _run(self, token: str) -> None:
        while True:
            self._again = None
            try:
                await self.sync_once(token)
            except asyncio.CancelledError:
                raise
            except Exception:  # boundary (background task): log, keep the cursor, the next callback retries
                logger.error("%s: sync failed; the next callback fetches again from the saved cursor", self.channel.name())
                logger.debug("sync error", exc_info=True)
            if self._again is None:
                return
            token = self._again

    async def sync_once(self, token: str = "") -> int:
        """Fetch and handle every waiting page; return how many messages were handled.

        Raises:
            WeChatApiError: `sync_msg` failed (the cursor stays where it was).
        """
        store, kfid, name = self.channel.cursor_store(), self.channel.open_kfid, self.channel.name()
        if not await self._acquire(store, kfid):
            logger.warning(
                "%s: another replica held the fetch of %s for %.0f s; the next callback fetches again",
                name, kfid, self.lease_wait_seconds,
            )
            return 0
        handled = 0
        try:
            cursor = store.cursor(kfid)
            client = self.channel.api_client()
            while True:
                page = await client.call_async("sync_msg", cursor, token)
                for item in page.messages:
                    msgid = str(item.get("msgid") or "")
                    if msgid and store.is_done(kfid, msgid):
                        continue
                    await self.handle(item)
                    handled += 1
                    self.handled += 1
                    if msgid:
                        store.mark_done(kfid, msgid)
                cursor = page.next_cursor
                store.save_cursor(kfid, cursor)
                if not page.has_more:
                    return handled
        finally:
            store.release(kfid, self.holder)

    async def handle(self, item: Dict[str, Any]) -> None:
        """Handle one `msg_list` entry (never raises for a bad entry or a failed send: logged)."""
        name = self.channel.name()
        customer = str(item.get("external_userid") or "")
        msgtype = str(item.get("msgtype") or "")
        if item.get("open_kfid") and item.get("open_kfid") != self.channel.open_kfid:
            return
        if msgtype == "event":
            await self._event(item.get("event") if isinstance(item.get("event"), dict) else {})
            return
        if not customer:
            logger.warning("%s: message %s without external_userid skipped", name, item.get("msgid"))
            return
        origin = item.get("origin")
        store, kfid = self.channel.cursor_store(), self.channel.open_kfid
        if origin == SERVICER:  # a WeCom servicer wrote from the WeCom client: the session is theirs
            store.set_held_state(kfid, customer, int(ServiceState.HUMAN))
            return
        if origin != CUSTOMER:
            return
        if store.held_state(kfid, customer) in _WITH_WECOM:
            logger.info("%s: %s is with WeCom's own servicers; the assistant stays silent", name, customer)
            return
        await self._customer_message(customer, msgtype, item)

    async def _acquire(self, store: Any, kfid: str) -> bool:
        """Take the fetch lease, waiting up to `lease_wait_seconds` while another replica holds it."""
        waited = 0.0
        while not store.acquire(kfid, self.holder):
            if waited >= self.lease_wait_seconds:
                return False
            if waited == 0.0:
                logger.info("%s: another replica is fetching %s; waiting to fetch after it", self.channel.name(), kfid)
            await asyncio.sleep(LEASE_POLL_SECONDS)
            waited += LEASE_POLL_SECONDS
        return True

    async def _customer_message(self, customer: str, msgtype: str, item: Dict[str, Any]) -> None:
        channel, name = self.channel, self.channel.name()
        content = ""
        metadata: Dict[str, Any] = {
            "channel": name, "msg_type": msgtype, "msg_id": item.get("msgid"), "open_kfid": channel.open_kfid,
            "create_time": item.get("send_time"),
        }
        if msgtype == "text" and isinstance(item.get("text"), dict):
            content = str(item["text"].get("content") or "").strip()
            menu_id = str(item["text"].get("menu_id") or "")
            if menu_id:  # a click on a menu message: its item's text, the item kept in the metadata
                metadata["menu_id"] = menu_id
                # an emergency item (`settings.yml: emergency.menu_keys`) leads to the 24/7 lane, whatever its text
                content = emergency_entry.menu_payload(menu_id) or content
            else:
                chosen = channel.buttons.resolve(customer, content)
                if chosen is not None:
                    metadata["button_choice"], content = content, chosen
        output = channel.turn_output()
        conversation = conversations.conversation_id(name, customer)
        if msgtype != "text" or not content:
            await self._turn(UserMessage(f"[{msgtype or 'unknown'}]", CollectingOutputChannel(), conversation, input_channel=name, message_id=item.get("msgid"), metadata=metadata))
            await output.send_response(conversation, {"text": texts.WECHAT_TEXT_ONLY if msgtype != "text" else texts.WECHAT_ASK_QUESTION})
            return
        wait = channel.limiter.hit(ratelimit.CONVERSATION, name, customer)
        if wait is not None:
            await output.send_response(conversation, {"text": texts.too_many_messages(language.detect(limits.head(content)), wait)})
            return
        await self._turn(UserMessage(content, output, conversation, input_channel=name, message_id=item.get("msgid"), metadata=metadata))
        if output.failures:
            logger.error("%s: %d answer(s) to %s not delivered: %s", name, len(output.failures), customer, output.failures[0])

    async def _turn(self, message: UserMessage) -> None:
        assert self._on_new_message is not None
        try:
            await self._on_new_message(message)
        except asyncio.CancelledError:
            raise
        except Exception:  # boundary (a turn): a failing turn must not stop the sync
            logger.error("%s: the assistant failed on a message", self.channel.name())
            logger.debug("on_new_message failed", exc_info=True)
            await self.channel.turn_output().send_response(message.sender_id, {"text": texts.WECHAT_BUSY})

    async def _event(self, event: Dict[str, Any]) -> None:
        name, client = self.channel.name(), self.channel.api_client()
        kind = str(event.get("event_type") or "")
        customer = str(event.get("external_userid") or "")
        if kind == "enter_session":
            code = str(event.get("welcome_code") or "")
            if not code:  # no code: the customer was greeted within the last 20 s, or wrote first
                return
            try:
                await client.call_async("send_on_event", code, welcome_text(ZH))
            except WeChatApiError as error:
                logger.warning("%s: greeting of %s not sent: %s", name, customer, error)
        elif kind == "session_status_change" and customer:
            state = _STATE_AFTER_CHANGE.get(int(event.get("change_type") or 0))
            if state is not None:  # WeCom's servicers hold it (2, 3), or it ended (4: the assistant answers again)
                held = int(state) if state in _WITH_WECOM else None
                self.channel.cursor_store().set_held_state(self.channel.open_kfid, customer, held)
                logger.info("%s: session of %s is now %s (by WeCom)", name, customer, state.name)
        elif kind == "msg_send_fail":
            logger.error(
                "%s: message %s to %s was not delivered (fail_type %s)",
                name, event.get("fail_msgid"), customer, event.get("fail_type"),
            )
