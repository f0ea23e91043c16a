"""Calibrators and calibration_report: synthetic over-confidence, scikit-learn parity, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from nllkit.decision import (
    PlattScaling,
    TemperatureScaling,
    VectorScaling,
    calibration_report,
)
from nllkit.errors import (
    ConfigurationError,
    InputShapeError,
    InputValueError,
    LooksLikeProbabilitiesWarning,
    NotFittedError,
)

sk_metrics = pytest.importorskip("sklearn.metrics")
sk_calibration = pytest.importorskip("sklearn.calibration")


def _overconfident(n=4000, c=4, scale=3.0, seed=0):
    """True logits z, labels y ~ softmax(z), and an over-confident model's logits scale·z."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, generator=g, dtype=torch.float64) * 1.5
    y = torch.multinomial(torch.softmax(z, 1), 1, generator=g).squeeze(1)
    return scale * z, y, z


def _brute_ece(conf, hit, n_bins):
    conf, hit = np.asarray(conf, dtype=np.float64), np.asarray(hit, dtype=np.float64)
    ece, mce, counts = 0.0, 0.0, []
    for m in range(n_bins):
        lo, hi = m / n_bins, (m + 1) / n_bins
        inb = (conf > lo) & (conf <= hi) if m > 0 else (conf >= lo) & (conf <= hi)
        counts.append(int(inb.sum()))
        if inb.any():
            gap = abs(hit[inb].mean() - conf[inb].mean())
            ece += inb.mean() * gap
            mce = max(mce, gap)
    return ece, mce, counts


def test_temperature_scaling_fixes_overconfidence():
    logits, y, _ = _overconfident()
    before = calibration_report(torch.softmax(logits, 1), y)
    ts = TemperatureScaling().fit(logits, y)
    after = calibration_report(ts.predict_proba(logits), y)
    assert ts.temperature_ == pytest.approx(3.0, rel=0.1)
    assert after.ece < 0.5 * before.ece
    assert after.nll < before.nll
    assert ts.nll_after_ <= ts.nll_before_
    assert ts.nll_before_ == pytest.approx(before.nll, rel=1e-6)
    # the argmax is unchanged
    assert torch.equal(ts.transform(logits).argmax(1), logits.argmax(1))


def test_temperature_never_raises_nll_on_fitting_data():
    for seed in range(4):
        logits, y, _ = _overconfident(n=200, c=3, scale=0.3 + seed, seed=seed)
        ts = TemperatureScaling().fit(logits, y)
        assert ts.nll_after_ <= ts.nll_before_ + 1e-15
        nll = torch.nn.functional.cross_entropy(ts.transform(logits), y)
        assert float(nll) <= ts.nll_before_ + 1e-12
    # already calibrated on the fitting data: T stays near 1
    _, y, z = _overconfident(n=4000, scale=1.0, seed=5)
    assert TemperatureScaling().fit(z, y).temperature_ == pytest.approx(1.0, abs=0.1)


def test_temperature_binary_and_numpy():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(3000, generator=g, dtype=torch.float64) * 2
    y = (torch.rand(3000, generator=g, dtype=torch.float64) < torch.sigmoid(z)).long()
    ts = TemperatureScaling().fit((4 * z).numpy(), y.numpy())
    assert ts.temperature_ == pytest.approx(4.0, rel=0.15)
    out = ts.transform((4 * z).numpy())
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, 4 * z.numpy() / ts.temperature_)
    p = ts.predict_proba(4 * z)
    assert torch.allclose(p, torch.sigmoid(4 * z / ts.temperature_))


