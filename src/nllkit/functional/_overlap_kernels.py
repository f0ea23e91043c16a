r"""Fused per-(sample, class) sums for the overlap losses, activation included.

Two :class:`torch.autograd.Function` s compute the sums the soft Tversky core needs, from logits
(``activation="sigmoid"`` or ``"softmax"`` over dim 1) or from probabilities (``"identity"``):

* :class:`DenseSums` (targets ``t`` of the input's shape, 0/1 or soft; optional 0/1 mask ``m`` of
  the same shape): ``(Σ m·p, Σ |m·p − t|)``, or ``(Σ m·p·t, Σ m·p²)`` when ``squared``.
* :class:`IndexSums` (class-index targets ``y``, optional mask ``m`` per position):
  ``(Σ m·p_c, Σ_{y = c} m·p_c, Σ_{y = c} m)``, or ``Σ m·p_c²`` first when ``squared``.
  The one-hot target is never materialised.

Both work on slices of the batch so that every temporary is the size of a slice (cache-resident).
When logits need a gradient, the forward writes the probabilities into one ``x``-sized buffer that
the backward turns, in place, into ``dL/dx``: the buffer the gradient needs anyway, so a training
step's peak memory does not grow, and the activation is not computed twice. With ``d = dL/dp``
(``d = m·(g_sp + g_abs·sign(p − t))``, squared ``m·(g_pt·t + 2g_pp·p)``; for index targets
``d_c = m·(g_sp,c + g_tp,c·[y = c])``, squared ``g_sp,c`` becomes ``2·g_sp,c·p_c``):

* sigmoid: ``dL/dx = d·p(1 − p)``;
* softmax: ``dL/dx_c = p_c·(d_c − Σ_k p_k·d_k)``;
* identity: ``dL/dx = d``.

The gradient of ``|·|`` at 0 is 0, as autograd's. The second derivative (``create_graph=True``)
re-runs the plain composite formula under autograd, so double backward stays exact. A second
backward through a retained graph computes the activation again, slice by slice, and so returns
the first one's gradient bit for bit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .._math import samples_per_slice

_aten = torch.ops.aten

ACTIVATIONS: dict[str, Callable[..., Tensor]] = {
    "sigmoid": torch.sigmoid,
    "softmax": functools.partial(torch.softmax, dim=1),
}


def _step(x: Tensor) -> int:
    """Samples a slice (2¹⁶ elements on one CPU thread, cache-resident; see ``_math``)."""
    return samples_per_slice(x)


def _split(t: Tensor | None, step: int, n: int) -> list[Tensor | None]:
    """Views of ``t`` in slices of ``step`` of its ``n`` samples (one call; ``None``s if None)."""
    return [None] * len(range(0, n, step)) if t is None else list(t.split(step))


def _views(buf: Tensor, step: int, n: int) -> list[Tensor]:
    """The workspace ``buf`` (``step`` samples) once per slice of ``n``, cut for the last one."""
    return [buf if i + step <= n else buf[: n - i] for i in range(0, n, step)]


def _slices(x: Tensor) -> list[tuple[int, int]]:
    n, step = x.shape[0], _step(x)
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def _workspace(x: Tensor, step: int, shape: tuple[int, ...] | None = None) -> Tensor:
    """One slice-sized buffer, reused by every slice (a fresh tensor per op costs page faults)."""
    n = min(step, x.shape[0])
    return torch.empty(
        (n, *(x.shape[1:] if shape is None else shape)), dtype=x.dtype, device=x.device
    )


def _activate(x: Tensor, activation: str) -> Tensor:
    return x if activation == "identity" else ACTIVATIONS[activation](x)


def dense_sums_reference(
    x: Tensor, t: Tensor, m: Tensor | None, squared: bool, activation: str
) -> tuple[Tensor, Tensor]:
    """The composite (autograd) formula that :class:`DenseSums` fuses."""
    p = _activate(x, activation)
    if m is not None:
        p = p * m
    if squared:
        return (p * t).sum(2), (p * p).sum(2)
    return p.sum(2), (p - t).abs().sum(2)


def index_sums_reference(
    x: Tensor, y: Tensor, m: Tensor | None, squared: bool, activation: str
) -> tuple[Tensor, Tensor]:
    """The composite (autograd) formula that :class:`IndexSums` fuses (without the counts)."""
    p = _activate(x, activation)
    if m is not None:
        p = p * m.unsqueeze(1)
    sp = (p * p).sum(2) if squared else p.sum(2)
    tp = torch.zeros_like(sp).scatter_add(1, y, p.gather(1, y.unsqueeze(1)).squeeze(1))
    return sp, tp


def _probabilities(ctx: Any, x: Tensor, step: int, activation: str) -> list[Tensor]:
    """Each slice's probabilities: the input itself (identity); views of one ``x``-sized buffer
    kept on ``ctx`` for backward (logits that need a gradient); or else one slice-sized workspace
    reused by every slice."""
    ctx.probs = None
    if activation == "identity":
        return list(x.split(step))
    if ctx.needs_input_grad[0]:
        ctx.probs = torch.empty_like(x)  # an intermediate: kept on ctx, not a saved tensor
        return list(ctx.probs.split(step))
    return _views(_workspace(x, step), step, x.shape[0])


def _gradient_buffer(ctx: Any, x: Tensor) -> Tensor:
    """Where backward writes ``dL/dx``: over the kept probabilities, once (for an activation);
    a second backward through a retained graph computes them again, slice by slice as forward."""
    if ctx.activation == "identity":
        return torch.empty_like(x)
    p, ctx.probs = ctx.probs, None
    if p is None:
        step = _step(x)
        p = torch.empty_like(x)
        for xj, pj in zip(x.split(step), p.split(step), strict=True):
            ACTIVATIONS[ctx.activation](xj, out=pj)
    return p


def _double_backward(ref: Callable[..., Any], ctx: Any, *grads: Tensor) -> Tensor:
    """``dL/dx`` through the plain formula under autograd, differentiable again."""
    x, t, m = ctx.saved_tensors
    with torch.enable_grad():
        outs = ref(x, t, m, ctx.squared, ctx.activation)
        (gx,) = torch.autograd.grad(outs, x, grads, create_graph=True)
    return gx


def _softmax_backward(d: Tensor, p: Tensor, out: Tensor, work: Tensor) -> None:
    """``out = p·(d − Σ_k p_k·d_k) = p·d − p·Σ_k p_k·d_k`` over dim 1, as plain passes (faster on
    CPU than aten's softmax backward along a strided dim); ``d`` is overwritten, ``out`` may be
    ``p``; ``work`` is ``(n, 1, ...)``."""
    pd = d.mul_(p)
    torch.addcmul(pd, p, torch.sum(pd, 1, keepdim=True, out=work), value=-1, out=out)


class DenseSums(torch.autograd.Function):
    """``(Σ m·p, Σ |m·p − t|)`` or, squared, ``(Σ m·p·t, Σ m·p²)``; each ``(N, C)``."""

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, t: Tensor, m: Tensor | None, squared: bool, activation: str
    ) -> Any:
        n, c = x.shape[:2]
        step = _step(x)
        a = torch.empty(n, c, dtype=x.dtype, device=x.device)
        b = torch.empty(n, c, dtype=x.dtype, device=x.device)
        probs = _probabilities(ctx, x, step, activation)
        w = _workspace(x, step)
        for xj, tj, mj, aj, bj, pj, wj in zip(
            x.split(step),
            t.split(step),
            _split(m, step, n),
            a.split(step),
            b.split(step),
            probs,
            _views(w, step, n),
            strict=True,
        ):
            p = pj if activation == "identity" else ACTIVATIONS[activation](xj, out=pj)
            if mj is not None:
                p = torch.mul(p, mj, out=wj)
            if squared:
                torch.linalg.vecdot(p, tj, out=aj)
                torch.linalg.vecdot(p, p, out=bj)
            else:
                torch.sum(p, 2, out=aj)
                torch.sum(torch.sub(p, tj, out=wj).abs_(), 2, out=bj)
        ctx.save_for_backward(x, t, m)
        ctx.squared, ctx.activation = squared, activation
        return a, b

    @staticmethod
    def backward(ctx: Any, ga: Tensor, gb: Tensor) -> Any:
        if torch.is_grad_enabled():  # double backward: differentiate the composite formula
            return _double_backward(dense_sums_reference, ctx, ga, gb), None, None, None, None
        x, t, m = ctx.saved_tensors
        act = ctx.activation
        gx = _gradient_buffer(ctx, x)
        n = x.shape[0]
        step = _step(x)
        w = _workspace(x, step) if act != "identity" else None
        wl = _workspace(x, step, (1, *x.shape[2:])) if act == "softmax" else None
        ga3 = ga.unsqueeze(2)
        gb3 = gb.unsqueeze(2) * 2 if ctx.squared else gb.unsqueeze(2)
        for xj, tj, mj, gxj, gaj, gbj, wj, wlj in zip(
            x.split(step),
            t.split(step),
            _split(m, step, n),
            gx.split(step),
            ga3.split(step),
            gb3.split(step),
            _split(w, step, n) if w is None else _views(w, step, n),
            _split(wl, step, n) if wl is None else _views(wl, step, n),
            strict=True,
        ):
            # p: the input (identity) or the kept probabilities, which gxj overwrites last
            p, d = (xj, gxj) if act == "identity" else (gxj, wj)
            if ctx.squared:  # d/dp = g_pt·t + 2·g_pp·p
                torch.mul(p, gbj, out=d).addcmul_(tj, gaj)
            else:  # d/dp = g_sp + g_abs·sign(p − t)
                torch.sub(p, tj, out=d).sign_().mul_(gbj).add_(gaj)
            if mj is not None:
                d.mul_(mj)
            if act == "sigmoid":
                _aten.sigmoid_backward.grad_input(d, p, grad_input=gxj)  # d·p(1 − p)
            elif act == "softmax":
                _softmax_backward(d, p, gxj, wlj)
        return gx, None, None, None, None


class IndexSums(torch.autograd.Function):
    """``(Σ m·p_c or Σ m·p_c², Σ_{y=c} m·p_c, Σ_{y=c} m)`` over dim 2; each ``(N, C)``.

    The third output, the (masked) label count, has no gradient.
    """

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, y: Tensor, m: Tensor | None, squared: bool, activation: str
    ) -> Any:
        n, c = x.shape[:2]
        step = _step(x)
        sp = torch.empty(n, c, dtype=x.dtype, device=x.device)
        counts = torch.zeros(n, 2, c, dtype=x.dtype, device=x.device)  # TP and the label count
        probs = _probabilities(ctx, x, step, activation)
        w = _workspace(x, step) if m is not None else None
        wl = _workspace(x, step, (2, *x.shape[2:]))  # p at the label, and m (or 1)
        if m is None:
            wl[:, 1].fill_(1.0)
        y2 = y.unsqueeze(1).expand(-1, 2, -1)
        for xj, yj, y2j, mj, spj, cj, pj, wj, wlj in zip(
            x.split(step),
            y.unsqueeze(1).split(step),
            y2.split(step),
            _split(None if m is None else m.unsqueeze(1), step, n),
            sp.split(step),
            counts.split(step),
            probs,
            _split(w, step, n) if w is None else _views(w, step, n),
            _views(wl, step, n),
            strict=True,
        ):
            p = pj if activation == "identity" else ACTIVATIONS[activation](xj, out=pj)
            # TP_c = Σ_{positions labelled c} p_c: gather p at the label, then sum per label
            # (and count the labels with the same scatter)
            torch.gather(p, 1, yj, out=wlj[:, :1])
            if mj is not None:
                wlj[:, :1].mul_(mj)
                wlj[:, 1:].copy_(mj)
                p = torch.mul(p, mj, out=wj)  # the kept p stays unmasked, for backward
            cj.scatter_add_(2, y2j, wlj)
            if squared:
                torch.linalg.vecdot(p, pj if mj is not None else p, out=spj)
            else:
                torch.sum(p, 2, out=spj)
        ctx.save_for_backward(x, y, m)
        ctx.squared, ctx.activation = squared, activation
        st = counts[:, 1]
        ctx.mark_non_differentiable(st)
        return sp, counts[:, 0], st

    @staticmethod
    def backward(ctx: Any, gsp: Tensor, gtp: Tensor, _: Tensor) -> Any:
        if torch.is_grad_enabled():  # double backward: differentiate the composite formula
            gx = _double_backward(index_sums_reference, ctx, gsp, gtp)
            return gx, None, None, None, None
        x, y, m = ctx.saved_tensors
        act = ctx.activation
        gx = _gradient_buffer(ctx, x)
        n, size = x.shape[0], x.shape[2:]
        step = _step(x)
        wd = _workspace(x, step) if act != "identity" else None
        wl = _workspace(x, step, (1, *size))
        g3 = (gsp.unsqueeze(2) * 2 if ctx.squared else gsp.unsqueeze(2)).expand(-1, -1, *size)
        gtp3 = gtp.unsqueeze(2).expand(-1, -1, *size)
        for xj, yj, mj, gxj, gj, gtpj, wdj, wlj in zip(
            x.split(step),
            y.unsqueeze(1).split(step),
            _split(None if m is None else m.unsqueeze(1), step, n),
            gx.split(step),
            g3.split(step),
            gtp3.split(step),
            _split(wd, step, n) if wd is None else _views(wd, step, n),
            _views(wl, step, n),
            strict=True,
        ):
            # p: the input (identity) or the kept probabilities, which gxj overwrites last
            p, d = (xj, gxj) if act == "identity" else (gxj, wdj)
            # dL/dp_c = m·(g_sp,c + g_tp,c·[y = c]), with g_sp,c·2p_c when squared
            if ctx.squared:
                torch.mul(p, gj, out=d)
            else:
                d.copy_(gj)
            d.scatter_add_(1, yj, torch.gather(gtpj, 1, yj, out=wlj))
            if mj is not None:
                d.mul_(mj)
            if act == "softmax":
                _softmax_backward(d, p, gxj, wlj)
        return gx, None, None, None, None
