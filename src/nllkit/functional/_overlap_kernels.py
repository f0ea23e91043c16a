r"""Fused per-(sample, class) sums for the overlap losses, activation included.

Two :class:`torch.autograd.Function` s compute, from the *logits*, the sums the soft Tversky core
needs, without keeping the probabilities or any ``(N, C, S)`` temporary alive between forward and
backward:

* :class:`SigmoidSums` (binary / multilabel, 0/1 or soft targets ``t``, optional 0/1 mask ``m``):
  ``(Σ m·p, Σ |m·p − t|)``, or ``(Σ m·p·t, Σ m·p²)`` when ``squared``; ``p = σ(x)``.
* :class:`SoftmaxIndexSums` (multiclass, class-index targets ``y``, optional mask ``m``):
  ``(Σ m·p_c, Σ_{y = c} m·p_c, Σ_{y = c} m)``, or ``Σ m·p_c²`` first when ``squared``;
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


def _step(x: Tensor) -> int:
    """Samples a slice: as many as fit in ``_SLICE`` elements, at least one."""
    per = x[0].numel() if x.shape[0] else 1
    return max(1, _SLICE // max(1, per))


def _split(t: Tensor | None, step: int, n: int) -> list[Tensor | None]:
    """Views of ``t`` in slices of ``step`` of its ``n`` samples (one call; ``None``s if None)."""
    return [None] * len(range(0, n, step)) if t is None else list(t.split(step))


def _views(buf: Tensor, step: int, n: int) -> list[Tensor]:
    """The workspace ``buf`` (``step`` samples) once per slice of ``n``, cut for the last one."""
    return [buf if i + step <= n else buf[: n - i] for i in range(0, n, step)]


def _slices(x: Tensor) -> list[tuple[int, int]]:
    n, step = x.shape[0], _step(x)
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


def _workspace(x: Tensor, step: int, shape: tuple[int, ...] | None = None) -> Tensor:
    """One slice-sized buffer, reused by every slice (a fresh tensor per op costs page faults)."""
    n = min(step, x.shape[0])
    return torch.empty(
        (n, *(x.shape[1:] if shape is None else shape)), dtype=x.dtype, device=x.device
    )


_aten = torch.ops.aten


class SigmoidSums(torch.autograd.Function):
    """``(Σ m·σ(x), Σ |m·σ(x) − t|)`` or, squared, ``(Σ m·σ(x)·t, Σ m·σ(x)²)``; each ``(N, C)``."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, t: Tensor, m: Tensor | None, squared: bool) -> Any:
        n, c = x.shape[:2]
        step = _step(x)
        a = torch.empty(n, c, dtype=x.dtype, device=x.device)
        b = torch.empty(n, c, dtype=x.dtype, device=x.device)
        w = _workspace(x, step)
        ms = _split(m, step, n)
        for xj, tj, mj, aj, bj, wj in zip(
            x.split(step),
            t.split(step),
            ms,
            a.split(step),
            b.split(step),
            _views(w, step, n),
            strict=True,
        ):
            p = torch.sigmoid(xj, out=wj)
            if mj is not None:
                p.mul_(mj)
            if squared:
                torch.linalg.vecdot(p, tj, out=aj)
                torch.linalg.vecdot(p, p, out=bj)
            else:
                torch.sum(p, 2, out=aj)
                torch.sum(p.sub_(tj).abs_(), 2, out=bj)
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
        step = _step(x)
        gx = torch.empty_like(x)
        w = _workspace(x, step)
        ga3 = ga.unsqueeze(2)
        gb3 = gb.unsqueeze(2) * 2 if ctx.squared else gb.unsqueeze(2)
        ms = _split(m, step, x.shape[0])
        for xj, tj, mj, d, gaj, gbj, wj in zip(
            x.split(step),
            t.split(step),
            ms,
            gx.split(step),
            ga3.split(step),
            gb3.split(step),
            _views(w, step, x.shape[0]),
            strict=True,
        ):
            p = torch.sigmoid(xj, out=wj)
            if ctx.squared:  # d/dp = g_pt·t + 2·g_pp·p
                torch.mul(p, gbj, out=d).addcmul_(tj, gaj)
            else:  # d/dp = g_sp + g_abs·sign(p − t)
                torch.sub(p, tj, out=d).sign_().mul_(gbj).add_(gaj)
            if mj is not None:
                d.mul_(mj)
            _aten.sigmoid_backward.grad_input(d, p, grad_input=d)  # d·p(1 − p)
        return gx, None, None, None


