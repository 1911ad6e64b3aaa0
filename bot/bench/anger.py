"""`python -m bot bench anger`: precision, recall and false alarms of the anger detector on a labelled TSV.

    python -m bot bench anger --test FILE.tsv --positive LABEL[,LABEL…] [--train FILE.tsv] [--model M.tar.gz]
                              [--threshold T] [--only LABEL[,LABEL…]] [--limit N]

Without `--train` it evaluates the detector shipped in the trained assistant (the newest `models/*.tar.gz`, or
`--model`) as it is; a message counts as flagged when its score reaches the escalation threshold of
`settings.yml` (the point at which the assistant hands over). With `--train` it first trains a fresh detector
on that file (the listed labels become `angry`, all others `other`) and flags at 0.5, the classifier's own
decision boundary. `--threshold` overrides either. `--only negative` keeps only the test examples with that
label: with no positive examples left, `false_alarm_rate` is the share of calm messages flagged.

Progress goes to stderr; the last stdout line is one JSON object: `precision`, `recall`, `f1`,
`false_alarm_rate` (flagged negatives / negatives), `n`, `ms_per_message` (scoring time, one message at a time),
plus `threshold`, `mode`, `positives`, `negatives`. Bad input: one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import pathlib
import sys
import tarfile
import tempfile
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bot.anger.data import DataError, read_tsv

logger = logging.getLogger(__name__)

RETRAIN_THRESHOLD = 0.5
# The method used with --train: the shipped detector's features (character 1–2-grams across the text, word
# unigrams, no cues), binary labels, logistic regression over naive-Bayes-scaled features (NBSVM-style).
RETRAIN_OPTIONS: Dict[str, Any] = {
    "classifier": "nblr",
    "C": 8.0,
    "char_analyzer": "char",
    "char_ngrams": (1, 2),
    "cue_weight": 0.0,
    "word_weight": 1,
}


class BenchError(Exception):
    """Bad input for the benchmark (reported as one line, exit code 2)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot bench anger", description="Evaluate the anger detector on a labelled TSV file."
    )
    parser.add_argument("--test", required=True, help="TSV file of text<TAB>label lines to evaluate on")
    parser.add_argument("--positive", required=True, help="comma-separated labels that count as angry")
    parser.add_argument("--train", help="retrain a fresh detector on this TSV file first")
    parser.add_argument("--model", help="trained assistant (.tar.gz); default: the newest models/*.tar.gz")
    parser.add_argument("--threshold", type=float, help="score at which a message is flagged")
    parser.add_argument("--limit", type=int, help="evaluate on the first N test examples only")
    parser.add_argument(
        "--only",
        help="comma-separated labels: evaluate on test examples with these labels only (false-alarm checks)",
    )
    return parser


def latest_model(models_dir: pathlib.Path) -> pathlib.Path:
    """The newest `*.tar.gz` in `models_dir`.

    Raises:
        BenchError: there is none.
    """
    archives = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not archives:
        raise BenchError(f"no trained model in {models_dir}: run `make train` or pass --model")
    return archives[-1]


def load_shipped_detector(archive: pathlib.Path, workdir: pathlib.Path) -> Any:
    """Unpack a trained assistant and load its `AngerDetector` (nothing else of the model is loaded).

    Raises:
        BenchError: the archive is missing, unreadable, or has no AngerDetector.
    """
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.shared.exceptions import RasaException
    from tarsafe import TarSafeException

    from bot.nlu.anger import AngerDetector

    if not archive.is_file():
        raise BenchError(f"{archive}: no such model archive")
    try:
        storage, metadata = LocalModelStorage.from_model_archive(workdir, archive)
    except (tarfile.TarError, TarSafeException, OSError, ValueError, KeyError, TypeError, RasaException) as error:
        # not a tar archive, unreadable, bad or missing metadata, a model of another Rasa version
        raise BenchError(f"{archive}: cannot unpack the model: {error}") from error
    for name, node in metadata.predict_schema.nodes.items():
        if node.uses is AngerDetector or getattr(node.uses, "__name__", "") == AngerDetector.__name__:
            if node.resource is None:
                continue
            context = ExecutionContext(metadata.predict_schema, metadata.model_id)
            detector = AngerDetector.load(dict(node.config), storage, node.resource, context)
            if detector.model is None:
                raise BenchError(f"{archive}: the AngerDetector in node {name} holds no trained model")
            return detector
    raise BenchError(f"{archive}: the model has no AngerDetector in its pipeline")


