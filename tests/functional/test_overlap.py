"""Dice / Jaccard / Tversky: float64 references over every option, peers, gradients, errors."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nllkit.errors import ConfigurationError, InputShapeError, InputTypeError, InputValueError
from nllkit.functional import dice_loss, jaccard_loss, tversky_loss
from tests._peers import monai_losses, smp_losses

D = torch.float64
N, C, H, W = 3, 3, 4, 5


def ref_overlap(p, t, mask, a, b, s, squared, per_sample, classes, weight, log_loss, reduction):
    """Textbook: p, t (N, C, S) probabilities / labels, mask (N, C or 1, S) of counted positions."""
    p, t, m = p * mask, t * mask, mask
    dims = (2,) if per_sample else (0, 2)
    hard = bool(((t == 0) | (t == 1)).all())
    if squared:
        tp = (p * t).sum(dims)
        fp, fn = (p * p).sum(dims) - tp, (t * t).sum(dims) - tp
    elif hard:
        tp, fp, fn = (p * t).sum(dims), (p * (1 - t)).sum(dims), ((1 - p) * t).sum(dims)
    else:
        tp = (p.sum(dims) + t.sum(dims) - (p - t).abs().sum(dims)) / 2
        fp, fn = p.sum(dims) - tp, t.sum(dims) - tp
    den = tp + a * fp + b * fn + s
    score = torch.where(den > 0, (tp + s) / torch.where(den > 0, den, 1.0), 1.0)
    loss = -torch.log(score) if log_loss else 1 - score
    w = torch.ones(loss.shape[-1], dtype=D) if weight is None else weight.double()
    if classes is not None:
        loss, w = loss[..., classes], w[classes]
    loss = loss * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    cnt = w.expand_as(loss)
    if per_sample:
        cnt = cnt * (m.flatten(1).sum(1) > 0).double().unsqueeze(1)
    return loss.sum() / cnt.sum() if cnt.sum() > 0 else loss.sum() * 0


def make_case(case, ignore, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, C, H, W, generator=g, dtype=D) * 2
    if case == "binary":
        x = x[:, :1]
    if case == "mc_index":
        y = torch.randint(0, C, (N, H, W), generator=g)
        if ignore:
            y[0, 0] = -100
            y[1] = -100  # a whole sample ignored
        valid = (y != -100).double().unsqueeze(1).flatten(2)
        t = torch.nn.functional.one_hot(y.clamp_min(0), C).movedim(-1, 1).double().flatten(2)
        p = torch.softmax(x, 1).flatten(2)
        return x, y, p, t, valid, "multiclass"
    if case == "mc_soft":
        y = torch.softmax(torch.randn(N, C, H, W, generator=g, dtype=D) * 2, 1)
        p = torch.softmax(x, 1).flatten(2)
        return x, y, p, y.flatten(2), torch.ones(N, 1, H * W, dtype=D), "multiclass"
    y = (torch.rand(x.shape, generator=g) > 0.6).double()
    if ignore:
        y[0, :, 0] = -1
        y[2] = -1
    valid = (y != -1).double().flatten(2)
    t = y.clamp_min(0).flatten(2)
    return (
        x,
        y,
        torch.sigmoid(x).flatten(2),
        t,
        valid,
        "binary" if case == "binary" else "multilabel",
    )


LOSSES = {"dice": (dice_loss, 0.5, 0.5), "jaccard": (jaccard_loss, 1.0, 1.0)}


def _call(kind, x, y, mode, **kw):
    if kind == "tversky":
        return tversky_loss(x, y, mode, 0.3, 0.7, **kw)
    return LOSSES[kind][0](x, y, mode, **kw)


@pytest.mark.parametrize(
    "case,per_sample,squared,log_loss,ignore,weighted,classes,reduction",
    [
        c
        for c in itertools.product(
            ["binary", "multilabel", "mc_index", "mc_soft"],
            [True, False],
            [False, True],
            [False, True],
            [False, True],
            [False, True],
            [False, True],
            ["mean", "sum", "none"],
        )
        if not (c[0] == "mc_soft" and c[4]) and not (c[0] == "binary" and c[6])
    ],
)
def test_dice_every_option_matches_reference(
    case, per_sample, squared, log_loss, ignore, weighted, classes, reduction
):
    x, y, p, t, valid, mode = make_case(case, ignore)
    c = x.shape[1]
    weight = torch.linspace(0.5, 2.0, c, dtype=D) if weighted else None
    cls = [1, 2] if classes else None
    got = dice_loss(
        x, y, mode, smooth=1e-3, squared=squared, per_sample=per_sample, classes=cls,
        weight=weight, ignore_index=(-100 if case == "mc_index" else -1) if ignore else None,
        log_loss=log_loss, reduction=reduction,
    )  # fmt: skip
    want = ref_overlap(
        p, t, valid, 0.5, 0.5, 1e-3, squared, per_sample, cls, weight, log_loss, reduction
    )
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["jaccard", "tversky"])
@pytest.mark.parametrize("case", ["binary", "multilabel", "mc_index", "mc_soft"])
@pytest.mark.parametrize("per_sample,squared,smooth", [(True, False, 0.0), (False, True, 1.0)])
def test_jaccard_tversky_match_reference(kind, case, per_sample, squared, smooth):
    x, y, p, t, valid, mode = make_case(case, ignore=False)
    a, b = (1.0, 1.0) if kind == "jaccard" else (0.3, 0.7)
    got = _call(kind, x, y, mode, smooth=smooth, squared=squared, per_sample=per_sample)
    want = ref_overlap(p, t, valid, a, b, smooth, squared, per_sample, None, None, False, "mean")
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_dice_on_hard_masks_is_the_set_formula():
    g = torch.Generator().manual_seed(3)
    for _ in range(5):
        pm = torch.rand(1, 50, generator=g) > 0.5
        tm = torch.rand(1, 50, generator=g) > 0.3
        inter, size = (pm & tm).sum().item(), pm.sum().item() + tm.sum().item()
        got = dice_loss(pm.double(), tm.double(), from_logits=False, smooth=0.0)
        assert got.item() == pytest.approx(1 - 2 * inter / size, abs=1e-15)
        union = (pm | tm).sum().item()
        got = jaccard_loss(pm.double(), tm.double(), from_logits=False, smooth=0.0)
        assert got.item() == pytest.approx(1 - inter / union, abs=1e-15)


def test_soft_target_equal_prediction_has_zero_loss():
    t = torch.rand(2, 3, 4, 4, dtype=D)
    for fn in (dice_loss, jaccard_loss, tversky_loss):
        assert fn(t, t, "multilabel", from_logits=False, smooth=0.0).item() == 0.0
    q = torch.softmax(torch.randn(2, 3, 4, dtype=D), 1)
    assert dice_loss(q, q, "multiclass", from_logits=False, smooth=0.0).item() == 0.0


def test_empty_class_scores_one():
    p = torch.zeros(2, 2, 5, dtype=D)
    p[:, 0] = 1.0
    t = p.clone()
    for smooth in (0.0, 1e-5):
        loss = dice_loss(p, t, "multilabel", from_logits=False, smooth=smooth, reduction="none")
        assert torch.equal(loss, torch.zeros(2, 2, dtype=D))
    p[0, 1, 0] = 0.5  # predicted mass on the absent class: a false positive that costs
    loss = dice_loss(p, t, "multilabel", from_logits=False, smooth=0.0, reduction="none")
    assert loss[0, 1].item() == 1.0 and loss[1, 1].item() == 0.0


def test_ignored_positions_count_nowhere():
    """Ignoring positions == deleting them (smp instead counts them as class 0)."""
    x, y, *_ = make_case("mc_index", ignore=False)
    y2 = y.clone()
    y2[:, :2] = -100
    kept = x[:, :, 2:], y[:, 2:]
    for per_sample in (True, False):
        got = dice_loss(x, y2, "multiclass", ignore_index=-100, per_sample=per_sample, smooth=0.0)
        want = dice_loss(*kept, "multiclass", per_sample=per_sample, smooth=0.0)
        torch.testing.assert_close(got, want)
    all_ignored = dice_loss(x, torch.full_like(y, -100), "multiclass", ignore_index=-100)
    assert all_ignored.item() == 0.0


@pytest.mark.parametrize("kind", ["dice", "jaccard", "tversky"])
@pytest.mark.parametrize("case", ["binary", "mc_index", "mc_soft"])
@pytest.mark.parametrize("squared,log_loss", [(False, False), (True, True)])
def test_gradcheck(kind, case, squared, log_loss):
    x, y, *_, mode = make_case(case, ignore=False)
    x = x[:2, :, :2, :2].contiguous().requires_grad_(True)
    y = y[:2, ..., :2, :2].contiguous()

    def f(z):
        return _call(kind, z, y, mode, squared=squared, log_loss=log_loss, check="never")

    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


@pytest.mark.parametrize("case", ["multilabel", "mc_index", "mc_soft"])
@pytest.mark.parametrize("squared", [False, True])
def test_gradcheck_from_probabilities(case, squared):
    """from_logits=False (the fused path with no activation): exact first and second
    derivatives with respect to the probabilities."""
    x, y, p, *_, mode = make_case(case, ignore=False)
    q = p.reshape(x.shape) if mode == "multiclass" else torch.sigmoid(x)
    q = q[:2, :, :2, :2].contiguous().requires_grad_(True)
    y = y[:2, ..., :2, :2].contiguous()

    def f(z):
        return dice_loss(z, y, mode, from_logits=False, squared=squared, check="never")

    assert torch.autograd.gradcheck(f, (q,))
    assert torch.autograd.gradgradcheck(f, (q,))


@pytest.mark.parametrize("case", ["multilabel", "mc_soft"])
def test_target_that_needs_a_gradient_gets_one(case):
    """A soft target that is itself trained (e.g. a teacher's output): gradients reach both the
    input and the target (the composite path), and the value equals the fused path's."""
    x, y, *_, mode = make_case(case, ignore=False)
    x = x[:2, :, :2, :2].contiguous().requires_grad_(True)
    y = (y[:2, :, :2, :2] * 0.8 + 0.1).contiguous()  # soft, inside (0, 1)
    fused = dice_loss(x, y, mode, check="never")
    yg = y.clone().requires_grad_(True)
    composite = dice_loss(x, yg, mode, check="never")
    torch.testing.assert_close(composite, fused)
    gx, gy = torch.autograd.grad(composite, (x, yg))
    assert gx.abs().sum() > 0 and gy.abs().sum() > 0
    assert torch.autograd.gradcheck(lambda a, b: dice_loss(a, b, mode, check="never"), (x, yg))


def test_extreme_logits_are_finite():
    x = torch.tensor([[[100.0, -100.0, 1e4, -1e4, float("inf"), float("-inf")]]])
    t = torch.tensor([[[1.0, 0.0, 0.0, 1.0, 1.0, 0.0]]])
    x.requires_grad_(True)
    for fn in (dice_loss, jaccard_loss, tversky_loss):
        loss = fn(x, t, check="never", log_loss=True)
        (g,) = torch.autograd.grad(loss, x)
        assert torch.isfinite(loss) and torch.isfinite(g).all()


# --------------------------------------------------------------------------------------------
# peers
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("per_sample", [True, False])
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("include_background", [True, False])
def test_monai_dice_parity(per_sample, squared, include_background):
    ml = monai_losses()
    x, y, *_ = make_case("mc_index", ignore=False)
    s = 1e-3
    kw = dict(batch=not per_sample, squared_pred=squared, include_background=include_background)
    peer = ml.DiceLoss(softmax=True, to_onehot_y=True, smooth_nr=2 * s, smooth_dr=2 * s, **kw)
    cls = None if include_background else [1, 2]
    got = dice_loss(
        x, y, "multiclass", smooth=s, squared=squared, per_sample=per_sample, classes=cls
    )
    torch.testing.assert_close(got, peer(x, y.unsqueeze(1)))
    xs, ys, *_ = make_case("mc_soft", ignore=False)
    peer = ml.DiceLoss(softmax=True, soft_label=True, smooth_nr=2 * s, smooth_dr=2 * s, **kw)
    got = dice_loss(
        xs, ys, "multiclass", smooth=s, squared=squared, per_sample=per_sample, classes=cls
    )
    torch.testing.assert_close(got, peer(xs, ys))


def test_monai_jaccard_and_tversky_parity():
    ml = monai_losses()
    x, y, *_ = make_case("multilabel", ignore=False)
    s = 1e-2
    peer = ml.DiceLoss(sigmoid=True, jaccard=True, smooth_nr=2 * s, smooth_dr=2 * s)
    torch.testing.assert_close(jaccard_loss(x, y, "multilabel", smooth=s), peer(x, y))
    peer = ml.TverskyLoss(sigmoid=True, alpha=0.3, beta=0.7, smooth_nr=s, smooth_dr=s)
    torch.testing.assert_close(tversky_loss(x, y, "multilabel", 0.3, 0.7, smooth=s), peer(x, y))
    peer = ml.DiceLoss(sigmoid=True, smooth_nr=0.0, smooth_dr=0.0, reduction="none")(x, y)
    got = dice_loss(x, y, "multilabel", smooth=0.0, reduction="none")
    torch.testing.assert_close(got, peer.view(N, C))


@pytest.mark.parametrize("mode", ["multiclass", "multilabel", "binary"])
@pytest.mark.parametrize("log_loss", [False, True])
def test_smp_parity_when_every_class_is_present(mode, log_loss):
    smp = smp_losses()
    case = {"multiclass": "mc_index", "multilabel": "multilabel", "binary": "binary"}[mode]
    x, y, *_ = make_case(case, ignore=False)
    for peer, ours in (
        (smp.DiceLoss(mode, smooth=0.5, log_loss=log_loss), dice_loss),
        (smp.JaccardLoss(mode, smooth=0.5, log_loss=log_loss), jaccard_loss),
    ):
        got = ours(x, y, mode, smooth=0.5, per_sample=False, log_loss=log_loss)
        torch.testing.assert_close(got, peer(x, y))
    peer = smp.TverskyLoss(mode, smooth=0.5, alpha=0.3, beta=0.7)
    got = tversky_loss(x, y, mode, 0.3, 0.7, smooth=0.5, per_sample=False)
    torch.testing.assert_close(got, peer(x, y))


def test_smp_ignore_index_parity():
    """smp 0.6 masks ignored positions in multiclass mode too (older releases counted them)."""
    smp = smp_losses()
    x, y, *_ = make_case("mc_index", ignore=False)
    y[:, :2] = -100
    ours = dice_loss(x, y, "multiclass", smooth=0.0, per_sample=False, ignore_index=-100)
    theirs = smp.DiceLoss("multiclass", smooth=0.0, ignore_index=-100)(x, y)
    torch.testing.assert_close(ours, theirs)


# --------------------------------------------------------------------------------------------
# properties and errors
# --------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0, 2), st.floats(0, 2), st.floats(0, 1))
def test_loss_in_unit_interval_and_symmetric_dice(seed, a, b, s):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(2, 2, 6, generator=g, dtype=D)
    t = torch.rand(2, 2, 6, generator=g, dtype=D)
    v = tversky_loss(p, t, "multilabel", a, b, from_logits=False, smooth=s, reduction="none")
    assert ((v >= -1e-12) & (v <= 1 + 1e-12)).all()
    d1 = dice_loss(p, t, "multilabel", from_logits=False, smooth=s)
    d2 = dice_loss(t, p, "multilabel", from_logits=False, smooth=s)
    torch.testing.assert_close(d1, d2)


def test_errors():
    x, y, *_ = make_case("mc_index", ignore=False)
    with pytest.raises(ConfigurationError, match="`mode`"):
        dice_loss(x, y, "softmax")
    with pytest.raises(ConfigurationError, match="`smooth`"):
        dice_loss(x, y, "multiclass", smooth=-1.0)
    with pytest.raises(ConfigurationError, match="`alpha`"):
        tversky_loss(x, y, "multiclass", -0.1, 0.5)
    with pytest.raises(ConfigurationError, match="`beta`"):
        tversky_loss(x, y, "multiclass", 0.5, float("nan"))
    with pytest.raises(ConfigurationError, match="`classes`"):
        dice_loss(x, y, "multiclass", classes=[0, 3])
    with pytest.raises(ConfigurationError, match="`classes`"):
        dice_loss(x, y, "multiclass", classes=[1, 1])
    with pytest.raises(ConfigurationError, match="`reduction`"):
        dice_loss(x, y, "multiclass", reduction="avg")
    xs, ys, *_ = make_case("mc_soft", ignore=False)
    with pytest.raises(ConfigurationError, match="`ignore_index`"):
        dice_loss(xs, ys, "multiclass", ignore_index=-100)
    with pytest.raises(InputShapeError, match="C >= 2"):
        dice_loss(x[:, :1], y, "multiclass")
    with pytest.raises(InputShapeError, match="multilabel"):
        dice_loss(torch.randn(4), torch.rand(4), "multilabel")
    with pytest.raises(InputShapeError, match="a batch"):
        dice_loss(torch.tensor(0.5), torch.tensor(1.0))
    with pytest.raises(InputTypeError, match=r"torch\.Tensor"):
        dice_loss([0.5], torch.tensor([1.0]))
    with pytest.raises(InputValueError, match=r"class indices in \[0, 3\)"):
        dice_loss(x, y + 1, "multiclass")
    with pytest.raises(InputShapeError, match="`weight`"):
        dice_loss(x, y, "multiclass", weight=torch.ones(2, dtype=D))
    with pytest.raises(InputValueError, match="look like logits"):
        dice_loss(x, y, "multiclass", from_logits=False)
    xb, yb, *_ = make_case("binary", ignore=False)
    with pytest.raises(InputValueError, match="\\[0, 1\\]"):
        dice_loss(xb, yb * 3)
    with pytest.raises(InputTypeError, match="floating-point"):
        dice_loss(xb.long(), yb)


# --------------------------------------------------------------------------------------------
# the fused sums (activation + per-(sample, class) sums in one autograd.Function)
# --------------------------------------------------------------------------------------------
KERNELS = [
    ("dense", "sigmoid"),
    ("dense", "softmax"),
    ("dense", "identity"),
    ("index", "softmax"),
    ("index", "identity"),
]


def _kernel_case(kind, activation, masked, n, c, s, g, dtype=D):
    from nllkit.functional import _overlap_kernels as k

    x = torch.randn(n, c, s, generator=g, dtype=dtype) * 3
    if activation == "identity":  # probabilities in [0, 1]
        x = torch.rand(n, c, s, generator=g, dtype=dtype)
    if kind == "dense":
        fn, ref = k.DenseSums, k.dense_sums_reference
        t = (torch.rand(n, c, s, generator=g, dtype=dtype) > 0.6).to(dtype)
        t[:, 0] = torch.rand(n, s, generator=g, dtype=dtype)  # a soft channel
        m = (torch.rand(n, c, s, generator=g) > 0.2).to(dtype) if masked else None
    else:
        fn, ref = k.IndexSums, k.index_sums_reference
        t = torch.randint(0, c, (n, s), generator=g)
        m = (torch.rand(n, s, generator=g) > 0.2).to(dtype) if masked else None
    return fn, ref, x.requires_grad_(True), t, m


@pytest.mark.parametrize(("kind", "activation"), KERNELS)
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_fused_sums_match_composite_over_several_slices(kind, activation, squared, masked):
    """Values and gradients of the sliced Function == the plain autograd formula."""
    from nllkit.functional import _overlap_kernels as k

    g = torch.Generator().manual_seed(5)
    n, c, s = 23, 3, 2000  # 10 samples a slice: slices of 10, 10 and 3
    assert len(k._slices(torch.empty(n, c, s))) == 3
    fn, ref, x, t, m = _kernel_case(kind, activation, masked, n, c, s, g)
    ga, gb = torch.randn(n, c, generator=g, dtype=D), torch.randn(n, c, generator=g, dtype=D)
    got = fn.apply(x, t, m, squared, activation)
    want = ref(x, t, m, squared, activation)
    if kind == "index":  # a third output: the (masked) label count, no gradient
        ones = torch.ones(t.shape, dtype=D) if m is None else m
        count = torch.zeros(n, c, dtype=D).scatter_add(1, t, ones)
        torch.testing.assert_close(got[2], count)
        assert not got[2].requires_grad
        got = got[:2]
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)
    (gx_got,) = torch.autograd.grad(got, x, (ga, gb))
    (gx_want,) = torch.autograd.grad(want, x, (ga, gb))
    torch.testing.assert_close(gx_got, gx_want)


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_fused_softmax_gradient_in_float32_matches_autograd(squared, masked):
    """float32, large and saturated logits: the fused softmax backward (p·d − p·Σp·d, as plain
    passes) stays within float32 tolerance of autograd's softmax backward."""
    from nllkit.functional import _overlap_kernels as k

    g = torch.Generator().manual_seed(11)
    n, c, s = 9, 5, 9000  # 2 samples a slice in float32: several slices, a short last one
    assert len(k._slices(torch.empty(n, c, s))) > 2
    x = torch.randn(n, c, s, generator=g) * 8
    x[:, 0, :50] = 60.0  # saturated: p = 1 for class 0, 0 elsewhere
    x = x.requires_grad_(True)
    t = torch.randint(0, c, (n, s), generator=g)
    m = (torch.rand(n, s, generator=g) > 0.3).float() if masked else None
    ga, gb = torch.randn(n, c, generator=g), torch.randn(n, c, generator=g)
    got = k.IndexSums.apply(x, t, m, squared, "softmax")[:2]
    want = k.index_sums_reference(x, t, m, squared, "softmax")
    (gx_got,) = torch.autograd.grad(got, x, (ga, gb))
    (gx_want,) = torch.autograd.grad(want, x, (ga, gb))
    assert gx_got.dtype == torch.float32
    assert torch.isfinite(gx_got).all()
    torch.testing.assert_close(gx_got, gx_want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("case", ["multilabel", "mc_index"])
def test_gradcheck_with_ignored_positions(case):
    x, y, *_, mode = make_case(case, ignore=True)
    x = x[:, :, :2, :3].contiguous().requires_grad_(True)
    y = y[..., :2, :3].contiguous()
    ignore = -100 if case == "mc_index" else -1

    def f(z):
        return dice_loss(z, y, mode, ignore_index=ignore, check="never")

    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


def test_soft_target_equal_to_sigmoid_of_logits_has_zero_loss():
    x = torch.randn(2, 3, 4, 4, dtype=D) * 3
    for fn in (dice_loss, jaccard_loss, tversky_loss):
        assert fn(x, torch.sigmoid(x), "multilabel", smooth=0.0).item() == 0.0
    x32 = torch.randn(4, 2, 64, 64)  # float32, several slices
    assert dice_loss(x32, torch.sigmoid(x32), "multilabel", smooth=0.0).item() == 0.0


@pytest.mark.parametrize(("kind", "activation"), KERNELS)
def test_fused_sums_second_backward_through_retained_graph_is_identical(kind, activation):
    """For logits the kept probabilities become the first backward's gradient; a second backward
    (retain_graph=True) computes them again and returns the same gradient, bit for bit."""
    g = torch.Generator().manual_seed(3)
    n, c = 7, 3
    fn, _, x, t, m = _kernel_case(kind, activation, True, n, c, 9000, g, torch.float32)
    out = fn.apply(x, t, m, False, activation)
    grads = (torch.randn(n, c, generator=g), torch.randn(n, c, generator=g))
    (first,) = torch.autograd.grad(out[:2], x, grads, retain_graph=True)
    (second,) = torch.autograd.grad(out[:2], x, grads)
    assert torch.equal(first, second)
    assert first.abs().sum() > 0


@pytest.mark.parametrize(("kind", "activation"), KERNELS)
def test_fused_sums_kept_probabilities_give_the_same_values_and_are_released(kind, activation):
    """For logits with a gradient the probabilities go to a kept x-sized buffer (without, to a
    slice-sized workspace; probabilities are used as they are): the same values either way;
    backward hands the buffer over as the gradient."""
    g = torch.Generator().manual_seed(4)
    fn, _, x, t, m = _kernel_case(kind, activation, False, 4, 3, 5000, g, torch.float32)
    with torch.no_grad():
        want = fn.apply(x, t, m, False, activation)
    got = fn.apply(x, t, m, False, activation)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    node = got[0].grad_fn
    if activation == "identity":
        assert node.probs is None
    else:
        assert node.probs is not None and node.probs.shape == x.shape
    got[0].sum().backward()
    assert node.probs is None
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("mode", ["binary", "multilabel", "multiclass"])
def test_empty_batch_behaves_like_torch(mode):
    """N = 0: no error; "none" is empty, a per-sample "mean" is NaN as torch's mean of nothing,
    and pooled over the batch every class is empty (score 1, loss 0)."""
    x = torch.empty(0, 1 if mode == "binary" else 3, 4, 4, requires_grad=True)
    y = torch.empty(0, 4, 4, dtype=torch.long) if mode == "multiclass" else torch.empty(x.shape)
    assert dice_loss(x, y, mode, reduction="none").numel() == 0
    mean = dice_loss(x, y, mode)
    assert torch.isnan(mean)
    pooled = dice_loss(x, y, mode, per_sample=False)
    assert pooled.item() == 0.0
    pooled.backward()
    assert x.grad is not None and x.grad.shape == x.shape
