r"""Fused focal-loss kernels: the loss and its gradient in one slice-by-slice pass.

Two :class:`torch.autograd.Function` s compute the elementwise focal loss ``(1 − p_t)^γ · CE`` of
logits (``γ > 0``) and, when the logits need a gradient, ``dL/dx`` in the same pass, from the
same intermediate values; the backward only multiplies it by the incoming gradient, in place.
They work on slices (2¹⁶ elements on one CPU thread, cache-resident; 2¹⁸ with more threads;
2²² on an accelerator, to amortise kernel launches; see ``_math.slice_elements``) through reused workspaces, so a forward+backward reads the logits once
and writes two tensors of their size (the loss and the gradient, which the backward hands over
as ``dL/dx``) instead of the twenty-odd full-size temporaries of the composite formula.

Sigmoid (``SigmoidFocal``; targets ``t`` in [0, 1], torchvision's ``p_t = p·t + (1 − p)(1 − t)``),
with ``p = σ(x)`` and ``q = σ(−x)``, each the exponential of its own log-sigmoid::

    CE = −(t·log σ(x) + (1 − t)·log σ(−x))
    u  = 1 − p_t = (1 − t)·p + t·q                (a sum of non-negative terms: no cancellation)
    L  = α_t · u^γ · CE
    dL/dx = α_t · u^γ · (γ·(1 − 2t)·r·CE + (1 − t)·p − t·q),   r = p·q / u

``du/dx = (1 − 2t)·p·q``, so ``γ·u^{γ−1}·du/dx = γ·u^γ·(1 − 2t)·r``: the ratio ``r`` stays bounded
(``r = p_t`` for hard targets, ``≤ 1/(4·min(t, 1 − t))`` for soft ones), which is what keeps the
gradient finite for ``γ < 1`` where ``u^{γ−1}`` alone overflows. Where ``u`` underflows to 0
(hard target, ``|x|`` beyond ~100 in float32) ``r`` is set to its limit 1. ``(1 − t)·p − t·q``
is ``p − t`` without the cancellation of ``p − 1`` at confident predictions.

Softmax (``SoftmaxFocal``; class-index targets ``y``), with ``q = 1 − p_y``::

    q  = Σ_{c ≠ y} p_c                            (accurate as p_y → 1, where 1 − p_y is not)
    log p_y = log1p(−q) if q < ½ else log_softmax(x)_y
    L  = −q^γ · log p_y
    dL/dx_c = K·([c = y] − p_c),   K = q^γ·(γ·p_y·h − 1),   h = log p_y / q → −1 as q → 0

and ``[c = y] − p_c`` is written as ``q`` at the label.

Softmax with class-probability (or one-hot) targets ``t`` (also ``SoftmaxFocal``), per class
``c`` with ``q_c = 1 − p_c`` (the sum over the other classes for the one class with
``p_c > ½``, if any, the only one where ``1 − p_c`` cancels)::

    L  = Σ_c −t_c·q_c^γ·log p_c
    dL/dx_j = a_j − p_j·Σ_c a_c,   a_c = t_c·q_c^γ·(γ·p_c·h_c − 1),   h_c = log p_c / q_c

and, at the top class, ``a_j·q_j − p_j·Σ_{c≠j} a_c`` instead, which does not cancel as
``p_j → 1``. Its 0/1 masks are arithmetic (``sign``, ``clamp``): comparisons and
``torch.where`` run several times slower than a multiplication on a CPU.

Logits of ``±inf`` are clamped to
``±finfo.max / (4(1 + γ))`` with an identity (straight-through) gradient, as the composite
formula does. Double backward re-runs the composite formula under autograd; a second backward
through a retained graph runs the kernel again (bit for bit the first one's gradient).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .._math import samples_per_slice, saturate_infinities, slice_elements

_aten = torch.ops.aten


def _bound(dtype: torch.dtype, gamma: float) -> float:
    """The largest |logit| used: ``γ · loss`` cannot overflow below it."""
    return torch.finfo(dtype).max / (4.0 * (1.0 + gamma))


def saturate(logits: Tensor, gamma: float) -> Tensor:
    """Finite stand-ins for ``±inf`` logits, small enough that ``γ · loss`` cannot overflow.

    ``±inf`` becomes ``±finfo.max / (4 (1 + γ))`` with a straight-through (identity) gradient, so
    a confident wrong prediction gives a huge finite loss and its limiting gradient, not NaN.
    """
    x = saturate_infinities(logits)
    if not x.is_floating_point():
        return x
    bound = _bound(x.dtype, gamma)
    # value clamp(x), gradient identity: x + (clamp(x) − x).detach()
    return x + (x.clamp(-bound, bound) - x).detach()


# --------------------------------------------------------------------------------------------
# The composite formulas (autograd): references, double backward, targets that need a gradient
# --------------------------------------------------------------------------------------------
def _log_weight(w: Tensor) -> Tensor:
    """``log w`` for a weight ``w ∈ [0, 1]``, with ``log 0`` a huge *finite* negative number.

    ``−inf`` would be exact in the forward pass but gives NaN derivatives (``−inf − (−inf)``);
    ``−finfo.max / 2`` still vanishes under ``exp`` and keeps every derivative finite.
    """
    pos = w > 0
    return torch.where(pos, torch.log(torch.where(pos, w, 1.0)), -torch.finfo(w.dtype).max / 2)


def sigmoid_focal_reference(x: Tensor, t: Tensor, gamma: float) -> Tensor:
    """Elementwise ``(1 − p_t)^γ · CE`` of saturated logits ``x`` (``γ > 0``), under autograd."""
    ls_pos, ls_neg = F.logsigmoid(x), F.logsigmoid(-x)
    # CE from the same log-sigmoids (accurate gradients at confident predictions)
    ce = -(t * ls_pos + (1 - t) * ls_neg)
    # 1 − p_t = t·σ(−x) + (1 − t)·σ(x), so log(1 − p_t) is a log-sum-exp of log-sigmoids
    a, b = _log_weight(t) + ls_neg, _log_weight(1 - t) + ls_pos
    # logaddexp(a, b) = max(a, b) + log1p(exp(−|a − b|)), written out: torch.logaddexp's
    # double backward returns NaN when |a − b| is large
    log1m_pt = torch.maximum(a, b) + torch.log1p(torch.exp(-(a - b).abs()))
    return ce * torch.exp(gamma * log1m_pt)


def log1m_softmax(x: Tensor, logp: Tensor) -> Tensor:
    """``log(1 − softmax(x))`` along dim 1, accurate and with finite gradients everywhere.

    For the largest class ``1 − p`` can round to 0, so it is a log-sum-exp over the *other*
    classes minus the log-sum-exp over all; every other class has ``p ≤ ½`` and ``log1p(−p)`` is
    accurate there.
    """
    is_max = torch.zeros_like(x, dtype=torch.bool).scatter_(1, x.argmax(1, keepdim=True), True)
    lse = torch.logsumexp(x, 1, keepdim=True)
    # log(1 − p_max) = logsumexp_{j ≠ max} x_j − logsumexp_j x_j
    others = torch.logsumexp(x.masked_fill(is_max, -math.inf), 1, keepdim=True) - lse
    # keep the unselected branch finite: torch.where multiplies its gradient by 0, and 0 · inf = NaN
    safe = logp.masked_fill(is_max, -1.0)
    return torch.where(is_max, others, torch.log1p(-safe.exp()))


def softmax_focal_reference(x: Tensor, y: Tensor, gamma: float) -> Tensor:
    """``−(1 − p_y)^γ · log p_y`` of saturated logits ``x`` ``(N, C, ...)``, under autograd."""
    logp = F.log_softmax(x, 1)
    idx = y.unsqueeze(1)
    log1m = log1m_softmax(x, logp).gather(1, idx).squeeze(1)
    return -logp.gather(1, idx).squeeze(1) * torch.exp(gamma * log1m)


def softmax_focal_dense_reference(x: Tensor, t: Tensor, gamma: float) -> Tensor:
    """``Σ_c −t_c·(1 − p_c)^γ·log p_c`` over dim 1 of saturated logits ``x``, under autograd."""
    logp = F.log_softmax(x, 1)
    return (-logp * t * torch.exp(gamma * log1m_softmax(x, logp))).sum(1)


# --------------------------------------------------------------------------------------------
# The fused kernels
# --------------------------------------------------------------------------------------------
def _sigmoid_focal_slices(
    x: Tensor, t: Tensor, gamma: float, alpha: float | None, out: Tensor, grad: Tensor | None
) -> None:
    """``out = L`` and ``grad = dL/dx`` (unless None) for flat ``x``, ``t``, slice by slice."""
    n = x.numel()
    s = min(slice_elements(x), n)
    if s == 0:
        return
    ws = [torch.empty(s, dtype=x.dtype, device=x.device) for _ in range(10)]
    bound = _bound(x.dtype, gamma)
    for i in range(0, n, s):
        j = min(i + s, n)
        X, LP, P, Q, U, CE, A, T1, W1, W2 = (w[: j - i] for w in ws)
        xj, tj, lj = x[i:j], t[i:j], out[i:j]
        torch.clamp(xj, -bound, bound, out=X)
        _aten.log_sigmoid.out(X, out=LP)  # log σ(x)
        torch.exp(LP, out=P)  # p = σ(x)
        _aten.log_sigmoid.out(torch.neg(X, out=Q), out=Q)  # log σ(−x)
        torch.neg(tj, out=T1).add_(1.0)  # 1 − t
        # CE = −(t·log σ(x) + (1 − t)·log σ(−x)): products of log-sigmoids, no cancellation
        torch.mul(T1, Q, out=CE).addcmul_(tj, LP).neg_()
        Q.exp_()  # q = σ(−x), accurate where p rounds to 1
        torch.mul(T1, P, out=U).addcmul_(tj, Q)  # u = 1 − p_t = (1 − t)·p + t·q
        if grad is not None:
            gj = grad[i:j]
            # (1 − t)·p − t·q = p − t, without the cancellation of p − 1 for hard targets
            torch.mul(T1, P, out=gj).addcmul_(tj, Q, value=-1.0)
            # r = p·q / u, and its limit 1 where u underflows to 0 (0/0)
            torch.mul(P, Q, out=W1).div_(U).nan_to_num_(nan=1.0)
            W1.mul_(torch.sub(T1, tj, out=W2)).mul_(CE)  # (1 − 2t)·r·CE
            gj.add_(W1, alpha=gamma)
        U.pow_(gamma)  # (1 − p_t)^γ
        torch.mul(U, CE, out=lj)
        if grad is not None:
            grad[i:j].mul_(U)
        if alpha is not None:
            torch.mul(tj, 2.0 * alpha - 1.0, out=A).add_(1.0 - alpha)  # α_t = α·t + (1 − α)(1 − t)
            lj.mul_(A)
            if grad is not None:
                grad[i:j].mul_(A)


def _softmax_focal_slices(
    x: Tensor, y: Tensor, gamma: float, out: Tensor, grad: Tensor | None
) -> None:
    """``out = L`` ``(N, S)`` and ``grad = dL/dx`` (unless None) for ``x (N, C, S)``, ``y``."""
    n = x.shape[0]
    if x.numel() == 0:
        return
    step = samples_per_slice(x)
    m = min(step, n)
    wc = [torch.empty((m, *x.shape[1:]), dtype=x.dtype, device=x.device) for _ in range(3)]
    w1 = [torch.empty((m, 1, *x.shape[2:]), dtype=x.dtype, device=x.device) for _ in range(5)]
    bound = _bound(x.dtype, gamma)
    for i in range(0, n, step):
        j = min(i + step, n)
        X, LP, P = (w[: j - i] for w in wc)
        LY, Q, U, H, M = (w[: j - i] for w in w1)
        xj, yj, lj = x[i:j], y[i:j].unsqueeze(1), out[i:j].unsqueeze(1)
        torch.clamp(xj, -bound, bound, out=X)
        torch.log_softmax(X, 1, out=LP)  # log p = x − logsumexp(x)
        torch.exp(LP, out=P)
        # q = 1 − p_y = Σ_{c≠y} p_c: a sum of non-negative terms, accurate as p_y → 1
        torch.sum(X.copy_(P).scatter_(1, yj, 0.0), 1, keepdim=True, out=Q)
        torch.gather(LP, 1, yj, out=LY)
        # log p_y = log1p(−q) where q < ½ (accurate there), the log-softmax elsewhere; the 0/1
        # mask is arithmetic (sign, clamp): comparisons and torch.where are slow on a CPU
        torch.neg(Q, out=M).add_(0.5).sign_().clamp_min_(0.0)  # [q < ½]
        torch.mul(Q, M, out=H).neg_().log1p_().mul_(M)
        LY.addcmul_(LY, M, value=-1.0).add_(H)
        torch.pow(Q, gamma, out=U)  # (1 − p_y)^γ
        torch.mul(U, LY, out=lj).neg_()
        if grad is not None:
            # h = log p_y / q, and its limit −1 where q underflows to 0 (0/0)
            torch.div(LY, Q, out=H).nan_to_num_(nan=-1.0)
            # K = q^γ·(γ·p_y·h − 1); dL/dx_c = −K·p_c, and K·q at the label
            K = torch.exp(LY, out=LY).mul_(H).mul_(gamma).sub_(1.0).mul_(U)
            torch.mul(P, K, out=grad[i:j]).neg_().scatter_(1, yj, Q.mul_(K))


def _softmax_focal_dense_slices(
    x: Tensor, t: Tensor, gamma: float, out: Tensor, grad: Tensor | None
) -> None:
    """``out = Σ_c t_c·FL_c`` ``(N, S)`` and ``grad`` (unless None) for ``x``, ``t`` ``(N, C, S)``."""
    n = x.shape[0]
    if x.numel() == 0:
        return
    step = samples_per_slice(x)
    m = min(step, n)
    wc = [torch.empty((m, *x.shape[1:]), dtype=x.dtype, device=x.device) for _ in range(7)]
    w1 = [torch.empty((m, 1, *x.shape[2:]), dtype=x.dtype, device=x.device) for _ in range(2)]
    bound = _bound(x.dtype, gamma)
    for i in range(0, n, step):
        j = min(i + step, n)
        X, LP, P, Q, W, TOP, NOT = (w[: j - i] for w in wc)
        QT, S = (w[: j - i] for w in w1)
        tj, lj = t[i:j], out[i:j].unsqueeze(1)
        torch.clamp(x[i:j], -bound, bound, out=X)
        torch.log_softmax(X, 1, out=LP)  # log p = x − logsumexp(x)
        torch.exp(LP, out=P)
        # q_c = 1 − p_c is accurate where p_c ≤ ½; at the one class with p_c > ½ (if any) it is
        # Σ_{c' ≠ c} p_c' instead, a sum of non-negative terms. The 0/1 masks are arithmetic
        # (sign, clamp): comparisons and torch.where are several times slower on a CPU.
        torch.sub(P, 0.5, out=TOP).sign_().clamp_min_(0.0)  # [p_c > ½]
        torch.neg(TOP, out=NOT).add_(1.0)
        torch.sum(torch.mul(P, NOT, out=W), 1, keepdim=True, out=QT)
        torch.neg(P, out=Q).add_(1.0).mul_(NOT).addcmul_(TOP, QT)
        # log p_c: log1p(−q_c) at the top class (accurate there), the log-softmax elsewhere
        torch.mul(Q, TOP, out=W).neg_().log1p_().mul_(TOP)
        LP.mul_(NOT).add_(W)
        torch.pow(Q, gamma, out=X)  # (1 − p_c)^γ
        torch.mul(X, LP, out=W).mul_(tj)
        torch.sum(W, 1, keepdim=True, out=lj).neg_()  # Σ_c −t_c·(1 − p_c)^γ·log p_c
        if grad is not None:
            # a_c = t_c·K_c, K_c = (1 − p_c)^γ·(γ·p_c·h_c − 1), h_c = log p_c / q_c (→ −1 as
            # q_c → 0); dL/dx_j = a_j − p_j·Σ_c a_c
            torch.div(LP, Q, out=W).nan_to_num_(nan=-1.0)
            W.mul_(P).mul_(gamma).sub_(1.0).mul_(X).mul_(tj)
            gj = grad[i:j]
            torch.addcmul(W, P, torch.sum(W, 1, keepdim=True, out=S), value=-1.0, out=gj)
            # at the top class a_j − p_j·Σ_c a_c cancels as p_j → 1: there it is
            # a_j·q_j − p_j·Σ_{c≠j} a_c
            torch.sum(torch.mul(W, NOT, out=X), 1, keepdim=True, out=S)
            torch.mul(W, Q, out=X).addcmul_(P, S, value=-1.0).mul_(TOP)
            gj.mul_(NOT).add_(X)


def _gradient(ctx: Any, x: Tensor, grad_out: Tensor, reference: Any, rerun: Any) -> Tensor:
    """``dL/dx`` without the incoming gradient: the one the forward kept, once; for a second
    backward through a retained graph ``rerun()`` runs the kernel again; for double backward
    ``reference()`` is differentiated under autograd (then the incoming gradient is applied)."""
    if torch.is_grad_enabled():  # double backward: differentiate the composite formula
        with torch.enable_grad():
            (gx,) = torch.autograd.grad(reference(), x, grad_out, create_graph=True)
        return gx
    grad, ctx.grad = ctx.grad, None
    return rerun() if grad is None else grad


class SigmoidFocal(torch.autograd.Function):
    """Elementwise ``α_t·(1 − p_t)^γ·CE`` of logits ``x`` and targets ``t`` (same shape), γ > 0."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, t: Tensor, gamma: float, alpha: float | None) -> Tensor:
        out = torch.empty_like(x, memory_format=torch.contiguous_format)
        grad = torch.empty_like(out) if ctx.needs_input_grad[0] else None
        _sigmoid_focal_slices(x.reshape(-1), t.reshape(-1), gamma, alpha, out.view(-1), _flat(grad))
        ctx.save_for_backward(x, t)
        ctx.grad, ctx.gamma, ctx.alpha = grad, gamma, alpha
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> Any:
        x, t = ctx.saved_tensors
        gamma, alpha = ctx.gamma, ctx.alpha

        def reference() -> Tensor:
            loss = sigmoid_focal_reference(saturate(x, gamma), t, gamma)
            return loss if alpha is None else loss * (alpha * t + (1 - alpha) * (1 - t))

        def rerun() -> Tensor:
            grad = torch.empty_like(x, memory_format=torch.contiguous_format)
            xf, tf = x.reshape(-1), t.reshape(-1)
            _sigmoid_focal_slices(xf, tf, gamma, alpha, torch.empty_like(xf), grad.view(-1))
            return grad

        grad = _gradient(ctx, x, grad_out, reference, rerun)
        return (grad if torch.is_grad_enabled() else grad.mul_(grad_out)), None, None, None


