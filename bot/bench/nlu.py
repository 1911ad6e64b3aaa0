"""`python -m bot bench nlu`: train the NLU part of a config on a TSV file and evaluate it.

The pipeline is trained and run with Rasa's own machinery through the one NLU evaluation path
(`bot.bench.evaluation`, shared with `python -m bot evaluate`), so the figures are those of the components and
config that ship. The splits come from `bot.bench.splits`.

    python -m bot bench nlu --train TRAIN.tsv --test TEST.tsv [--oos-label oos] [--config config.yml]
    python -m bot bench nlu --train TRAIN.tsv --folds 5           # stratified cross-validation
    python -m bot bench nlu --train TRAIN.tsv --holdout 0.2       # split by md5 of the text

`--train` and `--test` accept several files joined with commas (e.g. `train.tsv,oos_train.tsv`).
Progress goes to stderr; the last line on stdout is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import pathlib
import statistics
import sys
import tempfile
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bot.anger.data import DataError
from bot.anger.data import read_tsv as read_tsv_file
from bot.bench import evaluation, splits
from bot.bench.evaluation import FALLBACK_INTENT
from bot.settings import repo_root

logger = logging.getLogger(__name__)

Example = Tuple[str, str]


class InputError(Exception):
    """A problem with the user's input files or options, reported as one line."""


def read_tsv(paths: str) -> List[Example]:
    """Read `text<TAB>label` lines (UTF-8) from one file or several joined with commas.

    Each file is read by `bot.anger.data.read_tsv` (the project's one TSV reader: blank lines and `#` comment
    lines without a tab are skipped).

    Args:
        paths: A path, or several paths separated by commas.

    Returns:
        The (text, label) pairs in file order.

    Raises:
        InputError: A file is missing or unreadable, or a line has no tab, an empty text or an empty label.
    """
    examples: List[Example] = []
    for name in [p for p in paths.split(",") if p.strip()]:
        path = pathlib.Path(name.strip())
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        try:
            examples.extend(read_tsv_file(path))
        except (DataError, OSError) as error:
            raise InputError(str(error)) from error
    if not examples:
        raise InputError(f"{paths}: no examples")
    return examples


def holdout_split(examples: Sequence[Example], fraction: float) -> Tuple[List[Example], List[Example]]:
    """Split deterministically: an example is held out when the md5 bucket of its text is below `fraction`."""
    train, test = splits.md5_holdout([text for text, _ in examples], fraction)
    return [examples[i] for i in train], [examples[i] for i in test]


def stratified_folds(examples: Sequence[Example], folds: int) -> List[Tuple[List[Example], List[Example]]]:
    """Stratified K-fold by `bot.bench.splits` (keys: the texts): (train, test) pairs, one per fold."""
    parts = splits.stratified_folds([y for _, y in examples], [t for t, _ in examples], folds)
    return [
        ([examples[i] for j, part in enumerate(parts) if j != k for i in part], [examples[i] for i in parts[k]])
        for k in range(folds)
    ]


def check_labels(examples: Sequence[Example], what: str) -> None:
    """Raise InputError when the examples carry fewer than two labels."""
    labels = set(label for _, label in examples)
    if len(labels) < 2:
        raise InputError(f"{what}: needs at least two labels, found {len(labels)} ({', '.join(sorted(labels))})")


