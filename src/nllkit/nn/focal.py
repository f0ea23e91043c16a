"""Module version of :func:`nllkit.functional.focal_loss`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .. import functional as F
from ..functional.focal import _as_alpha, _check_mode, _check_nonnegative
from ._base import Loss

__all__ = ["FocalLoss"]


class FocalLoss(Loss):
    """Focal loss ``−α_t (1 − p_t)^γ log p_t`` on logits; see :func:`nllkit.functional.focal_loss`.

    Takes raw logits (do not end the model in a Sigmoid/Softmax). ``gamma=0, alpha=None`` is
    ``BCEWithLogitsLoss`` (binary/multilabel) or ``CrossEntropyLoss`` (multiclass) exactly.

    Args:
        mode: ``"binary"`` (default), ``"multilabel"`` or ``"multiclass"``.
        alpha: a float in [0, 1] (positives get α, negatives 1 − α) or one value per class.
        gamma: focusing parameter ``γ ≥ 0``.
        weight: element weights (sigmoid modes) or class weights ``(C,)`` (multiclass).
        ignore_index: a target value to skip.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        check: ``"first"``, ``"always"`` or ``"never"``.

    Example:
        >>> import torch
        >>> from nllkit.nn import FocalLoss
        >>> loss = FocalLoss("binary", alpha=0.25, gamma=2.0)
        >>> loss(torch.tensor([3.0, -1.0, 0.5]), torch.tensor([1.0, 1.0, 0.0]))
        tensor(0.1529)
    """

    expects = "logits"

    def __init__(
        self,
        mode: str = "binary",
        alpha: float | Sequence[float] | Tensor | None = None,
        gamma: float = 2.0,
        *,
        weight: Tensor | None = None,
        ignore_index: int | None = None,
        reduction: str = "mean",
        check: str = "first",
    ) -> None:
        super().__init__(reduction, check=check)
        _check_mode(mode)
        _check_nonnegative(gamma, "gamma", fix="use gamma=2.0 (the paper's value)")
        a = _as_alpha(alpha, mode)
        self.mode = mode
        self.gamma = float(gamma)
        self.ignore_index = ignore_index
        self.alpha_value: float | None = a if isinstance(a, float) else None
        self.alpha: Tensor | None
        self.weight: Tensor | None
        self.register_buffer("alpha", a if isinstance(a, torch.Tensor) else None)
        self.register_buffer("weight", weight)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        alpha = self.alpha if self.alpha is not None else self.alpha_value
        return self._call(
            F.focal_loss,
            logits,
            target,
            self.mode,
            alpha,
            self.gamma,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        a = self.alpha_value if self.alpha is None else self.alpha.tolist()
        return f"mode={self.mode!r}, alpha={a!r}, gamma={self.gamma}, reduction={self.reduction!r}"
