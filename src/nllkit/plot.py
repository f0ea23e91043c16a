"""Figures for choosing a decision: probability histograms, threshold curves, reliability diagrams.

Every function takes probabilities and targets (torch tensors on any device, or numpy arrays),
returns a matplotlib :class:`~matplotlib.figure.Figure`, and draws on ``ax=`` when one is given
(otherwise on a new figure). Figures are built with :class:`matplotlib.figure.Figure` directly, not
through ``pyplot``, so they work on any backend (``Agg`` included), are not kept alive by pyplot's
figure manager, and save with ``fig.savefig("name.png")``.

matplotlib is imported when a function here is first called, never by ``import nllkit``.

Example:
    >>> import torch
    >>> from nllkit import plot
    >>> p = torch.tensor([0.1, 0.4, 0.35, 0.8, 0.7, 0.2])
    >>> y = torch.tensor([0, 0, 1, 1, 1, 0])
    >>> fig = plot.threshold_curve(p, y, metric="f1")
    >>> fig.axes[0].get_xlabel()
    'threshold (positive when prob ≥ threshold)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .decision import calibration_report, tune_threshold
from .decision import metrics as _metrics
from .decision._arrays import as_tensor, binary_targets, check_probs
from .errors import ConfigurationError, InputShapeError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "confusion_matrix",
    "precision_recall_curve",
    "probability_histogram",
    "reliability_diagram",
    "roc_curve",
    "threshold_curve",
]

_NEG, _POS, _ACCENT = "#4C72B0", "#DD8452", "#C44E52"
_MAX_POINTS = 20_000


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.5)) -> tuple[Figure, Axes]:
    if ax is not None:
        fig = ax.get_figure()
        return fig, ax  # type: ignore[return-value]
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _np(x: Any) -> np.ndarray:
    return as_tensor(x, "array").detach().cpu().double().numpy()


def _binary(probs: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
    p = as_tensor(probs, "probs")
    if p.dim() != 1:
        raise InputShapeError(
            argument="probs",
            expected="(N,) positive-class probabilities",
            found=f"shape {tuple(p.shape)}",
            fix="plot one label at a time: probs[:, j], targets[:, j]",
        )
    check_probs(p)
    y = binary_targets(as_tensor(targets, "targets").to(p.device), p.shape)
    return _np(p), y.cpu().numpy()


def _thin(n: int, keep: Sequence[int] = ()) -> np.ndarray:
    """Indices of at most ~_MAX_POINTS evenly spaced points, plus ``keep`` (for huge curves)."""
    if n <= _MAX_POINTS:
        return np.arange(n)
    idx = np.unique(np.r_[np.linspace(0, n - 1, _MAX_POINTS).astype(np.int64), list(keep)])
    return idx.astype(np.int64)


def probability_histogram(
    probs: Any,
    targets: Any,
    threshold: float | None = None,
    *,
    bins: int = 50,
    log: bool = False,
    ax: Axes | None = None,
) -> Figure:
    """Histograms of the predicted probabilities, one per true class, with the threshold drawn.

    A well-separated model puts negatives near 0 and positives near 1; the threshold should sit
    where the two overlap least for the metric you care about (see :func:`threshold_curve`).

    Args:
        probs: ``(N,)`` positive-class probabilities.
        targets: ``(N,)`` 0/1 labels.
        threshold: a threshold to draw (e.g. ``tune_threshold(...).threshold``).
        bins: equal-width bins over [0, 1].
        log: a logarithmic count axis (for rare positives).
        ax: draw on this Axes instead of a new figure.
    """
    p, y = _binary(probs, targets)
    fig, ax = _axes(ax)
    edges = np.linspace(0.0, 1.0, bins + 1).tolist()
    ax.hist(p[~y], bins=edges, alpha=0.6, color=_NEG, label=f"negatives (n={int((~y).sum())})")
    ax.hist(p[y], bins=edges, alpha=0.6, color=_POS, label=f"positives (n={int(y.sum())})")
    if threshold is not None:
        ax.axvline(threshold, color=_ACCENT, ls="--", lw=1.5, label=f"threshold = {threshold:.3g}")
    if log:
        ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel("predicted probability of the positive class")
    ax.set_ylabel("count")
    ax.set_title("Predicted probabilities by true class")
    ax.legend()
    return fig


def threshold_curve(
    probs: Any,
    targets: Any,
    metric: str = "f1",
    *,
    beta: float | None = None,
    costs: Mapping[str, float] | None = None,
    min_precision: float | None = None,
    min_recall: float | None = None,
    sample_weight: Any = None,
    ax: Axes | None = None,
) -> Figure:
    """The metric at every threshold (the exact sweep of ``tune_threshold``), optimum marked.

    With ``metric="cost"`` the curve is the expected cost per sample, and Elkan's Bayes threshold
    ``c_fp / (c_fp + c_fn)`` is drawn too: on calibrated probabilities the two nearly coincide.
    The keyword arguments are those of :func:`~nllkit.decision.tune_threshold`.
    """
    r = tune_threshold(
        probs,
        targets,
        metric,
        beta=beta,
        costs=costs,
        min_precision=min_precision,
        min_recall=min_recall,
        sample_weight=sample_weight,
    )
    if np.ndim(r.threshold) != 0:
        raise InputShapeError(
            argument="probs",
            expected="(N,) probabilities (one curve per figure)",
            found="(N, L) multi-label probabilities",
            fix="plot one label at a time: probs[:, j], targets[:, j]",
        )
    t, s = _np(r.thresholds), _np(r.scores)
    # The last candidate (just above the largest score: nothing positive) is drawn at its value.
    best = int(np.flatnonzero(t == r.threshold)[0])
    idx = _thin(len(t), [best])
    fig, ax = _axes(ax)
    name = f"F{beta:g}" if metric == "f_beta" and beta is not None else metric
    ylabel = "expected cost per sample" if metric == "cost" else name
    finite = np.isfinite(s[idx])
    ax.plot(t[idx][finite], s[idx][finite], drawstyle="steps-post", color=_NEG, label=ylabel)
    ax.plot(
        [r.threshold],
        [r.score],
        "o",
        color=_ACCENT,
        label=f"best: {r.threshold:.3g} ({ylabel} = {r.score:.3g})",
    )
    ax.axvline(r.threshold, color=_ACCENT, ls=":", lw=1)
    if r.bayes_threshold is not None:
        ax.axvline(
            r.bayes_threshold,
            color="0.3",
            ls="--",
            lw=1.2,
            label=f"Bayes threshold c_fp/(c_fp+c_fn) = {r.bayes_threshold:.3g}",
        )
    ax.set_xlim(0, 1)
    ax.set_xlabel("threshold (positive when prob ≥ threshold)")
    ax.set_ylabel(ylabel)
    constraint = []
    if min_precision is not None:
        constraint.append(f"precision ≥ {min_precision:g}")
    if min_recall is not None:
        constraint.append(f"recall ≥ {min_recall:g}")
    suffix = f" subject to {', '.join(constraint)}" if constraint else ""
    ax.set_title(f"{ylabel} against the threshold{suffix}")
    ax.legend()
    return fig


def reliability_diagram(
    probs: Any,
    targets: Any,
    calibrated: Any = None,
    *,
    n_bins: int = 15,
    kind: str = "top_label",
    labels: tuple[str, str] = ("uncalibrated", "calibrated"),
    ax: Axes | None = None,
) -> Figure:
    """Accuracy against confidence per bin (before, and optionally after, calibration).

    Bars show the accuracy in each of ``n_bins`` equal-width confidence bins of ``probs``; the
    diagonal is perfect calibration; bars below it mean over-confidence. ``calibrated`` (the
    probabilities after e.g. :class:`~nllkit.decision.TemperatureScaling`) is drawn as a line.
    The legend gives each ECE. Bins, ECE and ``kind`` are those of
    :func:`~nllkit.decision.calibration_report`.
    """
    before = calibration_report(probs, targets, n_bins, kind=kind)
    fig, ax = _axes(ax, (5.5, 5.0))
    edges = before.bin_edges
    centers, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    acc = np.nan_to_num(before.bin_accuracy, nan=0.0)
    ax.bar(
        centers,
        acc,
        width=width,
        edgecolor="white",
        color=_NEG,
        alpha=0.8,
        label=f"{labels[0]} (ECE = {before.ece:.3f})",
    )
    ax.plot([0, 1], [0, 1], ls="--", color="0.4", lw=1, label="perfect calibration")
    if calibrated is not None:
        after = calibration_report(calibrated, targets, n_bins, kind=kind)
        ok = after.bin_count > 0
        ax.plot(
            after.bin_confidence[ok],
            after.bin_accuracy[ok],
            "o-",
            color=_POS,
            label=f"{labels[1]} (ECE = {after.ece:.3f})",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    what = "positive-class probability" if kind == "positive" else "confidence (top label)"
    ax.set_xlabel(what)
    ax.set_ylabel("fraction of positives" if kind == "positive" else "accuracy")
    ax.set_title("Reliability diagram")
    ax.legend(loc="upper left")
    return fig


def precision_recall_curve(
    probs: Any,
    targets: Any,
    *,
    threshold: float | None = None,
    sample_weight: Any = None,
    ax: Axes | None = None,
) -> Figure:
    """Precision against recall at every threshold, with average precision and the base rate."""
    p, y = _binary(probs, targets)
    prec, rec, _ = (
        _np(a) for a in _metrics.precision_recall_curve(p, y, sample_weight=sample_weight)
    )
    ap = _metrics.average_precision(p, y, sample_weight=sample_weight)
    idx = _thin(len(prec), [len(prec) - 1])
    fig, ax = _axes(ax, (5.5, 5.0))
    ax.plot(rec[idx], prec[idx], drawstyle="steps-post", color=_NEG, label=f"AP = {ap:.3f}")
    ax.axhline(float(y.mean()), ls="--", color="0.4", lw=1, label=f"base rate = {y.mean():.3f}")
    if threshold is not None:
        pred = p >= threshold
        tp = float((pred & y).sum())
        ax.plot(
            [tp / max(float(y.sum()), 1.0)],
            [tp / max(float(pred.sum()), 1.0)],
            "o",
            color=_ACCENT,
            label=f"threshold = {threshold:.3g}",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Precision-recall curve")
    ax.legend(loc="lower left")
    return fig


def roc_curve(
    probs: Any,
    targets: Any,
    *,
    threshold: float | None = None,
    sample_weight: Any = None,
    ax: Axes | None = None,
) -> Figure:
    """True- against false-positive rate at every threshold, with the area under the curve."""
    p, y = _binary(probs, targets)
    fpr, tpr, _ = (_np(a) for a in _metrics.roc_curve(p, y, sample_weight=sample_weight))
    auc = _metrics.roc_auc(p, y, sample_weight=sample_weight)
    idx = _thin(len(fpr), [len(fpr) - 1])
    fig, ax = _axes(ax, (5.5, 5.0))
    ax.plot(fpr[idx], tpr[idx], color=_NEG, label=f"AUC = {auc:.3f}")
    ax.plot([0, 1], [0, 1], ls="--", color="0.4", lw=1, label="chance")
    if threshold is not None:
        pred = p >= threshold
        ax.plot(
            [float((pred & ~y).sum()) / max(float((~y).sum()), 1.0)],
            [float((pred & y).sum()) / max(float(y.sum()), 1.0)],
            "o",
            color=_ACCENT,
            label=f"threshold = {threshold:.3g}",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false-positive rate (1 − specificity)")
    ax.set_ylabel("true-positive rate (recall)")
    ax.set_title("ROC curve")
    ax.legend(loc="lower right")
    return fig


def confusion_matrix(
    probs: Any,
    targets: Any,
    threshold: float = 0.5,
    *,
    normalize: str | None = None,
    class_names: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The confusion matrix of a decision: ``prob >= threshold`` (binary) or the argmax.

    Args:
        probs: ``(N,)`` positive-class probabilities (thresholded), or ``(N, C)`` class
            probabilities (argmax; ``threshold`` is not used).
        targets: ``(N,)`` 0/1 labels or class indices.
        threshold: the binary decision threshold.
        normalize: ``None`` (counts), ``"true"`` (rows sum to 1: recall per class), ``"pred"``
            (columns sum to 1: precision per class) or ``"all"``.
        class_names: tick labels.
        ax: draw on this Axes instead of a new figure.
    """
    if normalize not in (None, "true", "pred", "all"):
        raise ConfigurationError(
            argument="normalize",
            expected="None, 'true', 'pred' or 'all'",
            found=repr(normalize),
            fix="pass normalize='true' for per-class recall",
        )
    p = as_tensor(probs, "probs")
    if p.dim() == 1:
        check_probs(p)
        y = binary_targets(as_tensor(targets, "targets").to(p.device), p.shape).long()
        pred = (p >= threshold).long()
        k = 2
        how = f"prob ≥ {threshold:.3g}"
    elif p.dim() == 2:
        y = as_tensor(targets, "targets").to(p.device).long()
        pred = p.argmax(1)
        k = p.shape[1]
        how = "argmax"
    else:
        raise InputShapeError(
            argument="probs",
            expected="(N,) or (N, C) probabilities",
            found=f"shape {tuple(p.shape)}",
            fix="flatten extra dimensions into N",
        )
    m = _np(_metrics.confusion_matrix(pred, y, num_classes=k))
    if normalize is not None:
        denom = {
            "true": m.sum(1, keepdims=True),
            "pred": m.sum(0, keepdims=True),
            "all": m.sum(),
        }[normalize]
        m = m / np.where(denom == 0, 1, denom)
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ConfigurationError(
            argument="class_names",
            expected=f"{k} names",
            found=f"{len(names)}",
            fix="pass one name per class",
        )
    fig, ax = _axes(ax, (1.2 * k + 3.0, 1.1 * k + 2.4))
    im = ax.imshow(m, cmap="Blues", vmin=0)
    fig.colorbar(im, ax=ax)
    hi = m.max() if m.size else 0
    for i in range(k):
        for j in range(k):
            text = f"{m[i, j]:.2f}" if normalize else f"{int(m[i, j])}"
            color = "white" if hi and m[i, j] > 0.6 * hi else "black"
            ax.text(j, i, text, ha="center", va="center", color=color)
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    norm = f", normalised over {normalize}" if normalize else ""
    ax.set_title(f"Confusion matrix ({how}{norm})")
    return fig
