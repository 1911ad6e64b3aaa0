"""A Rasa NLU component that scores every message for anger.

For each message it sets `anger` in the parse data (`{"score": float in [0, 1], "label": str}`, added to the
output, so every `user` event carries it) and appends the entity `sentiment` (angry / unhappy / neutral / happy),
which fills the `sentiment` slot.

It trains on the project's own labelled examples (`data/anger/*.tsv`, `text<TAB>label`), not on Rasa's NLU
data, and needs no tokenizer or featurizer: see `bot.anger.model` for the features and the classifier.
"""

from __future__ import annotations

import hashlib
import logging
import pathlib
from typing import Any, Dict, List, Optional, Text

import rasa.shared.utils.io
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.anger.data import DataError, read_training_files
from bot.anger.model import LABELS, AngerModel
from bot.nlu import limits
from bot.nlu.component import TrainedComponent, add_entity

logger = logging.getLogger(__name__)

ANGER_KEY = "anger"
ENTITY = "sentiment"
DOCS_URL = "https://rasa.com/docs/rasa/components#custom-components"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class AngerDetector(TrainedComponent):
    """Adds an anger score and a sentiment label to every message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config."""
        return {
            # Folder (searched for *.tsv) or single TSV file of `text<TAB>label` examples, relative to the
            # working directory of `rasa train`.
            "training_files": "data/anger",
            # Name of the entity (and so of the slot) that carries the label.
            "entity": ENTITY,
            # Inverse regularisation strength of the logistic regression.
            "C": 6.0,
            # Weight of the hand-made cues (anger words, insults, threats, ！！！, CAPS...) against the n-grams, for
            # messages without Chinese characters.
            "cue_weight": 2.8,
            # The same for messages with Chinese characters: their cues are separate features with their own
            # weights (set to null for one set of cues shared by all languages, weighed by `cue_weight`).
            "cue_weight_zh": 0.4,
            # A score at or above this makes the label `angry` (escalation has its own threshold in settings.yml).
            "label_threshold": 0.5,
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Fingerprints the training files and the model's code (features, cues), so that editing either
        retrains the component instead of restoring it from Rasa's cache."""
        import bot.anger.cues
        import bot.anger.model

        location = pathlib.Path(config.get("training_files") or cls.get_default_config()["training_files"])
        files = sorted(location.rglob("*.tsv")) if location.is_dir() else [location]
        digest = hashlib.sha256()
        for module in (bot.anger.model, bot.anger.cues):
            source = pathlib.Path(module.__file__ or "")
            if source.is_file():
                digest.update(source.read_bytes())
        for file in files:
            digest.update(str(file).encode("utf-8"))
            if file.is_file():
                digest.update(file.read_bytes())
        return digest.hexdigest()

    def train(self, training_data: TrainingData) -> Resource:
        """Trains on the anger examples in `training_files` (Rasa's NLU data is not used)."""
        location = self.component_config["training_files"]
        try:
            examples = read_training_files(location, allowed_labels=LABELS)
        except DataError as error:
            rasa.shared.utils.io.raise_warning(
                f"AngerDetector could not read its training data: {error}. "
                f"Every message will get the label 'neutral' and score 0.",
                docs=DOCS_URL,
            )
            self.persist()
            return self._resource
        self.model = AngerModel(
            C=float(self.component_config["C"]),
            cue_weight=float(self.component_config["cue_weight"]),
            cue_weight_zh=(
                None
                if self.component_config.get("cue_weight_zh") is None
                else float(self.component_config["cue_weight_zh"])
            ),
            label_threshold=float(self.component_config["label_threshold"]),
        ).fit([text for text, _ in examples], [label for _, label in examples])
        logger.info("AngerDetector trained on %d examples from %s", len(examples), location)
        self.persist()
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        """Scores each message and adds `anger` and the `sentiment` entity."""
        texts = [limits.head(message.get("text") or "") for message in messages]
        if self.model is not None and self.model.is_trained:
            results = self.model.predict(texts)
        else:
            results = [(0.0, "neutral") for _ in texts]
        for message, text, (score, label) in zip(messages, texts, results):
            if not text.strip():
                score, label = 0.0, "neutral"
            message.set(ANGER_KEY, {"score": float(score), "label": label}, add_to_output=True)
            add_entity(message, self.component_config["entity"], label, 0, self.__class__.__name__)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Leaves Rasa's training data as it is (the component does not annotate it)."""
        return training_data

    @classmethod
    def read_model(cls, directory: pathlib.Path) -> AngerModel:
        """Reads the model `AngerModel.save` wrote."""
        return AngerModel.load(directory)

    def loaded_untrained(self, error: Exception) -> None:
        """Warns that every message will score 0."""
        logger.warning("AngerDetector: no trained model in resource '%s' (%s); scores will be 0.", self._resource.name, error)
