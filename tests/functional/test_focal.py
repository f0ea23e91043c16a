"""focal_loss: float64 references, γ = 0 is cross-entropy, peers, stability, gradients, errors."""

from __future__ import annotations

import itertools
import warnings

import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

from nllkit.errors import (
    ConfigurationError,
    InputShapeError,
    InputTypeError,
    InputValueError,
    LooksLikeProbabilitiesWarning,
)
from nllkit.functional import focal_loss
from tests._peers import monai_losses, smp_losses, torchvision_sigmoid_focal_loss

D = torch.float64


# --------------------------------------------------------------------------------------------
# float64 textbook references
# --------------------------------------------------------------------------------------------
def ref_sigmoid_focal(x, t, gamma, alpha=None, weight=None, ignore_index=None, reduction="mean"):
    """−α_t (1 − p_t)^γ · CE, p = σ(x), p_t = p·t + (1 − p)(1 − t), straight from the definition."""
    x, t = x.double(), t.double()
    valid = torch.ones_like(t, dtype=torch.bool) if ignore_index is None else t != ignore_index
    t = torch.where(valid, t, 0.0)
    p = 1 / (1 + torch.exp(-x))
    ce = -(t * torch.log(p) + (1 - t) * torch.log(1 - p))
    p_t = p * t + (1 - p) * (1 - t)
    loss = (1 - p_t) ** gamma * ce
    if alpha is not None:
        a = torch.as_tensor(alpha, dtype=D)
        if a.ndim == 1:
            a = a.view(1, -1, *([1] * (x.ndim - 2)))
        loss = loss * (a * t + (1 - a) * (1 - t))
    if weight is not None:
        loss = loss * weight.double()
    loss = loss * valid
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / max(int(valid.sum()), 1)


def ref_softmax_focal(x, y, gamma, alpha=None, weight=None, ignore_index=None, reduction="mean"):
    """Multiclass: −α_y w_y (1 − p_y)^γ log p_y (indices) or Σ_c −t_c α_c w_c (1 − p_c)^γ log p_c."""
    x = x.double()
    p = torch.exp(x) / torch.exp(x).sum(1, keepdim=True)
    c = x.shape[1]
    shape = (1, c) + (1,) * (x.ndim - 2)
    a = torch.ones(c, dtype=D) if alpha is None else torch.as_tensor(alpha, dtype=D)
    w = torch.ones(c, dtype=D) if weight is None else weight.double()
    per_class = -((1 - p) ** gamma) * torch.log(p) * a.view(shape) * w.view(shape)
    if y.is_floating_point():
        loss = (per_class * y.double()).sum(1)
        return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]
    valid = torch.ones_like(y, dtype=torch.bool) if ignore_index is None else y != ignore_index
    ys = torch.where(valid, y, 0)
    loss = per_class.gather(1, ys.unsqueeze(1)).squeeze(1) * valid
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    den = (w[ys] * valid).sum()
    return loss.sum() / den if den > 0 else loss.sum() * 0


def _sigmoid_case(shape=(3, 2, 4), soft=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=D) * 3
    t = torch.rand(shape, generator=g, dtype=D) if soft else (torch.rand(shape, generator=g) > 0.5)
    return x, t.to(D)


def _softmax_case(n=4, c=3, d=(5,), soft=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, c, *d), generator=g, dtype=D) * 3
    if soft:
        y = torch.softmax(torch.randn((n, c, *d), generator=g, dtype=D), 1)
    else:
        y = torch.randint(0, c, (n, *d), generator=g)
    return x, y


