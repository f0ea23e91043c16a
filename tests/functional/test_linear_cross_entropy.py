"""Tests of nllkit.functional.linear_cross_entropy and nllkit.nn.LinearCrossEntropyLoss.

The reference is the naive computation written out in float64: logits ``h Wᵀ + b`` held in full,
optional soft-cap, the smoothed target's NLL from ``log softmax`` and the z-loss term.
"""

from __future__ import annotations

import importlib
import math

import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

from nllkit.errors import ConfigurationError, InputShapeError, InputTypeError, InputValueError
from nllkit.functional import linear_cross_entropy
from nllkit.functional.linear_cross_entropy import default_chunk_size
from nllkit.nn import LinearCrossEntropyLoss

# the module (its name is shadowed by the function in nllkit.functional)
lce_mod = importlib.import_module("nllkit.functional.linear_cross_entropy")


def reference(h, w, t, b=None, *, reduction="mean", ignore_index=-100, eps=0.0, cap=None, zl=0.0):
    """The textbook loss in float64, with every logit held."""
    z = h.double() @ w.double().T
    if b is not None:
        z = z + b.double()
    if cap is not None:
        z = cap * torch.tanh(z / cap)
    v = z.shape[-1]
    lse = torch.logsumexp(z, dim=-1)
    log_p = z - lse.unsqueeze(-1)  # log softmax
    valid = t != ignore_index
    safe_t = torch.where(valid, t, torch.zeros_like(t))
    q = (1 - eps) * TF.one_hot(safe_t, v).double() + eps / v
    loss = -(q * log_p).sum(-1) + zl * lse**2
    loss = torch.where(valid, loss, torch.zeros_like(loss))
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / valid.sum().clamp(min=1)


def make(n=37, d=8, v=50, dtype=torch.float64, ignore="some", bias=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, d, generator=g, dtype=torch.float64).to(dtype).requires_grad_()
    w = (torch.randn(v, d, generator=g, dtype=torch.float64) / math.sqrt(d) * 2).to(dtype)
    w.requires_grad_()
    b = (
        torch.randn(v, generator=g, dtype=torch.float64).to(dtype).requires_grad_()
        if bias
        else None
    )
    t = torch.randint(0, v, (n,), generator=g)
    if ignore == "some":
        t[::4] = -100
    elif ignore == "all":
        t[:] = -100
    return h, w, b, t


def grads(loss, inputs, seed=1):
    inputs = [x for x in inputs if x is not None]
    g = torch.Generator().manual_seed(seed)
    go = torch.randn(loss.shape, generator=g, dtype=torch.float64).to(loss.dtype)
    return torch.autograd.grad(loss, inputs, go)


OPTIONS = [
    {},
    {"eps": 0.1},
    {"cap": 2.0},
    {"zl": 1e-2},
    {"eps": 0.2, "cap": 3.0, "zl": 1e-3},
]


def _kw(o):
    return {
        "label_smoothing": o.get("eps", 0.0),
        "softcap": o.get("cap"),
        "z_loss": o.get("zl", 0.0),
    }


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore", ["none", "some", "all"])
@pytest.mark.parametrize("opts", OPTIONS)
@pytest.mark.parametrize("bias", [True, False])
def test_matches_float64_reference(reduction, ignore, opts, bias):
    h, w, b, t = make(ignore=ignore, bias=bias)
    # 37 rows in chunks of 8: the last chunk is partial
    out = linear_cross_entropy(h, w, t, b, reduction=reduction, chunk_size=8, **_kw(opts))
    ref = reference(h, w, t, b, reduction=reduction, **opts)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    for got, want in zip(grads(out, (h, w, b)), grads(ref, (h, w, b))):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("opts", OPTIONS)