def figures(gold: Sequence[str], predicted: Sequence[str], oos_label: Optional[str]) -> Dict[str, Any]:
    """Accuracy, macro-F1 and, with an oos label, the in-scope accuracy and out-of-scope recall/precision.

    A fallback (`nlu_fallback`) counts as a prediction of the oos label when `oos_label` is given.
    Macro-F1 averages over the gold labels.
    """
    if oos_label:
        predicted = [oos_label if p == FALLBACK_INTENT else p for p in predicted]
    pairs = list(zip(gold, predicted))
    scored = evaluation.scores(gold, predicted)
    result: Dict[str, Any] = {"accuracy": scored.accuracy, "macro_f1": scored.macro_f1}
    if oos_label:
        in_scope = [(g, p) for g, p in pairs if g != oos_label]
        oos = [(g, p) for g, p in pairs if g == oos_label]
        flagged = [(g, p) for g, p in pairs if p == oos_label]
        result["in_scope_accuracy"] = sum(g == p for g, p in in_scope) / len(in_scope) if in_scope else None
        result["oos_recall"] = sum(p == oos_label for _, p in oos) / len(oos) if oos else None
        result["oos_precision"] = sum(g == oos_label for g, _ in flagged) / len(flagged) if flagged else None
    else:
        result["fallback_rate"] = sum(p == FALLBACK_INTENT for p in predicted) / len(predicted)
    return result


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The command line of the tool."""
    parser = argparse.ArgumentParser(
        prog="python -m bot bench nlu",
        description="Train the NLU part of a Rasa config on a TSV file (text<TAB>label) and evaluate it.",
    )
    parser.add_argument("--train", required=True, help="training TSV (several files: join with commas)")
    parser.add_argument("--test", help="test TSV (several files: join with commas)")
    parser.add_argument("--folds", type=int, help="without --test: stratified K-fold cross-validation")
    parser.add_argument("--holdout", type=float, help="without --test: hold out this fraction (md5 of the text)")
    parser.add_argument("--oos-label", help="label of out-of-scope examples (a fallback counts as this label)")
    parser.add_argument("--config", default=str(repo_root() / "config.yml"), help="Rasa config (default: ours)")
    parser.add_argument("--errors", type=int, default=0, help="print this many misclassified examples on stderr")
    return parser.parse_args(list(argv))


def plan(args: argparse.Namespace) -> List[Tuple[List[Example], List[Example]]]:
    """The (train, test) pairs to run, from the options; raises InputError on bad input."""
    chosen = [name for name in ("test", "folds", "holdout") if getattr(args, name) is not None]
    if len(chosen) != 1:
        raise InputError("give exactly one of --test, --folds K, --holdout F")
    examples = read_tsv(args.train)
    check_labels(examples, args.train)
    if args.test:
        test = read_tsv(args.test)
        return [(examples, test)]
    if args.folds is not None:
        if args.folds < 2:
            raise InputError("--folds must be at least 2")
        smallest = min(Counter(label for _, label in examples).values())
        if smallest < args.folds:
            logger.debug(f"some labels have fewer than {args.folds} examples")
        return stratified_folds(examples, args.folds)
    if not 0.0 < args.holdout < 1.0:
        raise InputError("--holdout must be between 0 and 1")
    train, test = holdout_split(examples, args.holdout)
    if not test:
        raise InputError("--holdout left no test examples")
    check_labels(train, f"{args.train} after the holdout split")
    return [(train, test)]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark; the last stdout line is one JSON object. Returns the exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        runs = plan(args)
        config = pathlib.Path(args.config)
        if not config.is_file():
            raise InputError(f"{config}: no such file")
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    evaluation.quiet_rasa()
    import warnings

    warnings.filterwarnings("ignore")
    gold: List[str] = []
    predicted: List[str] = []
    unfallen: List[str] = []
    texts: List[str] = []
    train_seconds: List[float] = []
    timings: List[float] = []
    n_train: List[int] = []
    with tempfile.TemporaryDirectory(prefix="bench-nlu-") as tmp:
        try:
            evaluation.nlu_config(config, pathlib.Path(tmp))  # refuse a config without a pipeline before training
        except evaluation.ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        for index, (train, test) in enumerate(runs, start=1):
            workdir = pathlib.Path(tmp) / f"run{index}"
            workdir.mkdir()
            print(f"run {index}/{len(runs)}: training on {len(train)} examples "
                  f"({len(set(y for _, y in train))} labels)…", file=sys.stderr, flush=True)
            try:
                with contextlib.redirect_stdout(sys.stderr):  # stdout is for the JSON result only
                    run = evaluation.train_and_parse(
                        config, evaluation.training_data(train), [t for t, _ in test], workdir
                    )
            except Exception as error:  # boundary (CLI main): one line for the user, details at debug level
                logger.debug("training or parsing failed", exc_info=True)
                print(f"error: run {index}: {type(error).__name__}: {error}".splitlines()[0], file=sys.stderr)
                return 1
            times = [parse.ms for parse in run.parses]
            print(f"run {index}/{len(runs)}: trained in {run.train_seconds:.1f} s; parsed {len(test)} examples, "
                  f"p50 {statistics.median(times):.2f} ms", file=sys.stderr, flush=True)
            gold += [y for _, y in test]
            texts += [t for t, _ in test]
            predicted += [parse.intent for parse in run.parses]
            unfallen += [parse.runner_up for parse in run.parses]
            train_seconds.append(run.train_seconds)
            timings += times
            n_train.append(len(train))
    result = figures(gold, predicted, args.oos_label)
    # the classifier alone: its best intent even where the pipeline fell back
    result["accuracy_without_fallback"] = sum(g == p for g, p in zip(gold, unfallen)) / len(gold)
    if args.errors:
        wrong = [(t, g, p) for t, g, p in zip(texts, gold, predicted) if g != p]
        for text, wanted, got in wrong[: args.errors]:
            print(f"  {wanted} -> {got}: {text}", file=sys.stderr)
    result.update(
        {
            "train_seconds": round(sum(train_seconds) / len(train_seconds), 3),
            "parse_ms_p50": round(statistics.median(timings), 3),
            "parse_ms_p95": round(sorted(timings)[int(0.95 * (len(timings) - 1))], 3),
            "n_train": round(sum(n_train) / len(n_train)),
            "n_test": len(gold),
            "runs": len(runs),
            "config": str(config),
        }
    )
    for key in ("accuracy", "accuracy_without_fallback", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision", "fallback_rate"):
        if isinstance(result.get(key), float):
            result[key] = round(result[key], 4)
    print(json.dumps(result, ensure_ascii=False))
    return 0
