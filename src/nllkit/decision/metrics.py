"""Decision metrics from one sort: confusion counts at every threshold, and curves built on them.

Sorting the scores once (descending) and taking cumulative sums of the labels gives, for every
distinct score ``t``, the counts of the rule "positive when ``prob >= t``"::

    tp(t) = Σ_{i: p_i >= t} y_i        fp(t) = Σ_{i: p_i >= t} (1 − y_i)
    fn(t) = P − tp(t)                   tn(t) = N − fp(t)

(weighted sums with ``sample_weight``). Tied scores form one group: the count is read at the last
index of each run of equal sorted values, so a threshold never splits a tie. Every metric of
:func:`~nllkit.decision.tune_threshold` is a function of these four counts, evaluated for all
thresholds at once in float64: ``O(n log n)`` for the sort and ``O(n)`` for the rest.

Everything runs on the input's device; numpy inputs give numpy outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigurationError, InputShapeError, InputValueError
from ._arrays import accumulate_dtype, as_tensor, binary_targets, check_probs, is_numpy, to_output

__all__ = [
    "METRICS",
    "ConfusionCurve",
    "average_precision",
    "confusion_curve",
    "confusion_matrix",
    "metric_from_counts",
    "precision_recall_curve",
    "roc_auc",
    "roc_curve",
]


class ConfusionCurve(NamedTuple):
    """Confusion counts at every candidate threshold, thresholds ascending.

    ``thresholds[0]`` is the smallest score (everything predicted positive) and the last entry is
    the smallest representable value above the largest score (nothing predicted positive). Counts
    are float64 (weighted sums with ``sample_weight``).
    """

    thresholds: Tensor
    tp: Tensor
    fp: Tensor
    fn: Tensor
    tn: Tensor


def _weights(sample_weight: Any, shape: torch.Size, device: torch.device) -> Tensor | None:
    if sample_weight is None:
        return None
    w = as_tensor(sample_weight, "sample_weight").to(device)
    if w.shape != shape:
        raise InputShapeError(
            argument="sample_weight",
            expected=f"one weight per sample, shape {tuple(shape)}",
            found=f"{tuple(w.shape)}",
            fix="pass a 1-D array of N non-negative weights",
        )
    if not w.is_floating_point():
        w = w.to(accumulate_dtype(device))
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise InputValueError(
            argument="sample_weight",
            expected="finite, non-negative weights",
            found="a negative, NaN or infinite weight",
            fix="check how the weights were computed",
        )
    return w


_KEY_DTYPES = {
    torch.float64: (torch.int64, torch.int64),
    torch.float32: (torch.int32, torch.int32),
    torch.float16: (torch.int16, torch.int32),
    torch.bfloat16: (torch.int16, torch.int32),
}


def _sorted_scores_and_labels(scores: Tensor, positive: Tensor) -> tuple[Tensor, Tensor]:
    """Scores ascending and their labels, from ONE values-only sort of packed integer keys.

    Non-negative IEEE floats order like their bit patterns read as integers, so the key
    ``(bits(p) << 1) | y`` sorts by score (and, within a tie, negatives first, which no count
    depends on). Sorting keys instead of ``argsort`` + gather needs no index array and no random
    reads: numpy's vectorised sort on the CPU, torch's radix sort on a GPU.
    """
    view_dtype, key_dtype = _KEY_DTYPES.get(scores.dtype, (None, None))
    if view_dtype is None or key_dtype is None:
        s, order = torch.sort(scores)
        return s, positive[order]
    # abs() maps -0.0 to +0.0 (their bit patterns differ); probabilities are checked >= 0.
    bits = scores.abs().view(view_dtype).to(key_dtype)
    key = (bits << 1) | positive.to(key_dtype)
    if key.device.type == "cpu":
        key = torch.from_numpy(np.sort(key.numpy()))
    else:
        key = torch.sort(key).values
    y = (key & 1).to(torch.bool)
    s = (key >> 1).to(view_dtype).view(scores.dtype)
    return s, y


def _sweep(scores: Tensor, positive: Tensor, weight: Tensor | None) -> ConfusionCurve:
    """Counts at every distinct score of a 1-D ``scores`` (checked by the caller)."""
    acc = accumulate_dtype(scores.device)
    n = scores.numel()
    dev = scores.device
    # Exclusive prefix sums with the total appended: below[i] = Σ_{j < i} (sorted index j).
    if weight is None:
        s, y = _sorted_scores_and_labels(scores, positive)
        below = torch.zeros(n + 1, dtype=torch.int64, device=dev)
        torch.cumsum(y, dim=0, out=below[1:])  # integer counts are exact
        below_w = None
    else:
        s, order = torch.sort(scores)
        w = weight[order].to(acc)
        below = torch.zeros(n + 1, dtype=acc, device=dev)
        torch.cumsum(torch.where(positive[order], w, torch.zeros_like(w)), dim=0, out=below[1:])
        below_w = torch.zeros(n + 1, dtype=acc, device=dev)
        torch.cumsum(w, dim=0, out=below_w[1:])
    # First index of each run of tied scores (ascending), plus the sentinel index n: a threshold
    # never splits a tie, and the sentinel is the "nothing positive" candidate.
    first = torch.ones(n + 1, dtype=torch.bool, device=dev)
    torch.ne(s[1:], s[:-1], out=first[1:n])
    starts = torch.nonzero(first).squeeze(1)
    # Counts of "p >= s[a]" = totals minus what lies strictly below index a.
    n_pos = below[-1:].to(acc)
    tp = n_pos - below[starts].to(acc)
    if below_w is None:
        n_neg = n - n_pos
        fp = (n - starts).to(acc) - tp
    else:
        total = below_w[-1:]
        n_neg = total - n_pos
        fp = (total - below_w[starts]) - tp
    thresholds = torch.empty(starts.numel(), dtype=s.dtype, device=dev)
    torch.index_select(s, 0, starts[:-1], out=thresholds[:-1])
    # The sentinel's threshold: the next representable value above the largest score.
    top = s[-1:]
    thresholds[-1:] = torch.nextafter(top, torch.full_like(top, float("inf")))
    return ConfusionCurve(thresholds, tp, fp, n_pos - tp, n_neg - fp)


def confusion_curve(probs: Any, targets: Any, sample_weight: Any = None) -> ConfusionCurve:
    """Confusion counts (tp, fp, fn, tn) of ``prob >= t`` for every distinct ``t``, in one sort.

    Args:
        probs: ``(N,)`` predicted probabilities of the positive class.
        targets: ``(N,)`` labels in {0, 1} (bool, int or float).
        sample_weight: optional ``(N,)`` non-negative weights.

    Returns:
        A :class:`ConfusionCurve`, thresholds ascending (tensors on the input's device, or numpy).

    Example:
        >>> import torch
        >>> c = confusion_curve(torch.tensor([0.1, 0.4, 0.4, 0.8]), torch.tensor([0, 0, 1, 1]))
        >>> c.thresholds
        tensor([0.1000, 0.4000, 0.8000, 0.8000])
        >>> c.tp
        tensor([2., 2., 1., 0.], dtype=torch.float64)
        >>> c.fp
        tensor([2., 1., 0., 0.], dtype=torch.float64)
    """
    p = as_tensor(probs, "probs")
    if p.dim() != 1:
        raise InputShapeError(
            argument="probs",
            expected="a 1-D array of positive-class probabilities",
            found=f"shape {tuple(p.shape)}",
            fix="pass one column at a time (tune_threshold handles (N, L) multi-label input)",
        )
    check_probs(p)
    y = binary_targets(as_tensor(targets, "targets").to(p.device), p.shape)
    w = _weights(sample_weight, p.shape, p.device)
    c = _sweep(p, y, w)
    if is_numpy(probs):
        return ConfusionCurve(*(to_output(t, True) for t in c))
    return c


# --------------------------------------------------------------------------------------------
# Metrics as functions of the counts (vectorised over thresholds; 0/0 is defined as 0)
# --------------------------------------------------------------------------------------------
def _div(a: Tensor, b: Tensor) -> Tensor:
    return torch.where(b > 0, a / torch.where(b > 0, b, torch.ones_like(b)), torch.zeros_like(a))


def _precision(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, beta: float) -> Tensor:
    return _div(tp, tp + fp)


def _recall(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, beta: float) -> Tensor:
    return _div(tp, tp + fn)


def _specificity(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, beta: float) -> Tensor:
    return _div(tn, tn + fp)


def _f_beta(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, beta: float) -> Tensor:
    # F_β = (1 + β²)·tp / ((1 + β²)·tp + β²·fn + fp): the weighted harmonic mean of P and R.
    b2 = beta * beta
    return _div((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp)


def _f1(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, beta: float) -> Tensor:
    return _div(2 * tp, 2 * tp + fn + fp)


def _mcc(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, beta: float) -> Tensor:
    # Matthews: (tp·tn − fp·fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)); 0 when a margin is empty.
    den = torch.sqrt((tp + fp) * (tp + fn)) * torch.sqrt((tn + fp) * (tn + fn))
    return _div(tp * tn - fp * fn, den)


def _youden(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, beta: float) -> Tensor:
    # J = TPR − FPR = sensitivity + specificity − 1.
    return _recall(tp, fp, fn, tn, beta) - _div(fp, fp + tn)


def _balanced_accuracy(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, beta: float) -> Tensor:
    return 0.5 * (_recall(tp, fp, fn, tn, beta) + _specificity(tp, fp, fn, tn, beta))


def _accuracy(tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, beta: float) -> Tensor:
    return _div(tp + tn, tp + fp + fn + tn)


#: The metrics :func:`~nllkit.decision.tune_threshold` maximises (``cost`` is minimised apart).
METRICS: dict[str, Callable[[Tensor, Tensor, Tensor, Tensor, float], Tensor]] = {
    "f1": _f1,
    "f_beta": _f_beta,
    "precision": _precision,
    "recall": _recall,
    "mcc": _mcc,
    "youden": _youden,
    "balanced_accuracy": _balanced_accuracy,
    "accuracy": _accuracy,
}


def metric_from_counts(
    metric: str, tp: Tensor, fp: Tensor, fn: Tensor, tn: Tensor, *, beta: float = 1.0
) -> Tensor:
    """Evaluate a named metric (a key of :data:`METRICS`) from confusion counts, 0/0 → 0.

    Example:
        >>> import torch
        >>> t = lambda v: torch.tensor([v], dtype=torch.float64)
        >>> metric_from_counts("f1", t(3.0), t(1.0), t(1.0), t(5.0))
        tensor([0.7500], dtype=torch.float64)
    """
    if metric not in METRICS:
        raise ConfigurationError(
            argument="metric",
            expected=f"one of {sorted(METRICS)}",
            found=repr(metric),
            fix="pick a metric from the list (or metric='cost' in tune_threshold)",
        )
    return METRICS[metric](tp, fp, fn, tn, beta)


# --------------------------------------------------------------------------------------------
# Curves (scikit-learn's conventions, so results compare one to one)
# --------------------------------------------------------------------------------------------
def precision_recall_curve(
    probs: Any, targets: Any, sample_weight: Any = None
) -> tuple[Any, Any, Any]:
    """Precision and recall at every distinct score, scikit-learn's layout.

    Returns ``(precision, recall, thresholds)``: ``thresholds`` are the distinct scores ascending,
    and ``precision``/``recall`` have one more entry, the end point ``(1, 0)`` (nothing predicted
    positive, precision defined as 1 there as in ``sklearn.metrics.precision_recall_curve``).

    Example:
        >>> import torch
        >>> p, r, t = precision_recall_curve(torch.tensor([0.1, 0.4, 0.35, 0.8]),
        ...                                  torch.tensor([0, 0, 1, 1]))
        >>> p
        tensor([0.5000, 0.6667, 0.5000, 1.0000, 1.0000], dtype=torch.float64)
        >>> r
        tensor([1.0000, 1.0000, 0.5000, 0.5000, 0.0000], dtype=torch.float64)
    """
    c = _curve_torch(probs, targets, sample_weight)
    precision = _div(c.tp, c.tp + c.fp)
    precision[-1] = 1.0
    recall = _div(c.tp, c.tp + c.fn)
    numpy = is_numpy(probs)
    return (
        to_output(precision, numpy),
        to_output(recall, numpy),
        to_output(c.thresholds[:-1], numpy),
    )


def roc_curve(probs: Any, targets: Any, sample_weight: Any = None) -> tuple[Any, Any, Any]:
    """False- and true-positive rates at every distinct score, scikit-learn's layout.

    Returns ``(fpr, tpr, thresholds)`` with thresholds descending, starting at ``inf`` (nothing
    positive), like ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``.

    Example:
        >>> import torch
        >>> fpr, tpr, t = roc_curve(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
        >>> fpr
        tensor([0.0000, 0.0000, 0.5000, 0.5000, 1.0000], dtype=torch.float64)
        >>> tpr
        tensor([0.0000, 0.5000, 0.5000, 1.0000, 1.0000], dtype=torch.float64)
    """
    c = _curve_torch(probs, targets, sample_weight)
    fpr = _div(c.fp, c.fp + c.tn).flip(0)
    tpr = _div(c.tp, c.tp + c.fn).flip(0)
    thr = c.thresholds.flip(0).clone()
    thr[0] = float("inf")
    numpy = is_numpy(probs)
    return to_output(fpr, numpy), to_output(tpr, numpy), to_output(thr, numpy)


def average_precision(probs: Any, targets: Any, sample_weight: Any = None) -> float:
    """Average precision ``Σ_n (R_n − R_{n−1}) P_n`` (the step integral, no interpolation).

    Example:
        >>> import torch
        >>> round(average_precision(torch.tensor([0.1, 0.4, 0.35, 0.8]),
        ...                         torch.tensor([0, 0, 1, 1])), 4)
        0.8333
    """
    c = _curve_torch(probs, targets, sample_weight)
    precision = _div(c.tp, c.tp + c.fp)
    recall = _div(c.tp, c.tp + c.fn)
    # Thresholds ascending means recall descending: steps are recall[i] − recall[i + 1].
    return float(((recall[:-1] - recall[1:]) * precision[:-1]).sum())


def roc_auc(probs: Any, targets: Any, sample_weight: Any = None) -> float:
    """Area under the ROC curve by the trapezoidal rule (ties count one half).

    Example:
        >>> import torch
        >>> roc_auc(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
        0.75
    """
    c = _curve_torch(probs, targets, sample_weight)
    fpr = _div(c.fp, c.fp + c.tn)
    tpr = _div(c.tp, c.tp + c.fn)
    return float(torch.trapezoid(tpr.flip(0), fpr.flip(0)))


def _curve_torch(probs: Any, targets: Any, sample_weight: Any) -> ConfusionCurve:
    p = as_tensor(probs, "probs")
    if p.dim() != 1:
        raise InputShapeError(
            argument="probs",
            expected="a 1-D array of positive-class probabilities",
            found=f"shape {tuple(p.shape)}",
            fix="pass one column (label) at a time",
        )
    check_probs(p)
    y = binary_targets(as_tensor(targets, "targets").to(p.device), p.shape)
    return _sweep(p, y, _weights(sample_weight, p.shape, p.device))


def confusion_matrix(predictions: Any, targets: Any, num_classes: int | None = None) -> Any:
    """Counts ``M[i, j]`` of samples with true class ``i`` predicted as ``j`` (one bincount).

    Example:
        >>> import torch
        >>> confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]))
        tensor([[1, 0, 0],
                [0, 1, 0],
                [0, 1, 1]])
    """
    pred = as_tensor(predictions, "predictions").long()
    y = as_tensor(targets, "targets").to(pred.device).long()
    if pred.shape != y.shape:
        raise InputShapeError(
            argument="targets",
            expected=f"the shape of `predictions` {tuple(pred.shape)}",
            found=f"{tuple(y.shape)}",
            fix="pass one predicted class per target",
        )
    if pred.numel() and (int(pred.min()) < 0 or int(y.min()) < 0):
        raise InputValueError(
            argument="targets",
            expected="class indices >= 0",
            found="a negative index",
            fix="encode classes as 0, 1, ..., K-1",
        )
    k = num_classes
    if k is None:
        k = int(max(int(pred.max()), int(y.max()))) + 1 if pred.numel() else 0
    m = torch.bincount(y.reshape(-1) * k + pred.reshape(-1), minlength=k * k)[: k * k]
    return to_output(m.reshape(k, k), is_numpy(predictions))
