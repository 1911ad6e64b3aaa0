"""The anger model: n-gram TF-IDF plus hand-made cues, then logistic regression.

Pure scikit-learn, no Rasa: the NLU component (`bot.nlu.anger`) and the benchmark (`bot.bench.anger`) both use
it. Traditional Chinese is converted to Simplified before featurizing, so one set of Chinese examples serves
both scripts.

Features of a message (one TF-IDF vocabulary, sublinear TF, L2 norm):
- character n-grams (default 1–4) of the lower-cased Simplified text: robust to Chinese without a tokenizer and
  to English misspellings;
- word unigrams (optionally 2-grams) of the Latin words and punctuation runs, plus `F_<word>` for the word a
  customer says they feel ("i feel so irritated" → `F_irritated`);
then the cues of `bot.anger.cues` (anger words, exasperation, insults, threats, cancellation, repeated asking,
politeness, emoji, ！！！/？？？, CAPITALS, stretched words), scaled by `cue_weight`.

The score of a message is the model's probability of the positive label (`angry`).
"""

from __future__ import annotations

import logging
import os
import pathlib
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from bot.anger import cues
from bot.i18n import to_simplified

logger = logging.getLogger(__name__)

POSITIVE = "angry"
LABELS = ("angry", "unhappy", "neutral", "happy")
MODEL_FILE = "anger_model.joblib"

_WORD = re.compile(r"[a-z0-9']+|[!?！？]{2,}|[!?！？]")
# Bracketed emoticons of Weibo / WeChat ("[怒]", "[抓狂]", "[微笑]"): one token each.
_EMOTICON = re.compile(r"\[[^\[\]\s]{1,6}\]")
# The "//@name:" marks of a forwarded post: who forwarded says nothing about the feeling.
_FORWARD = re.compile(r"//@[^:：\s]{1,30}[:：]")
# A message with any Chinese character uses the Chinese cue block (when cues are split by script).
_CJK = re.compile(r"[\u3400-\u9fff]")


def normalize(text: str) -> str:
    """Return the text as the model sees it: Simplified Chinese, "//@name:" forwarding marks dropped,
    whitespace collapsed."""
    return " ".join(_FORWARD.sub(" ", to_simplified(text or "")).split())


# Words skipped when looking for what a customer says they feel ("I feel so very ANGRY").
_FEEL_VERBS = frozenset({"feel", "feeling", "felt", "feels"})
_FEEL_SKIP = frozenset(
    "am im i'm was so very really quite little bit more too been being get getting got become is are be rather "
    "pretty extremely kind of a incredibly totally still just absolutely completely like".split()
)


def word_unigrams(text: str) -> List[str]:
    """Latin words, punctuation runs and bracketed emoticons ("[怒]") of a (normalized) message, plus
    `F_<word>` for the word a customer says they feel ("i feel so irritated" adds `F_irritated`)."""
    tokens = _WORD.findall(text.lower())
    grams = list(tokens) + _EMOTICON.findall(text)
    for index, token in enumerate(tokens):
        if token in _FEEL_VERBS:
            for follower in tokens[index + 1 : index + 4]:
                if follower not in _FEEL_SKIP:
                    grams.append("F_" + follower)
                    break
    return grams


def word_ngrams(text: str) -> List[str]:
    """`word_unigrams` plus word 2-grams."""
    tokens = _WORD.findall(text.lower())
    return word_unigrams(text) + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


class Analyzer:
    """Character n-grams and word grams of a normalized message, in one vocabulary (one pass, fast).

    Args:
        char_ngrams: (min, max) length of character n-grams.
        within_words: n-grams inside space-separated words only (like scikit-learn's `char_wb`).
        word_bigrams: add word 2-grams to the word unigrams.
    """

    def __init__(
        self, char_ngrams: Tuple[int, int], within_words: bool, word_bigrams: bool, word_weight: int = 1
    ) -> None:
        """Creates the analyzer."""
        self.char_ngrams = tuple(char_ngrams)
        self.within_words = within_words
        self.word_bigrams = word_bigrams
        self.word_weight = word_weight

    def __call__(self, text: str) -> List[str]:
        """The features of one message."""
        lower = text.lower()
        low, high = self.char_ngrams
        pieces = [f" {w} " for w in lower.split()] if self.within_words else [lower]
        grams: List[str] = []
        for piece in pieces:
            length = len(piece)
            for n in range(low, high + 1):
                grams.extend(piece[i : i + n] for i in range(length - n + 1))
        words = word_ngrams(text) if self.word_bigrams else word_unigrams(text)
        for _ in range(self.word_weight):
            grams.extend("w:" + w for w in words)
        return grams


