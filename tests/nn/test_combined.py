"""CombinedLoss, L1Penalty, L2Penalty and the module wrappers of focal / overlap losses."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nllkit.errors import ConfigurationError, InputTypeError
from nllkit.functional import dice_loss, focal_loss
from nllkit.guards import inspect_model
from nllkit.nn import (
    BCEWithLogitsLoss,
    CombinedLoss,
    DiceLoss,
    FocalLoss,
    JaccardLoss,
    L1Penalty,
    L2Penalty,
    TverskyLoss,
)


def _data():
    x = torch.randn(4, 1, 6, 6, dtype=torch.float64, requires_grad=True)
    y = (torch.rand(4, 1, 6, 6) > 0.5).double()
    return x, y


def test_combined_is_weighted_sum_with_detached_terms_and_schedule():
    x, y = _data()
    loss = CombinedLoss({"bce": (BCEWithLogitsLoss(), 1.0), "dice": (DiceLoss(mode="binary"), 0.5)})
    total = loss(x, y)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(x, y)
    dice = dice_loss(x, y)
    torch.testing.assert_close(total, bce + 0.5 * dice)
    assert set(loss.last_terms) == {"bce", "dice", "total"}
    assert all(not v.requires_grad for v in loss.last_terms.values())
    torch.testing.assert_close(loss.last_terms["dice"], dice.detach())
    loss.set_weight("dice", 2.0)
    loss.weights["bce"] = 0.0
    torch.testing.assert_close(loss(x, y), 2.0 * dice)
    total.backward()
    assert torch.isfinite(x.grad).all()


def test_combined_with_penalty_and_inspect_model():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.BatchNorm2d(1), nn.Sigmoid())
    pen = L2Penalty(model, 0.01)
    loss = CombinedLoss({"bce": (BCEWithLogitsLoss(), 1.0), "dice": DiceLoss(), "l2": (pen, 1.0)})
    x, y = _data()
    out = loss(x.float(), y.float())
    w = model[0].weight
    torch.testing.assert_close(loss.last_terms["l2"], 0.01 * w.detach().pow(2).sum())
    out.backward()
    assert w.grad is not None and model[0].bias.grad is None  # bias excluded from the penalty
    findings = inspect_model(model, loss)
    assert len(findings) == 2 and all("Sigmoid" in f for f in findings)
    assert inspect_model(model, DiceLoss(from_logits=False)) == []
    assert DiceLoss(from_logits=False).expects == "probabilities" and DiceLoss().expects == "logits"
    assert "model" not in dict(loss.named_modules())  # the penalty does not own the model
    assert all(not k.startswith("terms.l2") for k in loss.state_dict())


def test_penalties_values_and_selection():
    model = nn.Sequential(nn.Linear(3, 2), nn.LayerNorm(2), nn.Linear(2, 1, bias=False))
    ps = [model[0].weight, model[2].weight]
    torch.testing.assert_close(L2Penalty(model, 0.5)(), 0.5 * sum(p.pow(2).sum() for p in ps))
    torch.testing.assert_close(L1Penalty(model, 0.5)(), 0.5 * sum(p.abs().sum() for p in ps))
    everything = L2Penalty(model, 1.0, exclude_bias_and_norm=False)
    assert everything.num_parameters == sum(p.numel() for p in model.parameters())
    assert L2Penalty(model).num_parameters == 6 + 2
    p = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q: L1Penalty([q], 0.3)() + L2Penalty([q], 0.2)(), (p,))
    assert L2Penalty([], 1.0)().item() == 0.0


def test_modules_match_functionals():
    x, y = _data()
    torch.testing.assert_close(
        FocalLoss("binary", 0.25, 1.5, reduction="sum")(x, y),
        focal_loss(x, y, "binary", 0.25, 1.5, reduction="sum"),
    )
    xm = torch.randn(2, 3, 4, dtype=torch.float64)
    ym = torch.randint(0, 3, (2, 4))
    fl = FocalLoss("multiclass", alpha=[0.2, 0.3, 0.5], weight=torch.tensor([1.0, 2.0, 1.0]))
    torch.testing.assert_close(
        fl(xm, ym),
        focal_loss(xm, ym, "multiclass", [0.2, 0.3, 0.5], weight=torch.tensor([1.0, 2.0, 1.0])),
    )
    kw = dict(smooth=0.1, per_sample=False, classes=[0, 2], squared=True)
    torch.testing.assert_close(
        DiceLoss("multiclass", **kw)(xm, ym), dice_loss(xm, ym, "multiclass", **kw)
    )
    torch.testing.assert_close(
        TverskyLoss("multiclass", 0.5, 0.5, **kw)(xm, ym), DiceLoss("multiclass", **kw)(xm, ym)
    )
    torch.testing.assert_close(
        JaccardLoss("multiclass", **kw)(xm, ym), TverskyLoss("multiclass", 1.0, 1.0, **kw)(xm, ym)
    )
    assert "alpha" in repr(fl) and "per_sample=False" in repr(DiceLoss(per_sample=False))


def test_errors():
    with pytest.raises(ConfigurationError, match="`terms`"):
        CombinedLoss({})
    with pytest.raises(InputTypeError, match=r"nn\.Module"):
        CombinedLoss({"f": (lambda a, b: a, 1.0)})
    with pytest.raises(ConfigurationError, match="finite"):
        CombinedLoss({"bce": (BCEWithLogitsLoss(), float("nan"))})
    with pytest.raises(ConfigurationError, match="a Python float"):
        CombinedLoss({"bce": (BCEWithLogitsLoss(), "1")})
    loss = CombinedLoss({"bce": BCEWithLogitsLoss()})
    with pytest.raises(ConfigurationError, match="`name`"):
        loss.set_weight("dice", 1.0)
    with pytest.raises(ConfigurationError, match="`mode`"):
        DiceLoss(mode="softmax")
    with pytest.raises(ConfigurationError, match="`classes`"):
        DiceLoss(classes=[-1])
    with pytest.raises(ConfigurationError, match="`gamma`"):
        FocalLoss(gamma=-2.0)
    with pytest.raises(ConfigurationError, match="`beta`"):
        TverskyLoss(beta=-1.0)


@pytest.mark.parametrize("name", ["focal-multiclass", "dice-multilabel"])
def test_fused_losses_work_under_torch_compile(name):
    """The fused autograd Functions behind FocalLoss / DiceLoss run inside torch.compile
    (aot_eager): the same value and gradient as eager."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 8, 8, generator=g, requires_grad=True)
    if name == "focal-multiclass":
        loss, t = FocalLoss("multiclass"), torch.randint(0, 3, (4, 8, 8), generator=g)
    else:
        loss, t = DiceLoss("multilabel"), (torch.rand(4, 3, 8, 8, generator=g) > 0.5).float()
    torch._dynamo.reset()
    compiled = torch.compile(lambda a, b: loss(a, b), backend="aot_eager")
    got = compiled(x, t)
    (g_got,) = torch.autograd.grad(got, x)
    want = loss(x, t)
    (g_want,) = torch.autograd.grad(want, x)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(g_got, g_want)
