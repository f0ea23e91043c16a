"""The figures of a ``nllkit compare`` report: one four-panel PNG per loss.

Panels: (1) training curves (training loss and validation NLL per epoch, raw and after
temperature scaling, best epoch marked);
(2) :func:`nllkit.plot.probability_histogram` of the test probabilities with the tuned threshold;
(3) :func:`nllkit.plot.threshold_curve` of the validation metric (where the threshold was tuned);
(4) :func:`nllkit.plot.reliability_diagram` of the test set before and after temperature
scaling. Multi-label labels and segmentation pixels are pooled; for multiclass the probability
is the top-class confidence and "positive" means a right prediction. The figure is a bare
:class:`matplotlib.figure.Figure` (no pyplot state), so nothing opens a window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import plot
from .evaluate import N_BINS, Evaluation

__all__ = ["loss_figure"]


def _curves(
    ax: Any,
    train_loss: list[float],
    val_nll: list[float],
    val_nll_calibrated: list[float],
    best_epoch: int,
) -> None:
    epochs = np.arange(1, len(train_loss) + 1)
    ax.plot(epochs, train_loss, label="training loss", color="#4C72B0")
    ax.plot(epochs, val_nll, label="validation NLL", color="#DD8452")
    if val_nll_calibrated:
        ax.plot(
            epochs, val_nll_calibrated, label="validation NLL, calibrated", color="#55A868", ls="--"
        )
    if best_epoch:
        ax.axvline(best_epoch, color="0.4", ls=":", lw=1, label=f"best epoch {best_epoch}")
    ax.set_xlabel("epoch")
    ax.set_title("Training curves")
    ax.legend()


def loss_figure(
    path: Path,
    title: str,
    task: str,
    metric: str,
    train_loss: list[float],
    val_nll: list[float],
    val_nll_calibrated: list[float],
    best_epoch: int,
    ev: Evaluation,
) -> None:
    """Draw the four panels of one loss and save them as a PNG at ``path``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(18, 4.2), dpi=80, layout="constrained")
    axes = fig.subplots(1, 4)
    _curves(axes[0], train_loss, val_nll, val_nll_calibrated, best_epoch)
    threshold = ev.threshold if isinstance(ev.threshold, float) else None
    plot.probability_histogram(
        ev.test_probs, ev.test_labels, threshold, log=len(ev.test_probs) > 5000, ax=axes[1]
    )
    if task == "multiclass":
        axes[1].set_xlabel("top-class probability (positives: right predictions)")
        axes[2].text(0.5, 0.5, "multiclass: the argmax decides,\nno threshold", ha="center")
        axes[2].set_axis_off()
    else:
        plot.threshold_curve(ev.val_probs, ev.val_labels, metric, ax=axes[2])
        axes[2].set_title(f"validation {metric} against the threshold")
    plot.reliability_diagram(
        ev.test_probs,
        ev.test_labels,
        ev.test_probs_cal,
        n_bins=N_BINS,
        kind="positive",
        labels=("before", f"after, T = {ev.temperature:.3g}"),
        ax=axes[3],
    )
    for ax in axes:
        ax.title.set_fontsize(10)
        if ax.get_legend() is not None:
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, format="png")
