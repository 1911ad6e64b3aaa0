"""A Rasa NLU component that tags every message with the language it is written in.

It adds the entity `language` (`zh`, `zh_hant` or `en`), which fills the `language` slot, so that every reply
is chosen, and Traditional Chinese converted, by the language of the customer's latest message.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.training_data.message import Message

from bot import language
from bot.nlu import limits
from bot.nlu.component import FrontlineComponent, add_entity

logger = logging.getLogger(__name__)

ENTITY = "language"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageDetector(FrontlineComponent):
    """Adds the entity `language` to each message; see `bot.language.detect` for the rule."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config."""
        return {
            # Name of the entity (and so of the slot it fills).
            "entity": ENTITY,
        }

    def process(self, messages: List[Message]) -> List[Message]:
        """Tags each message; a message with no letters (emoji, digits) keeps the conversation's language."""
        for message in messages:
            text: Optional[str] = message.get("text")
            if not text or text.startswith("/"):
                continue
            code = language.detect(limits.head(text), default=None)
            if code is None:
                continue
            add_entity(message, self.component_config["entity"], code, len(text), self.__class__.__name__)
        return messages