# --------------------------------------------------------------------------------------------
# references, every option combination
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "mode,soft,gamma,alpha,weighted,ignore,reduction",
    list(
        itertools.product(
            ["binary", "multilabel"],
            [False, True],
            [0.0, 0.5, 2.0],
            [None, 0.25, "per_class"],
            [False, True],
            [False, True],
            ["mean", "sum", "none"],
        )
    ),
)
def test_sigmoid_modes_match_reference(mode, soft, gamma, alpha, weighted, ignore, reduction):
    x, t = _sigmoid_case(soft=soft)
    if alpha == "per_class":
        alpha = torch.tensor([0.25, 0.75], dtype=D)
    weight = torch.rand(1, 2, 4, dtype=D) if weighted else None
    ignore_index = -1 if ignore else None
    if ignore:
        t[0, 0, :2] = -1
    got = focal_loss(
        x, t, mode, alpha, gamma, weight=weight, ignore_index=ignore_index, reduction=reduction
    )
    want = ref_sigmoid_focal(x, t, gamma, alpha, weight, ignore_index, reduction)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "soft,gamma,alpha,weighted,ignore,reduction",
    [
        c
        for c in itertools.product(
            [False, True],
            [0.0, 0.5, 1.0, 2.0],
            [None, [0.2, 0.3, 0.5]],
            [False, True],
            [False, True],
            ["mean", "sum", "none"],
        )
        if not (c[0] and c[4])  # ignore_index applies to index targets only
    ],
)
def test_multiclass_matches_reference(soft, gamma, alpha, weighted, ignore, reduction):
    x, y = _softmax_case(soft=soft)
    weight = torch.tensor([1.0, 2.0, 0.5], dtype=D) if weighted else None
    ignore_index = -100 if ignore else None
    if ignore:
        y[0, :3] = -100
    got = focal_loss(
        x, y, "multiclass", alpha, gamma, weight=weight, ignore_index=ignore_index,
        reduction=reduction,
    )  # fmt: skip
    want = ref_softmax_focal(x, y, gamma, alpha, weight, ignore_index, reduction)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------------
# γ = 0, α = None is cross-entropy, exactly
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("soft", [False, True])
def test_gamma_zero_is_bce_exactly(dtype, soft):
    x, t = _sigmoid_case((6, 3, 5), soft=soft)
    x, t = x.to(dtype), t.to(dtype)
    w = torch.rand(6, 3, 5, dtype=dtype)
    for kw in ({}, {"weight": w}):
        got = focal_loss(x, t, "binary", None, 0.0, reduction="none", **kw)
        want = TF.binary_cross_entropy_with_logits(x, t, reduction="none", **kw)
        assert torch.equal(got, want)
        assert torch.equal(
            focal_loss(x, t, gamma=0.0, **kw), TF.binary_cross_entropy_with_logits(x, t, **kw)
        )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("soft", [False, True])
def test_gamma_zero_is_cross_entropy(dtype, soft):
    x, y = _softmax_case(n=5, c=4, d=(3, 2), soft=soft)
    x = x.to(dtype)
    y = y.to(dtype) if soft else y
    w = torch.tensor([1.0, 0.5, 2.0, 1.5], dtype=dtype)
    for kw in ({}, {"weight": w}):
        got = focal_loss(x, y, "multiclass", None, 0.0, reduction="none", **kw)
        want = TF.cross_entropy(x, y, reduction="none", **kw)
        assert torch.equal(got, want) if not soft else torch.allclose(got, want, atol=0, rtol=1e-6)
        torch.testing.assert_close(
            focal_loss(x, y, "multiclass", None, 0.0, **kw), TF.cross_entropy(x, y, **kw)
        )
    if not soft:
        y2 = y.clone()
        y2[0] = -100
        torch.testing.assert_close(
            focal_loss(x, y2, "multiclass", gamma=0.0, ignore_index=-100),
            TF.cross_entropy(x, y2, ignore_index=-100),
        )


def test_gamma_zero_matches_nllkit_cross_entropy():
    from nllkit.functional import binary_cross_entropy_with_logits, cross_entropy

    x, t = _sigmoid_case(soft=True)
    assert torch.equal(focal_loss(x, t, gamma=0.0), binary_cross_entropy_with_logits(x, t))
    x, y = _softmax_case()
    torch.testing.assert_close(focal_loss(x, y, "multiclass", gamma=0.0), cross_entropy(x, y))


