"""Every plot renders to PNG on the Agg backend with the expected artists."""

from __future__ import annotations

import io
import subprocess
import sys

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from nllkit import plot
from nllkit.decision import TemperatureScaling, tune_threshold
from nllkit.errors import ConfigurationError, InputShapeError


def _binary(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < 0.35).long()
    p = torch.sigmoid(torch.randn(n, generator=g) * 1.5 + 2.0 * y - 1.0)
    return p, y


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    return data


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_probability_histogram():
    p, y = _binary()
    fig = plot.probability_histogram(p, y, threshold=0.4)
    ax = fig.axes[0]
    assert len(ax.patches) == 100  # 50 bars per class
    assert any(t.startswith("threshold = 0.4") for t in _legend_texts(ax))
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    _png(fig)
    _png(plot.probability_histogram(p.numpy(), y.numpy(), bins=10, log=True))


def test_threshold_curve_marks_optimum_and_bayes():
    p, y = _binary()
    fig = plot.threshold_curve(p, y, "cost", costs={"fp": 1.0, "fn": 3.0})
    ax = fig.axes[0]
    r = tune_threshold(p, y, "cost", costs={"fp": 1.0, "fn": 3.0})
    marker = next(ln for ln in ax.get_lines() if ln.get_marker() == "o")
    assert marker.get_xdata()[0] == pytest.approx(r.threshold)
    assert marker.get_ydata()[0] == pytest.approx(r.score)
    texts = _legend_texts(ax)
    assert any("Bayes threshold" in t and "0.25" in t for t in texts)
    assert ax.get_ylabel() == "expected cost per sample"
    _png(fig)
    fig = plot.threshold_curve(p, y, "f_beta", beta=2.0, min_precision=0.3)
    assert "subject to precision ≥ 0.3" in fig.axes[0].get_title()
    _png(fig)


def test_threshold_curve_thins_huge_curves():
    p, y = _binary(60_000, seed=1)
    fig = plot.threshold_curve(p, y, "f1")
    curve = fig.axes[0].get_lines()[0]
    assert len(curve.get_xdata()) <= 20_002
    _png(fig)


def test_reliability_diagram_before_after():
    g = torch.Generator().manual_seed(2)
    z = torch.randn(1000, 3, generator=g, dtype=torch.float64) * 1.5
    y = torch.multinomial(torch.softmax(z, 1), 1, generator=g).squeeze(1)
    logits = 3 * z
    ts = TemperatureScaling().fit(logits, y)
    fig = plot.reliability_diagram(torch.softmax(logits, 1), y, ts.predict_proba(logits))
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 1 and len(bars[0]) == 15
    texts = _legend_texts(ax)
    assert any(t.startswith("uncalibrated (ECE") for t in texts)
    assert any(t.startswith("calibrated (ECE") for t in texts)
    _png(fig)
    p, yb = _binary()
    _png(plot.reliability_diagram(p, yb, kind="positive", n_bins=10))


def test_pr_and_roc_curves():
    p, y = _binary()
    fig = plot.precision_recall_curve(p, y, threshold=0.5)
    ax = fig.axes[0]
    assert any(t.startswith("AP = ") for t in _legend_texts(ax))
    assert len(ax.get_lines()) == 3  # curve, base rate, operating point
    _png(fig)
    fig = plot.roc_curve(p, y, threshold=0.5)
    ax = fig.axes[0]
    assert any(t.startswith("AUC = ") for t in _legend_texts(ax))
    assert len(ax.get_lines()) == 3
    _png(fig)


def test_confusion_matrix_binary_and_multiclass():
    p, y = _binary()
    fig = plot.confusion_matrix(p, y, threshold=0.4)
    ax = fig.axes[0]
    assert len(ax.images) == 1 and len(ax.texts) == 4
    counts = sorted(int(t.get_text()) for t in ax.texts)
    assert sum(counts) == len(y)
    _png(fig)
    probs = torch.softmax(torch.randn(50, 3), 1)
    fig = plot.confusion_matrix(
        probs, torch.randint(0, 3, (50,)), normalize="true", class_names=["a", "b", "c"]
    )
    assert len(fig.axes[0].texts) == 9
    _png(fig)
    with pytest.raises(ConfigurationError, match="normalize"):
        plot.confusion_matrix(p, y, normalize="rows")
    with pytest.raises(ConfigurationError, match="3 names"):
        plot.confusion_matrix(probs, torch.zeros(50), class_names=["a"])


def test_draws_on_given_axes():
    p, y = _binary()
    fig = Figure()
    axes = fig.subplots(2, 3)
    fns = [
        lambda ax: plot.probability_histogram(p, y, 0.5, ax=ax),
        lambda ax: plot.threshold_curve(p, y, ax=ax),
        lambda ax: plot.reliability_diagram(p, y, ax=ax),
        lambda ax: plot.precision_recall_curve(p, y, ax=ax),
        lambda ax: plot.roc_curve(p, y, ax=ax),
        lambda ax: plot.confusion_matrix(p, y, ax=ax),
    ]
    for fn, ax in zip(fns, axes.flat):
        assert fn(ax) is fig
        assert ax.has_data()
    _png(fig)


def test_errors():
    with pytest.raises(InputShapeError, match="one label at a time"):
        plot.probability_histogram(torch.rand(4, 2), torch.zeros(4, 2))
    with pytest.raises(InputShapeError, match="one curve per figure"):
        plot.threshold_curve(torch.rand(6, 2), torch.tensor([[0, 1]] * 3 + [[1, 0]] * 3))


def test_import_nllkit_does_not_import_matplotlib():
    code = "import sys, nllkit, nllkit.decision; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
