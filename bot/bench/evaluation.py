"""The one NLU evaluation path: train a config's NLU pipeline with Rasa on some examples, parse others with the
trained model, and score the predictions.

Both `python -m bot bench nlu` (public data, figures as JSON) and `python -m bot evaluate` (the project's own
data, an HTML report) go through here, so they measure the same thing the same way: the NLU part of the config
(recipe, language, pipeline; no policies) trained by `rasa.model_training.train_nlu` into a temporary folder,
then `Agent.load` and `agent.parse_message` for each text, fallback threshold included. The training data is
written in Rasa's JSON format, so texts are taken verbatim (no entity markup is parsed out of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import logging
import os
import pathlib
import sys
import time
import warnings
from typing import Any, List, Optional, Sequence, Tuple

logger = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"


class ConfigError(ValueError):
    """The config to evaluate has no NLU pipeline."""


@dataclasses.dataclass
class Parse:
    """What the trained pipeline made of one text."""

    intent: str  # the predicted intent ("" when the pipeline gave none)
    confidence: float
    runner_up: str  # the best intent other than the fallback: the classifier's own guess
    ms: float  # the parse's wall time


@dataclasses.dataclass
class Run:
    """One training and the parses of the held-out texts."""

    parses: List[Parse]
    train_seconds: float


@dataclasses.dataclass
class Scores:
    """Figures of predictions against the gold labels; F1 averages are over the gold labels."""

    accuracy: float
    macro_f1: float
    weighted_f1: float
    per_label: List[Tuple[str, float, float, float, int]]  # label, precision, recall, F1, support


def quiet_rasa() -> None:
    """Keep Rasa's and TensorFlow's chatter off the terminal, and Rasa's training cache off (each training is
    a real one, so its time means something)."""
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    os.environ["RASA_MAX_CACHE_SIZE"] = "0"
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.ERROR)  # unconfigured, structlog prints every debug event on stdout
    for name in ("rasa", "tensorflow", "absl", "matplotlib", "apscheduler"):
        logging.getLogger(name).setLevel(logging.ERROR)


def nlu_config(config: pathlib.Path, directory: pathlib.Path) -> pathlib.Path:
    """A copy of the config with only its NLU part (recipe, language, pipeline): policies are not trained.

    Raises:
        ConfigError: the config has no NLU pipeline.
    """
    from rasa.shared.utils.io import read_yaml_file, write_yaml

    content = read_yaml_file(config)
    if not isinstance(content, dict) or not content.get("pipeline"):
        raise ConfigError(f"{config}: no NLU pipeline in it")
    kept = {key: content[key] for key in ("recipe", "language", "pipeline", "assistant_id") if key in content}
    kept["policies"] = []
    path = directory / "config.yml"
    write_yaml(kept, path)
    return path


def training_data(examples: Sequence[Tuple[str, str]]) -> Any:
    """Rasa training data of `(text, intent)` pairs, texts verbatim."""
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    return TrainingData(training_examples=[Message.build(text=text, intent=intent) for text, intent in examples])


def train(config: pathlib.Path, data: Any, workdir: pathlib.Path) -> Tuple[str, float]:
    """Train the config's NLU pipeline on `data` with Rasa.

    Args:
        config: a Rasa config (only its NLU part is trained).
        data: the Rasa `TrainingData` to train on.
        workdir: an empty folder for the training data and the model.

    Returns:
        The model archive's path and the training's wall time in seconds.

    Raises:
        ConfigError: the config has no NLU pipeline.
        RuntimeError: Rasa trained no model.
    """
    from rasa.model_training import train_nlu

    data_file = workdir / "nlu.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Rasa calls its JSON format deprecated; it is the verbatim one
        data_file.write_text(data.nlu_as_json(), encoding="utf-8")
    nlu_only = nlu_config(config, workdir)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = train_nlu(str(nlu_only), str(data_file), str(workdir / "models"), fixed_model_name="evaluation")
    seconds = time.perf_counter() - started
    if not model:
        raise RuntimeError("Rasa did not train a model")
    return str(model), seconds


def parse(model: str, texts: Sequence[str], progress: Optional[str] = None) -> List[Parse]:
    """Parse each text with a trained model, one at a time, as the Rasa server would.

    Args:
        model: the model archive's path.
        texts: the texts to parse.
        progress: when given, a progress bar with this label on stderr.
    """
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    items: Any = texts
    if progress:
        from tqdm import tqdm

        items = tqdm(texts, desc=progress, file=sys.stderr, unit="msg", leave=False)

    async def parse_all() -> List[Parse]:
        parses = []
        for text in items:
            begin = time.perf_counter()
            result = await agent.parse_message(text) or {}
            ms = (time.perf_counter() - begin) * 1000.0
            intent = result.get("intent") or {}
            name = intent.get("name") or ""
            ranked = [r.get("name") for r in result.get("intent_ranking") or [] if r.get("name")]
            runner_up = next((other for other in ranked if other != FALLBACK_INTENT), name)
            parses.append(Parse(name, float(intent.get("confidence") or 0.0), runner_up, ms))
        return parses

    return asyncio.run(parse_all())


def train_and_parse(config: pathlib.Path, data: Any, texts: Sequence[str], workdir: pathlib.Path) -> Run:
    """`train` on `data`, then `parse` the texts: one run of an evaluation."""
    model, seconds = train(config, data, workdir)
    return Run(parses=parse(model, texts), train_seconds=seconds)


def scores(gold: Sequence[str], predicted: Sequence[str]) -> Scores:
    """Accuracy, macro and weighted F1, and precision / recall / F1 / support of each gold label.

    A predicted label that is no gold label (a fallback, say) counts against the gold label it missed.
    """
    from sklearn.metrics import precision_recall_fscore_support

    labels = sorted(set(gold))
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=labels, zero_division=0
    )
    _, _, weighted, _ = precision_recall_fscore_support(
        gold, predicted, labels=labels, average="weighted", zero_division=0
    )
    per_label = [
        (label, float(precision[i]), float(recall[i]), float(f1[i]), int(support[i])) for i, label in enumerate(labels)
    ]
    total = len(gold) or 1
    return Scores(
        accuracy=sum(g == p for g, p in zip(gold, predicted, strict=True)) / total,
        macro_f1=float(sum(f1) / len(f1)) if len(f1) else 0.0,
        weighted_f1=float(weighted),
        per_label=per_label,
    )
