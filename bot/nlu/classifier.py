"""Frontline's intent classifier: character and word n-grams, a linear model, calibrated confidences.

It needs no tokenizer and no segmentation, so Chinese, Traditional Chinese (folded to Simplified before
featurizing) and English are handled alike. It trains in seconds and parses in well under a millisecond.
The model is persisted as plain arrays and JSON (no pickle), through Rasa's model storage.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from typing import Any, Dict, List, Optional, Text

import numpy as np
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import raise_warning

from bot.language import to_simplified

logger = logging.getLogger(__name__)

_SPACES = re.compile(r"\s+")
_WORD = r"(?u)\b\w+\b"


def normalize(text: str) -> str:
    """Fold a message for featurizing: NFKC, Simplified Chinese, lower case, single spaces."""
    text = unicodedata.normalize("NFKC", text or "")
    text = to_simplified(text).lower()
    return _SPACES.sub(" ", text).strip()


def _vectorizers(config: Dict[Text, Any], vocabularies: Optional[List[Dict[str, int]]] = None) -> List[Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    char_min, char_max = config["char_ngram_range"]
    word_min, word_max = config["word_ngram_range"]
    specs = [
        dict(analyzer="char_wb", ngram_range=(char_min, char_max)),
        dict(analyzer="word", ngram_range=(word_min, word_max), token_pattern=_WORD),
    ]
    vectorizers = []
    for index, spec in enumerate(specs):
        vocabulary = vocabularies[index] if vocabularies else None
        vectorizers.append(
            TfidfVectorizer(
                sublinear_tf=True,
                lowercase=False,
                min_df=1 if vocabulary else config["min_df"],
                dtype=np.float32,
                vocabulary=vocabulary,
                **spec,
            )
        )
    return vectorizers


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class NgramIntentClassifier(GraphComponent, IntentClassifier):
    """Intent classifier over character and word TF-IDF n-grams with a logistic-regression head."""

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
            # Inverse regularisation strength of the logistic regression: higher is sharper.
            "C": 20.0,
            # Softmax temperature applied to the decision scores (below 1 sharpens, above 1 softens).
            "temperature": 1.0,
            # Number of intents reported in the ranking (0 reports all).
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vectorizers: Optional[List[Any]] = None,
        coef: Optional[np.ndarray] = None,
        intercept: Optional[np.ndarray] = None,
        classes: Optional[List[str]] = None,
    ) -> None:
        """Creates the classifier, trained when the arrays are given."""
        self.component_config = config
        self._model_storage = model_storage
        self._resource = resource
        self._vectorizers = vectorizers
        self._coef = coef
        self._intercept = intercept
        self._classes = classes or []

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> NgramIntentClassifier:
        """Creates a new untrained component (see parent class for full docstring)."""
        return cls(config, model_storage, resource)

    def _features(self, texts: List[str]) -> sp.csr_matrix:
        assert self._vectorizers is not None
        folded = [normalize(text) for text in texts]
        return sp.hstack([v.transform(folded) for v in self._vectorizers], format="csr")

    def train(self, training_data: TrainingData) -> Resource:
        """Trains on the intent examples of the training data."""
        from sklearn.linear_model import LogisticRegression

        examples = [e for e in training_data.intent_examples if e.get("text") and e.get("intent")]
        labels = [e.get("intent") for e in examples]
        if len(set(labels)) < 2:
            raise_warning(
                f"{self.__class__.__name__} needs examples of at least two intents; it was not trained.",
            )
            return self._resource
        texts = [normalize(e.get("text")) for e in examples]
        self._vectorizers = _vectorizers(self.component_config)
        X = sp.hstack([v.fit_transform(texts) for v in self._vectorizers], format="csr")
        for vectorizer in self._vectorizers:  # what persist() keeps, so a reloaded model answers the same
            vectorizer.idf_ = vectorizer.idf_.astype(np.float32)
        model = LogisticRegression(C=self.component_config["C"], max_iter=2000, solver="lbfgs")
        model.fit(X, labels)
        self._coef = model.coef_.astype(np.float32)
        self._intercept = model.intercept_.astype(np.float32)
        self._classes = [str(c) for c in model.classes_]
        self.persist()
        return self._resource

    def predict_proba(self, texts: List[str]) -> np.ndarray:
        """Return the probability of each intent (columns in `self.classes`) for each text."""
        scores = self._features(texts) @ self._coef.T + self._intercept
        scores = np.asarray(scores) / float(self.component_config.get("temperature", 1.0))
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    @property
    def classes(self) -> List[str]:
        """The intents the classifier knows, in column order."""
        return list(self._classes)

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets `intent` and `intent_ranking` on each message."""
        if self._vectorizers is None or self._coef is None:
            return messages
        todo = [m for m in messages if m.get("text")]
        if not todo:
            return messages
        probabilities = self.predict_proba([m.get("text") for m in todo])
        length = self.component_config.get("ranking_length", 10)
        for message, row in zip(todo, probabilities):
            order = np.argsort(-row)
            ranking = [{"name": self._classes[i], "confidence": float(row[i])} for i in order]
            if length and length > 0:
                ranking = ranking[:length]
            message.set("intent", ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    def persist(self) -> None:
        """Writes vocabularies, idf weights and the linear model as JSON and .npy files."""
        if self._vectorizers is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            meta = {
                "classes": self._classes,
                "vocabularies": [
                    {term: int(index) for term, index in v.vocabulary_.items()} for v in self._vectorizers
                ],
            }
            (directory / "model.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            np.save(directory / "coef.npy", self._coef)
            np.save(directory / "intercept.npy", self._intercept)
            for index, vectorizer in enumerate(self._vectorizers):
                np.save(directory / f"idf_{index}.npy", vectorizer.idf_.astype(np.float32))

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> NgramIntentClassifier:
        """Loads the trained classifier; an untrained one when nothing was persisted."""
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
                coef = np.load(directory / "coef.npy", allow_pickle=False)
                intercept = np.load(directory / "intercept.npy", allow_pickle=False)
                vectorizers = _vectorizers(config, meta["vocabularies"])
                for index, vectorizer in enumerate(vectorizers):
                    vectorizer.idf_ = np.load(directory / f"idf_{index}.npy", allow_pickle=False)
        except (ValueError, FileNotFoundError):
            logger.debug(f"{cls.__name__}: nothing persisted in '{resource.name}'; loading it untrained.")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, vectorizers, coef, intercept, meta["classes"])