class AngerModel:
    """Scores messages for anger; trained on `text, label` pairs.

    Args:
        positive: the label whose probability is the anger score.
        C: inverse regularisation strength of the logistic regression.
        cue_weight: how much the hand-made cues weigh against the n-gram features.
        char_ngrams: (min, max) length of character n-grams.
        char_analyzer: "char" (n-grams across spaces) or "char_wb" (n-grams inside words).
        word_bigrams: add word 2-grams to the word unigrams.
        word_weight: count each word gram this many times (weighs words against character n-grams).
        balanced: weigh classes inversely to their frequency (rare `angry` examples count more).
        classifier: "lr" (logistic regression: calibrated probabilities), "svm" (linear SVM; the score is a
            sigmoid of its margin) or "nblr" (two labels only: logistic regression over features scaled by their
            naive-Bayes log-count ratios, as in Wang & Manning's NBSVM; strong on sentiment).
        max_features: cap on the n-gram vocabulary (keeps the model small).
        label_threshold: a score at or above which the label is `positive`; below it the label is the most
            probable of the other labels.
        cue_weight_zh: when set, the cues of a message with Chinese characters are separate features from
            those of a message without (Latin script), weighed by `cue_weight_zh` and `cue_weight`: the classifier
            then learns how much an exclamation mark or an anger word counts in each language on its own.
    """

    def __init__(
        self,
        positive: str = POSITIVE,
        C: float = 4.0,
        cue_weight: float = 1.0,
        char_ngrams: Tuple[int, int] = (1, 4),
        char_analyzer: str = "char",
        word_bigrams: bool = False,
        classifier: str = "lr",
        word_weight: int = 1,
        balanced: bool = True,
        max_features: int = 200_000,
        label_threshold: float = 0.5,
        cue_weight_zh: Optional[float] = None,
    ) -> None:
        """Creates an untrained model."""
        self.positive = positive
        self.C = C
        self.cue_weight = cue_weight
        self.char_ngrams = tuple(char_ngrams)
        self.char_analyzer = char_analyzer
        self.word_bigrams = word_bigrams
        self.word_weight = word_weight
        self.balanced = balanced
        if classifier not in ("lr", "svm", "nblr"):
            raise ValueError(f"classifier must be 'lr', 'svm' or 'nblr', not {classifier!r}")
        self.classifier = classifier
        self.max_features = max_features
        self.label_threshold = label_threshold
        self.cue_weight_zh = cue_weight_zh
        self.classes_: List[str] = []
        self._vectorizer: Any = None
        self._vocabulary: Optional[Dict[str, int]] = None
        self._clf: Any = None
        self._nb_ratio: Optional[np.ndarray] = None

    # --- features -------------------------------------------------------------------------------------
    def _features(self, texts: Sequence[str], fit: bool = False) -> Any:
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfVectorizer

        normalized = [normalize(t) for t in texts]
        if fit:
            self._vectorizer = TfidfVectorizer(
                analyzer=Analyzer(
                    self.char_ngrams, self.char_analyzer == "char_wb", self.word_bigrams, self.word_weight
                ),
                sublinear_tf=True,
                max_features=self.max_features,
                dtype=np.float32,
            )
            ngrams = self._vectorizer.fit_transform(normalized)
        else:
            ngrams = self._vectorizer.transform(normalized)
        cue_rows = np.asarray([self._cue_row(t) for t in normalized], dtype=np.float32)
        return sparse.hstack([ngrams, sparse.csr_matrix(cue_rows)], format="csr")

    def _cue_row(self, normalized: str) -> np.ndarray:
        """The weighted cue features of one normalized message (one block, or one block per script)."""
        vector = np.asarray(cues.cue_vector(normalized), dtype=np.float64)
        weight_zh = getattr(self, "cue_weight_zh", None)
        if weight_zh is None:
            return vector * self.cue_weight
        empty = np.zeros_like(vector)
        if _CJK.search(normalized):
            return np.concatenate([empty, vector * weight_zh])
        return np.concatenate([vector * self.cue_weight, empty])

    # --- training and prediction ----------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> AngerModel:
        """Trains on `texts` with their `labels`.

        Args:
            texts: the messages.
            labels: one label per message; must include `positive` and at least one other label.

        Returns:
            The model itself.

        Raises:
            ValueError: no examples, mismatched lengths, or only one kind of label.
        """
        from sklearn.linear_model import LogisticRegression

        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        distinct = sorted(set(labels))
        if self.positive not in distinct or len(distinct) < 2:
            raise ValueError(
                f"training data needs examples labelled '{self.positive}' and some other label; got {distinct}"
            )
        if self.classifier == "nblr" and len(distinct) != 2:
            raise ValueError(f"classifier 'nblr' needs exactly two labels; got {distinct}")
        features = self._features(texts, fit=True)
        weights = "balanced" if getattr(self, "balanced", True) else None
        self._nb_ratio = None
        if self.classifier == "nblr":
            self._nb_ratio = _nb_ratio(features, np.asarray([label == self.positive for label in labels]))
            features = features.multiply(self._nb_ratio[np.newaxis, :]).tocsr()
        if self.classifier == "svm":
            from sklearn.svm import LinearSVC

            self._clf = LinearSVC(C=self.C, class_weight=weights, max_iter=5000)
        else:
            self._clf = LogisticRegression(C=self.C, class_weight=weights, max_iter=3000, solver="lbfgs")
        self._clf.fit(features, list(labels))
        self.classes_ = [str(c) for c in self._clf.classes_]
        self._prepare_fast_path()
        logger.debug("Trained anger model on %d examples, labels %s", len(texts), self.classes_)
        return self

    @property
    def is_trained(self) -> bool:
        """True once `fit` has run."""
        return self._clf is not None

    def _prepare_fast_path(self) -> None:
        """Keep plain arrays of the fitted vectorizer and classifier for fast one-message scoring."""
        self._vocabulary = dict(self._vectorizer.vocabulary_)
        self._idf = np.asarray(self._vectorizer.idf_, dtype=np.float64)
        coef = np.asarray(self._clf.coef_, dtype=np.float64)
        ratio = getattr(self, "_nb_ratio", None)
        if ratio is not None:  # scaling a feature by r is scaling its weight by r
            coef = coef * ratio[np.newaxis, :]
        size = len(self._vocabulary)
        self._coef_ngrams = np.ascontiguousarray(coef[:, :size].T)  # (features, outputs)
        self._coef_cues = coef[:, size:]
        self._intercept = np.asarray(self._clf.intercept_, dtype=np.float64)

    def _margins(self, text: str) -> np.ndarray:
        """The classifier's decision values for one message, computed like scikit-learn but without its
        per-call overhead (sublinear TF × IDF, L2 norm, then the linear model)."""
        normalized = normalize(text)
        counts: Dict[int, int] = {}
        vocabulary = self._vocabulary
        for gram in self._vectorizer.analyzer(normalized):
            index = vocabulary.get(gram)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        margins = self._intercept + self._coef_cues @ self._cue_row(normalized)
        if counts:
            indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            values = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
            values *= self._idf[indices]
            values /= np.sqrt(values @ values)
            margins = margins + values @ self._coef_ngrams[indices]
        return margins

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Return one row per text of label probabilities, columns in the order of `classes_`."""
        if getattr(self, "_vocabulary", None) is None:
            self._prepare_fast_path()
        margins = np.vstack([self._margins(text) for text in texts])
        if margins.shape[1] == 1:  # binary: the margin is for classes_[1]
            scale = 2.0 if self.classifier == "svm" else 1.0
            positive = 1.0 / (1.0 + np.exp(-scale * margins[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        scale = 2.0 if self.classifier == "svm" else 1.0
        exp = np.exp(scale * (margins - margins.max(axis=1, keepdims=True)))
        return exp / exp.sum(axis=1, keepdims=True)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Return the anger score (probability of the positive label) of each text."""
        if not texts:
            return np.zeros(0)
        return self.probabilities(texts)[:, self.classes_.index(self.positive)]

    def predict(self, texts: Sequence[str]) -> List[Tuple[float, str]]:
        """Return `(score, label)` for each text.

        The label is `positive` when the score reaches `label_threshold`, otherwise the most probable of the
        other labels.
        """
        if not texts:
            return []
        probabilities = self.probabilities(texts)
        index = self.classes_.index(self.positive)
        results = []
        for row in probabilities:
            score = float(row[index])
            if score >= self.label_threshold:
                label = self.positive
            else:
                others = [(p, c) for c, p in zip(self.classes_, row) if c != self.positive]
                label = max(others)[1] if others else "neutral"
            results.append((round(score, 4), label))
        return results

    def __getstate__(self) -> Dict[str, Any]:
        """Pickle without the fast-path arrays (rebuilt on first use after loading)."""
        state = dict(self.__dict__)
        for key in ("_vocabulary", "_idf", "_coef_ngrams", "_coef_cues", "_intercept"):
            state.pop(key, None)
        state["_vocabulary"] = None
        return state

    # --- persistence ----------------------------------------------------------------------------------
    def save(self, directory: os.PathLike | str) -> pathlib.Path:
        """Write the model into `directory` (one joblib file); return the file's path."""
        import joblib

        path = pathlib.Path(directory) / MODEL_FILE
        joblib.dump(self, path, compress=3)
        return path

    @classmethod
    def load(cls, directory: os.PathLike | str) -> AngerModel:
        """Read a model written by `save` from `directory`.

        Raises:
            FileNotFoundError: there is no model file in `directory`.
        """
        import joblib

        path = pathlib.Path(directory) / MODEL_FILE
        model = joblib.load(path)
        if not isinstance(model, cls):
            raise ValueError(f"{path} does not hold an anger model")
        return model


def _nb_ratio(features: Any, positive: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Naive-Bayes log-count ratio of each feature column: log of (smoothed share of positive examples that
    have it) over (the same for the others), each normalised over all features (Wang & Manning, 2012)."""
    present = (features > 0).astype(np.float64)
    p = alpha + np.asarray(present[positive].sum(axis=0)).ravel()
    q = alpha + np.asarray(present[~positive].sum(axis=0)).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))
