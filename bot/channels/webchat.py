"""The website widget channel: Rasa's socket.io channel with verified customer identity.

`WebchatInput` is Rasa's `SocketIOInput` with these changes, and keeps the name `socketio`, so it is served at
`/webhooks/socketio/` and `/socket.io`, the desk delivers agent replies with `output_channel=socketio`, and
tickets record the channel as `socketio`:

- every message's metadata (the widget's `customData`) goes through `bot.identity.verified_metadata`:
  identity-like keys typed in the browser are dropped, and a valid signed token in `customData.identity`
  becomes the sealed `metadata["customer"]`;
- empty messages (the widget's null `initPayload` on first opening) never reach the assistant, and a message
  over `max_message_chars` (default 10,000, as on REST) gets a reply in the customer's language saying so
  instead of a turn;
- defaults suited to `rasa-webchat` 1.0.1: `session_persistence: true`, `metadata_key: customData`;
- conversation ids are `socketio:<session id>` (`bot.conversations`), and the session id is one the server
  issued, signed (`bot.channels.webchat_sessions`): `session_request` answers any other (unsigned, forged, a
  WeChat OpenID picked by the browser) with a fresh one, and a message carrying another is dropped; the output
  (`WebchatOutput`) sends only to `socketio:` conversations, to the room of their session;
- `session_request` awaits `enter_room` when the installed python-socketio makes it a coroutine
  (RasaHQ/rasa #13027), so pushes reach the browser after a reload;
- in production mode (Redis configured, `bot.redis_config`) the socket.io server emits through a Redis client
  manager that speaks JSON, never pickle (`bot.patches.socketio_manager.JsonRedisManager`), so a push from any
  Rasa replica (an agent reply the desk sends through whichever replica the load balancer picks) reaches the
  widget connected to another one.
- an agent reply carrying `metadata.delivery_key` is sent once per key (`bot.channels.delivery_keys`), and
  when no socket of its session is connected (this replica or, in production mode, another) its key is recorded
  as missed; the next `session_request` of that session replays those replies from the tracker, once each
  (`bot.channels.webchat_replay`);
- abuse limits (`bot.ratelimit`, `settings.yml: limits`): a conversation over `conversation_messages` gets a
  polite reply in its language and no turn; one address gets `widget_connections_per_address` connections
  (then the connection is refused with the polite text) and `widget_conversations_per_address` new
  conversations (then the polite text instead of a session);

Register it in `credentials.yml` *instead of* the built-in `socketio:` key (both at once would mount two
socket.io servers on the same path):

    bot.channels.webchat.WebchatInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
      metadata_key: customData
      max_message_chars: 10000
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

import socketio
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage, decode_bearer_token
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from bot import conversations, i18n, identity, language, ratelimit, texts
from bot.channels import delivery_keys
from bot.channels.delivery_keys import DeliveryKeys, delivery_key
from bot.channels.rest import DEFAULT_MAX_MESSAGE_CHARS, max_chars_option
from bot.channels.webchat_replay import WidgetPresence, replay_missed
from bot.channels.webchat_sessions import ENV_SECRET as SESSION_SECRET_ENV
from bot.channels.webchat_sessions import SessionIds, session_secret
from bot.nlu import limits
from bot.patches import sanic_framing
from bot.patches import socketio_manager as socketio_manager_patch
from bot.redis_config import redis_settings

logger = logging.getLogger(__name__)

CHANNEL = "socketio"


def too_long_text(text: str, limit: int) -> str:
    """The reply to a message over `limit` characters, in the language the message is written in."""
    return texts.too_long(language.detect(limits.head(text)), len(text), limit)


def browser_language(environ: Optional[Dict[str, Any]]) -> str:
    """The language of a browser's first `Accept-Language` choice (for texts sent before the customer wrote)."""
    first = str((environ or {}).get("HTTP_ACCEPT_LANGUAGE") or "").split(",")[0].split(";")[0].strip().lower()
    if first.startswith("en"):
        return i18n.EN
    if first in ("zh-tw", "zh-hk", "zh-mo") or first.startswith("zh-hant"):
        return i18n.ZH_HANT
    return i18n.ZH


SOCKETIO_REDIS_CHANNEL = "frontline:webchat"


def socketio_manager(environ: Optional[Dict[str, str]] = None) -> Any:
    """The JSON Redis client manager in production mode (`bot.redis_config`), else None."""
    settings = redis_settings(environ)
    if settings is None:
        return None
    logger.info("socket.io pushes shared across replicas through Redis at %s", settings.describe())
    return socketio_manager_patch.JsonRedisManager(
        settings.url, channel=SOCKETIO_REDIS_CHANNEL, redis_options=settings.options()
    )


