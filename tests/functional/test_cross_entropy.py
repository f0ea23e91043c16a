"""The cross-entropy family against torch, the float64 textbook reference, and extreme inputs."""

from __future__ import annotations

import itertools
import warnings

import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import nllkit.functional as NF
from nllkit.errors import (
    ConfigurationError,
    InputShapeError,
    InputTypeError,
    InputValueError,
    LooksLikeProbabilitiesWarning,
    NLLKitError,
    NLLKitWarning,
)
from tests import _reference as ref

REDUCTIONS = ["mean", "sum", "none"]
TOL = {
    torch.float64: dict(rtol=1e-12, atol=1e-12),
    torch.float32: dict(rtol=1e-5, atol=1e-6),
    torch.bfloat16: dict(rtol=2e-2, atol=2e-2),
    torch.float16: dict(rtol=5e-3, atol=5e-3),
}


def _close(a, b, dtype=torch.float32):
    torch.testing.assert_close(a.double(), b.double(), **TOL[dtype])


# ---------------------------------------------------------------- binary cross-entropy (logits)
@pytest.mark.parametrize(
    "shape, dtype, reduction, use_w, use_pw",
    list(
        itertools.product(
            [(7,), (4, 3), (2, 3, 4, 5)],
            [torch.float32, torch.float64, torch.bfloat16, torch.float16],
            REDUCTIONS,
            [False, True],
            [False, True],
        )
    ),
)
def test_bce_with_logits_matches_torch(shape, dtype, reduction, use_w, use_pw):
    z = (torch.randn(shape) * 3).to(dtype)
    y = torch.rand(shape).round().to(dtype)
    w = torch.rand(shape[-1:]).to(dtype) if use_w else None
    pw = (torch.rand(shape[-1:]) * 3).to(dtype) if use_pw else None
    ours = NF.binary_cross_entropy_with_logits(z, y, w, reduction=reduction, pos_weight=pw)
    theirs = TF.binary_cross_entropy_with_logits(z, y, w, reduction=reduction, pos_weight=pw)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    _close(ours, theirs, dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_bce_with_logits_matches_float64_reference(reduction, smoothing):
    z = torch.randn(6, 5, dtype=torch.float64) * 4
    y = torch.rand(6, 5, dtype=torch.float64)  # soft targets
    w = torch.rand(5, dtype=torch.float64)
    pw = torch.rand(5, dtype=torch.float64) * 2
    ours = NF.binary_cross_entropy_with_logits(
        z, y, w, reduction=reduction, pos_weight=pw, label_smoothing=smoothing
    )
    expected = ref.bce_with_logits(z, y, w, pw, reduction, label_smoothing=smoothing)
    _close(ours, expected, torch.float64)


def test_bce_label_smoothing_is_the_two_class_case_of_torch_cross_entropy():
    # BCE on logit z equals 2-class CE on logits (0, z); smoothing ε must map the same way.
    z = torch.randn(16, dtype=torch.float64)
    y = torch.randint(0, 2, (16,))
    ours = NF.binary_cross_entropy_with_logits(z, y.double(), label_smoothing=0.2)
    two_class = torch.stack([torch.zeros_like(z), z], 1)
    theirs = TF.cross_entropy(two_class, y, label_smoothing=0.2)
    _close(ours, theirs, torch.float64)


def test_pos_weight_channel_broadcast_like_torch():
    z = torch.randn(2, 3, 4, 4)
    y = torch.rand(2, 3, 4, 4).round()
    pw = torch.tensor([1.0, 2.0, 5.0]).view(3, 1, 1)
    ours = NF.binary_cross_entropy_with_logits(z, y, pos_weight=pw)
    _close(ours, TF.binary_cross_entropy_with_logits(z, y, pos_weight=pw))


@pytest.mark.parametrize("big", [100.0, 1e4])
def test_bce_with_logits_extreme_logits_give_limits_and_finite_gradients(big):
    z = torch.tensor([big, big, -big, -big], requires_grad=True)
    y = torch.tensor([1.0, 0.0, 1.0, 0.0])
    loss = NF.binary_cross_entropy_with_logits(z, y, reduction="none")
    assert not torch.isnan(loss).any()
    assert loss[0] < 1e-30 and loss[3] < 1e-30  # confident and right: (the limit) 0
    torch.testing.assert_close(loss[1:3], torch.tensor([big, big]))
    loss.sum().backward()
    torch.testing.assert_close(z.grad, torch.tensor([0.0, 1.0, -1.0, 0.0]))


def test_bce_with_logits_infinite_logits_are_reported_on_the_first_call():
    z = torch.tensor([float("inf"), 0.0])
    y = torch.tensor([1.0, 0.0])
    assert TF.binary_cross_entropy_with_logits(z, y).isnan()  # what torch's kernel does
    with pytest.raises(InputValueError, match=r"`logits`: expected values without NaN or Inf"):
        NF.binary_cross_entropy_with_logits(z, y)


def test_bce_with_logits_gradcheck_and_double_backward():
    z = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    y = torch.rand(4, 3, dtype=torch.float64)
    pw = torch.rand(3, dtype=torch.float64)
    fn = lambda z: NF.binary_cross_entropy_with_logits(z, y, pos_weight=pw, label_smoothing=0.1)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (z,))
    assert torch.autograd.gradgradcheck(fn, (z,))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-30, 30), min_size=1, max_size=20),
    st.floats(0, 1),
)
def test_bce_with_logits_property_matches_reference(zs, t):
    z = torch.tensor(zs, dtype=torch.float64)
    y = torch.full_like(z, t)
    ours = NF.binary_cross_entropy_with_logits(z, y, reduction="none", check="never")
    _close(ours, ref.bce_with_logits(z, y, reduction="none"), torch.float64)
    assert (ours >= -1e-12).all()


