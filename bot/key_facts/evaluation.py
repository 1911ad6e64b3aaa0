"""Precision and recall of the key-fact extractor on messages labelled by hand (`data/eval/key_facts/*.txt`).

A labelled file has one message per line, each fact marked `[as written](kind)`; `#` starts a comment line.
A predicted fact counts as right when its kind and its text (spaces at its ends aside) are those of a labelled
fact of the same message, each labelled fact matched once.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import time
from collections import Counter
from typing import Callable, Dict, List, Sequence, Tuple

from bot.key_facts import KINDS
from bot.key_facts.extract import KeyFact, extract
from bot.settings import repo_root

LABELLED_DIR = ("data", "eval", "key_facts")
_MARK_RE = re.compile(r"\[([^\]]+)\]\((\w+)\)")


class LabelError(ValueError):
    """A labelled file has a line that cannot be read (the message names the file and line)."""


@dataclasses.dataclass(frozen=True)
class Labelled:
    """One labelled message: its text and its facts as (kind, text)."""

    text: str
    facts: Tuple[Tuple[str, str], ...]


def parse_line(line: str) -> Labelled:
    """The message and facts of one marked-up line.

    Raises:
        LabelError: a kind is not one of `bot.key_facts.KINDS`.
    """
    facts = []
    for match in _MARK_RE.finditer(line):
        if match.group(2) not in KINDS:
            raise LabelError(f"unknown kind {match.group(2)!r} (known: {', '.join(KINDS)})")
        facts.append((match.group(2), match.group(1).strip()))
    return Labelled(_MARK_RE.sub(lambda m: m.group(1), line), tuple(facts))


def read_labelled(path: pathlib.Path) -> List[Labelled]:
    """The labelled messages of one file.

    Raises:
        LabelError: naming the file and line of a bad label.
    """
    messages = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            messages.append(parse_line(line.strip()))
        except LabelError as error:
            raise LabelError(f"{path}:{number}: {error}") from None
    return messages


def labelled_files() -> Dict[str, pathlib.Path]:
    """The shipped labelled sets: language -> file."""
    folder = repo_root().joinpath(*LABELLED_DIR)
    return {path.stem: path for path in sorted(folder.glob("*.txt"))}


@dataclasses.dataclass
class Scores:
    """Counts per kind and what they make."""

    true_positives: Counter = dataclasses.field(default_factory=Counter)
    false_positives: Counter = dataclasses.field(default_factory=Counter)
    false_negatives: Counter = dataclasses.field(default_factory=Counter)
    mistakes: List[str] = dataclasses.field(default_factory=list)

    def precision(self, kind: str) -> float:
        """Right predictions of `kind` over all predictions of it (1.0 when there were none)."""
        predicted = self.true_positives[kind] + self.false_positives[kind]
        return self.true_positives[kind] / predicted if predicted else 1.0

    def recall(self, kind: str) -> float:
        """Labelled facts of `kind` found over all labelled facts of it (1.0 when there were none)."""
        labelled = self.true_positives[kind] + self.false_negatives[kind]
        return self.true_positives[kind] / labelled if labelled else 1.0

    def as_dict(self) -> Dict[str, Dict[str, float]]:
        """{kind: {precision, recall, labelled, predicted}} (rounded to 3 places)."""
        return {
            kind: {
                "precision": round(self.precision(kind), 3),
                "recall": round(self.recall(kind), 3),
                "labelled": self.true_positives[kind] + self.false_negatives[kind],
                "predicted": self.true_positives[kind] + self.false_positives[kind],
            }
            for kind in KINDS
        }


def score(messages: Sequence[Labelled], extractor: Callable[[str], List[KeyFact]] = extract) -> Scores:
    """Score `extractor` on labelled messages (see the module docstring for what counts as right)."""
    scores = Scores()
    for message in messages:
        expected = Counter(message.facts)
        predicted = Counter((fact.kind, fact.text.strip()) for fact in extractor(message.text))
        right = expected & predicted
        for (kind, _), count in right.items():
            scores.true_positives[kind] += count
        for (kind, text), count in (predicted - right).items():
            scores.false_positives[kind] += count
            scores.mistakes.append(f"extra {kind} {text!r} in {message.text!r}")
        for (kind, text), count in (expected - right).items():
            scores.false_negatives[kind] += count
            scores.mistakes.append(f"missed {kind} {text!r} in {message.text!r}")
    return scores


def milliseconds_per_message(messages: Sequence[Labelled], rounds: int = 5) -> float:
    """Mean time `extract` takes per message, over `rounds` passes (the pipelines built before timing)."""
    extract("warm up 订单 20251103123456")
    started = time.perf_counter()
    for _ in range(rounds):
        for message in messages:
            extract(message.text)
    return (time.perf_counter() - started) * 1000 / max(1, rounds * len(messages))
