"""Small numerical helpers shared by every layer (no nllkit imports, so any layer may use them)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = [
    "apply_reduction",
    "masked_mean",
    "resolve_reduction",
    "saturate_infinities",
    "straight_through_clamp",
]

_REDUCTIONS = ("mean", "sum", "none")


class _StraightThroughClamp(torch.autograd.Function):
    """``clamp(x, lo, hi)`` forward, identity backward (a straight-through clamp).

    The identity backward is exact wherever ``x`` is inside the range (the clamp is the identity
    there); outside it passes the gradient evaluated at the bound, so a network whose output lies
    beyond the range still gets the gradient that pulls it back. It costs one elementwise pass in
    the forward and nothing in the backward (``torch.clamp``'s own backward re-reads ``x``).
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, lo: float, hi: float) -> Tensor:
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        return grad, None, None


def straight_through_clamp(x: Tensor, lo: float, hi: float) -> Tensor:
    """``x.clamp(lo, hi)`` whose gradient is the identity (see ``_StraightThroughClamp``)."""
    return _StraightThroughClamp.apply(x, lo, hi)


def saturate_infinities(x: Tensor) -> Tensor:
    """Replace ``±inf`` by ``±finfo(dtype).max`` so log-space kernels return limits, not NaN.

    Torch's kernels evaluate ``0 · inf`` or ``inf − inf`` at infinite logits and return NaN; at the
    largest finite value they return the mathematical limit instead: exactly 0 for a confident,
    correct prediction, and ``finfo.max`` (saturated ``+inf``) for a confident, wrong one. NaN stays
    NaN. Integer tensors pass through unchanged.
    """
    if not x.is_floating_point():
        return x
    big = torch.finfo(x.dtype).max
    return straight_through_clamp(x, -big, big)


def resolve_reduction(
    reduction: str, size_average: bool | None = None, reduce: bool | None = None
) -> str:
    """Validate ``reduction`` and fold torch's deprecated ``size_average``/``reduce`` into it."""
    from .errors import ConfigurationError

    if size_average is not None or reduce is not None:
        # torch's legacy rule: reduce=False wins, else size_average picks mean (default) or sum.
        if reduce is False:
            reduction = "none"
        else:
            reduction = "sum" if size_average is False else "mean"
    if reduction not in _REDUCTIONS:
        raise ConfigurationError(
            argument="reduction",
            expected="one of 'mean', 'sum', 'none'",
            found=repr(reduction),
            fix="pass reduction='mean' (the default), 'sum' or 'none'",
        )
    return reduction


def masked_mean(total: Tensor, denominator: Tensor) -> Tensor:
    """``total / denominator`` computed in float32 or wider, with ``0 / 0 = 0``.

    Used for means over non-ignored targets: a batch whose targets are all ignored has a zero
    total and a zero denominator, and its loss is 0 with zero gradients (torch returns NaN).
    """
    acc = torch.promote_types(total.dtype, torch.float32)
    den = denominator.to(acc)
    den = torch.where(den == 0, torch.ones_like(den), den)
    return (total.to(acc) / den).to(total.dtype)


def ignore_mask(target: Tensor, ignore_index: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """``(target, mask)``: the target with its ignored entries set to 0, and a mask in ``dtype``
    that is 1 where the target counts and 0 where it equals ``ignore_index``.

    Floating-point targets come back in ``dtype``; class indices stay integers. Built with one
    comparison written straight into the mask's dtype and multiplications: ``torch.where`` and
    boolean tensors are several times slower on a CPU. A loss multiplied by the mask drops its
    ignored entries as long as they are finite (the losses here keep them finite).
    """
    out = torch.empty(target.shape, dtype=dtype, device=target.device)
    if target.is_floating_point():
        mask = torch.ne(target, ignore_index, out=out)
        return target.to(dtype) * mask, mask
    keep = torch.ne(target, ignore_index, out=torch.empty_like(target))
    return target * keep, out.copy_(keep)


def apply_reduction(loss: Tensor, reduction: str) -> Tensor:
    """Apply ``reduction`` ('mean' | 'sum' | 'none') to an elementwise loss."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


# Elements per slice of the fused, slice-by-slice kernels (functional/_overlap_kernels.py and
# _focal_kernels.py). On a CPU with one thread, 2**16 float32 values (256 KiB) keep a slice's
# temporaries in a core's L2 cache (measured best of 2**14 to 2**20). With more threads a slice
# must be larger for its smaller tensors (a softmax kernel's per-position sums are 1/C of it) to
# pass torch's parallel grain (32768 elements) and use every thread: 2**18 measured best on two
# cores (multiclass Dice 0.64-0.68x -> 0.53-0.55x MONAI's time, focal 0.49x -> 0.30x), larger
# thread counts untested. On an accelerator a slice only has to amortise the launch of each op.
SLICE_CPU = 1 << 16
SLICE_CPU_THREADS = 1 << 18
SLICE_ACCELERATOR = 1 << 22


def slice_elements(x: Tensor) -> int:
    """How many elements of ``x`` one slice of a fused kernel covers, by device and threads."""
    if x.device.type != "cpu":
        return SLICE_ACCELERATOR
    return SLICE_CPU if torch.get_num_threads() == 1 else SLICE_CPU_THREADS


def samples_per_slice(x: Tensor) -> int:
    """Samples (dim 0) of ``x`` in one slice: as many as fit in :func:`slice_elements`, ≥ 1."""
    per = x[0].numel() if x.shape[0] else 1
    return max(1, slice_elements(x) // max(1, per))