# ---------------------------------------------------------------- binary cross-entropy (probs)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bce_matches_torch_and_reference(reduction, dtype):
    p = torch.rand(5, 4, dtype=dtype)
    p[0, 0], p[0, 1] = 0.0, 1.0  # exact 0/1: logs clamp at -100 like torch
    y = torch.rand(5, 4, dtype=dtype).round()
    w = torch.rand(4, dtype=dtype)
    ours = NF.binary_cross_entropy(p, y, w, reduction=reduction)
    _close(ours, TF.binary_cross_entropy(p, y, w, reduction=reduction), dtype)
    _close(ours, ref.bce(p, y, w, reduction), dtype)


def test_bce_works_under_autocast_in_float32():
    # torch refuses binary_cross_entropy under CUDA autocast ("unsafe to autocast"); nllkit
    # disables autocast around it and computes in float32 on every device.
    p = torch.rand(8, 3)
    y = torch.rand(8, 3).round()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = NF.binary_cross_entropy(p.bfloat16(), y)
    assert out.dtype == torch.float32
    _close(out, ref.bce(p.bfloat16(), y), torch.bfloat16)


def test_bce_half_precision_outside_autocast_returns_input_dtype():
    p = torch.rand(8).to(torch.bfloat16)
    y = torch.rand(8).round()
    out = NF.binary_cross_entropy(p, y.bfloat16())
    assert out.dtype == torch.bfloat16
    _close(out, ref.bce(p, y), torch.bfloat16)


def test_bce_gradcheck():
    p = (torch.rand(6, dtype=torch.float64) * 0.9 + 0.05).requires_grad_()
    y = torch.rand(6, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p: NF.binary_cross_entropy(p, y), (p,))


# ---------------------------------------------------------------- cross-entropy
CE_SHAPES = [(5,), (6, 5), (2, 5, 3, 4)]


def _index_target(shape, c, ignore=False):
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = torch.randint(0, c, tshape)
    if ignore and t.ndim:
        t[..., 0] = -100
    return t


