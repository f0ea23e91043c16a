"""Categorical: one of K classes, softmax link."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Likelihood

__all__ = ["Categorical", "CategoricalParams"]


class CategoricalParams(NamedTuple):
    """Parameters of a Categorical: class probabilities and log-probabilities (dim 1)."""

    probs: Tensor
    log_probs: Tensor


class Categorical(Likelihood):
    r"""One of ``K`` classes ``y ∈ {0, …, K−1}``: ``Pr(y = k | z) = softmax(z)_k``.

    The network predicts ``K`` logits per target; the softmax link makes them positive and sum to 1.
    The negative log-likelihood is cross-entropy with a one-hot target::

        −log Pr(y | z) = −log softmax(z)_y = logsumexp(z) − z_y

    computed with the log-sum-exp identity (log-softmax), never as ``log(softmax(z))``.

    Shapes: ``raw`` is ``(N, K)`` or ``(N, K, d1, ...)`` (classes on dim 1, torch's convention),
    ``y`` is ``(N,)`` or ``(N, d1, ...)`` of int64 class indices; ``log_prob`` has ``y``'s shape.

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import Categorical
        >>> lik = Categorical(3)
        >>> z = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 3.0]])
        >>> lik.log_prob(z, torch.tensor([0, 1]))
        tensor([-0.1698, -3.0949])
        >>> lik.predict(z)
        tensor([0, 2])

    References:
        Prince, *Understanding Deep Learning* (2023), §5.5.
    """

    domain = "{0, …, K−1}: exactly one of K classes"
    distribution_name = "Categorical(p_1, …, p_K)"
    link = "p = softmax(z): positive and summing to 1 (a sigmoid per class would not sum to 1)"
    nll_formula = "−log softmax(z)_y = logsumexp(z) − z_y  (cross-entropy)"
    predict_rule = "the mode: argmax_k z_k (the same as argmax of the probabilities)"
    implemented_by = (
        "torch.nn.CrossEntropyLoss (logits)",
        "nllkit.nn.CrossEntropyLoss (logits)",
        "torch.nn.NLLLoss / nllkit.nn.NLLLoss (log-probabilities)",
    )
    pitfalls = (
        "CrossEntropyLoss takes logits and applies log-softmax itself; it returns a loss, not "
        "probabilities. Never put a Softmax before it; apply torch.softmax yourself at inference.",
        "NLLLoss takes log-probabilities: pair it with LogSoftmax, or use CrossEntropyLoss.",
        "Targets are int64 class indices starting at 0 (or probabilities of the input's shape).",
    )

    def __init__(self, num_classes: int) -> None:
        from ..errors import ConfigurationError

        if not isinstance(num_classes, int) or num_classes < 2:
            raise ConfigurationError(
                argument="num_classes",
                expected="an int >= 2",
                found=repr(num_classes),
                fix="pass the number of classes, e.g. Categorical(10); for 2 classes with one "
                "logit use Bernoulli()",
            )
        self.num_classes = num_classes

    @property
    def num_outputs(self) -> int:
        return self.num_classes

    def params(self, raw: Tensor) -> CategoricalParams:
        log_probs = F.log_softmax(raw, dim=1)
        return CategoricalParams(probs=log_probs.exp(), log_probs=log_probs)

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        # log softmax(z)_y = z_y − logsumexp(z): torch's fused log-softmax + NLL kernel.
        return -F.cross_entropy(raw, y, reduction="none")

    def predict(self, raw: Tensor) -> Tensor:
        return raw.argmax(dim=1)

    def distribution(self, raw: Tensor) -> torch.distributions.Categorical:
        return torch.distributions.Categorical(logits=raw.movedim(1, -1))

    def _repr_args(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes}