def test_temperature_matches_sklearn_calibrated_classifier():
    from sklearn.base import BaseEstimator, ClassifierMixin

    frozen = pytest.importorskip("sklearn.frozen")
    logits, y, _ = _overconfident(n=1500, c=3, scale=2.5, seed=2)

    class _Logits(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.classes_ = np.arange(3)
            return self

        def decision_function(self, X):
            return np.asarray(X)

        def predict(self, X):
            return np.asarray(X).argmax(1)

    est = _Logits().fit(logits.numpy(), y.numpy())
    cal = sk_calibration.CalibratedClassifierCV(
        frozen.FrozenEstimator(est), method="temperature"
    ).fit(logits.numpy(), y.numpy())
    ours = TemperatureScaling().fit(logits, y).predict_proba(logits).numpy()
    np.testing.assert_allclose(cal.predict_proba(logits.numpy()), ours, atol=1e-4)


def test_vector_scaling_fits_bias_and_temperature():
    logits, y, _ = _overconfident(n=3000, c=3, scale=2.0, seed=3)
    shifted = logits + torch.tensor([2.0, 0.0, -1.0], dtype=torch.float64)
    vs = VectorScaling().fit(shifted, y)
    assert vs.nll_after_ < vs.nll_before_
    ts = TemperatureScaling().fit(shifted, y)
    assert vs.nll_after_ <= ts.nll_after_ + 1e-9  # a superset of temperature scaling
    assert vs.temperature_.shape == (3,) and bool((vs.temperature_ > 0).all())
    assert torch.allclose(vs.transform(shifted), shifted / vs.temperature_ + vs.bias_)
    with pytest.raises(InputShapeError, match=r"\(N, 3\) logits, as in fit"):
        vs.transform(torch.zeros(2, 4))
    with pytest.raises(InputShapeError, match="multiclass logits"):
        VectorScaling().fit(torch.randn(5, dtype=torch.float64), torch.tensor([0, 1, 0, 1, 1]))


def test_platt_recovers_a_and_b():
    g = torch.Generator().manual_seed(4)
    z = torch.randn(20000, generator=g, dtype=torch.float64) * 2
    y = (torch.rand(20000, generator=g, dtype=torch.float64) < torch.sigmoid(0.5 * z - 1.0)).long()
    ps = PlattScaling().fit(z, y)
    assert ps.a_ == pytest.approx(0.5, abs=0.05)
    assert ps.b_ == pytest.approx(-1.0, abs=0.05)
    assert torch.allclose(ps.predict_proba(z), torch.sigmoid(ps.a_ * z + ps.b_))
    with pytest.raises(InputShapeError, match="binary logits"):
        PlattScaling().fit(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))


def test_extreme_logits_stay_finite():
    z = torch.tensor([[1e4, -1e4], [-100.0, 100.0], [100.0, -100.0], [5.0, 0.0]])
    y = torch.tensor([0, 1, 1, 0])
    ts = TemperatureScaling().fit(z, y)
    assert math.isfinite(ts.temperature_) and ts.temperature_ > 0
    assert ts.nll_after_ <= ts.nll_before_


def test_state_roundtrip():
    logits, y, _ = _overconfident(n=300, c=3, seed=6)
    for cls in (TemperatureScaling, VectorScaling):
        cal = cls().fit(logits, y)
        state = json.loads(json.dumps(cal.to_dict()))
        back = cls.from_dict(state)
        assert torch.allclose(back.transform(logits), cal.transform(logits))
    zb = logits[:, 0]
    ps = PlattScaling().fit(zb, (y == 0).long())
    assert PlattScaling.from_dict(ps.to_dict()).b_ == ps.b_
    with pytest.raises(ConfigurationError, match="TemperatureScaling state"):
        TemperatureScaling.from_dict(ps.to_dict())


def test_calibrator_errors():
    for cal in (TemperatureScaling(), VectorScaling(), PlattScaling()):
        with pytest.raises(NotFittedError, match=r"call \.fit"):
            cal.transform(torch.zeros(3, 2))
    with pytest.warns(LooksLikeProbabilitiesWarning, match="TemperatureScaling takes logits"):
        TemperatureScaling().fit(torch.softmax(torch.randn(20, 3), 1), torch.randint(0, 3, (20,)))
    with pytest.raises(InputValueError, match="finite logits"):
        TemperatureScaling().fit(torch.tensor([[0.0, float("nan")]]), torch.tensor([0]))
    with pytest.raises(InputValueError, match="class indices in"):
        TemperatureScaling().fit(torch.randn(4, 3), torch.tensor([0, 1, 5, 0]))
    with pytest.raises(InputShapeError, match="class indices, not one-hot"):
        TemperatureScaling().fit(torch.randn(4, 3), torch.eye(3)[[0, 1, 2, 0]].long())
    with pytest.raises(ConfigurationError, match="max_iter"):
        TemperatureScaling(max_iter=0)


