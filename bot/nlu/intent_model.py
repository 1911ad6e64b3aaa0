"""The intent classifier's trained model, apart from Rasa: n-grams and a linear head, optionally the embedding
cascade, and the files they are persisted in (plain arrays and JSON, no pickle).

Files in the component's resource folder (format 2; a model persisted by an earlier Frontline loads unchanged):
- `model.json`: `format`, `classes`, `temperature`, `sentence_encoder`, `encoder_temperature`,
  `novelty_threshold` and the n-gram `vocabularies`;
- `coef.npy`, `intercept.npy`: the n-gram model; `idf_<i>.npy`: each vectorizer's idf weights;
- with a sentence encoder, `encoder_coef.npy`, `encoder_intercept.npy`: the model with embeddings;
- with the novelty check, `novelty_embeddings.npy`, `novelty_labels.npy`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pathlib
from typing import Any, Dict, List, Optional

import numpy as np

from bot.nlu.cascade import EncoderCascade
from bot.nlu.linear import LinearHead, SvmTrainer, softmax
from bot.nlu.ngrams import NgramFeatures, normalize
from bot.nlu.novelty import NoveltyCheck

logger = logging.getLogger(__name__)

# 2: coef.npy is the n-gram model; the one with embeddings is encoder_coef.npy (1 had only the latter)
FORMAT = 2


class OutdatedModel(ValueError):
    """A persisted model that this version cannot use as it is: it must be trained again."""


@dataclasses.dataclass(frozen=True)
class CascadeSettings:
    """The cascade's settings that are read from the config, not persisted (the config keys of the same names).

    Args:
        encoder_weight: scale of the sentence embedding against the n-gram features.
        encoder_cascade: the n-gram model's confidence below which the model with embeddings answers.
        novelty_quantile: the novelty check's quantile (0: off); used when training.
        novelty_neighbours: how many nearest training examples the novelty check averages.
        novelty_penalty: what a novel message's confidences are multiplied by.
    """

    encoder_weight: float = 1.0
    encoder_cascade: float = 0.9
    novelty_quantile: float = 0.0
    novelty_neighbours: int = 5
    novelty_penalty: float = 0.1

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> CascadeSettings:
        """The settings of a classifier config."""
        return cls(
            encoder_weight=float(config.get("encoder_weight", 1.0)),
            encoder_cascade=float(config.get("encoder_cascade") or 0.0),
            novelty_quantile=float(config.get("novelty_quantile") or 0.0),
            novelty_neighbours=max(1, int(config.get("novelty_neighbours") or 5)),
            novelty_penalty=float(config.get("novelty_penalty", 0.1)),
        )


class IntentModel:
    """Intents, n-gram features, the n-gram model's head and, with a sentence encoder, the cascade.

    Args:
        classes: the intents, in column order.
        features: the fitted n-gram features.
        head: the n-gram model.
        cascade: the model with embeddings, for the messages the n-gram model is unsure of.
    """

    def __init__(
        self, classes: List[str], features: NgramFeatures, head: LinearHead, cascade: Optional[EncoderCascade] = None
    ) -> None:
        self.classes = classes
        self.features = features
        self.head = head
        self.cascade = cascade

    @classmethod
    def fit(
        cls, texts: List[str], labels: List[str], config: Dict[str, Any], encoder: Optional[str] = None
    ) -> IntentModel:
        """Train on raw texts and their intents (at least two intents).

        Args:
            texts: the training texts.
            labels: their intents.
            config: the classifier's config (n-gram ranges, SVM, calibration and cascade keys).
            encoder: the sentence encoder of the cascade; None trains the n-gram model alone.
        """
        folded = [normalize(text) for text in texts]
        classes = sorted(set(str(label) for label in labels))
        index = {name: i for i, name in enumerate(classes)}
        y = np.array([index[str(label)] for label in labels])
        features, X = NgramFeatures.fit(folded, config)
        trainer = SvmTrainer.from_config(config)
        head = trainer.fit(X, y, len(classes))
        cascade = None
        if encoder:
            settings = CascadeSettings.from_config(config)
            cascade = EncoderCascade.fit(
                encoder,
                folded,
                X,
                y,
                len(classes),
                trainer,
                weight=settings.encoder_weight,
                cut=settings.encoder_cascade,
                novelty_quantile=settings.novelty_quantile,
                neighbours=settings.novelty_neighbours,
                penalty=settings.novelty_penalty,
            )
        return cls(classes, features, head, cascade)

    @property
    def sentence_encoder(self) -> Optional[str]:
        """The sentence encoder whose embeddings the model uses, if any."""
        return self.cascade.encoder if self.cascade else None

    def ngram_proba(self, texts: List[str]) -> np.ndarray:
        """The n-gram model's calibrated probabilities (columns in `classes`) for each raw text."""
        scores = self.features.scores(texts, self.head.transposed, self.head.intercept)
        return softmax(scores, self.head.temperature)

    def predict_proba(self, texts: List[str]) -> np.ndarray:
        """The calibrated probability of each intent (columns in `classes`) for each raw text.

        The n-gram model answers first; with a sentence encoder, the messages it is unsure of (and that the
        encoder can read) are answered by the model over n-grams plus embeddings instead (`EncoderCascade`).
        """
        probabilities = self.ngram_proba(texts)
        if self.cascade is None:
            return probabilities
        chosen = [i for i, text in enumerate(texts) if self.cascade.wants(text, float(probabilities[i].max()))]
        if chosen:
            probabilities[chosen] = self.cascade.predict_proba([texts[i] for i in chosen], self.features)
        return probabilities

    # -- persistence -------------------------------------------------------------------------------------------
    def save(self, directory: pathlib.Path) -> None:
        """Write the model's files into `directory` (see the module docstring)."""
        cascade = self.cascade
        novelty = cascade.novelty if cascade else None
        meta = {
            "format": FORMAT,
            "classes": self.classes,
            "temperature": self.head.temperature,
            "sentence_encoder": self.sentence_encoder,
            "encoder_temperature": cascade.head.temperature if cascade else None,
            "novelty_threshold": novelty.threshold if novelty else None,
            "vocabularies": self.features.vocabularies(),
        }
        (directory / "model.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        np.save(directory / "coef.npy", self.head.coef)
        np.save(directory / "intercept.npy", self.head.intercept)
        for index, vectorizer in enumerate(self.features.vectorizers):
            np.save(directory / f"idf_{index}.npy", vectorizer.idf_.astype(np.float32))
        if cascade:
            np.save(directory / "encoder_coef.npy", cascade.head.coef)
            np.save(directory / "encoder_intercept.npy", cascade.head.intercept)
        if novelty:
            np.save(directory / "novelty_embeddings.npy", novelty.embeddings)
            np.save(directory / "novelty_labels.npy", novelty.labels)

    @classmethod
    def read(cls, directory: pathlib.Path) -> Dict[str, Any]:
        """The persisted files of a model, as they are: `meta` (model.json) and the arrays by file stem.

        Raises:
            FileNotFoundError, ValueError: nothing (or not all of it) was persisted there.
        """

        def array(name: str) -> np.ndarray:
            return np.load(directory / f"{name}.npy", allow_pickle=False)

        meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
        files: Dict[str, Any] = {"meta": meta, "coef": array("coef"), "intercept": array("intercept")}
        files["idf"] = [array(f"idf_{index}") for index in range(len(meta["vocabularies"]))]
        if meta.get("sentence_encoder") and meta.get("format", 1) >= 2:
            files["encoder_coef"], files["encoder_intercept"] = array("encoder_coef"), array("encoder_intercept")
            if meta.get("novelty_threshold") is not None:
                files["novelty_embeddings"], files["novelty_labels"] = (
                    array("novelty_embeddings"),
                    array("novelty_labels"),
                )
        return files

    @classmethod
    def restore(cls, files: Dict[str, Any], config: Dict[str, Any]) -> IntentModel:
        """The model of files from `read`, with the settings of `config` that are not persisted.

        Raises:
            OutdatedModel: the model was trained with a sentence encoder by an older Frontline (format 1).
            ValueError: its sentence encoder is not a known one.
        """
        meta = files["meta"]
        if meta.get("sentence_encoder") and "encoder_coef" not in files:
            raise OutdatedModel("this model was trained with a sentence encoder by an older Frontline")
        features = NgramFeatures.restore(config, meta["vocabularies"], files["idf"])
        temperature = float(meta.get("temperature") or config.get("temperature") or 1.0)
        head = LinearHead(files["coef"], files["intercept"], temperature)
        cascade = None
        if "encoder_coef" in files:
            settings = CascadeSettings.from_config(config)
            novelty = None
            if "novelty_embeddings" in files:
                novelty = NoveltyCheck(
                    files["novelty_embeddings"],
                    files["novelty_labels"],
                    float(meta["novelty_threshold"]),
                    settings.novelty_neighbours,
                    settings.novelty_penalty,
                )
            encoder_head = LinearHead(
                files["encoder_coef"], files["encoder_intercept"], float(meta["encoder_temperature"])
            )
            cascade = EncoderCascade(
                meta["sentence_encoder"],
                encoder_head,
                features.width,
                settings.encoder_weight,
                settings.encoder_cascade,
                novelty,
            )
        return cls(list(meta["classes"]), features, head, cascade)
