"""Module versions of the overlap losses: :class:`DiceLoss`, :class:`JaccardLoss`,
:class:`TverskyLoss` (see :mod:`nllkit.functional.overlap` for the math and the peer mapping)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor

from .. import functional as F
from ..functional.focal import _check_mode, _check_nonnegative
from ..functional.overlap import _resolve_classes
from ._base import Loss

__all__ = ["DiceLoss", "JaccardLoss", "TverskyLoss"]


class _OverlapLoss(Loss):
    """Shared constructor of the overlap losses (keyword names as in the functionals)."""

    _fn: Callable[..., Tensor]

    def __init__(
        self,
        mode: str = "binary",
        *,
        from_logits: bool = True,
        smooth: float = 1e-5,
        squared: bool = False,
        per_sample: bool = True,
        classes: Sequence[int] | None = None,
        weight: Tensor | None = None,
        ignore_index: int | None = None,
        log_loss: bool = False,
        reduction: str = "mean",
        check: str = "first",
    ) -> None:
        super().__init__(reduction, check=check)
        _check_mode(mode)
        _check_nonnegative(smooth, "smooth", fix="use a small value such as 1e-5, or 0")
        if classes is not None:
            # validates the list now (the upper bound is checked against C on each call)
            _resolve_classes(classes, max(int(c) for c in classes) + 1 if classes else 0)
        self.mode = mode
        self.from_logits = bool(from_logits)
        # what inspect_model checks the model's last layer against
        self.__dict__["expects"] = "logits" if self.from_logits else "probabilities"
        self.smooth = float(smooth)
        self.squared = bool(squared)
        self.per_sample = bool(per_sample)
        self.classes = None if classes is None else [int(c) for c in classes]
        self.ignore_index = ignore_index
        self.log_loss = bool(log_loss)
        self.weight: Tensor | None
        self.register_buffer("weight", weight)

    def _options(self) -> dict[str, object]:
        return {
            "from_logits": self.from_logits,
            "smooth": self.smooth,
            "squared": self.squared,
            "per_sample": self.per_sample,
            "classes": self.classes,
            "weight": self.weight,
            "ignore_index": self.ignore_index,
            "log_loss": self.log_loss,
            "reduction": self.reduction,
        }

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return self._call(type(self)._fn, input, target, self.mode, **self._options())

    def extra_repr(self) -> str:
        return (
            f"mode={self.mode!r}, from_logits={self.from_logits}, smooth={self.smooth}, "
            f"per_sample={self.per_sample}, reduction={self.reduction!r}"
        )


class DiceLoss(_OverlapLoss):
    """Soft Dice loss; see :func:`nllkit.functional.dice_loss` (options, peers, empty classes).

    ``expects`` is ``"logits"``, or ``"probabilities"`` with ``from_logits=False``, so
    :func:`nllkit.guards.inspect_model` catches a model whose last layer does not match.

    Example:
        >>> import torch
        >>> from nllkit.nn import DiceLoss
        >>> loss = DiceLoss(mode="binary", smooth=0.0)
        >>> x = torch.tensor([[[4.0, 4.0, -4.0, -4.0]]])
        >>> loss(x, torch.tensor([[[1.0, 1.0, 0.0, 0.0]]]))
        tensor(0.0180)
        >>> DiceLoss(from_logits=False).expects
        'probabilities'
    """

    _fn = staticmethod(F.dice_loss)


class JaccardLoss(_OverlapLoss):
    """Soft Jaccard (IoU) loss; see :func:`nllkit.functional.jaccard_loss`.

    Example:
        >>> import torch
        >>> from nllkit.nn import JaccardLoss
        >>> x = torch.tensor([[[4.0, 4.0, -4.0, -4.0]]])
        >>> JaccardLoss(smooth=0.0)(x, torch.tensor([[[1.0, 1.0, 0.0, 0.0]]]))
        tensor(0.0353)
    """

    _fn = staticmethod(F.jaccard_loss)


class TverskyLoss(_OverlapLoss):
    """Soft Tversky loss with ``alpha`` (false positives) and ``beta`` (false negatives); see
    :func:`nllkit.functional.tversky_loss`.

    Example:
        >>> import torch
        >>> from nllkit.nn import TverskyLoss
        >>> x = torch.tensor([[[4.0, 4.0, -4.0, -4.0]]])
        >>> TverskyLoss(alpha=0.3, beta=0.7)(x, torch.tensor([[[1.0, 0.0, 0.0, 0.0]]]))
        tensor(0.2446)
    """

    _fn = staticmethod(F.tversky_loss)

    def __init__(
        self,
        mode: str = "binary",
        alpha: float = 0.5,
        beta: float = 0.5,
        *,
        from_logits: bool = True,
        smooth: float = 1e-5,
        squared: bool = False,
        per_sample: bool = True,
        classes: Sequence[int] | None = None,
        weight: Tensor | None = None,
        ignore_index: int | None = None,
        log_loss: bool = False,
        reduction: str = "mean",
        check: str = "first",
    ) -> None:
        super().__init__(
            mode,
            from_logits=from_logits,
            smooth=smooth,
            squared=squared,
            per_sample=per_sample,
            classes=classes,
            weight=weight,
            ignore_index=ignore_index,
            log_loss=log_loss,
            reduction=reduction,
            check=check,
        )
        _check_nonnegative(alpha, "alpha", fix="alpha weighs false positives; use 0.5 (Dice)")
        _check_nonnegative(beta, "beta", fix="beta weighs false negatives; use 0.5 (Dice)")
        self.alpha = float(alpha)
        self.beta = float(beta)

    def _options(self) -> dict[str, object]:
        return {"alpha": self.alpha, "beta": self.beta, **super()._options()}