class SoftmaxIndexSums(torch.autograd.Function):
    """``(Σ m·p_c or Σ m·p_c², Σ_{y=c} m·p_c, Σ_{y=c} m)`` of ``p = softmax(x, 1)``; each ``(N, C)``.

    The third output, the (masked) label count, has no gradient.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, y: Tensor, m: Tensor | None, squared: bool) -> Any:
        n, c = x.shape[:2]
        step = _step(x)
        sp = torch.empty(n, c, dtype=x.dtype, device=x.device)
        counts = torch.zeros(n, 2, c, dtype=x.dtype, device=x.device)  # TP and the label count
        w = _workspace(x, step)
        wl = _workspace(x, step, (2, *x.shape[2:]))  # p at the label, and m (or 1)
        if m is None:
            wl[:, 1].fill_(1.0)
        ms = _split(m, step, n)
        y2 = y.unsqueeze(1).expand(-1, 2, -1)
        for xj, yj, y2j, mj, spj, cj, wj, wlj in zip(
            x.split(step),
            y.unsqueeze(1).split(step),
            y2.split(step),
            ms,
            sp.split(step),
            counts.split(step),
            _views(w, step, n),
            _views(wl, step, n),
            strict=True,
        ):
            p = torch.softmax(xj, 1, out=wj)
            if mj is not None:
                p.mul_(mj.unsqueeze(1))
                wlj[:, 1].copy_(mj)
            # TP_c = Σ_{positions labelled c} p_c: gather p at the label, then sum per label
            # (and count the labels with the same scatter)
            torch.gather(p, 1, yj, out=wlj[:, :1])
            cj.scatter_add_(2, y2j, wlj)
            if squared:
                torch.linalg.vecdot(p, p, out=spj)
            else:
                torch.sum(p, 2, out=spj)
        ctx.save_for_backward(x, y, m)
        ctx.squared = squared
        st = counts[:, 1]
        ctx.mark_non_differentiable(st)
        return sp, counts[:, 0], st

    @staticmethod
    def backward(ctx: Any, gsp: Tensor, gtp: Tensor, _: Tensor) -> Any:
        x, y, m = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: differentiate the composite formula
            with torch.enable_grad():
                outs = softmax_index_sums_reference(x, y, m, ctx.squared)
                (gx,) = torch.autograd.grad(outs, x, (gsp, gtp), create_graph=True)
            return gx, None, None, None
        step = _step(x)
        gx = torch.empty_like(x)
        w, wd = _workspace(x, step), _workspace(x, step)
        wl = _workspace(x, step, (1, *x.shape[2:]))
        n, size = x.shape[0], x.shape[2:]
        g3 = (gsp.unsqueeze(2) * 2 if ctx.squared else gsp.unsqueeze(2)).expand(-1, -1, *size)
        gtp3 = gtp.unsqueeze(2).expand(-1, -1, *size)
        ms = _split(None if m is None else m.unsqueeze(1), step, n)
        for xj, yj, mj, gxj, gj, gtpj, wj, d, wlj in zip(
            x.split(step),
            y.unsqueeze(1).split(step),
            ms,
            gx.split(step),
            g3.split(step),
            gtp3.split(step),
            _views(w, step, n),
            _views(wd, step, n),
            _views(wl, step, n),
            strict=True,
        ):
            p = torch.softmax(xj, 1, out=wj)
            # dL/dp_c = m·(g_sp,c + g_tp,c·[y = c]), with g_sp,c·2p_c when squared
            if ctx.squared:
                torch.mul(p, gj, out=d)
            else:
                d.copy_(gj)
            d.scatter_add_(1, yj, torch.gather(gtpj, 1, yj, out=wlj))
            if mj is not None:
                d.mul_(mj)
            # softmax backward: dx_c = p_c·(d_c − Σ_k p_k·d_k) = p_c·d_c − p_c·Σ_k p_k·d_k, as
            # three plain passes (faster on CPU than aten's softmax backward along a strided dim)
            pd = d.mul_(p)
            torch.addcmul(pd, p, torch.sum(pd, 1, keepdim=True, out=wlj), value=-1, out=gxj)
        return gx, None, None, None
