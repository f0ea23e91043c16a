"""Training for ``nllkit compare``: which epoch is kept (the early-stopping score)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nllkit.cli.train import Settings, prepare, train
from nllkit.data import stratified_split
from nllkit.data.datasets import make_shapes
from nllkit.errors import ConfigurationError
from nllkit.nn import DiceLoss


@pytest.fixture(scope="module")
def shapes():
    ds = make_shapes()  # the embedded shapes data (400 images, 32 x 32)
    return prepare(ds, stratified_split(ds.stratify_labels, seed=0))


def test_best_epoch_follows_the_selection_score(shapes):
    """Default: the lowest cross-fitted NLL after temperature scaling; select_by="nll": the
    lowest raw NLL. Both curves are recorded either way, and the callback gets the score in use."""
    s = Settings(epochs=6, batch_size=16, lr=3e-3, patience=100, seed=0)
    seen: list[float] = []
    tr = train(shapes, DiceLoss("binary"), s, on_epoch=lambda e, tl, v: seen.append(v))
    raw = train(shapes, DiceLoss("binary"), dataclasses.replace(s, select_by="nll"))
    assert tr.val_nll == raw.val_nll  # the same seeded run
    assert seen == tr.val_nll_calibrated
    assert tr.best_epoch == int(np.argmin(tr.val_nll_calibrated)) + 1
    assert raw.best_epoch == int(np.argmin(raw.val_nll)) + 1
    # and for Dice the two scores disagree: the raw NLL keeps epoch 3, the calibrated one 6
    assert raw.best_epoch < tr.best_epoch


def test_unknown_selection_score_raises(shapes):
    s = Settings(epochs=1, batch_size=16, lr=3e-3, patience=1, seed=0, select_by="dice")
    with pytest.raises(ConfigurationError, match=r"select_by.*calibrated_nll"):
        train(shapes, DiceLoss("binary"), s)


def test_cross_fitted_nll_scores_each_half_with_the_other_halfs_temperature(shapes):
    """By hand: T fitted on the even images scales the odd ones and vice versa."""
    import torch

    from nllkit.cli.evaluate import fit_temperature
    from nllkit.cli.train import cross_fitted_nll

    g = torch.Generator().manual_seed(0)
    y = shapes.y["val"]
    z = (2 * y - 1) * 3 + torch.randn(y.shape, generator=g) * 2  # over-confident, some errors
    t_even, _ = fit_temperature("segmentation", z[0::2], y[0::2])
    t_odd, _ = fit_temperature("segmentation", z[1::2], y[1::2])
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    want = (
        bce(z[1::2] / t_even, y[1::2], reduction="sum")
        + bce(z[0::2] / t_odd, y[0::2], reduction="sum")
    ) / y.numel()
    assert t_even != 1.0 and t_odd != 1.0
    assert cross_fitted_nll(shapes, z, y) == pytest.approx(float(want), rel=1e-6)
