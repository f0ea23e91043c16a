r"""Fused per-(sample, class) sums for the overlap losses, activation included.

Two :class:`torch.autograd.Function` s compute, from the *logits*, the sums the soft Tversky core
needs, without keeping the probabilities or any ``(N, C, S)`` temporary alive between forward and
backward:

* :class:`SigmoidSums` (binary / multilabel, 0/1 or soft targets ``t``, optional 0/1 mask ``m``):
  ``(Σ m·p, Σ |m·p − t|)``, or ``(Σ m·p·t, Σ m·p²)`` when ``squared``; ``p = σ(x)``.
* :class:`SoftmaxIndexSums` (multiclass, class-index targets ``y``, optional mask ``m``):
  ``(Σ m·p_c, Σ_{y = c} m·p_c)``, or ``(Σ m·p_c², Σ_{y = c} m·p_c)`` when ``squared``;
  ``p = softmax(x)`` over classes. The one-hot target is never materialised.

Both work on slices of the batch so that every temporary is the size of a slice (cache-resident)
and recompute the activation in backward, where ``dL/dx`` is one expression of the saved logits:

* sigmoid: ``dL/dx = m·(g_sp + g_abs·sign(p − t))·p(1 − p)`` (or ``m·(g_pt·t + 2g_pp·p)·p(1 − p)``);
* softmax: ``dL/dx_c = p_c·(g_c − Σ_k p_k·g_k)`` with ``g_c = m·(g_sp,c + g_tp,c·[y = c])``
  (``g_sp,c`` becomes ``2·g_sp,c·p_c`` when squared).

The gradient of ``|·|`` at 0 is 0, as autograd's. The second derivative (``create_graph=True``)
re-runs the plain composite formula under autograd, so double backward stays exact.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

# elements of one slice: 2**16 float32 values (256 KiB) stay in a core's L2 cache
_SLICE = 1 << 16


def _slices(x: Tensor) -> list[tuple[int, int]]:
    n = x.shape[0]
    per = max(1, x[0].numel()) if n else 1
    step = max(1, _SLICE // per)
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def sigmoid_sums_reference(
    x: Tensor, t: Tensor, m: Tensor | None, squared: bool
) -> tuple[Tensor, Tensor]:
    """The composite (autograd) formula that :class:`SigmoidSums` fuses."""
    p = torch.sigmoid(x)
    if m is not None:
        p = p * m
    if squared:
        return (p * t).sum(2), (p * p).sum(2)
    return p.sum(2), (p - t).abs().sum(2)


def softmax_index_sums_reference(
    x: Tensor, y: Tensor, m: Tensor | None, squared: bool
) -> tuple[Tensor, Tensor]:
    """The composite (autograd) formula that :class:`SoftmaxIndexSums` fuses."""
    p = torch.softmax(x, 1)
    if m is not None:
        p = p * m.unsqueeze(1)
    sp = (p * p).sum(2) if squared else p.sum(2)
    tp = torch.zeros_like(sp).scatter_add(1, y, p.gather(1, y.unsqueeze(1)).squeeze(1))
    return sp, tp


def _workspace(x: Tensor, shape: tuple[int, ...] | None = None) -> Tensor:
    """One slice-sized buffer, reused by every slice (a fresh tensor per op costs page faults)."""
    n = _slices(x)[0][1] if x.shape[0] else 0
    return torch.empty(
        (n, *(x.shape[1:] if shape is None else shape)), dtype=x.dtype, device=x.device
    )


_aten = torch.ops.aten


class SigmoidSums(torch.autograd.Function):
    """``(Σ m·σ(x), Σ |m·σ(x) − t|)`` or, squared, ``(Σ m·σ(x)·t, Σ m·σ(x)²)``; each ``(N, C)``."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, t: Tensor, m: Tensor | None, squared: bool) -> Any:
        n, c = x.shape[:2]
        a = torch.empty(n, c, dtype=x.dtype, device=x.device)
        b = torch.empty(n, c, dtype=x.dtype, device=x.device)
        w = _workspace(x)
        for i, j in _slices(x):
            p = torch.sigmoid(x[i:j], out=w[: j - i])
            if m is not None:
                p.mul_(m[i:j])
            tj = t[i:j]
            if squared:
                torch.linalg.vecdot(p, tj, out=a[i:j])
                torch.linalg.vecdot(p, p, out=b[i:j])
            else:
                torch.sum(p, 2, out=a[i:j])
                torch.sum(p.sub_(tj).abs_(), 2, out=b[i:j])
        ctx.save_for_backward(x, t, m)
        ctx.squared = squared
        return a, b

    @staticmethod
    def backward(ctx: Any, ga: Tensor, gb: Tensor) -> Any:
        x, t, m = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: differentiate the composite formula
            with torch.enable_grad():
                outs = sigmoid_sums_reference(x, t, m, ctx.squared)
                (gx,) = torch.autograd.grad(outs, x, (ga, gb), create_graph=True)
            return gx, None, None, None
        gx = torch.empty_like(x)
        w = _workspace(x)
        ga3, gb3 = ga.unsqueeze(2), gb.unsqueeze(2)
        for i, j in _slices(x):
            p = torch.sigmoid(x[i:j], out=w[: j - i])
            tj, d = t[i:j], gx[i:j]
            if ctx.squared:  # d/dp = g_pt·t + 2·g_pp·p
                torch.mul(p, 2 * gb3[i:j], out=d).addcmul_(tj, ga3[i:j])
            else:  # d/dp = g_sp + g_abs·sign(p − t)
                torch.sub(p, tj, out=d).sign_().mul_(gb3[i:j]).add_(ga3[i:j])
            if m is not None:
                d.mul_(m[i:j])
            _aten.sigmoid_backward.grad_input(d, p, grad_input=d)  # d·p(1 − p)
        return gx, None, None, None