class WebchatOutput(SocketIOOutput):
    """Rasa's socket.io output, sending only to widget conversations (`socketio:<session id>`), to the room of
    their session; a keyed reply (`delivery_key`) once, and recorded as missed when no socket is connected.

    Args:
        sio: the socket.io server.
        bot_message_evt: the event the widget listens to (`bot_uttered`).
        keys: the delivery keys (`bot.channels.delivery_keys`); None: every message is sent.
        presence: which conversations have a socket connected; None: never recorded as missed.
    """

    def __init__(
        self, sio: Any, bot_message_evt: Text, keys: Optional[DeliveryKeys] = None,
        presence: Optional[WidgetPresence] = None,
    ) -> None:
        super().__init__(sio, bot_message_evt)
        self.keys = keys
        self.presence = presence

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        """Send to the session of conversation `recipient_id`, a keyed reply once.

        Raises:
            ForeignConversation: `recipient_id` is not a widget conversation (nothing is sent).
            DeliveryInProgress: another request is sending the same key.
        """
        session_id = conversations.raw_id(recipient_id, CHANNEL)
        if self.keys is None:
            await super().send_response(session_id, message)
            return
        key = delivery_key(message)

        async def send() -> None:
            if key is not None and self.presence is not None and not self.presence.present(recipient_id):
                logger.info("reply %s to %s reaches no open widget: kept for its next connection", key, recipient_id)
                self.keys.add_missed(recipient_id, key)  # before the emit: a socket joining now replays it
            await SocketIOOutput.send_response(self, session_id, message)

        await self.keys.send_once(recipient_id, message, send)


