"""The REST channel: Rasa's `rest` channel with its input checked, `bot.channels.rest.RestInput`.

Served like Rasa's own at `/webhooks/rest/` (health) and `/webhooks/rest/webhook` (`{"sender": …, "message":
…, "metadata": {…}}`; the answer is the list of the assistant's messages). Rasa's channel answers `[]` to an
empty or missing message and fails with a 500 on a body that is not a JSON object; this one tells the caller
what is wrong, in sanic's JSON error shape (`{"description", "status", "message"}`), and starts no turn:

- 400: the body is not a JSON object; `sender` is missing, empty, not a string or number, longer than
  250 characters (the tracker stores' column holds 255, `rest:` included), or holds a control character (a CR/LF
  would forge log lines); `message` is missing, not a string, or blank; `metadata` is
  not an object; `input_channel` names another channel than `rest`;
- 413: `message` is longer than `max_message_chars` (default 10,000; a long chat message is a few hundred).

- 429 with `Retry-After`: the conversation sent more than `limits.conversation_messages` (settings.yml,
  `bot.ratelimit`); never a limit per address, since a company's backend calls for all its customers from one.

Nothing is stored for a refused request, so nothing is half-handled: the caller still has its message.

- 500 (`{"description", "status", "message"}`): the turn failed (Redis's lock store or the tracker store
  unreachable, a conversation lock not acquired…). Rasa's own route logs the failure and answers 200 with
  whatever was collected, so a caller took a message that was never stored for delivered (a fault run, Redis
  cut: 47 of 48 messages). Here the caller learns it and sends again; a turn that failed after storing the
  message may then store it twice (at least once, never lost).

Rasa's channel lets the caller name the conversation's channel (`input_channel`). The desk delivers an agent's
reply on the channel a ticket was opened from, so a REST caller naming `wechat` would have made the desk send
WeChat customer-service messages to whatever `sender` it gave, and put the ticket on WeChat's response time.
Here a REST conversation is always `rest`.

A REST conversation's id is `rest:<sender>` (`bot.conversations`): a caller writes only into REST
conversations, whatever `sender` it names (a WeChat OpenID included), and the messages it gets back name its
own `sender` as `recipient_id`, as before.

Anyone who can reach the channel can write into any REST conversation, as with Rasa's own. With a `token`
(`FRONTLINE_REST_TOKEN`), every request must carry it, as `Authorization: Bearer <token>` or `?token=`; a
missing or wrong one gets a 401. Set it whenever the REST channel can be reached from outside your own
servers (the widget and WeChat do not use it).

Register it in `credentials.yml` instead of the built-in `rest:` key (the name stays `rest`):

    bot.channels.rest.RestInput:
      max_message_chars: 10000
      token: ${FRONTLINE_REST_TOKEN}
"""

from __future__ import annotations

import contextvars
import hmac
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage, PayloadTooLarge, Unauthorized
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import conversations, logsafe, ratelimit
from bot.channels.options import int_option
from bot.patches import rasa_rest, sanic_framing

logger = logging.getLogger(__name__)

CHANNEL = "rest"
DEFAULT_MAX_MESSAGE_CHARS = 10_000
# Rasa's SQL tracker store keeps the sender id in a VARCHAR(255); the conversation id is `rest:<sender>`.
MAX_SENDER_CHARS = 255 - len(CHANNEL) - len(conversations.SEPARATOR)
# The request whose turn runs in this task (sanic serves each request in its own task; the route reads the
# sender, through `sender_of`, before it starts the turn in the same task).
_REQUEST: "contextvars.ContextVar[Optional[Request]]" = contextvars.ContextVar("rest_request", default=None)
TURN_FAILED = "the message was not handled (a service is unavailable): send it again"


def check_sender(body: Any) -> str:
    """The conversation id of a REST request body.

    Raises:
        InvalidUsage: the body is not a JSON object, or its `sender` is unusable.
    """
    if not isinstance(body, dict):
        raise InvalidUsage('the body must be a JSON object: {"sender": "<conversation id>", "message": "<text>"}')
    sender = body.get("sender")
    if isinstance(sender, bool) or not isinstance(sender, (str, int)):
        raise InvalidUsage('"sender" is missing: give the conversation id as a string')
    sender = str(sender)
    if not sender.strip():
        raise InvalidUsage('"sender" is empty: give the conversation id as a string')
    if len(sender) > MAX_SENDER_CHARS:
        raise InvalidUsage(f'"sender" is longer than {MAX_SENDER_CHARS} characters')
    if logsafe.CONTROL.search(sender):
        raise InvalidUsage('"sender" holds a control character (a line break, tab, escape…): use printable characters')
    return sender


def check_message(body: Dict[str, Any], max_chars: int) -> str:
    """The customer's text of a REST request body (already known to be a JSON object).

    Raises:
        InvalidUsage: `message` is missing, not a string or blank, `metadata` is not an object, or
            `input_channel` names another channel.
        PayloadTooLarge: `message` is longer than `max_chars`.
    """
    message = body.get("message")
    if not isinstance(message, str):
        raise InvalidUsage('"message" is missing: give the customer\'s text as a string')
    if not message.strip():
        raise InvalidUsage('"message" is empty')
    if len(message) > max_chars:
        raise PayloadTooLarge(
            f'"message" has {len(message):,} characters; at most {max_chars:,} are accepted: send it in parts'
        )
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidUsage('"metadata" must be a JSON object')
    channel = body.get("input_channel")
    if channel not in (None, "", rasa_rest.HookedRestInput.name()):
        raise InvalidUsage(f'"input_channel" cannot be chosen over REST: leave it out (it is always "{rasa_rest.HookedRestInput.name()}")')
    return message