class SoftmaxIndexSums(torch.autograd.Function):
    """``(Σ m·p_c or Σ m·p_c², Σ_{y=c} m·p_c)`` of ``p = softmax(x, 1)``; each ``(N, C)``."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, y: Tensor, m: Tensor | None, squared: bool) -> Any:
        n, c = x.shape[:2]
        sp = torch.empty(n, c, dtype=x.dtype, device=x.device)
        tp = torch.zeros(n, c, dtype=x.dtype, device=x.device)
        w = _workspace(x)
        wl = _workspace(x, (1, *x.shape[2:]))
        for i, j in _slices(x):
            p = torch.softmax(x[i:j], 1, out=w[: j - i])
            if m is not None:
                p.mul_(m[i:j].unsqueeze(1))
            yj = y[i:j]
            # TP_c = Σ_{positions labelled c} p_c: gather p at the label, then sum per label
            pl = torch.gather(p, 1, yj.unsqueeze(1), out=wl[: j - i])
            tp[i:j].scatter_add_(1, yj, pl.squeeze(1))
            if squared:
                torch.linalg.vecdot(p, p, out=sp[i:j])
            else:
                torch.sum(p, 2, out=sp[i:j])
        ctx.save_for_backward(x, y, m)
        ctx.squared = squared
        return sp, tp

    @staticmethod
    def backward(ctx: Any, gsp: Tensor, gtp: Tensor) -> Any:
        x, y, m = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: differentiate the composite formula
            with torch.enable_grad():
                outs = softmax_index_sums_reference(x, y, m, ctx.squared)
                (gx,) = torch.autograd.grad(outs, x, (gsp, gtp), create_graph=True)
            return gx, None, None, None
        gx = torch.empty_like(x)
        w, wd = _workspace(x), _workspace(x)
        wl = _workspace(x, (1, *x.shape[2:]))
        for i, j in _slices(x):
            p = torch.softmax(x[i:j], 1, out=w[: j - i])
            yj = y[i:j].unsqueeze(1)
            d = wd[: j - i]
            # dL/dp_c = m·(g_sp,c + g_tp,c·[y = c]), with g_sp,c·2p_c when squared
            g = gsp[i:j].unsqueeze(2)
            if ctx.squared:
                torch.mul(p, 2 * g, out=d)
            else:
                d.copy_(g.expand_as(d))
            gl = torch.gather(gtp[i:j], 1, yj.squeeze(1), out=wl[: j - i].squeeze(1))
            d.scatter_add_(1, yj, gl.unsqueeze(1))
            if m is not None:
                d.mul_(m[i:j].unsqueeze(1))
            # softmax backward: dx_c = p_c·(d_c − Σ_k p_k·d_k)
            _aten._softmax_backward_data.out(d, p, 1, x.dtype, grad_input=gx[i:j])
        return gx, None, None, None
