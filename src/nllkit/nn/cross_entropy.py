"""Module versions of the cross-entropy family: drop-in replacements for torch's.

Each takes torch's constructor arguments in torch's order (``weight``, ``size_average``, ...) and
returns torch's numbers; nllkit's extras (``label_smoothing`` for BCE, ``check``) are keyword-only.
The math, the derivation and the differences from torch are documented on the functional each
module calls (:mod:`nllkit.functional`).
"""

from __future__ import annotations

from torch import Tensor

from .. import functional as F
from ..guards import check_label_smoothing
from ._base import Loss

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss"]


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits (Bernoulli + sigmoid); see
    :func:`nllkit.functional.binary_cross_entropy_with_logits`.

    Takes raw logits and applies a stable log-sigmoid itself: do not end the model in a Sigmoid.
    At inference, ``torch.sigmoid(logits)`` gives the probabilities.

    Example:
        >>> import torch
        >>> from nllkit.nn import BCEWithLogitsLoss
        >>> loss = BCEWithLogitsLoss(pos_weight=torch.tensor([3.0]))
        >>> loss(torch.tensor([0.5, -2.0]), torch.tensor([1.0, 0.0]))
        tensor(0.7746)
    """

    expects = "logits"

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
        *,
        label_smoothing: float = 0.0,
        check: str = "first",
    ) -> None:
        super().__init__(reduction, check=check, size_average=size_average, reduce=reduce)
        check_label_smoothing(label_smoothing)
        self.label_smoothing = label_smoothing
        self.weight: Tensor | None
        self.pos_weight: Tensor | None
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return self._call(
            F.binary_cross_entropy_with_logits,
            logits,
            target,
            self.weight,
            reduction=self.reduction,
            pos_weight=self.pos_weight,
            label_smoothing=self.label_smoothing,
        )


class BCELoss(Loss):
    """Binary cross-entropy on probabilities; see :func:`nllkit.functional.binary_cross_entropy`.

    Takes probabilities in [0, 1] (apply the sigmoid before it). Its first call raises if it gets
    values outside [0, 1] (logits): use :class:`BCEWithLogitsLoss` on logits instead, which is
    also numerically stabler.

    Example:
        >>> import torch
        >>> from nllkit.nn import BCELoss
        >>> BCELoss()(torch.tensor([0.9, 0.2]), torch.tensor([1.0, 0.0]))
        tensor(0.1643)
    """

    expects = "probabilities"

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        *,
        check: str = "first",
    ) -> None:
        super().__init__(reduction, check=check, size_average=size_average, reduce=reduce)
        self.weight: Tensor | None
        self.register_buffer("weight", weight)

    def forward(self, probs: Tensor, target: Tensor) -> Tensor:
        return self._call(
            F.binary_cross_entropy, probs, target, self.weight, reduction=self.reduction
        )


class CrossEntropyLoss(Loss):
    """Cross-entropy on logits (Categorical + softmax); see :func:`nllkit.functional.cross_entropy`.

    Takes raw logits ``(N, C, ...)`` and applies log-softmax itself; it returns a loss, not
    probabilities. Do not end the model in a Softmax; apply ``torch.softmax`` at inference.

    Example:
        >>> import torch
        >>> from nllkit.nn import CrossEntropyLoss
        >>> loss = CrossEntropyLoss(label_smoothing=0.1)
        >>> loss(torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0]))
        tensor(0.3365)
    """

    expects = "logits"

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        *,
        check: str = "first",
    ) -> None:
        super().__init__(reduction, check=check, size_average=size_average, reduce=reduce)
        check_label_smoothing(label_smoothing)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.weight: Tensor | None
        self.register_buffer("weight", weight)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return self._call(
            F.cross_entropy,
            logits,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(Loss):
    """NLL of class indices given log-probabilities; see :func:`nllkit.functional.nll_loss`.

    Pair it with a final ``LogSoftmax(dim=1)``, or use :class:`CrossEntropyLoss` on logits.

    Example:
        >>> import torch
        >>> from nllkit.nn import NLLLoss
        >>> NLLLoss()(torch.log(torch.tensor([[0.7, 0.3]])), torch.tensor([1]))
        tensor(1.2040)
    """

    expects = "log_probabilities"

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
        *,
        check: str = "first",
    ) -> None:
        super().__init__(reduction, check=check, size_average=size_average, reduce=reduce)
        self.ignore_index = ignore_index
        self.weight: Tensor | None
        self.register_buffer("weight", weight)

    def forward(self, log_probs: Tensor, target: Tensor) -> Tensor:
        return self._call(
            F.nll_loss,
            log_probs,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )
