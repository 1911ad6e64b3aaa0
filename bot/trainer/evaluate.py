"""`python -m bot evaluate` (`make evaluate`): how well the shipped NLU pipeline knows the project's own data.

The NLU part of `config.yml` is trained and tested through the one NLU evaluation path, `bot.bench.evaluation`
(shared with `python -m bot bench nlu`: Rasa's own `train_nlu` into a temporary folder, then `Agent.load` and
`agent.parse_message`), so exactly the shipped pipeline is measured, fallback threshold included. By default it
trains on a stratified 80% of `data/nlu/` and tests on the other 20%; `--folds K` cross-validates instead (both
splits from `bot.bench.splits`, keyed by the seed and the text). The HTML report
(`var/reports/evaluation-<time>.html`, copied to `latest.html`) shows per-intent precision, recall and F1, a
confusion-matrix picture (PNG embedded), the most confused intent pairs with example sentences, and the fallback
rate. Progress is shown on stderr.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import logging
import os
import pathlib
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

from bot.bench import evaluation as nlu_evaluation
from bot.bench import splits as nlu_splits
from bot.bench.evaluation import FALLBACK_INTENT
from bot.clock import now

logger = logging.getLogger(__name__)

DEFAULT_SEED = 42


@dataclass
class Prediction:
    """One test message and what the trained pipeline made of it."""

    text: str
    expected: str
    predicted: str
    confidence: float
    fold: int


@dataclass
class Evaluation:
    """All predictions of a run, and how it was made."""

    predictions: List[Prediction] = field(default_factory=list)
    method: str = ""
    pipeline: List[str] = field(default_factory=list)
    examples: int = 0
    seconds: float = 0.0


def progress(message: str) -> None:
    """One progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


def load_training_data(data: pathlib.Path) -> Any:
    """The NLU training data under a file or folder, read by Rasa (only intent examples are used)."""
    from rasa.shared.nlu.training_data.loading import load_data

    return load_data(str(data))


def splits(training_data: Any, folds: int, train_fraction: float, seed: int) -> List[Tuple[Any, Any]]:
    """(train, test) pairs of Rasa training data: one stratified hold-out split, or `folds` stratified folds.

    Raises:
        ValueError: an intent has fewer examples than `folds`.
    """
    from rasa.shared.nlu.training_data.training_data import TrainingData

    examples = training_data.intent_examples
    labels = [example.get("intent") for example in examples]
    keys = nlu_splits.seeded_keys([example.get("text") for example in examples], seed)

    def part(indices: List[int]) -> Any:
        return TrainingData(
            training_examples=[examples[i] for i in indices],
            entity_synonyms=training_data.entity_synonyms,
            regex_features=training_data.regex_features,
            lookup_tables=training_data.lookup_tables,
        )

    if folds <= 1:
        train, test = nlu_splits.stratified_holdout(labels, keys, 1 - train_fraction)
        return [(part(train), part(test))]
    smallest = min(Counter(labels).values())
    if smallest < folds:
        raise ValueError(f"an intent has only {smallest} examples: use at most --folds {smallest}")
    parts = nlu_splits.stratified_folds(labels, keys, folds)
    return [
        (part([i for j, fold in enumerate(parts) if j != k for i in fold]), part(parts[k])) for k in range(folds)
    ]


def pipeline_names(config: pathlib.Path) -> List[str]:
    """Component names of the NLU pipeline in a config file."""
    import yaml

    with open(config, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    return [str(item.get("name")) for item in data.get("pipeline") or [] if isinstance(item, dict)]


def evaluate(
    config: pathlib.Path,
    data: pathlib.Path,
    folds: int = 1,
    train_fraction: float = 0.8,
    seed: int = DEFAULT_SEED,
) -> Evaluation:
    """Train and test the shipped NLU pipeline on the project's own data.

    Args:
        config: the Rasa config whose NLU pipeline is evaluated.
        data: NLU data file or folder.
        folds: 1 for a hold-out split, K > 1 for K-fold cross-validation.
        train_fraction: share of each intent used for training in the hold-out split.
        seed: random seed of the split.

    Returns:
        Every test prediction.
    """
    nlu_evaluation.quiet_rasa()
    started = time.monotonic()
    training_data = load_training_data(data)
    parts = splits(training_data, folds, train_fraction, seed)
    method = f"{folds}-fold cross-validation" if folds > 1 else f"hold-out: train {train_fraction:.0%}, test the rest"
    result = Evaluation(method=method, pipeline=pipeline_names(config), examples=len(training_data.intent_examples))
    total = len(parts)
    for number, (train, test) in enumerate(parts, start=1):
        label = f"fold {number}" if total > 1 else "split"
        progress(f"[{number}/{total}] training {label} on {len(train.intent_examples)} examples…")
        texts = [example.get("text") for example in test.intent_examples]
        with tempfile.TemporaryDirectory(prefix="frontline-eval-") as temp:
            model, _ = nlu_evaluation.train(config, train, pathlib.Path(temp))
            progress(f"[{number}/{total}] testing {label} on {len(texts)} examples…")
            parses = nlu_evaluation.parse(model, texts, progress=f"[{number}/{total}] parsing")
        for example, parse in zip(test.intent_examples, parses, strict=True):
            result.predictions.append(
                Prediction(
                    text=example.get("text"),
                    expected=example.get("intent"),
                    predicted=parse.intent or FALLBACK_INTENT,
                    confidence=parse.confidence,
                    fold=number,
                )
            )
    result.seconds = time.monotonic() - started
    return result


# --- the report --------------------------------------------------------------------------------------------


@dataclass
class Metrics:
    """Figures computed from the predictions."""

    per_intent: List[Tuple[str, float, float, float, int, int]]  # intent, P, R, F1, support, fallbacks
    accuracy: float
    macro_f1: float
    weighted_f1: float
    fallback_rate: float
    labels: List[str]
    matrix: Any
    confused: List[Tuple[str, str, int, List[Prediction]]]


def compute_metrics(evaluation: Evaluation, top_pairs: int = 10, examples_per_pair: int = 3) -> Metrics:
    """Per-intent precision/recall/F1, the confusion matrix, the most confused pairs and the fallback rate."""
    from sklearn.metrics import confusion_matrix

    predictions = evaluation.predictions
    expected = [item.expected for item in predictions]
    predicted = [item.predicted for item in predictions]
    intents = sorted(set(expected))
    scored = nlu_evaluation.scores(expected, predicted)
    fallbacks = Counter(item.expected for item in predictions if item.predicted == FALLBACK_INTENT)
    per_intent = [(intent, p, r, f1, support, fallbacks[intent]) for intent, p, r, f1, support in scored.per_label]
    columns = intents + sorted(set(predicted) - set(intents))
    matrix = confusion_matrix(expected, predicted, labels=columns)[: len(intents)]
    pairs: Dict[Tuple[str, str], List[Prediction]] = defaultdict(list)
    for item in predictions:
        if item.predicted != item.expected and item.predicted != FALLBACK_INTENT:
            pairs[(item.expected, item.predicted)].append(item)
    confused = sorted(pairs.items(), key=lambda pair: (-len(pair[1]), pair[0]))[:top_pairs]
    total = len(predictions) or 1
    return Metrics(
        per_intent=per_intent,
        accuracy=scored.accuracy,
        macro_f1=scored.macro_f1,
        weighted_f1=scored.weighted_f1,
        fallback_rate=sum(fallbacks.values()) / total,
        labels=columns,
        matrix=matrix,
        confused=[(a, b, len(items), items[:examples_per_pair]) for (a, b), items in confused],
    )


def confusion_png(metrics: Metrics) -> bytes:
    """The confusion matrix (rows: true intent, columns: predicted; shaded by row share) as a PNG."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np

    matrix = np.asarray(metrics.matrix, dtype=float)
    rows = [label for label in metrics.labels[: matrix.shape[0]]]
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.26 * len(metrics.labels) + 2.5)
    figure, axes = plt.subplots(figsize=(size, size * matrix.shape[0] / max(len(metrics.labels), 1) + 1.5))
    image = axes.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    axes.set_xticks(range(len(metrics.labels)))
    axes.set_xticklabels(metrics.labels, rotation=90, fontsize=7)
    axes.set_yticks(range(len(rows)))
    axes.set_yticklabels(rows, fontsize=7)
    axes.set_xlabel("predicted intent")
    axes.set_ylabel("true intent")
    if len(metrics.labels) <= 30:
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                if matrix[i, j]:
                    colour = "white" if share[i, j] > 0.5 else "black"
                    axes.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7, color=colour)
    figure.colorbar(image, ax=axes, fraction=0.03, label="share of the true intent")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def render_html(evaluation: Evaluation, metrics: Metrics, png: bytes, generated: str) -> str:
    """The self-contained HTML report."""
    e = html.escape
    rows = "\n".join(
        f"<tr class='{'bad' if f1 < 0.8 else ''}'><td>{e(intent)}</td><td>{p:.2f}</td><td>{r:.2f}</td>"
        f"<td>{f1:.2f}</td><td>{support}</td><td>{fallbacks}</td></tr>"
        for intent, p, r, f1, support, fallbacks in sorted(metrics.per_intent, key=lambda item: (item[3], item[0]))
    )
    pairs = "\n".join(
        f"<tr><td>{e(a)}</td><td>{e(b)}</td><td>{count}</td><td><ul>"
        + "".join(f"<li>{e(item.text)} <small>({item.confidence:.2f})</small></li>" for item in items)
        + "</ul></td></tr>"
        for a, b, count, items in metrics.confused
    ) or "<tr><td colspan='4'>No confusion between intents.</td></tr>"
    fallen = [item for item in evaluation.predictions if item.predicted == FALLBACK_INTENT][:20]
    fallback_items = "".join(f"<li>{e(item.text)} <small>({e(item.expected)})</small></li>" for item in fallen)
    picture = base64.b64encode(png).decode("ascii")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Frontline NLU evaluation {e(generated)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f0f0f0; }}
tr.bad td {{ background: #fff0f0; }}
.summary td:first-child {{ font-weight: bold; }}
</style></head><body>
<h1>NLU evaluation / 意图识别评估</h1>
<table class="summary">
<tr><td>generated</td><td>{e(generated)}</td></tr>
<tr><td>method</td><td>{e(evaluation.method)}</td></tr>
<tr><td>pipeline</td><td>{e(" → ".join(evaluation.pipeline))}</td></tr>
<tr><td>examples</td><td>{evaluation.examples} ({len(evaluation.predictions)} tested)</td></tr>
<tr><td>accuracy</td><td>{metrics.accuracy:.3f}</td></tr>
<tr><td>macro F1 / weighted F1</td><td>{metrics.macro_f1:.3f} / {metrics.weighted_f1:.3f}</td></tr>
<tr><td>fallback rate</td><td id="fallback-rate">{metrics.fallback_rate:.1%}</td></tr>
<tr><td>time</td><td>{evaluation.seconds:.0f} s</td></tr>
</table>
<h2>Per intent / 各意图 (worst first)</h2>
<table id="per-intent"><tr><th>intent</th><th>precision</th><th>recall</th><th>F1</th><th>support</th><th>fallbacks</th></tr>
{rows}
</table>
<h2>Most confused pairs / 最易混淆的意图</h2>
<table id="confused"><tr><th>true intent</th><th>predicted as</th><th>count</th><th>examples (confidence)</th></tr>
{pairs}
</table>
<h2>Fell back / 未识别 (first 20)</h2>
<ul>{fallback_items or "<li>none</li>"}</ul>
<h2>Confusion matrix / 混淆矩阵</h2>
<img alt="confusion matrix" src="data:image/png;base64,{picture}">
</body></html>
"""


def write_report(evaluation: Evaluation, out: pathlib.Path) -> pathlib.Path:
    """Write `evaluation-<time>.html` and `latest.html` under `out`; return the timestamped file."""
    metrics = compute_metrics(evaluation)
    moment = now()
    document = render_html(evaluation, metrics, confusion_png(metrics), moment.isoformat(timespec="seconds"))
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"evaluation-{moment.strftime('%Y%m%d-%H%M%S')}.html"
    target.write_text(document, encoding="utf-8")
    shutil.copyfile(target, out / "latest.html")
    return target


# --- command line ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m bot evaluate`."""
    parser.description = "Train the shipped NLU pipeline on part of the data, test on the rest, write an HTML report."
    parser.add_argument("--root", help="project root (default: the repository)")
    parser.add_argument("--config", type=pathlib.Path, help="Rasa config (default: <root>/config.yml)")
    parser.add_argument("--data", type=pathlib.Path, help="NLU data file or folder (default: <root>/data/nlu)")
    parser.add_argument("--out", type=pathlib.Path, help="report folder (default: <var>/reports)")
    parser.add_argument("--folds", type=int, default=1, help="K-fold cross-validation (default 1: one 80/20 split)")
    parser.add_argument("--train-fraction", type=float, default=0.8, help="training share of the hold-out split")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed of the split")


def main(args: argparse.Namespace) -> int:
    """Run the evaluation and print the report's path."""
    from bot.settings import repo_root

    root = pathlib.Path(args.root).resolve() if args.root else repo_root()
    config = args.config or root / "config.yml"
    data = args.data or root / "data" / "nlu"
    if args.out:
        out = args.out
    elif args.root:
        out = root / "var" / "reports"
    else:
        out = pathlib.Path(os.environ.get("FRONTLINE_VAR") or root / "var") / "reports"
    if not config.exists() or not data.exists():
        print(f"error: need {config} and {data}", file=sys.stderr)
        return 2
    if args.folds < 1:
        print("error: --folds must be 1 (one hold-out split) or more (K-fold cross-validation)", file=sys.stderr)
        return 2
    if not 0 < args.train_fraction < 1:
        print("error: --train-fraction must be between 0 and 1", file=sys.stderr)
        return 2
    try:
        evaluation = evaluate(config, data, folds=args.folds, train_fraction=args.train_fraction, seed=args.seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = write_report(evaluation, out)
    metrics = compute_metrics(evaluation)
    print(
        f"accuracy {metrics.accuracy:.3f}, macro F1 {metrics.macro_f1:.3f}, fallback rate {metrics.fallback_rate:.1%}"
    )
    print(f"report: {report}")
    return 0