def test_float32_within_1e5_of_float64(reduction, opts):
    h64, w64, b64, t = make(n=70, d=16, v=300, ignore="some")
    h, w, b = (x.detach().float().requires_grad_() for x in (h64, w64, b64))
    out = linear_cross_entropy(h, w, t, b, reduction=reduction, chunk_size=32, **_kw(opts))
    assert out.dtype == torch.float32
    ref = reference(h64, w64, t, b64, reduction=reduction, **opts)
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-6)
    for got, want in zip(grads(out, (h, w, b)), grads(ref, (h64, w64, b64))):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_loss_within_1e3_of_float64(dtype):
    h64, w64, b64, t = make(n=300, d=64, v=2000, ignore="some")
    h, w, b = (x.detach().to(dtype).requires_grad_() for x in (h64, w64, b64))
    out = linear_cross_entropy(h, w, t, b, chunk_size=64)
    assert out.dtype == torch.float32  # the loss is returned in the accumulation dtype
    ref = reference(h.detach(), w.detach(), t, b.detach())  # same rounded inputs, in float64
    assert abs(out.item() - ref.item()) <= 1e-3 * abs(ref.item())
    out.backward()
    gref = torch.autograd.grad(reference(h64, w64, t, b64), (h64, w64, b64))
    for x, want in zip((h, w, b), gref):
        assert x.grad.dtype == dtype
        # one rounding of a half-precision gradient: relative to the gradient's scale
        err = (x.grad.double() - want).abs().max() / want.abs().max()
        assert err < 2e-2


def test_bfloat16_loss_more_accurate_than_naive_bfloat16():
    h64, w64, _, t = make(n=512, d=64, v=4096, ignore="none", bias=False)
    h, w = h64.detach().bfloat16(), w64.detach().bfloat16()
    ref = reference(h, w, t).item()
    ours = linear_cross_entropy(h, w, t, chunk_size=100).item()
    naive = TF.cross_entropy(h @ w.T, t).item()
    assert abs(ours - ref) / ref < 1e-4
    assert abs(ours - ref) < abs(naive - ref)


def test_bfloat16_weight_gradient_summed_over_many_chunks():
    # the weight gradient is kept in bfloat16 and each chunk's product adds into it: 64 chunks
    # of 16 rows must still be within a few bfloat16 roundings of the float64 gradient
    h64, w64, b64, t = make(n=1024, d=32, v=512, ignore="some")
    h, w, b = (x.detach().bfloat16().requires_grad_() for x in (h64, w64, b64))
    out = linear_cross_entropy(h, w, t, b, reduction="sum", chunk_size=16)
    out.backward()
    hd, wd, bd = (x.detach().double().requires_grad_() for x in (h, w, b))
    gref = torch.autograd.grad(reference(hd, wd, t, bd, reduction="sum"), (hd, wd, bd))
    for x, want in zip((h, w, b), gref):
        assert x.grad.dtype == torch.bfloat16
        err = (x.grad.double() - want).abs().max() / want.abs().max()
        assert err < 2e-2


@pytest.mark.parametrize("opts", [{"eps": 0.1}, {"cap": 3.0}, {"zl": 1e-3}])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_bfloat16_options_match_float64_reference(opts, reduction):
    # bfloat16 chunks compute their softmax a few rows at a time: every option goes through it
    h64, w64, b64, t = make(n=200, d=16, v=3000, ignore="some")
    h, w, b = (x.detach().bfloat16().requires_grad_() for x in (h64, w64, b64))
    kw = {"label_smoothing": opts.get("eps", 0.0), "softcap": opts.get("cap"),
          "z_loss": opts.get("zl", 0.0)}  # fmt: skip
    out = linear_cross_entropy(h, w, t, b, reduction=reduction, chunk_size=64, **kw)
    hd, wd, bd = (x.detach().double().requires_grad_() for x in (h, w, b))
    ref = reference(hd, wd, t, bd, reduction=reduction, **opts)
    # per row, the logits' own bfloat16 rounding (up to 2⁻⁹·|z|) shows; summed, it averages out
    tol = {"rtol": 1e-3, "atol": 1e-3} if reduction == "mean" else {"rtol": 5e-3, "atol": 5e-2}
    torch.testing.assert_close(out.double(), ref, **tol)
    for got, want in zip(grads(out, (h, w, b)), grads(ref, (hd, wd, bd))):
        assert got.dtype == torch.bfloat16
        assert ((got.double() - want).abs().max() / want.abs().max()) < 2e-2


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck(reduction):
    h, w, b, t = make(n=7, d=3, v=6, ignore="some")

    def f(h, w, b):
        return linear_cross_entropy(
            h, w, t, b, reduction=reduction, chunk_size=3, label_smoothing=0.1, softcap=2.0,
            z_loss=0.05,
        )  # fmt: skip

    assert torch.autograd.gradcheck(f, (h, w, b))


