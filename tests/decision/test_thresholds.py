"""tune_threshold against a brute-force float64 reference, scikit-learn, and its error paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nllkit.decision import ThresholdResult, bayes_threshold, tune_threshold
from nllkit.decision.metrics import confusion_curve
from nllkit.errors import ConfigurationError, InputShapeError, InputValueError, NLLKitWarning

from ._brute import brute_tune

sklearn_metrics = pytest.importorskip("sklearn.metrics")

METRIC_CASES = [
    ("f1", {}),
    ("f_beta", {"beta": 2.0}),
    ("f_beta", {"beta": 0.5}),
    ("precision", {"min_recall": 0.6}),
    ("recall", {"min_precision": 0.7}),
    ("mcc", {}),
    ("youden", {}),
    ("balanced_accuracy", {}),
    ("accuracy", {}),
    ("cost", {"costs": {"fp": 1.0, "fn": 3.0}}),
    ("f1", {"min_precision": 0.5}),
]


def _data(seed: int, n: int, *, ties: bool, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < 0.4).long()
    y[0], y[1] = 0, 1
    z = torch.randn(n, generator=g, dtype=torch.float64) + 1.2 * y
    p = torch.sigmoid(z)
    if ties:
        p = torch.round(p * 8) / 8  # at most 9 distinct values: heavy ties
    return p.to(dtype), y


def _brute_kwargs(kwargs):
    out = dict(kwargs)
    if "beta" not in out:
        out["beta"] = 1.0
    return out


@pytest.mark.parametrize("metric,kwargs", METRIC_CASES)
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force(metric, kwargs, ties, seed):
    p, y = _data(seed, 150, ties=ties)
    r = tune_threshold(p, y, metric, **kwargs)
    bt, bs, bts, bss = brute_tune(p.numpy(), y.numpy(), metric, **_brute_kwargs(kwargs))
    assert r.threshold == bt
    assert r.score == pytest.approx(bs, abs=1e-12)
    np.testing.assert_array_equal(r.thresholds.numpy(), bts.astype(np.float32))
    np.testing.assert_allclose(r.scores.numpy(), bss, atol=1e-12)
    # The rule really is prob >= threshold: recompute the metric from the predictions.
    assert r.thresholds.dtype == p.dtype


@pytest.mark.parametrize("metric,kwargs", METRIC_CASES[:6] + METRIC_CASES[9:10])
def test_weighted_matches_brute_force(metric, kwargs):
    p, y = _data(3, 120, ties=True, dtype=torch.float64)
    w = torch.rand(120, generator=torch.Generator().manual_seed(9), dtype=torch.float64) * 3
    r = tune_threshold(p, y, metric, sample_weight=w, **kwargs)
    bt, bs, _, bss = brute_tune(p.numpy(), y.numpy(), metric, w=w.numpy(), **_brute_kwargs(kwargs))
    assert r.threshold == bt
    assert r.score == pytest.approx(bs, abs=1e-9)
    np.testing.assert_allclose(r.scores.numpy(), bss, atol=1e-9)


def test_integer_weights_equal_repetition():
    p, y = _data(4, 60, ties=True, dtype=torch.float64)
    w = torch.randint(0, 4, (60,), generator=torch.Generator().manual_seed(1))
    r_w = tune_threshold(p, y, "mcc", sample_weight=w)
    r_rep = tune_threshold(p.repeat_interleave(w), y.repeat_interleave(w), "mcc")
    assert r_w.threshold == r_rep.threshold
    assert r_w.score == pytest.approx(r_rep.score, abs=1e-12)


@pytest.mark.filterwarnings("ignore::nllkit.errors.NLLKitWarning")
@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=2, max_size=40),
    st.lists(st.booleans(), min_size=2, max_size=40),
    st.sampled_from(["f1", "mcc", "youden", "accuracy", "balanced_accuracy"]),
)
def test_property_tie_heavy(levels, labels, metric):
    n = min(len(levels), len(labels))
    p = np.array(levels[:n], dtype=np.float64) / 6
    y = np.array(labels[:n], dtype=np.int64)
    if y.min() == y.max():
        y[0] = 1 - y[0]
    r = tune_threshold(p, y, metric)
    bt, bs, bts, _ = brute_tune(p, y, metric)
    assert r.threshold == bt
    assert r.score == pytest.approx(bs, abs=1e-12)
    np.testing.assert_array_equal(r.thresholds, bts)
    assert isinstance(r.thresholds, np.ndarray)  # numpy in, numpy out


def test_tie_rule_lowest_threshold():
    # thresholds 0.2 and 0.4 both give accuracy 3/4; the lowest wins (documented rule).
    p = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    y = torch.tensor([0, 1, 0, 1])
    r = tune_threshold(p, y, "accuracy")
    tied = r.thresholds[r.scores == r.scores.max()]
    assert len(tied) >= 2
    assert r.threshold == float(tied.min()) == 0.2


def test_ties_are_never_split():
    p = torch.tensor([0.5, 0.5, 0.5, 0.5, 0.9])
    y = torch.tensor([1, 0, 1, 0, 1])
    r = tune_threshold(p, y, "f1")
    assert r.thresholds[:2].tolist() == [0.5, torch.tensor(0.9).item()]
    assert len(r.thresholds) == 3
    c = confusion_curve(p, y)
    assert c.tp.tolist() == [3.0, 1.0, 0.0]


def test_sklearn_precision_recall_f1_argmax():
    p, y = _data(5, 2000, ties=False, dtype=torch.float64)
    prec, rec, thr = sklearn_metrics.precision_recall_curve(y.numpy(), p.numpy())
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-300), 0)
    r = tune_threshold(p, y, "f1")
    assert r.score == pytest.approx(f1.max(), abs=1e-12)
    assert r.threshold == thr[np.argmax(f1[:-1])]


def test_cost_and_bayes_threshold():
    # Calibrated probabilities by construction: y ~ Bernoulli(p).
    g = torch.Generator().manual_seed(0)
    p = torch.rand(20000, generator=g, dtype=torch.float64)
    y = (torch.rand(20000, generator=g, dtype=torch.float64) < p).long()
    costs = {"fp": 1.0, "fn": 4.0}
    r = tune_threshold(p, y, "cost", costs=costs)
    assert r.bayes_threshold == pytest.approx(0.2)
    assert r.threshold == pytest.approx(0.2, abs=0.03)
    # the score is the expected cost per sample at the threshold
    pred = p >= r.threshold
    n_fp, n_fn = int(((pred == 1) & (y == 0)).sum()), int(((pred == 0) & (y == 1)).sum())
    assert r.score == pytest.approx((1.0 * n_fp + 4.0 * n_fn) / len(y), abs=1e-12)
    assert r.score == float(r.scores.min())
    assert bayes_threshold({"fp": 3, "fn": 1}) == 0.75


def test_unpacks_and_fields():
    p, y = _data(0, 50, ties=False)
    t, s, ts, ss = tune_threshold(p, y)
    assert isinstance(t, float) and isinstance(s, float)
    assert ts.shape == ss.shape
    assert bool((ts[1:] > ts[:-1]).all())  # ascending, distinct
    r = tune_threshold(p, y)
    assert isinstance(r, ThresholdResult) and r.metric == "f1" and r.bayes_threshold is None
    assert (p >= ts[-1]).sum() == 0  # the last candidate predicts nothing positive


def test_multilabel_one_threshold_per_label():
    p0, y0 = _data(0, 100, ties=False)
    p1, y1 = _data(1, 100, ties=True)
    p, y = torch.stack([p0, p1], 1), torch.stack([y0, y1], 1)
    r = tune_threshold(p, y, "youden")
    assert r.threshold.shape == (2,) and r.score.shape == (2,)
    for j, (pj, yj) in enumerate([(p0, y0), (p1, y1)]):
        rj = tune_threshold(pj, yj, "youden")
        assert float(r.threshold[j]) == rj.threshold
        assert float(r.score[j]) == pytest.approx(rj.score)
        assert torch.equal(r.thresholds[j], rj.thresholds)
    rn = tune_threshold(p.numpy(), y.numpy(), "youden")
    assert isinstance(rn.threshold, np.ndarray)
    np.testing.assert_allclose(rn.threshold, r.threshold.numpy())


def test_dtypes_and_extremes():
    p, y = _data(7, 200, ties=False, dtype=torch.float64)
    ref = tune_threshold(p, y, "mcc")
    for dt in (torch.float16, torch.bfloat16, torch.float32):
        q = p.to(dt)
        r = tune_threshold(q, y.bool(), "mcc")
        _, bs, _, _ = brute_tune(q.float().numpy(), y.numpy(), "mcc")
        assert r.score == pytest.approx(bs, abs=1e-12)
        assert r.thresholds.dtype == dt
    assert ref.score > 0
    # saturated probabilities (sigmoid of ±100 logits) are exact 0s and 1s, -0.0 included
    p = torch.tensor([0.0, -0.0, 1.0, 1.0, 0.0, 1.0])
    y = torch.tensor([0, 0, 1, 1, 1, 0])
    r = tune_threshold(p, y, "f1")
    # F1 is 2/3 at both 0.0 and 1.0: the tie rule picks the lowest
    assert r.threshold == 0.0 and r.score == pytest.approx(2 / 3)
    assert len(r.thresholds) == 3 and r.scores[1] == pytest.approx(2 / 3)


def test_constant_scores_warn_and_decide():
    p = torch.full((10,), 0.3)
    y = torch.tensor([1, 0] * 5)
    with pytest.warns(NLLKitWarning, match="every probability equals 0.3"):
        r = tune_threshold(p, y, "f1")
    assert r.threshold == pytest.approx(0.3) and r.score == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "probs,targets,kwargs,err,match",
    [
        ([0.1, float("nan"), 0.3], [0, 1, 1], {}, InputValueError, "NaN"),
        ([0.1, 1.5, -2.0], [0, 1, 1], {}, InputValueError, "look like logits"),
        ([0.1, 0.2, 0.3], [0, 2, 1], {}, InputValueError, "binary labels"),
        ([0.1, 0.2, 0.3], [1, 1, 1], {}, InputValueError, "only positives"),
        ([0.1, 0.2, 0.3], [0, 0, 0], {"metric": "mcc"}, InputValueError, "only negatives"),
        ([0.1, 0.2, 0.3], [0, 1], {}, InputShapeError, "shape of `probs`"),
        ([], [], {}, InputShapeError, "at least one value"),
        ([0.1, 0.2], [0, 1], {"metric": "auc"}, ConfigurationError, "metric"),
        ([0.1, 0.2], [0, 1], {"metric": "f_beta"}, ConfigurationError, "beta"),
        ([0.1, 0.2], [0, 1], {"beta": 2.0}, ConfigurationError, "only with metric='f_beta'"),
        ([0.1, 0.2], [0, 1], {"metric": "cost"}, ConfigurationError, "costs"),
        ([0.1, 0.2], [0, 1], {"costs": {"fp": 1, "fn": 1}}, ConfigurationError, "metric='cost'"),
        (
            [0.1, 0.2],
            [0, 1],
            {"metric": "cost", "costs": {"fp": -1, "fn": 1}},
            ConfigurationError,
            "non-negative",
        ),
        (
            [0.1, 0.2],
            [0, 1],
            {"metric": "cost", "costs": {"fp": 1, "tp": 1}},
            ConfigurationError,
            "keys",
        ),
        ([0.1, 0.2], [0, 1], {"metric": "precision"}, ConfigurationError, "min_recall"),
        ([0.1, 0.2], [0, 1], {"metric": "recall"}, ConfigurationError, "min_precision"),
        ([0.1, 0.2], [0, 1], {"min_recall": 1.5}, ConfigurationError, "in \\[0, 1\\]"),
        (
            [0.9, 0.8, 0.2, 0.1],
            [0, 0, 1, 1],
            {"min_precision": 0.9, "min_recall": 0.9},
            InputValueError,
            "best achievable",
        ),
    ],
)
def test_errors(probs, targets, kwargs, err, match):
    p = torch.tensor(probs, dtype=torch.float32)
    with pytest.raises(err, match=match):
        tune_threshold(p, torch.tensor(targets), **kwargs)


def test_one_class_is_defined_for_accuracy_and_cost():
    p = torch.tensor([0.1, 0.6, 0.3])
    y = torch.zeros(3)
    r = tune_threshold(p, y, "accuracy")
    assert r.score == 1.0 and r.threshold > 0.6  # predict nothing positive
    r = tune_threshold(p, y, "cost", costs={"fp": 1.0, "fn": 2.0})
    assert r.score == 0.0


def test_rejects_bad_types_and_shapes():
    with pytest.raises(InputShapeError, match=r"\(N,\) for a binary"):
        tune_threshold(torch.rand(2, 2, 2), torch.zeros(2, 2, 2))
    with pytest.raises(InputShapeError, match="sample_weight"):
        tune_threshold(torch.rand(4), torch.tensor([0, 1, 0, 1]), sample_weight=torch.ones(3))
    with pytest.raises(InputValueError, match="non-negative weights"):
        tune_threshold(
            torch.rand(4), torch.tensor([0, 1, 0, 1]), sample_weight=torch.tensor([1, -1, 1, 1.0])
        )
    with pytest.raises(TypeError, match=r"torch\.Tensor or a numpy array"):
        tune_threshold("0.5", [1])
    with pytest.raises(TypeError, match="floating-point"):
        tune_threshold(torch.tensor([0, 1]), torch.tensor([0, 1]))


def test_multilabel_error_names_label():
    p = torch.rand(6, 2)
    y = torch.tensor([[0, 1], [1, 1], [0, 1], [1, 1], [0, 1], [1, 1]])
    with pytest.raises(InputValueError, match=r"only positives \(label 1\)"):
        tune_threshold(p, y)


def test_no_nan_in_scores_at_extremes():
    p, y = _data(0, 300, ties=False, dtype=torch.float64)
    p = torch.sigmoid(torch.logit(p) * 1e4)  # saturates to 0/1 exactly
    for m in ("f1", "mcc", "youden", "balanced_accuracy"):
        r = tune_threshold(p, y, m)
        assert not math.isnan(r.score)
        assert not bool(torch.isnan(r.scores).any())