@pytest.mark.parametrize(
    "shape, dtype, reduction, use_w, ignore, ls",
    list(
        itertools.product(
            CE_SHAPES,
            [torch.float32, torch.float64, torch.bfloat16],
            REDUCTIONS,
            [False, True],
            [False, True],
            [0.0, 0.15],
        )
    ),
)
def test_cross_entropy_index_targets_match_torch(shape, dtype, reduction, use_w, ignore, ls):
    c = shape[0] if len(shape) == 1 else shape[1]
    z = (torch.randn(shape) * 2).to(dtype)
    t = _index_target(shape, c, ignore)
    w = (torch.rand(c) + 0.1).to(dtype) if use_w else None
    ours = NF.cross_entropy(z, t, w, reduction=reduction, label_smoothing=ls)
    theirs = TF.cross_entropy(z, t, w, reduction=reduction, label_smoothing=ls)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    _close(ours, theirs, dtype)


@pytest.mark.parametrize(
    "shape, reduction, use_w, ls",
    list(itertools.product(CE_SHAPES[1:], REDUCTIONS, [False, True], [0.0, 0.2])),
)
def test_cross_entropy_probability_targets_match_torch_and_reference(shape, reduction, use_w, ls):
    c = shape[1]
    z = torch.randn(shape, dtype=torch.float64)
    q = torch.softmax(torch.randn(shape, dtype=torch.float64), 1)
    w = torch.rand(c, dtype=torch.float64) if use_w else None
    ours = NF.cross_entropy(z, q, w, reduction=reduction, label_smoothing=ls)
    _close(ours, TF.cross_entropy(z, q, w, reduction=reduction, label_smoothing=ls), torch.float64)
    _close(ours, ref.cross_entropy(z, q, w, reduction=reduction, label_smoothing=ls), torch.float64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_w", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.1])
def test_cross_entropy_matches_float64_reference_with_ignore(reduction, use_w, ls):
    z = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    t = torch.randint(0, 4, (2, 3, 3))
    t[0, 0] = -100
    w = torch.rand(4, dtype=torch.float64) + 0.2 if use_w else None
    ours = NF.cross_entropy(z, t, w, reduction=reduction, label_smoothing=ls)
    _close(ours, ref.cross_entropy(z, t, w, -100, reduction, ls), torch.float64)


@pytest.mark.parametrize("use_w", [False, True])
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_all_ignored_batch_gives_zero_loss_and_zero_gradient(use_w, fn):
    z = torch.randn(4, 3, requires_grad=True)
    t = torch.full((4,), -100)
    w = torch.rand(3) if use_w else None
    x = z if fn == "cross_entropy" else torch.log_softmax(z, 1)
    loss = getattr(NF, fn)(x, t, w)
    assert getattr(TF, fn)(x, t, w).isnan()  # what torch does
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(z.grad, torch.zeros_like(z))


def test_cross_entropy_float16_mean_over_a_large_map_does_not_overflow():
    z = (torch.randn(4, 3, 128, 128) * 8).half()
    t = torch.randint(0, 3, (4, 128, 128))
    ours = NF.cross_entropy(z, t)
    assert torch.isfinite(ours)
    _close(ours, TF.cross_entropy(z.double(), t), torch.float16)


def test_cross_entropy_masked_classes_and_plus_inf():
    inf = float("inf")
    z = torch.tensor([[0.0, 1.0, -inf], [2.0, -inf, -inf]], requires_grad=True)
    t = torch.tensor([1, 0])
    loss = NF.cross_entropy(z, t, reduction="none")  # -inf masks a class, as in torch
    torch.testing.assert_close(loss, TF.cross_entropy(z, t, reduction="none"))
    torch.testing.assert_close(loss[1], torch.tensor(0.0))
    loss.sum().backward()
    assert torch.isfinite(z.grad).all()
    with pytest.raises(InputValueError, match=r"`logits`: expected values without NaN or \+inf"):
        NF.cross_entropy(torch.tensor([[inf, 0.0]]), torch.tensor([0]), check="always")


@pytest.mark.parametrize("big", [100.0, 1e4])
def test_cross_entropy_large_logits_are_finite(big):
    z = torch.tensor([[big, -big, 0.0]], requires_grad=True)
    for y in range(3):
        loss = NF.cross_entropy(z, torch.tensor([y]))
        (g,) = torch.autograd.grad(loss, z)
        assert torch.isfinite(loss) and torch.isfinite(g).all()


def test_cross_entropy_gradcheck_and_double_backward():
    z = torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([[0, 1], [3, -100], [2, 2]])
    w = torch.rand(4, dtype=torch.float64)
    fn = lambda z: NF.cross_entropy(z, t, w, label_smoothing=0.1)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (z,))
    assert torch.autograd.gradgradcheck(fn, (z,))


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 6),
    st.integers(1, 5),
    st.floats(-50, 50),
    st.floats(0, 0.5),
)
def test_cross_entropy_properties(c, n, shift, ls):
    g = torch.Generator().manual_seed(c * 31 + n)
    z = torch.randn(n, c, generator=g, dtype=torch.float64) * 5
    t = torch.randint(0, c, (n,), generator=g)
    loss = NF.cross_entropy(z, t, label_smoothing=ls, check="never")
    # log-softmax is invariant to adding a constant to every logit
    _close(loss, NF.cross_entropy(z + shift, t, label_smoothing=ls), torch.float64)
    _close(loss, ref.cross_entropy(z, t, label_smoothing=ls), torch.float64)
    assert loss >= 0
    # the Categorical NLL equals NLL of log-softmax
    _close(
        NF.cross_entropy(z, t, check="never"),
        NF.nll_loss(torch.log_softmax(z, 1), t, check="never"),
        torch.float64,
    )