def test_all_ignored_gives_zero_and_zero_gradients():
    h, w, b, t = make(ignore="all")
    out = linear_cross_entropy(h, w, t, b)
    assert out.item() == 0.0
    out.backward()
    for x in (h, w, b):
        assert torch.count_nonzero(x.grad) == 0


def test_never_holds_the_full_logits():
    n, v = 64, 200
    h, w, b, t = make(n=n, d=8, v=v, ignore="none")

    class MaxNumel(TorchDispatchMode):
        largest = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for o in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(o, torch.Tensor):
                    MaxNumel.largest = max(MaxNumel.largest, o.numel())
            return out

    with MaxNumel():
        linear_cross_entropy(h, w, t, b, chunk_size=16, label_smoothing=0.1, softcap=5.0).backward()
    assert MaxNumel.largest <= 16 * v < n * v
    with MaxNumel():
        TF.cross_entropy(h @ w.T + b, t).backward()  # the naive way does hold them
    assert MaxNumel.largest >= n * v


def _record_kernel_calls(monkeypatch):
    calls = []
    real = lce_mod._chunked

    def spy(*args, **kwargs):
        calls.append({k: kwargs[k] for k in kwargs if k.startswith("need_")} | {"n": len(args[0])})
        return real(*args, **kwargs)

    monkeypatch.setattr(lce_mod, "_chunked", spy)
    return calls


def test_no_grad_does_no_gradient_work(monkeypatch):
    calls = _record_kernel_calls(monkeypatch)
    h, w, b, t = make()
    with torch.no_grad():
        out = linear_cross_entropy(h, w, t, b)
    assert not out.requires_grad
    assert calls == [{"need_grad_hidden": False, "need_grad_weight": False,
                      "need_grad_bias": False, "n": 27}]  # fmt: skip
    torch.testing.assert_close(out, reference(h, w, t, b))


def test_ignored_rows_dropped_and_only_needed_gradients(monkeypatch):
    calls = _record_kernel_calls(monkeypatch)
    h, w, b, t = make(n=40, ignore="some")  # every 4th of 40 ignored: 30 kept
    linear_cross_entropy(h.detach(), w, t, b.detach()).backward()
    assert calls == [{"need_grad_hidden": False, "need_grad_weight": True,
                      "need_grad_bias": False, "n": 30}]  # fmt: skip


def test_leading_dimensions_and_none_shape():
    h, w, b, t = make(n=24)
    out = linear_cross_entropy(h.view(2, 3, 4, 8), w, t.view(2, 3, 4), b, reduction="none")
    assert out.shape == (2, 3, 4)
    torch.testing.assert_close(out.reshape(-1), reference(h, w, t, b, reduction="none"))


@pytest.mark.parametrize("chunk", [1, 5, 37, 1000, None])
def test_any_chunk_size_gives_the_same_result(chunk):
    h, w, b, t = make()
    out = linear_cross_entropy(h, w, t, b, chunk_size=chunk, label_smoothing=0.1)
    torch.testing.assert_close(out, reference(h, w, t, b, eps=0.1))


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 20),
    v=st.integers(2, 30),
    chunk=st.integers(1, 25),
    eps=st.sampled_from([0.0, 0.3, 1.0]),
    scale=st.sampled_from([1e-3, 1.0, 30.0]),
    seed=st.integers(0, 2**16),
)
def test_property_matches_reference(n, v, chunk, eps, scale, seed):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, 4, generator=g, dtype=torch.float64) * scale
    w = torch.randn(v, 4, generator=g, dtype=torch.float64)
    t = torch.randint(-1, v, (n,), generator=g)
    out = linear_cross_entropy(h, w, t, ignore_index=-1, label_smoothing=eps, chunk_size=chunk)
    ref = reference(h, w, t, ignore_index=-1, eps=eps)
    torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-9)
    assert out.item() >= 0.0