# --------------------------------------------------------------------------------------------
# stability: finite values and gradients at ±100, ±1e4, ±inf for every γ
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode", ["binary", "multiclass"])
def test_extreme_logits_finite_values_and_gradients(gamma, dtype, mode):
    big = [100.0, -100.0, 1e4, -1e4, float("inf"), float("-inf"), 0.0, 3.0]
    if mode == "binary":
        x = torch.tensor(big, dtype=dtype).repeat(2)
        t = torch.tensor([1.0] * 8 + [0.0] * 8, dtype=dtype)
    else:
        x = torch.tensor([[v, 0.0, -v if v == v else 0.0] for v in big], dtype=dtype).repeat(3, 1)
        x = torch.nan_to_num(x, nan=0.0)
        t = torch.arange(3).repeat_interleave(len(big))
    x.requires_grad_(True)
    loss = focal_loss(x, t, mode, None, gamma, reduction="none", check="never")
    assert torch.isfinite(loss).all()
    loss.sum().backward()
    assert torch.isfinite(x.grad).all()
    # values at |x| <= 100 against the float64 formula written with stable pieces
    xd = x.detach().double()
    keep = (xd.abs() <= 100).all(-1) if mode == "multiclass" else xd.abs() <= 100
    if mode == "binary":
        td = t.double()
        ce = td * TF.softplus(-xd) + (1 - td) * TF.softplus(xd)
        one_minus_pt = td * torch.sigmoid(-xd) + (1 - td) * torch.sigmoid(xd)
        ref = one_minus_pt**gamma * ce
    else:
        logp = torch.log_softmax(xd, 1).gather(1, t.unsqueeze(1)).squeeze(1)
        others = torch.logsumexp(xd.scatter(1, t.unsqueeze(1), float("-inf")), 1)
        one_minus_pt = torch.exp(others - torch.logsumexp(xd, 1))
        ref = -(one_minus_pt**gamma) * logp
    torch.testing.assert_close(loss[keep].double(), ref[keep], rtol=1e-5, atol=1e-30)
    # a confident wrong prediction with an infinite logit costs a huge finite amount
    assert (
        loss[~torch.isfinite(xd).all(-1) if mode == "multiclass" else ~torch.isfinite(xd)] >= 0
    ).all()


def test_confident_correct_gradient_is_tiny_and_exact():
    """At p_t → 1 the focal loss and its gradient (γ = 0.5 and 2, hard targets) match the float64
    formula to ~1e-15 relative: no cancellation in p − t, 1 − p_t or the cross-entropy."""
    for gamma in (0.5, 2.0):
        x = torch.tensor([30.0, -30.0, 20.0, -20.0], dtype=D, requires_grad=True)
        t = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=D)
        loss = focal_loss(x, t, gamma=gamma, reduction="none")
        loss.sum().backward()
        # L = s^γ·softplus(−|x|) with s = σ(−|x|); dL/d|x| = −γ·s^γ(1 − s)·CE − s^γ·s
        s = torch.sigmoid(-x.detach().abs())
        ce = torch.log1p(torch.exp(-x.detach().abs()))
        grad = -gamma * s**gamma * (1 - s) * ce - s**gamma * s
        torch.testing.assert_close(loss, s**gamma * ce, rtol=1e-13, atol=0)
        torch.testing.assert_close(x.grad, torch.where(t == 1, grad, -grad), rtol=1e-13, atol=0)


# --------------------------------------------------------------------------------------------
# gradcheck (float64)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize(
    "case", ["binary", "binary_soft", "multilabel_alpha", "mc_index", "mc_soft"]
)
def test_gradcheck(gamma, case):
    if case.startswith("mc"):
        x, y = _softmax_case(n=2, c=3, d=(2,), soft=case == "mc_soft")
        kw = {"alpha": [0.2, 0.3, 0.5], "weight": torch.tensor([1.0, 2.0, 0.5], dtype=D)}
        mode = "multiclass"
    else:
        x, y = _sigmoid_case((2, 2, 3), soft=case == "binary_soft")
        kw = {"alpha": 0.25} if case == "multilabel_alpha" else {}
        mode = "multilabel" if case == "multilabel_alpha" else "binary"
    x.requires_grad_(True)

    def f(z):
        return focal_loss(z, y, mode, gamma=gamma, check="never", **kw)

    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