def measure(
    scorer: Any, examples: Sequence[Tuple[str, str]], positives: Sequence[str], threshold: float
) -> Dict[str, Any]:
    """Score every example one at a time and compute the figures.

    Args:
        scorer: a function from a list of texts to a list of scores.
        examples: `(text, label)` pairs.
        positives: labels of the positive class.
        threshold: score at which a message is flagged.

    Returns:
        The figures printed as JSON.
    """
    truth = [label in positives for _, label in examples]
    started = time.perf_counter()
    scores: List[float] = []
    for index, (text, _) in enumerate(examples, start=1):
        scores.append(float(scorer([text])[0]))
        if index % 500 == 0:
            print(f"scored {index}/{len(examples)}", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    flagged = [score >= threshold for score in scores]
    tp = sum(t and f for t, f in zip(truth, flagged))
    fp = sum((not t) and f for t, f in zip(truth, flagged))
    fn = sum(t and not f for t, f in zip(truth, flagged))
    negatives = sum(not t for t in truth)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "false_alarm_rate": round(fp / negatives, 4) if negatives else 0.0,
        "n": len(examples),
        "ms_per_message": round(elapsed * 1000 / max(len(examples), 1), 3),
        "threshold": threshold,
        "positives": len(examples) - negatives,
        "negatives": negatives,
    }


def _escalation_threshold() -> float:
    from bot.escalation import escalation_settings
    from bot.settings import load_settings

    return float(escalation_settings(load_settings())["anger_threshold"])


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Run the benchmark described by parsed arguments and return its figures.

    Every input is checked before the first progress line, so bad input gives exactly one line on stderr.
    """
    from bot.settings import repo_root

    positives = [label.strip() for label in args.positive.split(",") if label.strip()]
    if not positives:
        raise BenchError("--positive needs at least one label")
    if args.limit is not None and args.limit < 1:
        raise BenchError("--limit must be at least 1")
    test = read_tsv(args.test)
    if args.only:
        keep = {label.strip() for label in args.only.split(",") if label.strip()}
        test = [(text, label) for text, label in test if label in keep]
        if not test:
            raise BenchError(f"{args.test}: no examples labelled {sorted(keep)}")
    test = test[: args.limit]
    if not test:
        raise BenchError(f"{args.test}: no examples")

    if args.train:
        from bot.anger.model import AngerModel

        train = read_tsv(args.train)
        labels = ["angry" if label in positives else "other" for _, label in train]
        if "angry" not in labels or "other" not in labels:
            raise BenchError(
                f"{args.train}: needs examples labelled {positives} and examples with other labels"
            )
        print(f"test: {len(test)} examples from {args.test}", file=sys.stderr, flush=True)
        print(f"training on {len(train)} examples from {args.train}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        model = AngerModel(**RETRAIN_OPTIONS).fit([text for text, _ in train], labels)
        print(f"trained in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        threshold = RETRAIN_THRESHOLD if args.threshold is None else args.threshold
        figures = measure(model.scores, test, positives, threshold)
        figures["mode"] = "retrained"
        return figures

    archive = pathlib.Path(args.model) if args.model else latest_model(repo_root() / "models")
    with tempfile.TemporaryDirectory() as workdir, contextlib.redirect_stderr(io.StringIO()) as noise:
        try:
            detector = load_shipped_detector(archive, pathlib.Path(workdir))
        finally:
            logger.debug("While loading the model: %s", noise.getvalue())
    threshold = _escalation_threshold() if args.threshold is None else args.threshold
    print(f"test: {len(test)} examples from {args.test}", file=sys.stderr, flush=True)
    print(f"loaded the anger detector of {archive}", file=sys.stderr, flush=True)
    figures = measure(detector.model.scores, test, positives, threshold)
    figures["mode"] = "shipped"
    figures["model"] = str(archive)
    return figures


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of `python -m bot bench anger`; returns the exit code."""
    # Loading a Rasa model imports TensorFlow and friends: keep their start-up chatter off stderr.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")
    parser = _parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        print("error: --threshold must be between 0 and 1", file=sys.stderr)
        return 2
    try:
        figures = run(args)
    except (BenchError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