@pytest.mark.parametrize("scale", [100.0, 1e4])
def test_extreme_logits_are_finite_and_exact(scale):
    h, w, b, t = make(ignore="none")
    h = (h.detach() * scale).requires_grad_()
    out = linear_cross_entropy(h, w, t, b, softcap=None)
    ref = reference(h, w, t, b)
    assert torch.isfinite(out)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-8)
    (g,) = torch.autograd.grad(out, h)
    assert torch.isfinite(g).all()
    torch.testing.assert_close(g, torch.autograd.grad(ref, h)[0], rtol=1e-8, atol=1e-10)
    # soft-capping bounds the logits: the loss is at most 2·cap + log V
    capped = linear_cross_entropy(h, w, t, b, softcap=5.0)
    assert capped.item() <= 10.0 + math.log(50)


def test_parity_with_torch_cross_entropy_and_torch_linear_cross_entropy():
    h, w, b, t = make(dtype=torch.float32, ignore="some")
    ours = linear_cross_entropy(h, w, t, b, label_smoothing=0.1)
    naive = TF.cross_entropy(TF.linear(h, w, b), t, label_smoothing=0.1)
    torch.testing.assert_close(ours, naive)
    if hasattr(TF, "linear_cross_entropy"):
        theirs = TF.linear_cross_entropy(h, w, t, linear_bias=b, label_smoothing=0.1)
        torch.testing.assert_close(ours, theirs)