# --------------------------------------------------------------------------------------------
# peers
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (0.5, 0.5), (0.75, 1.0)])
def test_torchvision_sigmoid_focal_formula(soft, alpha, gamma):
    x, t = _sigmoid_case((4, 3, 5), soft=soft)
    for red in ("none", "mean", "sum"):
        torch.testing.assert_close(
            focal_loss(x, t, "binary", alpha, gamma, reduction=red),
            torchvision_sigmoid_focal_loss(x, t, alpha, gamma, red),
        )


@pytest.mark.parametrize("alpha", [None, 0.25])
@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_monai_sigmoid_focal_parity_on_hard_targets(alpha, gamma):
    ml = monai_losses()
    x, t = _sigmoid_case((2, 3, 4, 4))
    peer = ml.FocalLoss(gamma=gamma, alpha=alpha, reduction="mean")(x, t)
    torch.testing.assert_close(focal_loss(x, t, "multilabel", alpha, gamma), peer.double())


def test_monai_softmax_focal_parity_mean_times_classes():
    ml = monai_losses()
    x, y = _softmax_case(n=2, c=4, d=(3, 3))
    peer = ml.FocalLoss(gamma=2.0, use_softmax=True, to_onehot_y=True)(x, y.unsqueeze(1))
    torch.testing.assert_close(focal_loss(x, y, "multiclass", gamma=2.0), peer.double() * 4)
    a = [0.1, 0.2, 0.3, 0.4]
    peer = ml.FocalLoss(gamma=0.5, alpha=a, use_softmax=True, to_onehot_y=True)(x, y.unsqueeze(1))
    torch.testing.assert_close(focal_loss(x, y, "multiclass", a, 0.5), peer.double() * 4)


@pytest.mark.parametrize("alpha", [None, 0.25])
def test_smp_binary_focal_parity_on_hard_targets(alpha):
    smp = smp_losses()
    x, t = _sigmoid_case((2, 1, 4, 4))
    peer = smp.FocalLoss("binary", alpha=alpha, gamma=2.0)(x, t)
    torch.testing.assert_close(focal_loss(x, t, "binary", alpha, 2.0), peer.double())
    t2 = t.clone()
    t2[0, 0, 0] = -1
    peer = smp.FocalLoss("binary", alpha=alpha, gamma=2.0, ignore_index=-1)(x, t2)
    torch.testing.assert_close(
        focal_loss(x, t2, "binary", alpha, 2.0, ignore_index=-1), peer.double()
    )


def test_smp_multiclass_focal_is_one_vs_rest_not_softmax():
    """Documented deliberate difference: smp's multiclass focal is a sigmoid one-vs-rest loss."""
    smp = smp_losses()
    x, y = _softmax_case(n=2, c=3, d=(4,))
    peer = smp.FocalLoss("multiclass", gamma=2.0)(x, y)
    one_vs_rest = torch.stack(
        [focal_loss(x[:, c], (y == c).double(), gamma=2.0) for c in range(3)]
    ).mean()
    torch.testing.assert_close(one_vs_rest, peer.double())
    assert not torch.allclose(focal_loss(x, y, "multiclass", gamma=2.0), peer.double())


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-30, 30), min_size=1, max_size=12),
    st.floats(0, 1),
    st.floats(0.0, 4.0),
    st.floats(0.0, 4.0),
)
def test_focal_is_below_ce_and_decreasing_in_gamma(xs, t, g1, g2):
    x = torch.tensor(xs, dtype=D)
    tt = torch.full_like(x, t)
    lo, hi = sorted([g1, g2])
    ce = focal_loss(x, tt, gamma=0.0, reduction="none", check="never")
    f_lo = focal_loss(x, tt, gamma=lo, reduction="none", check="never")
    f_hi = focal_loss(x, tt, gamma=hi, reduction="none", check="never")
    assert (f_hi <= f_lo + 1e-12).all() and (f_lo <= ce + 1e-12).all() and (f_hi >= 0).all()