def max_chars_option(credentials: Dict[str, Any], section: str) -> int:
    """A channel's `max_message_chars` from its `credentials.yml` section (default 10,000).

    Raises:
        SettingsError: the value is not a whole number of at least 1.
    """
    return int_option(credentials, "max_message_chars", DEFAULT_MAX_MESSAGE_CHARS, 1, f"credentials.yml: {section}")


def check_token(request: Request, token: Optional[str]) -> None:
    """Nothing when no token is configured or the request carries it.

    Raises:
        Unauthorized: a token is configured and the request's `Authorization: Bearer` header (or `token`
            query argument) is missing or different.
    """
    if not token:
        return
    header = request.headers.get("authorization", "")
    given = header[7:].strip() if header[:7].lower() == "bearer " else request.args.get("token", "")
    if not given or not hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8")):
        raise Unauthorized("this REST channel needs its token: Authorization: Bearer <FRONTLINE_REST_TOKEN>")


class CallerRecipients(OutputChannel):
    """The output of one REST request (Rasa's collector), naming the caller's own `sender` as each message's
    `recipient_id` rather than the conversation id `rest:<sender>`.

    Args:
        inner: the output channel Rasa's route made for the request.
    """

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner

    def name(self) -> Text:  # type: ignore[override]
        """The wrapped channel's name (responses may be chosen by it)."""
        return self.inner.name()

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        """Hand the message to the request's collector, addressed to the caller's sender.

        Raises:
            ForeignConversation: `recipient_id` is not a REST conversation.
        """
        await self.inner.send_response(conversations.raw_id(recipient_id, CHANNEL), message)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        """See `send_response`."""
        await self.send_response(recipient_id, {"text": text, **kwargs})


class RestInput(rasa_rest.HookedRestInput):
    """Rasa's REST channel, refusing malformed, empty and over-long messages with a clear error, and requests
    without its token when it has one."""

    def __init__(
        self, max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS, token: Optional[str] = None,
        limiter: Optional[ratelimit.Limiter] = None,
    ) -> None:
        """Creates the channel.

        Args:
            max_message_chars: the longest message text accepted.
            token: when given, the token every request must carry.
            limiter: the abuse limits (`settings.yml: limits` when None).
        """
        logsafe.install()
        self.max_message_chars = max_message_chars
        self.token = token or None
        self.limiter = limiter or ratelimit.Limiter.from_settings()

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Reads `max_message_chars` and `token` (both optional) from the channel's `credentials.yml` section."""
        credentials = credentials or {}
        token = str(credentials.get("token") or "").strip() or None
        return cls(max_message_chars=max_chars_option(credentials, "bot.channels.rest.RestInput"), token=token)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        """Rasa's REST blueprint, with sanic's request framing guarded (see `bot.patches.sanic_framing`), the
        answers addressed to the caller's own sender, its 429s answered with `Retry-After`, and a failed turn
        answered 500 (Rasa's route answers it 200)."""
        sanic_framing.install()

        async def addressed_to_the_caller(message: UserMessage) -> None:
            message.output_channel = CallerRecipients(message.output_channel)
            try:
                await on_new_message(message)
            except BaseException:  # Rasa's route logs it and answers 200: mark the request, answered 500 below
                request = _REQUEST.get()
                if request is not None:
                    request.ctx.turn_failed = True
                raise

        async def failed_turn_is_500(request: Request, answer: HTTPResponse) -> Optional[HTTPResponse]:
            if getattr(request.ctx, "turn_failed", False):
                return response.json(
                    {"description": "Internal Server Error", "status": 500, "message": TURN_FAILED}, status=500
                )
            return None

        blueprint = super().blueprint(addressed_to_the_caller)
        blueprint.exception(ratelimit.TooManyRequests)(ratelimit.too_many_requests_response)  # with Retry-After
        blueprint.middleware("response")(failed_turn_is_500)
        return blueprint

    async def sender_of(self, req: Request) -> Optional[Text]:
        """The request's conversation id, `rest:<sender>`, the sender checked after the token (Rasa's route reads
        the sender first, the message next, and starts the turn only after both)."""
        _REQUEST.set(req)
        check_token(req, self.token)
        return conversations.conversation_id(CHANNEL, check_sender(req.json))

    def message_of(self, req: Request) -> Optional[Text]:
        """The request's message, checked, and counted against its conversation's limit (429 over it)."""
        message = check_message(req.json, self.max_message_chars)
        wait = self.limiter.hit(ratelimit.CONVERSATION, self.name(), check_sender(req.json))  # abuse limit
        if wait is not None:
            raise ratelimit.TooManyRequests(f"too many messages in this conversation: send again in {wait} s", wait)
        return message

    def input_channel_of(self, req: Request) -> Text:
        """Always `rest` (see the module docstring)."""
        return self.name()
