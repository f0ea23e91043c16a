"""``LinearCrossEntropyLoss``: the output layer and the cross-entropy fused, logits never held."""

from __future__ import annotations

import math

from torch import Tensor

from .. import functional as F
from ..errors import ConfigurationError
from ..guards import check_label_smoothing
from ._base import Loss

__all__ = ["LinearCrossEntropyLoss"]


class LinearCrossEntropyLoss(Loss):
    """Cross-entropy of ``hidden @ weight.T + bias``; see :func:`nllkit.functional.linear_cross_entropy`.

    The module holds no weight: the projection belongs to the model (a language model's
    ``lm_head``, often tied to the embedding), and ``forward`` takes it with the hidden states, so
    the model skips its own output layer when it computes the loss::

        hidden = model.body(tokens)                       # (B, T, D)
        loss = loss_fn(hidden, model.lm_head.weight, labels, model.lm_head.bias)

    Args:
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
        ignore_index: target value to skip (-100).
        label_smoothing: torch's label smoothing, in [0, 1].
        softcap: optional logit soft-cap ``c`` (logits become ``c·tanh(z/c)``).
        z_loss: weight of the ``logsumexp²`` term (0 turns it off).
        chunk_size: rows of logits held at once; ``None`` picks it from the shapes and device.
        check: ``"first"`` | ``"always"`` | ``"never"`` (see :mod:`nllkit.guards`).

    Shapes:
        ``forward(hidden (..., D), weight (V, D), target (...), bias (V,) or None)``; the result is
        a scalar, or ``target``'s shape for ``reduction="none"``.

    Example:
        >>> import torch
        >>> from nllkit.nn import LinearCrossEntropyLoss
        >>> g = torch.Generator().manual_seed(0)
        >>> head = torch.nn.Linear(4, 10)
        >>> hidden, target = torch.randn(2, 3, 4, generator=g), torch.tensor([[1, 2, -100], [0, 9, 3]])
        >>> loss_fn = LinearCrossEntropyLoss(label_smoothing=0.1, chunk_size=2)
        >>> loss = loss_fn(hidden, head.weight, target, head.bias)
        >>> ref = torch.nn.functional.cross_entropy(
        ...     head(hidden).flatten(0, 1), target.flatten(), label_smoothing=0.1)
        >>> bool(torch.allclose(loss, ref))
        True
    """

    #: takes the hidden states before the output projection (neither logits nor probabilities)
    expects = "hidden_states"

    def __init__(
        self,
        reduction: str = "mean",
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        *,
        softcap: float | None = None,
        z_loss: float = 0.0,
        chunk_size: int | None = None,
        check: str = "first",
    ) -> None:
        super().__init__(reduction, check=check)
        check_label_smoothing(label_smoothing)
        if softcap is not None and not softcap > 0:
            raise ConfigurationError(
                argument="softcap",
                expected="None or a positive float",
                found=repr(softcap),
                fix="pass softcap=None to turn soft-capping off, or e.g. softcap=30.0",
            )
        if not (z_loss >= 0 and math.isfinite(z_loss)):
            raise ConfigurationError(
                argument="z_loss",
                expected="a finite float >= 0",
                found=repr(z_loss),
                fix="pass e.g. z_loss=1e-4, or 0.0 to turn it off",
            )
        if chunk_size is not None and not (isinstance(chunk_size, int) and chunk_size > 0):
            raise ConfigurationError(
                argument="chunk_size",
                expected="None or a positive int",
                found=repr(chunk_size),
                fix="pass chunk_size=None to choose it from the shapes",
            )
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.softcap = softcap
        self.z_loss = z_loss
        self.chunk_size = chunk_size

    def forward(
        self, hidden: Tensor, weight: Tensor, target: Tensor, bias: Tensor | None = None
    ) -> Tensor:
        return self._call(
            F.linear_cross_entropy,
            hidden,
            weight,
            target,
            bias,
            reduction=self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            softcap=self.softcap,
            z_loss=self.z_loss,
            chunk_size=self.chunk_size,
        )

    def extra_repr(self) -> str:
        parts = [f"reduction={self.reduction!r}", f"ignore_index={self.ignore_index}"]
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        if self.softcap is not None:
            parts.append(f"softcap={self.softcap}")
        if self.z_loss:
            parts.append(f"z_loss={self.z_loss}")
        if self.chunk_size is not None:
            parts.append(f"chunk_size={self.chunk_size}")
        return ", ".join(parts)