# ---------------------------------------------------------------- nll_loss
@pytest.mark.parametrize(
    "shape, reduction, use_w, ignore",
    list(itertools.product(CE_SHAPES, REDUCTIONS, [False, True], [False, True])),
)
def test_nll_loss_matches_torch_and_reference(shape, reduction, use_w, ignore):
    c = shape[0] if len(shape) == 1 else shape[1]
    lp = torch.log_softmax(torch.randn(shape, dtype=torch.float64), 0 if len(shape) == 1 else 1)
    t = _index_target(shape, c, ignore)
    w = torch.rand(c, dtype=torch.float64) + 0.1 if use_w else None
    ours = NF.nll_loss(lp, t, w, reduction=reduction)
    _close(ours, TF.nll_loss(lp, t, w, reduction=reduction), torch.float64)
    _close(ours, ref.nll_loss(lp, t, w, reduction=reduction), torch.float64)


# ---------------------------------------------------------------- legacy torch arguments
@pytest.mark.parametrize(
    "size_average, reduce, expected",
    [(None, False, "none"), (False, None, "sum"), (True, True, "mean"), (None, True, "mean")],
)
def test_legacy_size_average_and_reduce(size_average, reduce, expected):
    z, y = torch.randn(4, 3), torch.rand(4, 3)
    ours = NF.binary_cross_entropy_with_logits(z, y, None, size_average, reduce)
    _close(ours, TF.binary_cross_entropy_with_logits(z, y, reduction=expected))


# ---------------------------------------------------------------- errors and warnings
def test_bad_reduction_and_smoothing_and_check():
    z, y = torch.randn(3), torch.rand(3)
    with pytest.raises(ConfigurationError, match=r"`reduction`: expected one of 'mean'"):
        NF.binary_cross_entropy_with_logits(z, y, reduction="avg")
    with pytest.raises(
        ConfigurationError, match=r"`label_smoothing`: expected a float in \[0, 1\]"
    ):
        NF.cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(ConfigurationError, match=r"`check`: expected one of 'first'"):
        NF.cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), check="sometimes")


def test_errors_are_value_or_type_errors_with_one_base():
    with pytest.raises(ValueError) as info:
        NF.cross_entropy(torch.randn(2, 3), torch.tensor([0, 3]))
    assert isinstance(info.value, NLLKitError)
    assert info.value.argument == "target" and "Fix:" in str(info.value)


