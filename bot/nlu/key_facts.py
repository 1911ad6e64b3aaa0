"""A Rasa NLU component that finds key facts in every message: order and tracking numbers, amounts, dates and
phone numbers, as entities (`order_number`, `tracking_number`, `amount`, `date`, `phone`) with their place in the
text (`bot.key_facts.extract`: spaCy's `Matcher` on blank `zh` and `en` pipelines, no model download).

The entities are declared in `domain.yml` with `influence_conversation: false` and fill no slot: the dialogue does
not depend on them. The handoff gathers them into the context packet (`bot.handoff.context`, phones masked).
Measured precision, recall and time per message: `docs/nlu.md`.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, List, Optional, Text

import rasa.shared.utils.io
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.key_facts import KINDS
from bot.key_facts.extract import MAX_GAP, KeyFactMatcher, default_matcher
from bot.nlu import limits
from bot.nlu.component import FrontlineComponent

logger = logging.getLogger(__name__)

DOCS_URL = "https://rasa.com/docs/rasa/components#custom-components"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class KeyFactExtractor(FrontlineComponent):
    """Adds one entity per key fact found in a message (its rules are code: nothing to train or persist)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config."""
        return {
            # The kinds to extract (entity names), any of order_number, tracking_number, amount, date, phone.
            "kinds": list(KINDS),
            # At most this many tokens (characters in Chinese) between a word such as 订单号 / "order" and its
            # number.
            "max_gap": MAX_GAP,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> None:
        """Creates the component and checks its config (the pipelines are built on the first message)."""
        super().__init__(config, model_storage, resource, execution_context)
        kinds = [kind for kind in self.component_config.get("kinds") or [] if kind in KINDS]
        unknown = sorted(set(self.component_config.get("kinds") or []) - set(KINDS))
        if unknown:
            rasa.shared.utils.io.raise_warning(
                f"KeyFactExtractor: unknown kinds {unknown} are ignored (known: {', '.join(KINDS)}).", docs=DOCS_URL
            )
        self.kinds = frozenset(kinds)
        gap = self.component_config.get("max_gap")
        if isinstance(gap, bool) or not isinstance(gap, int) or gap < 0:
            rasa.shared.utils.io.raise_warning(
                f"KeyFactExtractor: 'max_gap' must be a whole number >= 0, got {gap!r}; using {MAX_GAP}.",
                docs=DOCS_URL,
            )
            gap = MAX_GAP
        # the process's matcher when the gap is the default: its pipelines are built once, not per component
        self.matcher = default_matcher() if gap == MAX_GAP else KeyFactMatcher(max_gap=gap)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> KeyFactExtractor:
        """Loads the component (there is nothing persisted: the same as `create`)."""
        return cls(config, model_storage, resource, execution_context)

    def train(self, training_data: TrainingData) -> Resource:
        """Nothing to learn: the rules are code. Persists nothing and returns the resource."""
        self.persist()
        return self._resource

    def persist(self) -> None:
        """Nothing to write (the rules live in `bot.key_facts`)."""

    def process(self, messages: List[Message]) -> List[Message]:
        """Appends an entity for each key fact of each message (commands such as `/survey_rating` are skipped)."""
        for message in messages:
            text: Optional[str] = message.get("text")
            if not text or text.startswith("/"):
                continue
            started = time.perf_counter()
            facts = [fact for fact in self.matcher.extract(limits.head(text)) if fact.kind in self.kinds]
            logger.debug("KeyFactExtractor: %d facts in %.2f ms", len(facts), (time.perf_counter() - started) * 1000)
            if not facts:
                continue
            entities = list(message.get("entities", []))
            entities.extend(
                {"entity": fact.kind, "value": fact.text, "start": fact.start, "end": fact.end,
                 "extractor": self.__class__.__name__}
                for fact in facts
            )
            message.set("entities", entities, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Leaves Rasa's training data as it is."""
        return training_data
