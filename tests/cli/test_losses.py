"""The loss spec language of ``nllkit compare --losses`` and its registry."""

from __future__ import annotations

import pytest
import torch

import nllkit.nn as nnk
from nllkit.cli import losses as L
from nllkit.cli.losses import available_losses, default_specs, parse_losses
from nllkit.errors import ConfigurationError


def test_canonical_texts():
    specs = parse_losses(
        " bce , bce:pos_weight=3,focal:gamma=2:alpha=0.25, bce+0.5*dice ", "binary"
    )
    assert [s.text for s in specs] == [
        "bce",
        "bce:pos_weight=3",
        "focal:gamma=2:alpha=0.25",
        "bce+0.5*dice",
    ]


def test_options_may_follow_a_comma():
    (spec,) = parse_losses("focal:gamma=2,alpha=0.25", "binary")
    assert spec.text == "focal:gamma=2:alpha=0.25"


def test_build_gives_nllkit_modules_with_the_options():
    bce, focal, combo = (
        s.build("binary")
        for s in parse_losses(
            "bce:pos_weight=3, focal:gamma=1.5:alpha=0.25, bce+0.5*dice", "binary"
        )
    )
    assert isinstance(bce, nnk.BCEWithLogitsLoss)
    assert float(bce.pos_weight) == 3.0
    assert isinstance(focal, nnk.FocalLoss) and focal.gamma == 1.5
    assert isinstance(combo, nnk.CombinedLoss)
    z, y = torch.tensor([0.3, -1.0, 2.0]), torch.tensor([1.0, 0.0, 1.0])
    expected = nnk.BCEWithLogitsLoss()(z, y) + 0.5 * nnk.DiceLoss(mode="binary", per_sample=False)(
        z, y
    )
    torch.testing.assert_close(combo(z, y), expected)


def test_modes_follow_the_task():
    (f,) = parse_losses("focal", "multiclass")
    assert f.build("multiclass").mode == "multiclass"
    (d,) = parse_losses("dice", "segmentation")
    dice = d.build("segmentation")
    assert dice.mode == "binary" and dice.per_sample is True


@pytest.mark.parametrize(
    ("text", "task", "match"),
    [
        ("bce, foo", "binary", r"expected one of bce, ce, focal.*unknown loss 'foo'"),
        ("focal:gama=2", "binary", r"gamma, alpha.*unknown option 'gama'"),
        ("focal:gamma=abc", "binary", "a float for option 'gamma'"),
        ("focal:gamma", "binary", "key=value"),
        ("focal:gamma=1:gamma=2", "binary", "twice"),
        ("ce", "binary", "which applies to multiclass"),
        ("bce, bce", "binary", "each loss once"),
        ("bce+bce", "binary", "distinct terms"),
        ("-1*bce+dice", "binary", "positive finite weight"),
        ("bce+", "binary", "terms like NAME"),
        ("0*dice", "binary", "positive finite weight"),
        (" , ", "binary", "at least one loss"),
        ("focal:gamma=-1", "binary", "gamma"),
    ],
)
def test_errors_name_what_exists(text, task, match):
    with pytest.raises(ConfigurationError, match=match):
        parse_losses(text, task)


def test_entries_for_missing_classes_are_absent(monkeypatch):
    assert "tversky" in available_losses()
    monkeypatch.delattr(nnk, "TverskyLoss")
    assert "tversky" not in available_losses()
    with pytest.raises(ConfigurationError, match="unknown loss 'tversky'"):
        parse_losses("tversky", "segmentation")
    assert all("tversky" not in s.text for s in default_specs("segmentation"))


def test_defaults_fit_their_task():
    for task in L.DEFAULT_LOSSES:
        specs = default_specs(task)
        assert len(specs) >= 2
        for s in specs:
            assert s.build(task) is not None
