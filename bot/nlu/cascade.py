"""The embedding cascade: a second linear model, over n-grams plus sentence embeddings, for the messages the
n-gram model alone is unsure of.

Sentence embeddings (multilingual-e5-small, `bot.nlu.e5`; or the English-only all-MiniLM-L6-v2,
`bot.nlu.minilm`) carry paraphrases that share no n-gram with the training examples, but cost ~16 ms a message
where the n-grams cost ~1 ms. So the n-gram model answers the messages it is at least `cut` confident about, and
this model the rest; of those, the novelty check (`bot.nlu.novelty`) scales down the ones unlike the training
examples of their top intent.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, List, Optional

import numpy as np
import scipy.sparse as sp

from bot.nlu.linear import LinearHead, SvmTrainer, softmax
from bot.nlu.ngrams import HAN, NgramFeatures, normalize
from bot.nlu.novelty import NoveltyCheck

logger = logging.getLogger(__name__)


def encoder_module(name: Optional[str]) -> Any:
    """The module of a sentence encoder (`available()`, `load()`, `PACKAGE`, `INSTALL`), by its config name.

    Raises:
        ValueError: no encoder has that name.
    """
    from bot.nlu import e5, minilm

    modules = {e5.NAME: e5, minilm.NAME: minilm}
    if name not in modules:
        raise ValueError(f"sentence_encoder: unknown encoder '{name}' (known: {', '.join(sorted(modules))})")
    return modules[name]


@dataclasses.dataclass
class EncoderCascade:
    """The model over n-grams plus weighted sentence embeddings, and when to ask it.

    Args:
        encoder: the sentence encoder's name (see `encoder_module`).
        head: the linear model over the n-gram features followed by the weighted embedding.
        ngram_width: how many of `head`'s features are n-grams.
        weight: the scale of the embedding against the n-gram features (`encoder_weight`).
        cut: the n-gram model's confidence below which this model answers; 1 or more: always (`encoder_cascade`).
        novelty: the novelty check on this model's answers, if on.

    Raises:
        ValueError: `encoder` is not a known encoder.
    """

    encoder: str
    head: LinearHead
    ngram_width: int
    weight: float = 1.0
    cut: float = 0.9
    novelty: Optional[NoveltyCheck] = None

    def __post_init__(self) -> None:
        self.weight = float(self.weight)
        self.cut = float(self.cut or 0.0)
        # the head's weights split into its n-gram rows and its embedding rows
        self._ngram_t = self.head.transposed[: self.ngram_width]
        self._embedding_t = self.head.transposed[self.ngram_width :]
        self._english_only = bool(encoder_module(self.encoder).ENGLISH_ONLY)

    @classmethod
    def fit(
        cls,
        encoder: str,
        folded: List[str],
        X: sp.csr_matrix,
        y: np.ndarray,
        classes: int,
        trainer: SvmTrainer,
        weight: float = 1.0,
        cut: float = 0.9,
        novelty_quantile: float = 0.0,
        neighbours: int = 5,
        penalty: float = 0.1,
    ) -> EncoderCascade:
        """Train the model with embeddings, and the novelty check when `novelty_quantile` is above 0.

        Args:
            encoder: the sentence encoder's name.
            folded: the training texts, `normalize`d.
            X: their n-gram features.
            y: their intents' column indices, of `classes` intents.
            trainer: how the linear head is trained.
            weight, cut: see the class.
            novelty_quantile, neighbours, penalty: see `NoveltyCheck`.
        """
        embeddings = encoder_module(encoder).load().encode(folded)
        with_embeddings = sp.hstack([X, sp.csr_matrix(embeddings * float(weight))], format="csr")
        head = trainer.fit(with_embeddings, y, classes)
        novelty = NoveltyCheck.fit(embeddings, y, novelty_quantile, neighbours, penalty)
        return cls(encoder, head, X.shape[1], weight, cut, novelty)

    def embeddings(self, folded: List[str]) -> np.ndarray:
        """The sentence embeddings of folded texts (L2-normalised rows)."""
        return encoder_module(self.encoder).load().encode(folded)

    def warm_up(self) -> None:
        """Map the encoder's weights in now: the first message that needs them would otherwise wait ~1 s."""
        encoder_module(self.encoder).load().encode(["warm up"])

    def wants(self, text: str, confidence: float) -> bool:
        """Whether this model should answer a message the n-gram model gave `confidence` (see `cut`)."""
        if self._english_only and HAN.search(text):
            return False  # an English-trained encoder does not help on Chinese: the n-gram model answers
        return self.cut >= 1.0 or confidence < self.cut

    def predict_proba(self, texts: List[str], features: NgramFeatures) -> np.ndarray:
        """The calibrated probabilities of each intent for each raw text, novel ones scaled down."""
        embeddings = self.embeddings([normalize(text) for text in texts])
        scores = features.scores(texts, self._ngram_t, self.head.intercept)
        scores = scores + (embeddings * self.weight) @ self._embedding_t
        answered = softmax(scores, self.head.temperature)
        if self.novelty is not None:
            self.novelty.penalise(answered, embeddings)
        return answered
