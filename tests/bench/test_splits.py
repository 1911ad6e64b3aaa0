"""The one split (`bot.bench.splits`): stratified, deterministic, and the bench's published splits unchanged."""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from typing import Dict, List, Sequence, Tuple

import pytest

from bot.bench import evaluation, splits


def _examples(seed: int) -> List[Tuple[str, str]]:
    rng = random.Random(seed)
    counts = {"refund": 23, "order": 17, "greet": 5, "oos": 41, "rare": 2}
    examples = [(f"{label} text {i} {rng.random():.6f}", label) for label, n in counts.items() for i in range(n)]
    rng.shuffle(examples)
    return examples


def _bench_folds_before(examples: Sequence[Tuple[str, str]], folds: int) -> List[List[Tuple[str, str]]]:
    """The bench's stratified K-fold as it was before the splits were unified (the published figures' split)."""
    by_label: Dict[str, List[Tuple[str, str]]] = {}
    for example in examples:
        by_label.setdefault(example[1], []).append(example)
    assignment: List[List[Tuple[str, str]]] = [[] for _ in range(folds)]
    offset = 0
    for label in sorted(by_label):
        for example in sorted(by_label[label], key=lambda e: hashlib.md5(e[0].encode("utf-8")).hexdigest()):
            assignment[offset % folds].append(example)
            offset += 1
    return assignment


@pytest.mark.parametrize("seed, folds", [(1, 5), (2, 3), (3, 10)])
def test_folds_keyed_by_text_are_the_benchs_former_folds(seed: int, folds: int) -> None:
    examples = _examples(seed)
    parts = splits.stratified_folds([y for _, y in examples], [t for t, _ in examples], folds)
    assert [[examples[i] for i in part] for part in parts] == _bench_folds_before(examples, folds)


def test_folds_partition_and_spread_every_label() -> None:
    examples = _examples(4)
    labels = [y for _, y in examples]
    parts = splits.stratified_folds(labels, [t for t, _ in examples], 5)
    assert sorted(i for part in parts for i in part) == list(range(len(examples)))
    for label, n in Counter(labels).items():
        per_fold = [sum(labels[i] == label for i in part) for part in parts]
        assert max(per_fold) - min(per_fold) <= 1 and sum(per_fold) == n


@pytest.mark.parametrize("share", [0.2, 0.25, 0.3, 0.5])
def test_holdout_tests_the_share_of_every_label(share: float) -> None:
    examples = _examples(5)
    labels = [y for _, y in examples]
    train, test = splits.stratified_holdout(labels, [t for t, _ in examples], share)
    assert sorted(train + test) == list(range(len(examples)))
    for label, n in Counter(labels).items():
        tested = sum(labels[i] == label for i in test)
        assert math.floor(n * share) <= tested <= math.ceil(n * share), label
    assert abs(len(test) - share * len(examples)) < 1


def test_holdout_of_one_kth_is_the_last_of_k_folds() -> None:
    examples = _examples(6)
    labels, keys = [y for _, y in examples], [t for t, _ in examples]
    train, test = splits.stratified_holdout(labels, keys, 0.2)
    folds = splits.stratified_folds(labels, keys, 5)
    assert test == folds[4] and sorted(train) == sorted(i for part in folds[:4] for i in part)


def test_the_split_depends_on_the_examples_not_their_order() -> None:
    examples = _examples(7)
    reordered = list(reversed(examples))
    def tested(items: Sequence[Tuple[str, str]]) -> List[Tuple[str, str]]:
        _, test = splits.stratified_holdout([y for _, y in items], [t for t, _ in items], 0.2)
        return sorted(items[i] for i in test)
    assert tested(examples) == tested(reordered)


def test_the_seed_changes_the_split_and_no_seed_keys_by_the_text() -> None:
    texts = [f"text {i}" for i in range(200)]
    labels = ["a", "b"] * 100
    assert splits.seeded_keys(texts, None) == texts
    by_seed = {seed: splits.stratified_holdout(labels, splits.seeded_keys(texts, seed), 0.2)[1] for seed in (1, 2, 42)}
    assert by_seed[1] != by_seed[2] != by_seed[42]
    assert by_seed[42] == splits.stratified_holdout(labels, splits.seeded_keys(texts, 42), 0.2)[1]


def test_md5_holdout_is_not_stratified_and_keeps_input_order() -> None:
    texts = [f"text number {i}" for i in range(1000)]
    train, test = splits.md5_holdout(texts, 0.2)
    assert test == sorted(test) and train == sorted(train) and not set(train) & set(test)
    assert all(splits.md5_bucket(texts[i]) < 0.2 for i in test)
    assert all(splits.md5_bucket(texts[i]) >= 0.2 for i in train)


def test_scores_match_the_definitions() -> None:
    gold = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "b", "nlu_fallback", "b", "a", "c"]
    scored = evaluation.scores(gold, predicted)
    # per gold label: F1 = 2tp / (2tp + fp + fn)
    f1 = {"a": 2 / (2 + 1 + 2), "b": 2 / (2 + 1 + 1), "c": 1.0}
    assert scored.accuracy == pytest.approx(3 / 6)
    assert scored.macro_f1 == pytest.approx(sum(f1.values()) / 3)
    assert scored.weighted_f1 == pytest.approx((3 * f1["a"] + 2 * f1["b"] + f1["c"]) / 6)
    assert [(label, support) for label, _, _, _, support in scored.per_label] == [("a", 3), ("b", 2), ("c", 1)]
