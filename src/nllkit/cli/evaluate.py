"""Deciding and scoring for ``nllkit compare``: threshold, temperature, and the test metrics.

For each trained model:

1. the decision threshold is tuned on the *validation* probabilities for ``--metric``
   (:func:`nllkit.decision.tune_threshold`; one per label for multi-label, none for multiclass,
   which predicts the argmax);
2. a temperature is fitted on the *validation* logits (temperature scaling: ``logits / T``
   minimising the validation NLL);
3. the *test* set is scored: NLL, accuracy, F1 at 0.5 and at the tuned threshold, AUROC, Brier,
   ECE before and after calibration, and Dice/IoU per image for segmentation.

Binary metrics of a segmentation are computed over all test pixels; Dice and IoU per image and
then averaged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..decision import TemperatureScaling, calibration_report, tune_threshold
from ..decision.metrics import roc_auc
from ..likelihoods import Likelihood

__all__ = ["TUNABLE_METRICS", "Evaluation", "evaluate", "fit_temperature"]

#: the ``--metric`` values (tune_threshold's metrics that need no extra argument)
TUNABLE_METRICS = ("f1", "mcc", "youden", "balanced_accuracy", "accuracy")
N_BINS = 15


@dataclass
class Evaluation:
    """Test metrics, plus what the figures need."""

    metrics: dict[str, Any]
    threshold: float | list[float] | None
    temperature: float
    note: str = ""  # why calibration was skipped, if it was
    # flattened "score, label" pairs for the figures (positive-class or top-label probability)
    test_probs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    test_labels: np.ndarray = field(default_factory=lambda: np.zeros(0))
    test_probs_cal: np.ndarray = field(default_factory=lambda: np.zeros(0))
    val_probs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    val_labels: np.ndarray = field(default_factory=lambda: np.zeros(0))


def fit_temperature(task: str, logits: Tensor, targets: Tensor) -> tuple[float, str]:
    """The temperature fitted on validation, and a note (empty unless the fit was skipped).

    :class:`nllkit.decision.TemperatureScaling` on ``(N,)`` binary logits (multi-label labels and
    segmentation pixels are flattened: one temperature for all) or ``(N, C)`` logits. When the
    validation set has no error at all (every example on the right side of 0, or its class the
    argmax), the NLL of ``logits / T`` keeps falling as ``T → 0``: the fit has no minimum, and
    ``T = 1`` is kept (with a note) instead of a degenerate, over-confident temperature.
    """
    z = logits.detach().double()
    if task == "multiclass":
        y = targets.long()
        errors = int((z.argmax(dim=1) != y).sum())
    else:
        z, y = z.reshape(-1), targets.reshape(-1).long()
        errors = int(((z > 0).long() != y).sum())
    if errors == 0:
        return 1.0, "no validation errors: temperature scaling has no minimum; T = 1 kept"
    t = TemperatureScaling().fit(z, y).temperature_
    return (float(t), "") if t is not None else (1.0, "")


def _calibration(probs: np.ndarray, targets: np.ndarray, kind: str) -> tuple[float, float]:
    r = calibration_report(probs, targets, n_bins=N_BINS, kind=kind)
    return float(r.ece), float(r.brier)


def _f1(pred: np.ndarray, y: np.ndarray) -> float:
    tp = float(np.sum(pred & y))
    denom = float(np.sum(pred) + np.sum(y))
    return 2 * tp / denom if denom else 0.0


def _per_image_overlap(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    axes = tuple(range(1, pred.ndim))
    inter = (pred & y).sum(axis=axes).astype(np.float64)
    total = (pred.sum(axis=axes) + y.sum(axis=axes)).astype(np.float64)
    union = total - inter
    dice = np.where(total > 0, 2 * inter / np.where(total > 0, total, 1), 1.0)
    iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 1.0)
    return float(dice.mean()), float(iou.mean())


def _probs(task: str, logits: Tensor) -> Tensor:
    return torch.softmax(logits, dim=1) if task == "multiclass" else torch.sigmoid(logits)


def evaluate(
    task: str,
    likelihood: Likelihood,
    val_logits: Tensor,
    val_y: Tensor,
    test_logits: Tensor,
    test_y: Tensor,
    metric: str = "f1",
) -> Evaluation:
    """Tune on validation, calibrate on validation, score on test (see the module docstring)."""
    val_logits, test_logits = val_logits.double(), test_logits.double()
    temperature, note = fit_temperature(task, val_logits, val_y)
    m: dict[str, Any] = {
        "nll": float(likelihood.nll(test_logits, test_y.to(test_logits.dtype)))
        if task != "multiclass"
        else float(likelihood.nll(test_logits, test_y)),
    }
    cal_logits = test_logits / temperature
    m["nll_calibrated"] = float(
        likelihood.nll(cal_logits, test_y if task == "multiclass" else test_y.double())
    )
    p_val = _probs(task, val_logits).numpy()
    p_test = _probs(task, test_logits).numpy()
    p_cal = _probs(task, cal_logits).numpy()
    yv, yt = val_y.numpy(), test_y.numpy()

    if task == "multiclass":
        k = p_test.shape[1]
        pred = p_test.argmax(axis=1)
        m["accuracy"] = float(np.mean(pred == yt))
        f1s = [_f1(pred == c, yt == c) for c in range(k)]
        m["f1_macro"] = float(np.mean(f1s))
        m["f1_at_0.5"] = None
        m["f1_tuned"] = None
        aucs = [roc_auc(p_test[:, c], (yt == c).astype(np.int64)) for c in range(k)]
        m["auroc"] = float(np.mean(aucs))
        m["ece"], m["brier"] = _calibration(p_test, yt, "top_label")
        m["ece_calibrated"], m["brier_calibrated"] = _calibration(p_cal, yt, "top_label")
        conf, conf_cal = p_test.max(axis=1), p_cal.max(axis=1)
        correct = (pred == yt).astype(np.int64)
        return Evaluation(
            metrics=m,
            threshold=None,
            temperature=temperature,
            note=note,
            test_probs=conf,
            test_labels=correct,
            test_probs_cal=conf_cal,
            val_probs=p_val.max(axis=1),
            val_labels=(p_val.argmax(axis=1) == yv).astype(np.int64),
        )

    # binary-like: binary, multi-label (per label), segmentation (per pixel)
    yv_i, yt_i = yv.astype(np.int64), yt.astype(np.int64)
    if task == "multilabel":
        res = tune_threshold(p_val, yv_i, metric)
        thr_arr = np.asarray(res.threshold, dtype=np.float64)  # one per label
        threshold: float | list[float] = [float(t) for t in thr_arr]
        tuned = p_test >= thr_arr[None, :]
    else:
        res = tune_threshold(p_val.ravel(), yv_i.ravel(), metric)
        threshold = float(res.threshold)
        tuned = p_test >= threshold
    at_half = p_test >= 0.5
    yt_b = yt_i.astype(bool)
    m["threshold"] = threshold
    m["accuracy"] = float(np.mean(at_half == yt_b))
    m["accuracy_tuned"] = float(np.mean(tuned == yt_b))
    m["f1_at_0.5"] = _f1(at_half.ravel(), yt_b.ravel())
    m["f1_tuned"] = _f1(tuned.ravel(), yt_b.ravel())
    if task == "multilabel":
        m["auroc"] = float(
            np.mean([roc_auc(p_test[:, j], yt_i[:, j]) for j in range(p_test.shape[1])])
        )
    else:
        m["auroc"] = roc_auc(p_test.ravel(), yt_i.ravel())
    m["ece"], m["brier"] = _calibration(p_test.ravel(), yt_i.ravel(), "positive")
    m["ece_calibrated"], m["brier_calibrated"] = _calibration(
        p_cal.ravel(), yt_i.ravel(), "positive"
    )
    if task == "segmentation":
        m["dice_at_0.5"], m["iou_at_0.5"] = _per_image_overlap(at_half, yt_b)
        m["dice_tuned"], m["iou_tuned"] = _per_image_overlap(tuned, yt_b)
    return Evaluation(
        metrics=m,
        threshold=threshold,
        temperature=temperature,
        note=note,
        test_probs=p_test.ravel(),
        test_labels=yt_i.ravel(),
        test_probs_cal=p_cal.ravel(),
        val_probs=p_val.ravel(),
        val_labels=yv_i.ravel(),
    )