def test_bce_logits_shape_mismatch():
    with pytest.raises(InputShapeError, match=r"`target`: expected the shape of `logits` \(4, 1\)"):
        NF.binary_cross_entropy_with_logits(torch.randn(4, 1), torch.rand(4))


def test_bce_logits_integer_target():
    with pytest.raises(InputTypeError, match=r"`target`: .* found dtype torch.int64.*target.float"):
        NF.binary_cross_entropy_with_logits(torch.randn(4), torch.tensor([0, 1, 1, 0]))


def test_bce_logits_target_out_of_range():
    with pytest.raises(InputValueError, match=r"`target`: expected values in \[0, 1\].*\[0, 3\]"):
        NF.binary_cross_entropy_with_logits(torch.randn(3), torch.tensor([0.0, 1.0, 3.0]))


def test_nan_in_logits_and_target():
    with pytest.raises(InputValueError, match=r"`logits`: expected values without NaN.*1 such"):
        NF.binary_cross_entropy_with_logits(torch.tensor([0.0, float("nan")]), torch.rand(2))
    with pytest.raises(InputValueError, match=r"`target`: expected values without NaN or Inf"):
        NF.binary_cross_entropy_with_logits(torch.randn(2), torch.tensor([0.0, float("nan")]))
    with pytest.raises(InputValueError, match=r"`logits`: expected values without NaN"):
        NF.cross_entropy(torch.tensor([[0.0, float("nan")]]), torch.tensor([0]))


def test_non_tensor_and_integer_logits():
    with pytest.raises(InputTypeError, match=r"`logits`: expected a torch.Tensor, but found list"):
        NF.binary_cross_entropy_with_logits([0.0, 1.0], torch.rand(2))
    with pytest.raises(InputTypeError, match=r"`logits`: expected a floating-point tensor"):
        NF.cross_entropy(torch.tensor([[1, 2]]), torch.tensor([0]))


def test_device_mismatch_is_reported():
    meta = torch.empty(3, device="meta")
    with pytest.raises(
        InputTypeError, match=r"`target`: expected a tensor on cpu .*found a tensor on meta"
    ):
        NF.binary_cross_entropy_with_logits(torch.randn(3), meta)


def test_weight_and_pos_weight_shapes():
    z, y = torch.randn(4, 3), torch.rand(4, 3)
    with pytest.raises(InputShapeError, match=r"`weight`: expected a shape that broadcasts"):
        NF.binary_cross_entropy_with_logits(z, y, torch.rand(5))
    with pytest.raises(InputShapeError, match=r"`pos_weight`: expected a shape that broadcasts"):
        NF.binary_cross_entropy_with_logits(z, y, pos_weight=torch.rand(2))
    with pytest.raises(
        InputShapeError, match=r"`weight`: expected one weight per class, shape \(3,\)"
    ):
        NF.cross_entropy(z, torch.tensor([0, 1, 2, 0]), torch.rand(4))


def test_pos_weight_per_channel_on_a_map_names_the_fix():
    z, y = torch.randn(2, 3, 4, 5), torch.rand(2, 3, 4, 5).round()
    with pytest.raises(InputShapeError, match=r"pos_weight.view\(3, 1, 1\)"):
        NF.binary_cross_entropy_with_logits(z, y, pos_weight=torch.rand(3))
    # when the last dim happens to equal C torch broadcasts silently over the wrong axis: warn
    z, y = torch.randn(2, 3, 4, 3), torch.rand(2, 3, 4, 3).round()
    with pytest.warns(NLLKitWarning, match=r"broadcasts against the LAST dimension"):
        NF.binary_cross_entropy_with_logits(z, y, pos_weight=torch.rand(3))


def test_bce_on_logits_raises_looks_like_logits():
    with pytest.raises(
        InputValueError, match=r"`probs`: .*these look like logits: use binary_cross"
    ):
        NF.binary_cross_entropy(torch.tensor([-1.0, 2.0]), torch.tensor([0.0, 1.0]))


