"""Replies in the customer's language, generated in-process (no round trip to another server).

Each response in `domain.yml` has an English variation (condition: slot `language` is `en`) and a Chinese
variation written in Simplified characters. For a customer writing Traditional Chinese (`language` is
`zh_hant`), the Chinese variation is converted to Traditional at send time (`bot.i18n.to_traditional`, in the
regional standard of `settings.yml: i18n.traditional`), so trainers keep one Chinese text per answer. Configured in `endpoints.yml` as `nlg: {type: bot.nlg.BilingualNLG}`.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Text

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.i18n import ZH_HANT, to_traditional

logger = logging.getLogger(__name__)

_TEXT_KEYS = ("text",)
_BUTTON_LISTS = ("buttons", "quick_replies")


def traditionalize(response: Dict[Text, Any]) -> Dict[Text, Any]:
    """Convert the visible texts of one generated response (text and button titles) to Traditional."""
    for key in _TEXT_KEYS:
        if isinstance(response.get(key), str):
            response[key] = to_traditional(response[key])
    for key in _BUTTON_LISTS:
        for button in response.get(key) or []:
            if isinstance(button, dict) and isinstance(button.get("title"), str):
                button["title"] = to_traditional(button["title"])
    return response


class BilingualNLG(TemplatedNaturalLanguageGenerator):
    """Rasa's response generator, plus Traditional Chinese for customers who write it."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, domain: Optional[Domain] = None) -> None:
        """Creates the generator from the domain's responses."""
        super().__init__((domain or Domain.empty()).responses)

    def generate_from_slots(
        self,
        utter_action: Text,
        filled_slots: Dict[Text, Any],
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        """Generates the response, converted to Traditional when the customer writes Traditional."""
        response = super().generate_from_slots(utter_action, filled_slots, output_channel, **kwargs)
        if response is not None and (filled_slots or {}).get("language") == ZH_HANT:
            response = traditionalize(response)
        return response

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        """Generates the response for the tracker's slots."""
        return self.generate_from_slots(utter_action, tracker.current_slot_values(), output_channel, **kwargs)