class SoftmaxFocal(torch.autograd.Function):
    """``(N, S)`` focal loss of logits ``x (N, C, S)``: ``−(1 − p_y)^γ·log p_y`` for class
    indices ``y (N, S)``, or ``Σ_c −t_c·(1 − p_c)^γ·log p_c`` for class probabilities
    ``t (N, C, S)`` (a floating-point target)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, target: Tensor, gamma: float) -> Tensor:
        out = torch.empty((x.shape[0], *x.shape[2:]), dtype=x.dtype, device=x.device)
        grad = torch.empty_like(x) if ctx.needs_input_grad[0] else None
        _softmax_kernel(target)(x, target, gamma, out, grad)
        ctx.save_for_backward(x, target)
        ctx.grad, ctx.gamma = grad, gamma
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> Any:
        x, target = ctx.saved_tensors
        gamma = ctx.gamma
        dense = target.is_floating_point()
        ref = softmax_focal_dense_reference if dense else softmax_focal_reference

        def rerun() -> Tensor:
            grad = torch.empty_like(x)
            _softmax_kernel(target)(x, target, gamma, torch.empty_like(grad_out), grad)
            return grad

        grad = _gradient(ctx, x, grad_out, lambda: ref(saturate(x, gamma), target, gamma), rerun)
        if not torch.is_grad_enabled():
            grad = grad.mul_(grad_out.unsqueeze(1))
        return grad, None, None


def _softmax_kernel(target: Tensor) -> Any:
    """The slice loop for class probabilities (floating point) or class indices."""
    return _softmax_focal_dense_slices if target.is_floating_point() else _softmax_focal_slices


def _flat(t: Tensor | None) -> Tensor | None:
    return None if t is None else t.view(-1)
