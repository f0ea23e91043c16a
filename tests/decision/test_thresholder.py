"""Thresholder: binary, multi-label, multiclass; JSON round trip; errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nllkit.decision import Thresholder, tune_threshold
from nllkit.errors import ConfigurationError, InputShapeError, InputValueError


def test_binary_rule_is_greater_or_equal():
    t = Thresholder(0.4)
    out = t.predict(torch.tensor([0.39, 0.4, 0.41]))
    assert out.tolist() == [0, 1, 1] and out.dtype == torch.int64
    assert isinstance(t.predict(np.array([0.5])), np.ndarray)


def test_from_result_reproduces_tuned_counts():
    g = torch.Generator().manual_seed(0)
    y = torch.rand(300, generator=g) < 0.3
    p = torch.sigmoid(torch.randn(300, generator=g) + 1.5 * y)
    r = tune_threshold(p, y, "f1")
    pred = Thresholder.from_result(r).predict(p)
    tp = int(((pred == 1) & y).sum())
    f1 = 2 * tp / (2 * tp + int(((pred == 1) & ~y).sum()) + int(((pred == 0) & y).sum()))
    assert f1 == pytest.approx(r.score, abs=1e-12)


def test_multilabel_thresholds_and_json(tmp_path):
    g = torch.Generator().manual_seed(1)
    y = torch.rand(200, 3, generator=g) < 0.4
    p = torch.sigmoid(torch.randn(200, 3, generator=g) + 2 * y)
    r = tune_threshold(p, y, "mcc")
    th = Thresholder.from_result(r)
    assert isinstance(th.threshold, list) and len(th.threshold) == 3
    path = tmp_path / "thresholds.json"
    th.save(path)
    back = Thresholder.load(path)
    assert back == th and back.metric == "mcc"
    assert torch.equal(back.predict(p), th.predict(p))
    expected = torch.stack([p[:, j] >= r.threshold[j].item() for j in range(3)], 1).long()
    assert torch.equal(th.predict(p), expected)


def test_multiclass_argmax_and_json(tmp_path):
    th = Thresholder(multiclass=True)
    assert th.predict(torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])).tolist() == [1, 0]
    th.save(tmp_path / "t.json")
    assert Thresholder.load(tmp_path / "t.json").multiclass


def test_errors(tmp_path):
    with pytest.raises(ConfigurationError, match="no threshold with multiclass"):
        Thresholder(0.3, multiclass=True)
    with pytest.raises(ConfigurationError, match="finite number"):
        Thresholder(float("nan"))
    with pytest.raises(ConfigurationError, match="finite number"):
        Thresholder("0.5")  # type: ignore[arg-type]
    with pytest.raises(InputShapeError, match="one column per threshold"):
        Thresholder([0.5, 0.5]).predict(torch.rand(4, 3))
    with pytest.raises(InputShapeError, match="class probabilities"):
        Thresholder(multiclass=True).predict(torch.rand(4))
    with pytest.raises(InputValueError, match="look like logits"):
        Thresholder(0.5).predict(torch.tensor([3.0, -1.0]))
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(ConfigurationError, match=r"Thresholder\.save"):
        Thresholder.load(tmp_path / "bad.json")