# ---------------------------------------------------------------------------------------------
# calibration_report
# ---------------------------------------------------------------------------------------------
def test_report_matches_brute_force_multiclass():
    logits, y, _ = _overconfident(n=2000, c=5, seed=7)
    p = torch.softmax(logits, 1)
    r = calibration_report(p, y, n_bins=15)
    conf, pred = p.max(1)
    ece, mce, counts = _brute_ece(conf.numpy(), (pred == y).numpy(), 15)
    assert r.ece == pytest.approx(ece, abs=1e-12)
    assert r.mce == pytest.approx(mce, abs=1e-12)
    assert r.bin_count.tolist() == counts
    assert r.nll == pytest.approx(sk_metrics.log_loss(y.numpy(), p.numpy(), labels=range(5)))
    onehot = np.eye(5)[y.numpy()]
    assert r.brier == pytest.approx(((p.numpy() - onehot) ** 2).sum(1).mean(), abs=1e-12)
    assert r.brier == pytest.approx(sk_metrics.brier_score_loss(y.numpy(), p.numpy()) * 1.0)


def test_report_binary_matches_sklearn():
    g = torch.Generator().manual_seed(8)
    p = torch.rand(3000, generator=g, dtype=torch.float64) ** 2
    y = (torch.rand(3000, generator=g, dtype=torch.float64) < p**0.7).long()
    r = calibration_report(p, y, n_bins=10, kind="positive")
    prob_true, prob_pred = sk_calibration.calibration_curve(y.numpy(), p.numpy(), n_bins=10)
    nonempty = r.bin_count > 0
    np.testing.assert_allclose(r.bin_accuracy[nonempty], prob_true, atol=1e-12)
    np.testing.assert_allclose(r.bin_confidence[nonempty], prob_pred, atol=1e-12)
    assert r.brier == pytest.approx(sk_metrics.brier_score_loss(y.numpy(), p.numpy()))
    assert r.nll == pytest.approx(sk_metrics.log_loss(y.numpy(), p.numpy()))
    top = calibration_report(p, y, n_bins=10)
    conf = np.maximum(p.numpy(), 1 - p.numpy())
    ece, mce, _ = _brute_ece(conf, ((p.numpy() >= 0.5) == y.numpy()), 10)
    assert top.ece == pytest.approx(ece, abs=1e-12) and top.mce == pytest.approx(mce, abs=1e-12)
    assert top.brier == r.brier and top.nll == r.nll
    assert np.nanmin(top.bin_confidence) >= 0.5


def test_bins_closed_on_the_right():
    p = torch.tensor([[1.0, 0.0], [0.6, 0.4], [0.5, 0.5]], dtype=torch.float64)
    r = calibration_report(p, torch.tensor([0, 1, 0]), n_bins=10)
    assert r.bin_count[-1] == 1  # exactly 1.0 falls in the last bin
    assert r.bin_count[5] == 1  # 0.6 falls in (0.5, 0.6]
    assert r.bin_count[4] == 1  # 0.5 falls in (0.4, 0.5]
    assert math.isnan(r.bin_accuracy[0])
    json.dumps(r.to_dict())  # NaN bins serialise as null


def test_report_numpy_and_float32():
    logits, y, _ = _overconfident(n=500, c=3, seed=9)
    p = torch.softmax(logits, 1)
    r64 = calibration_report(p, y)
    r32 = calibration_report(p.float().numpy(), y.numpy())
    assert r32.ece == pytest.approx(r64.ece, abs=1e-5)


@pytest.mark.parametrize(
    "probs,targets,kwargs,err,match",
    [
        (torch.tensor([[0.5, 0.2]]), torch.tensor([0]), {}, InputValueError, "rows that sum to 1"),
        (torch.tensor([2.0, -1.0]), torch.tensor([0, 1]), {}, InputValueError, "look like logits"),
        (
            torch.tensor([0.2, 0.3]),
            torch.tensor([0, 1]),
            {"n_bins": 0},
            ConfigurationError,
            "n_bins",
        ),
        (torch.tensor([0.2, 0.3]), torch.tensor([0, 1]), {"kind": "x"}, ConfigurationError, "kind"),
        (
            torch.tensor([[0.5, 0.5]]),
            torch.tensor([0]),
            {"kind": "positive"},
            ConfigurationError,
            "top_label",
        ),
        (torch.tensor([[0.5, 0.5]]), torch.tensor([2]), {}, InputValueError, "class indices"),
        (torch.rand(2, 2, 2), torch.zeros(2), {}, InputShapeError, "multiclass probabilities"),
    ],
)
def test_report_errors(probs, targets, kwargs, err, match):
    with pytest.raises(err, match=match):
        calibration_report(probs, targets, **kwargs)
