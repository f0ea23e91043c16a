"""Which task a target is, through the likelihoods: binary, multiclass or multi-label.

The choice is :func:`nllkit.likelihoods.likelihood_for`'s (one source of truth for "which
distribution fits these targets"): Bernoulli is binary, Categorical multiclass, MultiLabel
multi-label. Any other likelihood (Poisson for counts, Gaussian or Gamma for reals, ...) is refused
with its reason: ``nllkit compare`` compares classification losses.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..likelihoods import likelihood_for
from .datasets import DataError

__all__ = ["TaskInfo", "infer_task"]

_TASK_OF = {"Bernoulli": "binary", "Categorical": "multiclass", "MultiLabel": "multilabel"}


class TaskInfo(NamedTuple):
    """The task, the likelihood's class name, and likelihood_for's reason."""

    task: str
    likelihood: str
    reason: str


def infer_task(y: np.ndarray, *, max_classes: int = 20) -> TaskInfo:
    """The task of targets ``y``: ``(N,)`` labels or an ``(N, L)`` 0/1 matrix.

    Args:
        y: the targets (numbers; string labels must be encoded as 0..K-1 first).
        max_classes: the most integer labels still read as classes (``likelihood_for``'s).

    Raises:
        DataError: when the likelihood for ``y`` is not a classification one.

    Example:
        >>> import numpy as np
        >>> infer_task(np.array([0, 1, 1, 0])).task
        'binary'
        >>> infer_task(np.array([0, 2, 1, 2])).likelihood
        'Categorical'
    """
    y = np.asarray(y)
    if y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0):
        y = y.astype(np.int64)  # integer-valued floats read as the integers they are
    choice = likelihood_for(y, max_classes=max_classes)
    name = type(choice.likelihood).__name__
    if name not in _TASK_OF:
        raise DataError(
            argument="--target",
            expected="class labels (binary or multiclass) or 0/1 columns (multi-label)",
            found=f"targets whose likelihood is {name} ({choice.reason})",
            fix="nllkit compare compares classification losses: pick a label column, or recode "
            "the labels as 0..K-1 (or as strings)",
        )
    return TaskInfo(_TASK_OF[name], name, choice.reason)