# --------------------------------------------------------------------------------------------
# errors and warnings
# --------------------------------------------------------------------------------------------
def test_configuration_errors():
    x, t = _sigmoid_case()
    with pytest.raises(ConfigurationError, match="`mode`"):
        focal_loss(x, t, "softmax")
    with pytest.raises(ConfigurationError, match=r"`gamma`.*>= 0"):
        focal_loss(x, t, gamma=-1.0)
    with pytest.raises(ConfigurationError, match="`gamma`"):
        focal_loss(x, t, gamma="2")
    with pytest.raises(ConfigurationError, match=r"`alpha`.*\[0, 1\]"):
        focal_loss(x, t, alpha=1.5)
    with pytest.raises(ConfigurationError, match="`reduction`"):
        focal_loss(x, t, reduction="avg")
    xm, y = _softmax_case()
    with pytest.raises(ConfigurationError, match="one weight per class"):
        focal_loss(xm, y, "multiclass", alpha=0.25)
    xs, ys = _softmax_case(soft=True)
    with pytest.raises(ConfigurationError, match="`ignore_index`"):
        focal_loss(xs, ys, "multiclass", ignore_index=-100)
    with pytest.raises(InputShapeError, match="C >= 2"):
        focal_loss(torch.randn(4, 1, 3), torch.zeros(4, 3, dtype=torch.long), "multiclass")


def test_input_errors():
    x, t = _sigmoid_case()
    with pytest.raises(InputShapeError, match="`target`"):
        focal_loss(x, t[:, :1])
    with pytest.raises(InputTypeError, match="floating-point"):
        focal_loss(x, t.long())
    with pytest.raises(InputValueError, match="\\[0, 1\\]"):
        focal_loss(x, t * 2)
    with pytest.raises(InputTypeError, match="`logits`"):
        focal_loss(x.long(), t)
    with pytest.raises(InputValueError, match="NaN"):
        focal_loss(torch.full_like(x, float("nan")), t)
    with pytest.raises(InputShapeError, match="`alpha`"):
        focal_loss(x, t, "multilabel", torch.tensor([0.1, 0.2, 0.3], dtype=D))
    with pytest.raises(InputValueError, match="`alpha`"):
        focal_loss(x, t, "multilabel", torch.tensor([0.1, 1.2], dtype=D))
    xm, y = _softmax_case()
    with pytest.raises(InputValueError, match="class indices in \\[0, 3\\)"):
        focal_loss(xm, y + 1, "multiclass")
    with pytest.raises(InputShapeError, match="class indices of shape"):
        focal_loss(xm, y[:, :2], "multiclass")
    with pytest.raises(InputShapeError, match="class probabilities of shape"):
        focal_loss(xm, torch.rand(4, 2, 5, dtype=D), "multiclass")
    with pytest.raises(InputShapeError, match="`weight`"):
        focal_loss(xm, y, "multiclass", weight=torch.ones(2, dtype=D))
    with pytest.raises(InputValueError, match="non-negative"):
        focal_loss(xm, y, "multiclass", weight=torch.tensor([1.0, -1.0, 1.0], dtype=D))
    with pytest.raises(InputShapeError, match="`weight`"):
        focal_loss(x, t, weight=torch.ones(7, dtype=D))


