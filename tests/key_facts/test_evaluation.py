"""Precision and recall per kind on the labelled sets (data/eval/key_facts), held to the figures measured.

Measured 2026-12-07 with `python -m bot bench key_facts` (docs/nlu.md); each floor is the measured figure
rounded down to two places, so any rule change that loses a fact, or finds a wrong one, fails here.
"""

from __future__ import annotations

import pytest

from bot.key_facts import KINDS
from bot.key_facts.evaluation import (
    LabelError,
    labelled_files,
    milliseconds_per_message,
    parse_line,
    read_labelled,
    score,
)
from bot.key_facts.extract import KeyFact

# language -> kind -> (precision floor, recall floor)
FLOORS = {
    "zh": {"order_number": (1.0, 0.92), "tracking_number": (1.0, 1.0), "amount": (1.0, 0.95),
           "date": (1.0, 0.88), "phone": (1.0, 1.0)},
    "en": {"order_number": (1.0, 0.90), "tracking_number": (1.0, 1.0), "amount": (1.0, 0.90),
           "date": (1.0, 0.94), "phone": (1.0, 1.0)},
}


def test_both_languages_have_a_labelled_set_of_sixty_messages_or_more_with_negatives() -> None:
    files = labelled_files()
    assert set(files) == {"zh", "en"}
    for path in files.values():
        messages = read_labelled(path)
        assert len(messages) >= 60
        assert sum(1 for m in messages if not m.facts) >= 10  # negatives: times, counts, other numbers
        assert {kind for m in messages for kind, _ in m.facts} == set(KINDS)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_precision_and_recall_per_kind_hold_their_measured_floors(language) -> None:
    scores = score(read_labelled(labelled_files()[language]))
    below = {
        kind: (round(scores.precision(kind), 3), round(scores.recall(kind), 3))
        for kind, (precision, recall) in FLOORS[language].items()
        if scores.precision(kind) < precision or scores.recall(kind) < recall
    }
    assert not below, f"{below}; mistakes: {scores.mistakes}"


def test_the_scoring_catches_an_extractor_that_guesses() -> None:
    messages = read_labelled(labelled_files()["en"])

    def every_number_is_a_phone(text: str):
        import re

        return [KeyFact("phone", m.start(), m.end(), m.group()) for m in re.finditer(r"[0-9]+", text)]

    scores = score(messages, every_number_is_a_phone)
    assert scores.precision("phone") < 0.2
    assert scores.recall("order_number") == 0.0


def test_a_label_with_an_unknown_kind_is_refused_with_its_place(tmp_path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("# header\nmy [123](orderno)\n", encoding="utf-8")
    with pytest.raises(LabelError, match=r"bad.txt:2: unknown kind 'orderno'"):
        read_labelled(bad)
    assert parse_line("paid [$5](amount) [today](date)").facts == (("amount", "$5"), ("date", "today"))


def test_a_message_takes_a_few_milliseconds_at_most() -> None:
    messages = read_labelled(labelled_files()["zh"]) + read_labelled(labelled_files()["en"])
    # measured about 1 ms per message (docs/nlu.md); 10 ms leaves room for a busy shared machine
    assert milliseconds_per_message(messages, rounds=2) < 10.0
