"""The one way labelled examples are split for evaluation: a stratified deal, ordered by md5.

Labels are taken in sorted order; within a label, examples are ordered by the md5 of their key (the text, or
the seed and the text) and dealt out in turn, the count running on from one label to the next. An example's
position `p` in this deal decides where it goes:

- `stratified_folds(labels, keys, k)`: fold `p % k`;
- `stratified_holdout(labels, keys, share)`: the test part when `floor((p + 1) * share) > floor(p * share)`,
  i.e. every `1 / share`-th example dealt: with `share = 1 / k` it is fold `k - 1` of `k`.

So every label is spread evenly (each fold or test part gets `floor` or `ceil` of its share of each label),
and the split depends only on the examples, not on the order they were read in or on the machine. Used by
`python -m bot bench nlu --folds K` (keys: the texts, as in every published figure) and by
`python -m bot evaluate` (keys: the seed and the text).

`md5_holdout` is the bench's other split, not stratified: it holds out the examples whose md5 bucket is below
the fraction (the public BANKING77 figures use it).
"""

from __future__ import annotations

import fractions
import hashlib
import logging
from typing import Dict, List, Optional, Sequence, Tuple

logger = logging.getLogger(__name__)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def seeded_keys(texts: Sequence[str], seed: Optional[int]) -> List[str]:
    """The deal keys of texts: the texts themselves without a seed, else the seed and the text."""
    return list(texts) if seed is None else [f"{seed}\n{text}" for text in texts]


def deal(labels: Sequence[str], keys: Sequence[str]) -> List[int]:
    """The examples' indices in the order they are dealt (see the module docstring).

    Args:
        labels: each example's label.
        keys: each example's key (usually its text); equal keys keep their input order.

    Returns:
        Every index once, in deal order.
    """
    by_label: Dict[str, List[int]] = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    order: List[int] = []
    for label in sorted(by_label):
        order += sorted(by_label[label], key=lambda index: _md5(keys[index]))
    return order


def stratified_folds(labels: Sequence[str], keys: Sequence[str], folds: int) -> List[List[int]]:
    """K stratified folds.

    Args:
        labels: each example's label.
        keys: each example's key (see `deal`).
        folds: how many folds (at least 1).

    Returns:
        The indices of each fold, in deal order.
    """
    parts: List[List[int]] = [[] for _ in range(folds)]
    for position, index in enumerate(deal(labels, keys)):
        parts[position % folds].append(index)
    return parts


def stratified_holdout(labels: Sequence[str], keys: Sequence[str], test_share: float) -> Tuple[List[int], List[int]]:
    """A stratified split into a training part and a test part of about `test_share` of each label.

    Args:
        labels: each example's label.
        keys: each example's key (see `deal`).
        test_share: the share to test on, between 0 and 1 (read as a fraction: 0.2 is 1/5).

    Returns:
        The training indices and the test indices, each in deal order.
    """
    share = fractions.Fraction(test_share).limit_denominator(1000)
    train: List[int] = []
    test: List[int] = []
    for position, index in enumerate(deal(labels, keys)):
        (test if (position + 1) * share // 1 > position * share // 1 else train).append(index)
    return train, test


def md5_bucket(text: str) -> float:
    """A deterministic number in [0, 1) from the md5 of the text."""
    return int(_md5(text)[:8], 16) / 2**32


def md5_holdout(texts: Sequence[str], fraction: float) -> Tuple[List[int], List[int]]:
    """Not stratified: an example is held out when the md5 bucket of its text is below `fraction`.

    Returns:
        The training indices and the test indices, each in input order.
    """
    test = [index for index, text in enumerate(texts) if md5_bucket(text) < fraction]
    held = set(test)
    return [index for index in range(len(texts)) if index not in held], test
