"""Rasa's REST channel with the private readers of its webhook route opened as public hooks.

Rasa's `RestInput.blueprint` route reads a request with three private methods, in this order, before it starts
a turn: `_extract_sender`, `_extract_message`, `_extract_input_channel`. `HookedRestInput` overrides them to
call `sender_of`, `message_of` and `input_channel_of`, which answer as Rasa does until a subclass overrides them
(`bot.channels.rest` checks the request there and refuses a bad one before any turn).

Why not the public API: the route and its reading are one closure in `blueprint()`; the alternative is copying
Rasa's whole webhook route, streaming included.
"""

from __future__ import annotations

import logging
from typing import Optional, Text

from bot.patches.versions import pin

logger = logging.getLogger(__name__)

PIN = pin("rasa", "==3.6.21", __name__, recheck=(
    "rasa/core/channels/rest.py: RestInput.blueprint's receive route (does it still call the async "
    "_extract_sender, then _extract_message, then _extract_input_channel, each with the request, before it "
    "starts the turn?)"
))

from rasa.core.channels.rest import RestInput  # noqa: E402 - imported after the version check
from sanic.request import Request  # noqa: E402 - imported after the version check


class HookedRestInput(RestInput):
    """Rasa's REST channel; its request readers as hooks: `sender_of`, `message_of`, `input_channel_of`."""

    async def sender_of(self, req: Request) -> Optional[Text]:
        """The conversation id of a request (read first): Rasa's `sender` field."""
        return await super()._extract_sender(req)

    def message_of(self, req: Request) -> Optional[Text]:
        """The customer's text of a request (read second): Rasa's `message` field."""
        return super()._extract_message(req)

    def input_channel_of(self, req: Request) -> Text:
        """The channel the conversation is recorded on (read third): Rasa's `input_channel` field or `rest`."""
        return super()._extract_input_channel(req)

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        """See `sender_of`."""
        return await self.sender_of(req)

    def _extract_message(self, req: Request) -> Optional[Text]:
        """See `message_of`."""
        return self.message_of(req)

    def _extract_input_channel(self, req: Request) -> Text:
        """See `input_channel_of`."""
        return self.input_channel_of(req)
