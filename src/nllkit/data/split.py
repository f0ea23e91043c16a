"""A stratified train/validation/test split, the same for every loss of a comparison."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .datasets import DataError

__all__ = ["MIN_PER_CLASS", "Split", "stratified_split"]

#: each class needs this many rows so that train, validation and test all see it
MIN_PER_CLASS = 3


class Split(NamedTuple):
    """Row indices of the three parts (sorted)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def stratified_split(
    labels: np.ndarray, *, val: float = 0.2, test: float = 0.2, seed: int = 0
) -> Split:
    """Split rows into train/validation/test, keeping each label's share in every part.

    Within each label the rows are shuffled with ``seed`` and cut at the fractions (each part gets
    at least one row of each label). Same labels and seed, same split.

    Args:
        labels: one int per row (the class, or any stratum).
        val: fraction for validation.
        test: fraction for test.
        seed: seed of the shuffle.

    Raises:
        DataError: when a label has fewer than :data:`MIN_PER_CLASS` rows.

    Example:
        >>> import numpy as np
        >>> s = stratified_split(np.array([0] * 10 + [1] * 5), seed=0)
        >>> [len(s.train), len(s.val), len(s.test)]
        [9, 3, 3]
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    values, counts = np.unique(labels, return_counts=True)
    if len(labels) < 10 or counts.min() < MIN_PER_CLASS:
        worst = values[counts.argmin()]
        raise DataError(
            argument="data",
            expected=f"at least 10 rows and {MIN_PER_CLASS} rows of each class for a "
            "train/validation/test split",
            found=f"{len(labels)} rows, class {worst!r} with {counts.min()}",
            fix="use a larger table, or merge the rare classes",
        )
    parts: list[list[np.ndarray]] = [[], [], []]
    for v in values:
        idx = np.flatnonzero(labels == v)
        idx = idx[rng.permutation(len(idx))]
        n = len(idx)
        n_test = max(1, round(n * test))
        n_val = max(1, round(n * val))
        n_train = n - n_val - n_test
        parts[0].append(idx[:n_train])
        parts[1].append(idx[n_train : n_train + n_val])
        parts[2].append(idx[n_train + n_val :])
    train, val_, test_ = (np.sort(np.concatenate(p)) for p in parts)
    return Split(train, val_, test_)
