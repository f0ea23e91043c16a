"""Tune a decision threshold on predicted probabilities: an exact sweep over every score."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..errors import ConfigurationError, InputShapeError, InputValueError, NLLKitWarning
from ._arrays import as_tensor, binary_targets, check_probs, is_numpy, to_output
from .metrics import METRICS, ConfusionCurve, _sweep, _weights

__all__ = ["ThresholdResult", "bayes_threshold", "tune_threshold"]

_ALL_METRICS = (*METRICS, "cost")
# Metrics that are undefined (or constant) unless both classes occur in the targets.
_NEEDS_BOTH = {"f1", "f_beta", "precision", "recall", "mcc", "youden", "balanced_accuracy"}
# Scores within this relative distance of the best count as tied (MCC's square roots and weighted
# sums round differently for mathematically equal values).
_TIE_RTOL = 1e-12


@dataclass(frozen=True)
class ThresholdResult:
    """What :func:`tune_threshold` found.

    Unpacks as ``threshold, score, thresholds, scores = result``.

    Attributes:
        threshold: the chosen threshold (predict positive when ``prob >= threshold``); a float for
            1-D input, an ``(L,)`` array (numpy or tensor, like the input) for ``(N, L)`` input.
        score: the metric at ``threshold`` (for ``metric="cost"``: the expected cost per sample,
            which was minimised); a float, or ``(L,)``.
        thresholds: every candidate threshold, ascending (distinct scores, then one value just
            above the largest score meaning "nothing positive"); a list of L arrays for ``(N, L)``.
        scores: the metric at each candidate (``-inf`` where a constraint fails; ``+inf`` for
            ``cost``); a list of L arrays for ``(N, L)``.
        metric: the metric's name.
        bayes_threshold: for ``metric="cost"``, Elkan's cost-optimal threshold
            ``c_fp / (c_fp + c_fn)`` for calibrated probabilities; ``None`` otherwise.
    """

    threshold: Any
    score: Any
    thresholds: Any
    scores: Any
    metric: str = "f1"
    bayes_threshold: float | None = field(default=None)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.threshold, self.score, self.thresholds, self.scores))


def bayes_threshold(costs: Mapping[str, float]) -> float:
    """Elkan's cost-optimal threshold ``c_fp / (c_fp + c_fn)`` for calibrated probabilities.

    Predicting positive costs ``(1 − p)·c_fp`` in expectation and predicting negative costs
    ``p·c_fn``; the first is no larger exactly when ``p >= c_fp / (c_fp + c_fn)``.

    Example:
        >>> bayes_threshold({"fp": 1.0, "fn": 4.0})
        0.2

    References:
        Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
    """
    c_fp, c_fn = _check_costs(costs)
    return c_fp / (c_fp + c_fn)


def _check_costs(costs: Mapping[str, float] | None) -> tuple[float, float]:
    fix = 'pass costs={"fp": c_fp, "fn": c_fn}, two non-negative numbers, not both 0'
    if costs is None or not isinstance(costs, Mapping):
        raise ConfigurationError(
            argument="costs",
            expected='a mapping {"fp": c_fp, "fn": c_fn}',
            found=repr(costs),
            fix=fix,
        )
    if set(costs) != {"fp", "fn"}:
        raise ConfigurationError(
            argument="costs", expected='exactly the keys "fp" and "fn"', found=repr(costs), fix=fix
        )
    c_fp, c_fn = float(costs["fp"]), float(costs["fn"])
    finite = math.isfinite(c_fp) and math.isfinite(c_fn)
    if not finite or c_fp < 0 or c_fn < 0 or c_fp + c_fn == 0:
        raise ConfigurationError(
            argument="costs",
            expected="finite, non-negative costs, not both 0",
            found=repr(costs),
            fix=fix,
        )
    return c_fp, c_fn


def _check_options(
    metric: str,
    beta: float | None,
    costs: Mapping[str, float] | None,
    min_precision: float | None,
    min_recall: float | None,
) -> float:
    if metric not in _ALL_METRICS:
        raise ConfigurationError(
            argument="metric",
            expected=f"one of {', '.join(_ALL_METRICS)}",
            found=repr(metric),
            fix="pick a metric from the list",
        )
    if metric == "f_beta":
        if beta is None or not (beta > 0 and math.isfinite(beta)):
            raise ConfigurationError(
                argument="beta",
                expected="a positive number for metric='f_beta'",
                found=repr(beta),
                fix="pass beta=2.0 to weigh recall more, beta=0.5 to weigh precision more",
            )
    elif beta is not None:
        raise ConfigurationError(
            argument="beta",
            expected="beta only with metric='f_beta'",
            found=f"beta={beta!r} with metric={metric!r}",
            fix="pass metric='f_beta' (or drop beta)",
        )
    if metric == "cost":
        _check_costs(costs)
    elif costs is not None:
        raise ConfigurationError(
            argument="costs",
            expected="costs only with metric='cost'",
            found=f"costs with metric={metric!r}",
            fix="pass metric='cost' (or drop costs)",
        )
    for name, value in (("min_precision", min_precision), ("min_recall", min_recall)):
        if value is not None and not (0.0 <= value <= 1.0):
            raise ConfigurationError(
                argument=name,
                expected="a number in [0, 1]",
                found=repr(value),
                fix=f"pass e.g. {name}=0.9",
            )
    if metric == "precision" and min_recall is None:
        raise ConfigurationError(
            argument="min_recall",
            expected="a recall constraint for metric='precision'",
            found="None (unconstrained precision is maximised by the single top score)",
            fix="pass min_recall=..., e.g. tune_threshold(p, y, 'precision', min_recall=0.9)",
        )
    if metric == "recall" and min_precision is None:
        raise ConfigurationError(
            argument="min_precision",
            expected="a precision constraint for metric='recall'",
            found="None (unconstrained recall is 1 at the lowest threshold)",
            fix="pass min_precision=..., e.g. tune_threshold(p, y, 'recall', min_precision=0.9)",
        )
    return 1.0 if beta is None else float(beta)


def _scores(
    c: ConfusionCurve,
    metric: str,
    beta: float,
    costs: Mapping[str, float] | None,
    min_precision: float | None,
    min_recall: float | None,
) -> tuple[Tensor, Tensor]:
    """(reported scores, objective to maximise) at every candidate."""
    if metric == "cost":
        c_fp, c_fn = _check_costs(costs)
        total = c.tp + c.fp + c.fn + c.tn
        # Expected cost per sample: (c_fp·fp + c_fn·fn) / N, minimised.
        reported = (c_fp * c.fp + c_fn * c.fn) / torch.where(total > 0, total, 1.0)
        objective = -reported
    else:
        reported = METRICS[metric](c.tp, c.fp, c.fn, c.tn, beta)
        objective = reported
    feasible = torch.ones_like(reported, dtype=torch.bool)
    if min_precision is not None:
        feasible &= METRICS["precision"](c.tp, c.fp, c.fn, c.tn, beta) >= min_precision
    if min_recall is not None:
        feasible &= METRICS["recall"](c.tp, c.fp, c.fn, c.tn, beta) >= min_recall
    if min_precision is not None or min_recall is not None:
        bad = float("inf") if metric == "cost" else -float("inf")
        reported = torch.where(feasible, reported, torch.full_like(reported, bad))
        objective = torch.where(feasible, objective, torch.full_like(objective, -float("inf")))
    return reported, objective


def _best(objective: Tensor) -> Tensor:
    """Index of the best candidate: the lowest threshold among ties (see tune_threshold)."""
    best = objective.max()
    tol = _TIE_RTOL * torch.clamp(best.abs(), min=1.0)
    # Thresholds are ascending, so the first index within the tolerance is the lowest threshold.
    return torch.argmax((objective >= best - tol).to(torch.uint8))


def _tune_1d(
    p: Tensor,
    y: Tensor,
    w: Tensor | None,
    metric: str,
    beta: float,
    costs: Mapping[str, float] | None,
    min_precision: float | None,
    min_recall: float | None,
    label: str,
) -> tuple[float, float, Tensor, Tensor]:
    c = _sweep(p, y, w)
    if metric in _NEEDS_BOTH:
        n_pos, n_neg = float(c.tp[0] + c.fn[0]), float(c.fp[0] + c.tn[0])
        if n_pos == 0 or n_neg == 0:
            only = "negatives" if n_pos == 0 else "positives"
            raise InputValueError(
                argument="targets",
                expected=f"both classes (metric={metric!r} is undefined or constant otherwise)",
                found=f"only {only}{label}",
                fix="tune on a validation set that contains both classes (a stratified split), "
                "or use metric='cost' or 'accuracy', which are defined for one class",
            )
    if c.thresholds.numel() == 2:
        warnings.warn(
            f"`probs`{label}: every probability equals {float(c.thresholds[0]):.6g}, so a "
            "threshold can only choose between 'all positive' and 'all negative'. Check that "
            "the model is trained and its outputs are not saturated.",
            NLLKitWarning,
            stacklevel=3,
        )
    reported, objective = _scores(c, metric, beta, costs, min_precision, min_recall)
    if not bool(torch.isfinite(objective).any()):
        from .metrics import _div

        best_p = float(_div(c.tp, c.tp + c.fp).max())
        best_r = float(_div(c.tp, c.tp + c.fn)[:-1].max())
        raise InputValueError(
            argument="min_precision" if min_precision is not None else "min_recall",
            expected="a constraint that some threshold satisfies",
            found=f"min_precision={min_precision}, min_recall={min_recall}{label}; "
            f"the best achievable are precision {best_p:.4g}, recall {best_r:.4g} "
            "(not necessarily at the same threshold)",
            fix="relax the constraint or improve the model",
        )
    i = _best(objective)
    return float(c.thresholds[i]), float(reported[i]), c.thresholds, reported


def tune_threshold(
    probs: Any,
    targets: Any,
    metric: str = "f1",
    *,
    beta: float | None = None,
    costs: Mapping[str, float] | None = None,
    min_precision: float | None = None,
    min_recall: float | None = None,
    sample_weight: Any = None,
) -> ThresholdResult:
    r"""The threshold on ``probs`` that maximises a metric, by an exact sweep over every score.

    The rule is **positive when** ``prob >= threshold``. Every distinct value of ``probs`` is a
    candidate, plus one just above the largest (nothing predicted positive): one sort and
    cumulative counts give the confusion matrix at all of them (``O(n log n)``, see
    :mod:`nllkit.decision.metrics`), and the metric is evaluated on all of them at once in float64.
    No grid: the optimum is exact on the given data.

    Metrics (``tp, fp, fn, tn`` at the threshold; 0/0 counts as 0):

    * ``"f1"``: ``2tp / (2tp + fp + fn)``; ``"f_beta"`` with ``beta=``:
      ``(1+β²)tp / ((1+β²)tp + β²fn + fp)``;
    * ``"precision"`` subject to ``min_recall=``; ``"recall"`` subject to ``min_precision=``
      (the constraint is required);
    * ``"mcc"``: Matthews correlation; ``"youden"``: ``TPR − FPR``;
      ``"balanced_accuracy"``: ``(TPR + TNR) / 2``; ``"accuracy"``;
    * ``"cost"`` with ``costs={"fp": c_fp, "fn": c_fn}``: the expected cost per sample
      ``(c_fp·fp + c_fn·fn) / N``, *minimised*. The result also carries Elkan's threshold
      ``c_fp / (c_fp + c_fn)`` (``bayes_threshold``), which is optimal when the probabilities are
      calibrated: a large gap between the two says they are not.

    ``min_precision`` / ``min_recall`` constrain any metric: failing candidates score ``-inf``
    (``+inf`` for cost) and an error says so if none is left.

    **Ties**: candidates whose objective is within a relative 1e-12 of the best are tied, and the
    *lowest* threshold among them wins (the most inclusive rule, like the first maximum of
    scikit-learn's ascending grid).

    **Degenerate input**: NaN, values outside [0, 1], labels other than 0/1 and empty input raise
    :class:`~nllkit.errors.InputValueError` (or a shape/type error). Targets with one class only
    raise for every metric except ``"accuracy"`` and ``"cost"`` (which are defined then). Constant
    scores give two candidates (all positive or none) and a :class:`~nllkit.errors.NLLKitWarning`.
    The result is never a silent default such as 0.5.

    Shapes: ``probs`` and ``targets`` are ``(N,)``, or ``(N, L)`` to tune one threshold per label
    (multi-label); ``sample_weight`` is ``(N,)``. Torch tensors stay on their device (CPU or GPU);
    only the result is read back. Numpy inputs give numpy arrays.

    Args:
        probs: predicted probabilities of the positive class (apply ``sigmoid`` to logits first).
        targets: labels in {0, 1} (bool, int or float) of the same shape.
        metric: the metric to optimise (see above).
        beta: ``β`` of ``"f_beta"``.
        costs: ``{"fp": c_fp, "fn": c_fn}`` for ``"cost"``.
        min_precision: keep only thresholds with precision at least this.
        min_recall: keep only thresholds with recall at least this.
        sample_weight: optional ``(N,)`` non-negative weights (weighted counts).

    Returns:
        A :class:`ThresholdResult` ``(threshold, score, thresholds, scores)``.

    Example:
        >>> import torch
        >>> p = torch.tensor([0.1, 0.3, 0.35, 0.6, 0.8, 0.9])
        >>> y = torch.tensor([0, 0, 1, 0, 1, 1])
        >>> r = tune_threshold(p, y, "f1")
        >>> r.threshold, round(r.score, 4)
        (0.3499999940395355, 0.8571)
        >>> r = tune_threshold(p, y, "cost", costs={"fp": 1.0, "fn": 5.0})
        >>> r.threshold, round(r.score, 4), round(r.bayes_threshold, 4)
        (0.3499999940395355, 0.1667, 0.1667)

    References:
        Lipton, Elkan, Naryanaswamy, "Optimal Thresholding of Classifiers to Maximize F1
        Measure", ECML PKDD 2014. Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
    """
    beta_v = _check_options(metric, beta, costs, min_precision, min_recall)
    p = as_tensor(probs, "probs")
    if p.dim() not in (1, 2):
        raise InputShapeError(
            argument="probs",
            expected="(N,) for a binary problem or (N, L) for L labels",
            found=f"shape {tuple(p.shape)}",
            fix="flatten extra dimensions, e.g. probs.reshape(-1) with targets.reshape(-1); "
            "for multiclass (rows summing to 1) predict with argmax (Thresholder(multiclass=True))",
        )
    check_probs(p)
    y = binary_targets(as_tensor(targets, "targets").to(p.device), p.shape)
    w = _weights(sample_weight, p.shape[:1], p.device)
    bayes = bayes_threshold(costs) if metric == "cost" and costs is not None else None
    numpy = is_numpy(probs)
    args = (metric, beta_v, costs, min_precision, min_recall)
    if p.dim() == 1:
        t, s, ts, ss = _tune_1d(p, y, w, *args, label="")
        return ThresholdResult(t, s, to_output(ts, numpy), to_output(ss, numpy), metric, bayes)
    ts_list, ss_list, best_t, best_s = [], [], [], []
    for j in range(p.shape[1]):
        t, s, ts, ss = _tune_1d(p[:, j], y[:, j], w, *args, label=f" (label {j})")
        best_t.append(t)
        best_s.append(s)
        ts_list.append(to_output(ts, numpy))
        ss_list.append(to_output(ss, numpy))
    thr = torch.tensor(best_t, dtype=torch.float64)
    sc = torch.tensor(best_s, dtype=torch.float64)
    if not numpy:
        thr, sc = thr.to(p.device), sc.to(p.device)
    return ThresholdResult(
        to_output(thr, numpy), to_output(sc, numpy), ts_list, ss_list, metric, bayes
    )
