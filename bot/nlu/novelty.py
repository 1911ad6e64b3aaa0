"""The novelty check: a message unlike the training examples of the intent it was given falls back.

On the messages the model with sentence embeddings answers (`bot.nlu.cascade`), a message whose mean cosine
similarity to the `neighbours` nearest training examples of its predicted intent is below a quantile of the same
figure for the training examples themselves (each left out of its own neighbours) is unlike what that intent was
trained on. Its confidences are multiplied by `penalty`, so that FallbackClassifier falls back instead of guessing.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Dict, List, Optional

import numpy as np

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class NoveltyCheck:
    """The training embeddings grouped by intent, and the similarity below which a message counts as novel.

    Args:
        embeddings: the training examples' sentence embeddings (L2-normalised rows, float32).
        labels: each example's intent column (int32).
        threshold: the mean similarity to the nearest examples of its intent below which a message is novel.
        neighbours: how many of an intent's most similar training examples are averaged (at least 1).
        penalty: what a novel message's confidences are multiplied by.
    """

    embeddings: np.ndarray
    labels: np.ndarray
    threshold: float
    neighbours: int = 5
    penalty: float = 0.1

    def __post_init__(self) -> None:
        labels = self.labels
        self._rows: Dict[int, np.ndarray] = {int(label): self.embeddings[labels == label] for label in np.unique(labels)}

    @classmethod
    def fit(
        cls, embeddings: np.ndarray, y: np.ndarray, quantile: float, neighbours: int = 5, penalty: float = 0.1
    ) -> Optional[NoveltyCheck]:
        """The check for these training embeddings and intents; None when it is off or cannot be fitted.

        Each training example's similarity to the nearest other examples of its own intent, left out of them;
        the threshold is the `quantile` of those (intents with one example say nothing and are skipped).
        """
        if quantile <= 0.0:
            return None
        held_out: List[np.ndarray] = []
        for label in np.unique(y):
            members = embeddings[y == label]
            if len(members) < 2:
                continue
            similarity = members @ members.T
            np.fill_diagonal(similarity, -np.inf)  # each example is left out of its own neighbours
            k = min(neighbours, len(members) - 1)
            held_out.append(np.partition(similarity, -k, axis=1)[:, -k:].mean(axis=1))
        if not held_out:
            return None
        threshold = float(np.quantile(np.concatenate(held_out), quantile))
        return cls(embeddings.astype(np.float32), y.astype(np.int32), threshold, neighbours, penalty)

    def similarity(self, embeddings: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Mean cosine similarity of each embedding to its `neighbours` most similar rows of `rows`."""
        k = self.neighbours
        similarity = embeddings @ rows.T
        if similarity.shape[1] > k:
            similarity = np.partition(similarity, -k, axis=1)[:, -k:]
        return similarity.mean(axis=1)

    def penalise(self, probabilities: np.ndarray, embeddings: np.ndarray) -> None:
        """Scale down, in place, the confidences of rows unlike the training examples of their top intent."""
        for row, embedding in zip(probabilities, embeddings):
            members = self._rows.get(int(np.argmax(row)))
            if members is None:
                continue
            if float(self.similarity(embedding[np.newaxis, :], members)[0]) < self.threshold:
                row *= self.penalty