class WebchatInput(SocketIOInput):
    """The socket.io channel for the `rasa-webchat` widget, with signed customer identity."""

    # the longest message text handled (`max_message_chars` in credentials.yml)
    max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS
    # the abuse limits (`settings.yml: limits` when not set before `blueprint`)
    limiter: Optional[ratelimit.Limiter] = None

    def address_of(self, environ: Optional[Dict[str, Any]]) -> str:
        """The address a socket.io client counts under (`bot.ratelimit.request_address` of its HTTP request)."""
        environ = environ or {}
        request = environ.get("sanic.request")
        assert self.limiter is not None
        if request is None:
            return str(environ.get("REMOTE_ADDR") or "")
        return ratelimit.request_address(request, self.limiter.trusted_proxies)

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Build the channel from its `credentials.yml` section (widget-friendly defaults)."""
        credentials = credentials or {}
        if credentials.get("jwt_key"):
            logger.warning("socket.io jwt_key is set: rasa-webchat 1.0.1 sends no auth and cannot connect")
        channel = cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            credentials.get("namespace"),
            credentials.get("session_persistence", True),
            credentials.get("socketio_path", "/socket.io"),
            credentials.get("jwt_key"),
            credentials.get("jwt_method", "HS256"),
            credentials.get("metadata_key", "customData"),
        )
        channel.max_message_chars = max_chars_option(credentials, "bot.channels.webchat.WebchatInput")
        return channel

    # the delivery keys and who is connected (set in `blueprint`)
    keys: Optional[DeliveryKeys] = None
    presence: Optional[WidgetPresence] = None
    # the Rasa server's sanic app (its `ctx.agent` holds the tracker store), known once the server started
    server_app: Any = None

    def get_output_channel(self) -> Optional[OutputChannel]:
        """The output for agent replies (`output_channel=socketio`): sends to widget conversations only."""
        if self.sio is None:
            return super().get_output_channel()
        return WebchatOutput(self.sio, self.bot_message_evt, self.keys, self.presence)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's socket.io blueprint, with metadata verified before each message is handled."""
        sanic_framing.install()  # see bot/patches/sanic_framing.py
        limiter = self.limiter = self.limiter or ratelimit.Limiter.from_settings()
        secret = identity.identity_secret()
        if secret is None:
            logger.info("%s unset: widget customers stay anonymous", identity.ENV_SECRET)
        sessions = SessionIds(session_secret())
        keys = self.keys = self.keys or delivery_keys.from_env()
        presence = self.presence = WidgetPresence(keys)
        if redis_settings() is not None and not os.environ.get(SESSION_SECRET_ENV):
            logger.warning("%s unset: set the same one on every Rasa replica, or widget sessions break", SESSION_SECRET_ENV)

        async def verified_on_new_message(message: UserMessage) -> None:
            if self.session_persistence and not sessions.valid(message.sender_id):
                logger.warning("widget message with a session id this server did not issue dropped")
                return
            # the widget's session (or socket) id becomes a conversation id of its own namespace
            raw = message.sender_id
            message.sender_id = conversations.conversation_id(CHANNEL, raw)
            message.output_channel = WebchatOutput(self.sio, self.bot_message_evt, self.keys, self.presence)
            if not isinstance(message.text, str) or not message.text:
                # rasa-webchat sends its `initPayload` (null unless set) when a chat is first opened.
                logger.debug("empty widget message dropped")
                return
            wait = limiter.hit(ratelimit.CONVERSATION, self.name(), message.sender_id)  # abuse limit
            if wait is not None:
                lang = language.detect(limits.head(message.text))
                await message.output_channel.send_response(message.sender_id, {"text": texts.too_many_messages(lang, wait)})
                return
            if len(message.text) > self.max_message_chars:
                logger.info("widget message of %d characters refused (at most %d)", len(message.text), self.max_message_chars)
                await message.output_channel.send_response(
                    message.sender_id, {"text": too_long_text(message.text, self.max_message_chars)}
                )
                return
            message.metadata = identity.verified_metadata(message.metadata, message.sender_id, secret)
            await on_new_message(message)

        blueprint = super().blueprint(verified_on_new_message)
        sio = self.sio
        manager = socketio_manager()
        if manager is not None:
            # Rasa builds the AsyncServer with the in-process manager; swap it before any client connects.
            socketio_manager_patch.install(sio, manager)

            @blueprint.listener("before_server_stop")
            async def stop_manager(_app: Any, _loop: Any) -> None:
                await manager.stop()  # its Redis listener would outlive the server

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            wait = limiter.hit(ratelimit.WIDGET_CONNECTIONS, self.address_of(environ))  # abuse limit
            if wait is not None:
                logger.warning("widget connection refused: too many from one address")
                raise socketio.exceptions.ConnectionRefusedError(texts.too_many_chats(browser_language(environ), wait))
            if self.jwt_key:  # Rasa's own check (this handler replaces Rasa's)
                token = auth.get("token") if isinstance(auth, dict) else None
                return bool(token and decode_bearer_token(token, self.jwt_key, self.jwt_algorithm))
            return True

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if not sessions.valid(session_id):
                # never issued here (unsigned, forged, picked by the browser): a fresh conversation, within the
                # address's limit of new conversations
                environ = sio.get_environ(sid, namespace=self.namespace)
                wait = limiter.hit(ratelimit.WIDGET_CONVERSATIONS, self.address_of(environ))  # abuse limit
                if wait is not None:
                    logger.warning("new widget conversation refused: too many from one address")
                    text = texts.too_many_chats(browser_language(environ), wait)
                    await sio.emit(self.bot_message_evt, {"text": text}, room=sid, namespace=self.namespace)
                    return
                session_id = sessions.issue()
            if self.session_persistence:
                entered = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(entered):
                    await entered
                presence.join(sid, conversations.conversation_id(CHANNEL, session_id))
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            logger.debug("socket %s joined session", sid)
            if self.session_persistence:
                await self.replay(session_id)

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text) -> None:
            presence.leave(sid)

        renewal: List[asyncio.Task] = []

        @blueprint.listener("after_server_start")
        async def start_presence(app: Any, loop: Any) -> None:
            self.server_app = app
            renewal.append(loop.create_task(presence.renew_forever()))

        @blueprint.listener("before_server_stop")
        async def stop_presence(_app: Any, _loop: Any) -> None:
            for task in renewal:
                task.cancel()

        return blueprint

    async def replay(self, session_id: str) -> int:
        """Emit to the session the agent replies it missed while no socket was connected (from the tracker)."""
        agent = getattr(self.server_app.ctx, "agent", None) if self.server_app is not None else None
        tracker_store = getattr(agent, "tracker_store", None)
        if tracker_store is None or self.keys is None:
            return 0
        output = SocketIOOutput(self.sio, self.bot_message_evt)
        try:
            return await replay_missed(
                self.keys, tracker_store, conversations.conversation_id(CHANNEL, session_id),
                lambda message: output.send_response(session_id, message),
            )
        except Exception:  # boundary (socket.io handler): a failed replay is tried again on the next connection
            logger.error("missed replies of a widget session not replayed")
            logger.debug("replay failed", exc_info=True)
            return 0