def test_probabilities_given_to_logits_losses_warn():
    p = torch.rand(32)
    with pytest.warns(LooksLikeProbabilitiesWarning, match=r"remove the final Sigmoid"):
        NF.binary_cross_entropy_with_logits(p, torch.rand(32).round())
    probs = torch.softmax(torch.randn(4, 5), 1)
    with pytest.warns(LooksLikeProbabilitiesWarning, match=r"remove the final Softmax"):
        NF.cross_entropy(probs, torch.tensor([0, 1, 2, 3]))
    with pytest.warns(LooksLikeProbabilitiesWarning, match=r"look like probabilities.*log_softmax"):
        NF.nll_loss(probs, torch.tensor([0, 1, 2, 3]))
    with pytest.warns(LooksLikeProbabilitiesWarning, match=r"look like logits"):
        NF.nll_loss(torch.randn(4, 5) * 3, torch.tensor([0, 1, 2, 3]), check="always")


def test_real_logits_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NF.binary_cross_entropy_with_logits(torch.randn(64), torch.rand(64).round())
        NF.cross_entropy(torch.randn(8, 4), torch.randint(0, 4, (8,)))
        NF.binary_cross_entropy_with_logits(torch.rand(4), torch.rand(4).round())  # too few to tell


def test_class_target_errors():
    z = torch.randn(4, 3)
    with pytest.raises(
        InputValueError, match=r"class indices in \[0, 3\) or ignore_index=-100.*e.g. 5"
    ):
        NF.cross_entropy(z, torch.tensor([0, 1, 5, 2]))
    with pytest.raises(InputValueError, match=r"class indices in \[0, 3\).*e.g. -1"):
        NF.cross_entropy(z, torch.tensor([0, 1, -1, 2]))
    with pytest.raises(InputTypeError, match=r"class indices of dtype torch.int64.*target.long"):
        NF.cross_entropy(z, torch.tensor([0, 1, 1, 2], dtype=torch.int32))
    with pytest.raises(InputShapeError, match=r"class indices of shape \(4,\).*movedim"):
        NF.cross_entropy(z, torch.tensor([0, 1]))
    with pytest.raises(InputShapeError, match=r"class probabilities must have the shape"):
        NF.cross_entropy(z, torch.rand(4))
    with pytest.raises(InputValueError, match=r"class probabilities lie in \[0, 1\]"):
        NF.cross_entropy(z, torch.randn(4, 3) * 5)
    with pytest.raises(InputShapeError, match=r"`logits`: expected a tensor of shape \(C,\)"):
        NF.cross_entropy(torch.tensor(1.0), torch.tensor(0))
    with pytest.raises(
        InputTypeError, match=r"`target`: expected int64 class indices.*use cross_entropy"
    ):
        NF.nll_loss(torch.log_softmax(z, 1), torch.softmax(z, 1))


# ---------------------------------------------------------------- when checks run
def test_check_first_runs_once_then_never():
    bad = torch.tensor([0.0, 1.0, 7.0])
    z = torch.randn(3)
    NF.binary_cross_entropy_with_logits(z, torch.rand(3))  # first call: checked, passes
    NF.binary_cross_entropy_with_logits(z, bad)  # not checked again: no error, no sync
    with pytest.raises(InputValueError):
        NF.binary_cross_entropy_with_logits(z, bad, check="always")
    NF.binary_cross_entropy_with_logits(z, bad, check="never")


def test_a_failed_first_check_is_retried():
    z = torch.randn(3)
    with pytest.raises(InputValueError):
        NF.binary_cross_entropy_with_logits(z, torch.tensor([0.0, 1.0, 7.0]))
    with pytest.raises(InputValueError):
        NF.binary_cross_entropy_with_logits(z, torch.tensor([0.0, 1.0, 7.0]))


def test_checks_do_not_sync_after_the_first_call(monkeypatch):
    import nllkit.guards as guards

    NF.cross_entropy(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    calls = []
    monkeypatch.setattr(guards, "check_class_targets", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(torch.Tensor, "item", lambda self: calls.append(2))
    for _ in range(3):
        NF.cross_entropy(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    assert calls == []