def test_probabilities_warning_and_check_once():
    p = torch.rand(4, 8, dtype=D)
    t = (torch.rand(4, 8) > 0.5).to(D)
    with pytest.warns(LooksLikeProbabilitiesWarning, match="focal_loss applies its own"):
        focal_loss(p, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        focal_loss(p, t)  # checked once: no second warning
        focal_loss(p, t * 3)  # and no second value check (check="first")
    with pytest.raises(InputValueError):
        focal_loss(p, t * 3, check="always")


def test_binary_target_without_channel_and_all_ignored():
    x = torch.randn(3, 1, 4, dtype=D)
    t = (torch.rand(3, 4) > 0.5).to(D)
    torch.testing.assert_close(focal_loss(x, t), focal_loss(x, t.unsqueeze(1)))
    x.requires_grad_(True)
    loss = focal_loss(x, torch.full((3, 4), -1.0, dtype=D), ignore_index=-1)
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(x.grad, torch.zeros_like(x))
    xm, y = _softmax_case()
    loss = focal_loss(xm, torch.full_like(y, -100), "multiclass", ignore_index=-100)
    assert loss.item() == 0.0


# --------------------------------------------------------------------------------------------
# the fused kernels (loss and gradient in one slice-by-slice pass)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("gamma", [0.5, 2.0, 3.3])
@pytest.mark.parametrize("case", ["sigmoid", "sigmoid_soft_alpha", "softmax", "softmax_dense"])
def test_fused_kernels_match_composite_over_several_slices(dtype, gamma, case):
    """Values and gradients of the fused Functions == the composite autograd formula, on
    inputs of several slices (a short last one) with extreme logits mixed in."""
    from nllkit.functional import _focal_kernels as k

    g = torch.Generator().manual_seed(7)
    if case.startswith("softmax"):
        x = torch.randn(37, 5, 900, generator=g, dtype=dtype) * 6  # 14 samples a slice
        x[0, 0, :3] = torch.tensor([100.0, 1e4, float("inf")], dtype=dtype)
        y = torch.randint(0, 5, (37, 900), generator=g)
        y[0, :3] = 0
        x.requires_grad_(True)
        if case == "softmax":
            ref = k.softmax_focal_reference(k.saturate(x, gamma), y, gamma)
            got = k.SoftmaxFocal.apply(x, y, gamma)
        else:  # soft targets: a smoothed one-hot, and a few exact one-hot rows
            t = torch.softmax(torch.randn(37, 5, 900, generator=g, dtype=dtype), 1)
            t[:, :, :10] = torch.nn.functional.one_hot(y[:, :10], 5).movedim(-1, 1).to(dtype)
            ref = k.softmax_focal_dense_reference(k.saturate(x, gamma), t, gamma)
            got = k.SoftmaxFocal.apply(x, t, gamma)
    else:
        x = torch.randn(3 * 2**16 + 123, generator=g, dtype=dtype) * 6
        x[:6] = torch.tensor([100.0, -100.0, 1e4, -1e4, float("inf"), float("-inf")])
        soft = case == "sigmoid_soft_alpha"
        t = torch.rand(x.shape, generator=g, dtype=dtype) if soft else (x.detach() > 1).to(dtype)
        t[:6] = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
        alpha = 0.3 if soft else None
        x.requires_grad_(True)
        ref = k.sigmoid_focal_reference(k.saturate(x, gamma), t, gamma)
        if alpha is not None:
            ref = ref * (alpha * t + (1 - alpha) * (1 - t))
        got = k.SigmoidFocal.apply(x, t, gamma, alpha)
    tol = {"rtol": 1e-4, "atol": 1e-6} if dtype == torch.float32 else {}
    w = torch.rand(got.shape, generator=g, dtype=dtype)
    torch.testing.assert_close(got, ref, **tol)
    (g_got,) = torch.autograd.grad(got, x, w)
    (g_ref,) = torch.autograd.grad(ref, x, w)
    assert torch.isfinite(g_got).all()
    torch.testing.assert_close(g_got, g_ref, **tol)


@pytest.mark.parametrize("case", ["sigmoid", "softmax", "softmax_dense"])
def test_fused_kernels_second_backward_and_no_grad(case):
    """A second backward through a retained graph gives the first one's gradient bit for bit;
    without a gradient the values are the same (no gradient is computed)."""
    from nllkit.functional import _focal_kernels as k

    g = torch.Generator().manual_seed(8)
    if case == "softmax":
        x, t = torch.randn(9, 4, 3000, generator=g), torch.randint(0, 4, (9, 3000), generator=g)
        fn = lambda z: k.SoftmaxFocal.apply(z, t, 2.0)  # noqa: E731
    elif case == "softmax_dense":
        x, t = torch.randn(9, 4, 3000, generator=g), torch.rand(9, 4, 3000, generator=g)
        fn = lambda z: k.SoftmaxFocal.apply(z, t, 2.0)  # noqa: E731
    else:
        x, t = torch.randn(100_000, generator=g), torch.rand(100_000, generator=g)
        fn = lambda z: k.SigmoidFocal.apply(z, t, 2.0, 0.25)  # noqa: E731
    with torch.no_grad():
        want = fn(x)
    x.requires_grad_(True)
    out = fn(x)
    assert torch.equal(out.detach(), want)
    w = torch.rand(out.shape, generator=g)
    (first,) = torch.autograd.grad(out, x, w, retain_graph=True)
    (second,) = torch.autograd.grad(out, x, w)
    assert torch.equal(first, second)
    assert first.abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("mode", ["binary", "multiclass"])
def test_half_precision_is_computed_in_float32(dtype, mode):
    """fp16/bf16 logits: the loss is computed (and returned) in float32, equal to the float32
    loss of the same (rounded) logits; the gradient comes back in the input's dtype."""
    g = torch.Generator().manual_seed(9)
    if mode == "multiclass":
        x, t = torch.randn(4, 3, 50, generator=g) * 5, torch.randint(0, 3, (4, 50), generator=g)
    else:
        x, t = torch.randn(4, 50, generator=g) * 5, (torch.rand(4, 50, generator=g) > 0.5).float()
    xh = x.to(dtype).requires_grad_(True)
    got = focal_loss(xh, t, mode, gamma=2.0)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, focal_loss(xh.detach().float(), t, mode, gamma=2.0))
    got.backward()
    assert xh.grad.dtype == dtype and torch.isfinite(xh.grad.float()).all()


