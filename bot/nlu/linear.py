"""A linear support-vector machine with calibrated softmax confidences: the head of both of the intent
classifier's models (`bot.nlu.ngrams`, `bot.nlu.cascade`).

The SVM is liblinear's (seconds even on ten thousand examples). Its scores become confidences through a softmax
whose temperature is fitted on out-of-fold scores, so that FallbackClassifier's threshold means what it says and
separates unclear messages from clear ones.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict, Optional, Sequence

import numpy as np
import scipy.sparse as sp

logger = logging.getLogger(__name__)

# Temperatures tried when calibrating (log-spaced); linear-SVM margins are O(1), so the optimum is well inside.
_TEMPERATURES = np.exp(np.linspace(np.log(0.005), np.log(5.0), 240))


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


def fold_ids(labels: Sequence[int], folds: int) -> np.ndarray:
    """Deterministic stratified fold numbers: each class's examples are dealt to the folds in turn."""
    ids = np.zeros(len(labels), dtype=int)
    seen: Dict[int, int] = {}
    for index, label in enumerate(labels):
        ids[index] = seen.get(label, 0) % folds
        seen[label] = seen.get(label, 0) + 1
    return ids


@dataclasses.dataclass
class LinearHead:
    """A trained linear model: one row of weights per intent, and the softmax temperature of its scores.

    Args:
        coef: weights, intents × features (float32).
        intercept: one bias per intent (float32).
        temperature: the softmax temperature that turns its scores into confidences.
    """

    coef: np.ndarray
    intercept: np.ndarray
    temperature: float

    def __post_init__(self) -> None:
        # features × intents, contiguous: multiplying by a transposed view copied the whole matrix every message
        self.transposed = np.ascontiguousarray(self.coef.T)


@dataclasses.dataclass(frozen=True)
class SvmTrainer:
    """How a `LinearHead` is trained (the classifier's config keys of the same names).

    Args:
        C: inverse regularisation strength of the linear SVM.
        class_weight: "balanced", or None to weigh examples alike.
        calibration_folds: folds of out-of-fold scores for the temperature (below 2: use `temperature`).
        temperature: the temperature when calibration is off or impossible.
    """

    C: float = 1.0
    class_weight: Optional[str] = "balanced"
    calibration_folds: int = 3
    temperature: float = 1.0

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> SvmTrainer:
        """The trainer described by a classifier config (`C`, `class_weight`, `calibration_folds`, `temperature`)."""
        return cls(
            C=float(config["C"]),
            class_weight=config.get("class_weight") or None,
            calibration_folds=int(config.get("calibration_folds") or 0),
            temperature=float(config.get("temperature") or 1.0),
        )

    def _svm(self) -> Any:
        from sklearn.svm import LinearSVC

        return LinearSVC(C=self.C, class_weight=self.class_weight, max_iter=5000)

    def fit(self, X: sp.csr_matrix, y: np.ndarray, classes: int) -> LinearHead:
        """A linear SVM on `X`, `y` (column indices of `classes` intents) and its calibrated temperature."""
        temperature = self.calibrate(X, y)
        model = self._svm().fit(X, y)
        coef, intercept = model.coef_, model.intercept_
        if classes == 2:  # binary liblinear keeps one row: the second intent's; the first's is its negative
            coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
        return LinearHead(coef.astype(np.float32), intercept.astype(np.float32), temperature)

    def calibrate(self, X: sp.csr_matrix, y: np.ndarray) -> float:
        """Fit the softmax temperature on out-of-fold decision scores (the configured one when folds are off)."""
        folds = self.calibration_folds
        counts = np.bincount(y)
        if folds < 2 or counts.max() < 2:
            return self.temperature
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
            return self.temperature
        return fit_temperature(scores[usable], y[usable])
