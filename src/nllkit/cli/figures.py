"""The figures of a ``nllkit compare`` report: one four-panel PNG per loss.

Panels: (1) training curves (training loss and validation NLL per epoch, best epoch marked);
(2) histogram of the test probabilities by true class, with the tuned threshold; (3) the
validation metric against the threshold; (4) the reliability diagram before and after temperature
scaling. The reliability bins come from
:func:`nllkit.decision.calibration_report`. Figures are built on a bare :class:`matplotlib.figure.Figure` (no pyplot
state), so nothing opens a window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..decision import calibration_report
from .evaluate import N_BINS, Evaluation

__all__ = ["loss_figure"]


def _curves(ax: Any, train_loss: list[float], val_nll: list[float], best_epoch: int) -> None:
    epochs = np.arange(1, len(train_loss) + 1)
    ax.plot(epochs, train_loss, label="training loss", color="tab:blue")
    ax.plot(epochs, val_nll, label="validation NLL", color="tab:orange")
    if best_epoch:
        ax.axvline(best_epoch, color="gray", ls=":", lw=1, label=f"best epoch {best_epoch}")
    ax.set_xlabel("epoch")
    ax.set_title("training curves")
    ax.legend(fontsize=7)


def _histogram(ax: Any, ev: Evaluation, task: str) -> None:
    p, y = ev.test_probs, ev.test_labels
    bins = np.linspace(0, 1, 26)
    names = ("wrong", "right") if task == "multiclass" else ("y = 0", "y = 1")
    for label, color in ((0, "tab:blue"), (1, "tab:red")):
        ax.hist(p[y == label], bins=bins, alpha=0.55, color=color, label=names[label])
    if isinstance(ev.threshold, float):
        ax.axvline(ev.threshold, color="black", lw=1.2, label=f"tuned {ev.threshold:.3f}")
    if task != "multiclass":
        ax.axvline(0.5, color="gray", ls="--", lw=1, label="0.5")
    if len(p) > 2000:
        ax.set_yscale("log")
    ax.set_xlabel("top-class probability" if task == "multiclass" else "probability of 1")
    ax.set_title("test probabilities")
    ax.legend(fontsize=7)


def _threshold(ax: Any, ev: Evaluation, metric: str) -> None:
    ax.set_title(f"validation {metric} vs threshold")
    if ev.thresholds is None or ev.scores is None:
        ax.text(0.5, 0.5, "multiclass: argmax,\nno threshold", ha="center", va="center")
        ax.set_axis_off()
        return
    t, s = ev.thresholds, ev.scores
    keep = np.isfinite(s) & (t <= 1.0)
    t, s = t[keep], s[keep]
    if len(t) > 4000:  # a segmentation sweeps every pixel: thin it for drawing
        pick = np.unique(np.linspace(0, len(t) - 1, 4000).astype(np.int64))
        t, s = t[pick], s[pick]
    ax.plot(t, s, color="tab:green")
    if isinstance(ev.threshold, float):
        ax.axvline(ev.threshold, color="black", lw=1.2)
    ax.set_xlabel("threshold")
    ax.set_xlim(0, 1)


def _reliability(ax: Any, ev: Evaluation, task: str) -> None:
    ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1)
    cal_labels = ev.test_labels
    for probs, name, color in (
        (ev.test_probs, "before", "tab:red"),
        (ev.test_probs_cal, f"after (T = {ev.temperature:.2f})", "tab:blue"),
    ):
        # binary-like: positive-class bins; multiclass: top-label confidence vs correctness
        b = calibration_report(probs, cal_labels, n_bins=N_BINS, kind="positive")
        ok = b.bin_count > 0
        ax.plot(b.bin_confidence[ok], b.bin_accuracy[ok], "o-", ms=3, color=color, label=name)
    ax.set_xlabel("predicted probability" if task != "multiclass" else "confidence")
    ax.set_ylabel("observed frequency")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("reliability (test)")
    ax.legend(fontsize=7)


def loss_figure(
    path: Path,
    title: str,
    task: str,
    metric: str,
    train_loss: list[float],
    val_nll: list[float],
    best_epoch: int,
    ev: Evaluation,
) -> None:
    """Draw the four panels of one loss and save them as a PNG at ``path``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(14, 3.3), dpi=80)
    axes = fig.subplots(1, 4)
    _curves(axes[0], train_loss, val_nll, best_epoch)
    _histogram(axes[1], ev, task)
    _threshold(axes[2], ev, metric)
    _reliability(axes[3], ev, task)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png")