def test_soft_target_that_needs_a_gradient_gets_one():
    """A target that is itself trained takes the composite formula: gradients reach it, and the
    value equals the fused kernel's."""
    x, t = _sigmoid_case((3, 4), soft=True)
    tg = t.clone().requires_grad_(True)
    x.requires_grad_(True)
    torch.testing.assert_close(focal_loss(x, tg, alpha=0.25), focal_loss(x, t, alpha=0.25))
    assert torch.autograd.gradcheck(lambda a, b: focal_loss(a, b, alpha=0.25), (x, tg))


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_confident_multiclass_focal_is_exact_for_index_and_one_hot_targets(gamma):
    """At p_y → 1 (a logit gap of 30) both multiclass kernels match the float64 formula written
    with 1 − p_y = Σ_{c≠y} p_c, and one-hot targets give the index targets' numbers."""
    x = torch.tensor([[30.0, 0.0, -5.0], [0.0, 30.0, 2.0]], dtype=D, requires_grad=True)
    y = torch.tensor([0, 1])
    oh = torch.nn.functional.one_hot(y, 3).to(D)
    a = focal_loss(x, y, "multiclass", gamma=gamma, reduction="none")
    (ga,) = torch.autograd.grad(a.sum(), x)
    b = focal_loss(x, oh, "multiclass", gamma=gamma, reduction="none")
    (gb,) = torch.autograd.grad(b.sum(), x)
    xd = x.detach()
    others = torch.exp(xd - torch.logsumexp(xd, 1, keepdim=True)).masked_fill(oh.bool(), 0)
    q = others.sum(1)  # 1 − p_y, without cancellation
    want = -(q**gamma) * torch.log1p(-q)
    torch.testing.assert_close(a, want, rtol=1e-13, atol=0)
    torch.testing.assert_close(b, want, rtol=1e-13, atol=0)
    torch.testing.assert_close(gb, ga, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("case", ["binary", "mc_index", "mc_soft"])
def test_empty_batch_behaves_like_torch(case):
    """N = 0: no error; "none" is empty and "mean" is NaN, as torch's cross-entropy."""
    if case == "binary":
        x, t, mode = torch.empty(0, 4, requires_grad=True), torch.empty(0, 4), "binary"
    else:
        x, mode = torch.empty(0, 3, 4, requires_grad=True), "multiclass"
        t = torch.empty(0, 4, dtype=torch.long) if case == "mc_index" else torch.empty(0, 3, 4)
    assert focal_loss(x, t, mode, reduction="none").numel() == 0
    loss = focal_loss(x, t, mode)
    assert torch.isnan(loss)
    assert torch.isnan(TF.cross_entropy(torch.empty(0, 3), torch.empty(0, dtype=torch.long)))
    loss.backward()
    assert x.grad.shape == x.shape
