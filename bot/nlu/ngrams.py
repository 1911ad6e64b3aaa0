"""Character and word TF-IDF n-grams of a message: the intent classifier's features.

They need no tokenizer and no segmentation, so Chinese, Traditional Chinese (folded to Simplified before
featurizing) and English are handled alike.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse as sp

from bot.i18n import to_simplified

logger = logging.getLogger(__name__)

_SPACES = re.compile(r"\s+")
_WORD = r"(?u)\b\w+\b"
HAN = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff]")
"""A Chinese character (CJK radicals to unified ideographs, and compatibility ideographs)."""
# Simplified variants that OpenCC's Traditional-to-Simplified leaves apart, folded to the common form
# (帳 becomes 帐, but customers write 账 for accounts and bills).
_VARIANTS = str.maketrans({"帐": "账"})


def normalize(text: str) -> str:
    """Fold a message for featurizing: NFKC, Simplified Chinese, lower case, single spaces."""
    text = unicodedata.normalize("NFKC", text or "")
    if HAN.search(text):
        text = to_simplified(text).translate(_VARIANTS)
    return _SPACES.sub(" ", text.lower()).strip()


def _vectorizers(config: Dict[str, Any], vocabularies: Optional[Sequence[Dict[str, int]]] = None) -> List[Any]:
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


class NgramFeatures:
    """Fitted character (within word boundaries) and word TF-IDF vectorizers, side by side.

    Args:
        vectorizers: fitted `TfidfVectorizer`s, their idf weights float32 (as persisted).
    """

    def __init__(self, vectorizers: List[Any]) -> None:
        self.vectorizers = vectorizers
        self._analyzers = [vectorizer.build_analyzer() for vectorizer in vectorizers]
        self.width = sum(len(vectorizer.vocabulary_) for vectorizer in vectorizers)

    @classmethod
    def fit(cls, folded: List[str], config: Dict[str, Any]) -> Tuple[NgramFeatures, sp.csr_matrix]:
        """Fit on normalized texts; return the features and the texts' feature matrix.

        Args:
            folded: training texts, already `normalize`d.
            config: `char_ngram_range`, `word_ngram_range` and `min_df` (the classifier's config).
        """
        vectorizers = _vectorizers(config)
        X = sp.hstack([v.fit_transform(folded) for v in vectorizers], format="csr")
        for vectorizer in vectorizers:  # what is persisted, so a reloaded model answers the same
            vectorizer.idf_ = vectorizer.idf_.astype(np.float32)
        return cls(vectorizers), X

    @classmethod
    def restore(
        cls, config: Dict[str, Any], vocabularies: Sequence[Dict[str, int]], idfs: Sequence[np.ndarray]
    ) -> NgramFeatures:
        """The features of persisted vocabularies and idf weights (`config` gives the n-gram ranges)."""
        vectorizers = _vectorizers(config, vocabularies)
        for vectorizer, idf in zip(vectorizers, idfs):
            vectorizer.idf_ = idf
        return cls(vectorizers)

    def vocabularies(self) -> List[Dict[str, int]]:
        """Each vectorizer's vocabulary (n-gram → column), as plain ints for JSON."""
        return [{term: int(index) for term, index in v.vocabulary_.items()} for v in self.vectorizers]

    def transform(self, texts: List[str]) -> sp.csr_matrix:
        """The feature matrix of raw texts (normalized here), through sklearn."""
        folded = [normalize(text) for text in texts]
        return sp.hstack([v.transform(folded) for v in self.vectorizers], format="csr")

    def weights(self, text: str) -> Tuple[np.ndarray, np.ndarray]:
        """The non-zero features of one raw text: (column indices, TF-IDF weights), as sklearn computes them.

        Sublinear term frequency times idf, L2-normalised per vectorizer, columns offset as in `transform`. One
        message at a time this is about ten times faster than going through sklearn's sparse matrices.
        """
        folded = normalize(text)
        columns: List[np.ndarray] = []
        weights: List[np.ndarray] = []
        offset = 0
        for vectorizer, analyzer in zip(self.vectorizers, self._analyzers):
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

    def scores(self, texts: List[str], transposed: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        """Scores of a linear model over these features, given its weights transposed (features × intents)."""
        if len(texts) == 1:  # one message: straight from its n-grams, ten times faster than sparse matrices
            columns, weights = self.weights(texts[0])
            return (weights @ transposed[columns] + intercept)[np.newaxis, :]
        return np.asarray(self.transform(texts) @ transposed + intercept)