def test_autocast_runs_products_in_bfloat16():
    h, w, b, t = make(dtype=torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = linear_cross_entropy(h, w, t, b)
    assert out.dtype == torch.float32
    out.backward()
    assert w.grad.dtype == torch.float32
    ref = reference(h.bfloat16(), w.bfloat16(), t, b.bfloat16())
    assert abs(out.item() - ref.item()) < 1e-3 * ref.item()


def test_torch_compile_fullgraph_matches_eager():
    h, w, b, t = make(dtype=torch.float32)

    def step(h, w, b, t):
        return linear_cross_entropy(torch.tanh(h), w, t, b, label_smoothing=0.1, chunk_size=8)

    compiled = torch.compile(step, backend="aot_eager", fullgraph=True)
    out = compiled(h, w, b, t)
    got = torch.autograd.grad(out, (h, w, b))
    ref = step(h, w, b, t)
    want = torch.autograd.grad(ref, (h, w, b))
    torch.testing.assert_close(out, ref)
    for x, y in zip(got, want):
        torch.testing.assert_close(x, y)


def test_retained_graph_runs_backward_again():
    h, w, b, t = make()
    out = linear_cross_entropy(h, w, t, b)
    out.backward(retain_graph=True)
    first = [x.grad.clone() for x in (h, w, b)]
    (out * 3).backward()  # a second backward with another incoming gradient
    for x, g in zip((h, w, b), first):
        torch.testing.assert_close(x.grad, 4 * g)


def test_default_chunk_size():
    assert default_chunk_size(8192, 1024, 65536, torch.float32) == 512
    assert default_chunk_size(100, 1024, 65536) == 100
    # machine floors: a small weight still gets 256-row chunks on a CPU, 512 on an accelerator
    assert default_chunk_size(10_000, 16, 100_000) == 256
    assert default_chunk_size(10_000, 16, 100_000, device="cuda") == 512
    assert default_chunk_size(4096, 1024, 32768, torch.bfloat16) % 64 == 0
    # soft-capping needs a second buffer: never a larger chunk
    assert default_chunk_size(8192, 4096, 32768, softcap=True) < default_chunk_size(
        8192, 4096, 32768
    )


# ------------------------------------------------------------------------------------------------
# Errors: each names the argument and the fix
# ------------------------------------------------------------------------------------------------
def test_configuration_errors():
    h, w, _, t = make()
    with pytest.raises(ConfigurationError, match="reduction"):
        linear_cross_entropy(h, w, t, reduction="avg")
    with pytest.raises(ConfigurationError, match="label_smoothing"):
        linear_cross_entropy(h, w, t, label_smoothing=1.5)
    with pytest.raises(ConfigurationError, match="softcap"):
        linear_cross_entropy(h, w, t, softcap=0.0)
    with pytest.raises(ConfigurationError, match="z_loss"):
        linear_cross_entropy(h, w, t, z_loss=-1.0)
    with pytest.raises(ConfigurationError, match="chunk_size"):
        linear_cross_entropy(h, w, t, chunk_size=0)
    with pytest.raises(ConfigurationError, match="check"):
        linear_cross_entropy(h, w, t, check="sometimes")


def test_shape_and_type_errors():
    h, w, b, t = make()
    with pytest.raises(InputShapeError, match="transposed"):
        linear_cross_entropy(torch.randn(37, 50, dtype=torch.float64), w, t)
    with pytest.raises(InputShapeError, match="weight"):
        linear_cross_entropy(h, w[0], t)
    with pytest.raises(InputShapeError, match="target"):
        linear_cross_entropy(h, w, t[:-1])
    with pytest.raises(InputShapeError, match="bias"):
        linear_cross_entropy(h, w, t, b[:-1])
    with pytest.raises(InputTypeError, match="int64"):
        linear_cross_entropy(h, w, t.int())
    with pytest.raises(InputTypeError, match="dtype"):
        linear_cross_entropy(h, w.float(), t)
    with pytest.raises(InputTypeError, match="floating"):
        linear_cross_entropy(h.long(), w, t)
    with pytest.raises(InputTypeError, match=r"torch\.Tensor"):
        linear_cross_entropy(h.tolist(), w, t)


def test_value_errors_on_first_call_only():
    h, w, _, t = make()
    bad = t.clone()
    bad[0] = 50
    with pytest.raises(InputValueError, match="class indices"):
        linear_cross_entropy(h, w, bad)
    nan_h = h.detach().clone()
    nan_h[1, 0] = float("nan")  # row 0 is ignored (dropped before the projection)
    with pytest.raises(InputValueError, match="NaN"):
        linear_cross_entropy(nan_h, w, t)
    linear_cross_entropy(h, w, t)  # passes: the checks are now off for this function
    assert torch.isnan(linear_cross_entropy(nan_h, w, t))
    with pytest.raises(InputValueError, match="NaN"):
        linear_cross_entropy(nan_h, w, t, check="always")


# ------------------------------------------------------------------------------------------------
# The module
# ------------------------------------------------------------------------------------------------
def test_module_matches_functional_and_checks_once():
    h, w, b, t = make()
    loss_fn = LinearCrossEntropyLoss(label_smoothing=0.1, softcap=4.0, z_loss=1e-3, chunk_size=8)
    out = loss_fn(h, w, t, b)
    torch.testing.assert_close(out, reference(h, w, t, b, eps=0.1, cap=4.0, zl=1e-3))
    assert loss_fn._checked
    assert "softcap=4.0" in repr(loss_fn) and "chunk_size=8" in repr(loss_fn)
    none = LinearCrossEntropyLoss(reduction="none")(h, w, t)
    assert none.shape == t.shape
    assert LinearCrossEntropyLoss.expects == "hidden_states"


def test_module_configuration_errors():
    with pytest.raises(ConfigurationError, match="softcap"):
        LinearCrossEntropyLoss(softcap=-1.0)
    with pytest.raises(ConfigurationError, match="z_loss"):
        LinearCrossEntropyLoss(z_loss=float("inf"))
    with pytest.raises(ConfigurationError, match="chunk_size"):
        LinearCrossEntropyLoss(chunk_size=2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="label_smoothing"):
        LinearCrossEntropyLoss(label_smoothing=-0.1)
    with pytest.raises(ConfigurationError, match="reduction"):
        LinearCrossEntropyLoss(reduction="max")
