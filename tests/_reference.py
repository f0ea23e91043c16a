"""Float64 textbook references: the formulas as written in a textbook, no tricks.

Each function computes in float64 straight from the definition (log of a sigmoid/softmax, explicit
weights and denominators), so a test can compare nllkit's stable kernels against the math.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _f64(t: Tensor | None) -> Tensor | None:
    return None if t is None else t.detach().to(torch.float64)


def reduce(loss: Tensor, reduction: str, denominator: Tensor | float | None = None) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    den = loss.numel() if denominator is None else denominator
    return loss.sum() / den


def bce_with_logits(
    z: Tensor,
    y: Tensor,
    weight: Tensor | None = None,
    pos_weight: Tensor | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """−w·[pw·y·log σ(z) + (1 − y)·log(1 − σ(z))]."""
    z, y = _f64(z), _f64(y)
    assert z is not None and y is not None
    y = y * (1 - label_smoothing) + label_smoothing / 2
    p, q = 1 / (1 + torch.exp(-z)), 1 / (1 + torch.exp(z))  # σ(z) and 1 − σ(z) = σ(−z)
    pw = 1.0 if pos_weight is None else _f64(pos_weight)
    loss = -(pw * y * torch.log(p) + (1 - y) * torch.log(q))
    if weight is not None:
        loss = loss * _f64(weight)
    return reduce(loss, reduction)


def bce(p: Tensor, y: Tensor, weight: Tensor | None = None, reduction: str = "mean") -> Tensor:
    """−w·[y·log p + (1 − y)·log(1 − p)], logs clamped at −100 (torch's convention)."""
    p, y = _f64(p), _f64(y)
    assert p is not None and y is not None
    loss = -(y * torch.log(p).clamp_min(-100) + (1 - y) * torch.log(1 - p).clamp_min(-100))
    if weight is not None:
        loss = loss * _f64(weight)
    return reduce(loss, reduction)


def cross_entropy(
    z: Tensor,
    y: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """−Σ_c w_c q_c log softmax(z)_c, q = (1−ε)·target + ε/C; torch's denominators."""
    z64 = _f64(z)
    assert z64 is not None
    if z64.ndim == 1:
        out = cross_entropy(
            z.unsqueeze(0), y.unsqueeze(0), weight, ignore_index, reduction, label_smoothing
        )
        return out.squeeze(0) if reduction == "none" else out
    c = z64.shape[1]
    logp = torch.log(torch.exp(z64) / torch.exp(z64).sum(1, keepdim=True))
    w = torch.ones(c, dtype=torch.float64) if weight is None else _f64(weight)
    assert w is not None
    wshape = [1, c] + [1] * (z64.ndim - 2)
    if y.is_floating_point():
        q = _f64(y)
        assert q is not None
        q = q * (1 - label_smoothing) + label_smoothing / c
        loss = -(w.view(wshape) * q * logp).sum(1)
        return reduce(loss, reduction, denominator=loss.numel())
    keep = y != ignore_index
    yy = torch.where(keep, y, torch.zeros_like(y))
    onehot = torch.nn.functional.one_hot(yy, c).movedim(-1, 1).to(torch.float64)
    q = onehot * (1 - label_smoothing) + label_smoothing / c
    loss = -(w.view(wshape) * q * logp).sum(1) * keep
    den = (w[yy] * keep).sum()
    return reduce(loss, reduction, denominator=den)


def nll_loss(
    logp: Tensor,
    y: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """−w_y·log p_y over non-ignored targets; the mean divides by Σ w_y."""
    lp = _f64(logp)
    assert lp is not None
    if lp.ndim == 1:
        out = nll_loss(logp.unsqueeze(0), y.unsqueeze(0), weight, ignore_index, reduction)
        return out.squeeze(0) if reduction == "none" else out
    c = lp.shape[1]
    w = torch.ones(c, dtype=torch.float64) if weight is None else _f64(weight)
    assert w is not None
    keep = y != ignore_index
    yy = torch.where(keep, y, torch.zeros_like(y))
    picked = lp.gather(1, yy.unsqueeze(1)).squeeze(1)
    loss = -w[yy] * picked * keep
    return reduce(loss, reduction, denominator=(w[yy] * keep).sum())
