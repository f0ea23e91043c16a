"""``LikelihoodLoss``: the negative log-likelihood of any likelihood, as a module."""

from __future__ import annotations

from torch import Tensor, nn

from .._math import resolve_reduction
from ..likelihoods.base import Likelihood

__all__ = ["LikelihoodLoss"]


class LikelihoodLoss(nn.Module):
    """The loss ``−log Pr(y | link(raw))`` of a :class:`~nllkit.likelihoods.Likelihood`.

    The recipe in one module: pick a distribution, and train on its NLL. The likelihood's
    :meth:`~nllkit.likelihoods.Likelihood.predict` gives the matching inference rule.

    Args:
        likelihood: any nllkit likelihood (``Bernoulli()``, ``Categorical(10)``, ...).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import Categorical
        >>> from nllkit.nn import LikelihoodLoss
        >>> loss = LikelihoodLoss(Categorical(3))
        >>> loss(torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0]))
        tensor(0.1698)
    """

    expects = "logits"

    def __init__(self, likelihood: Likelihood, reduction: str = "mean") -> None:
        super().__init__()
        from ..errors import InputTypeError

        if not isinstance(likelihood, Likelihood):
            raise InputTypeError(
                argument="likelihood",
                expected="an nllkit.likelihoods.Likelihood instance",
                found=type(likelihood).__name__,
                fix="pass e.g. nllkit.likelihoods.Bernoulli() (an instance, not the class)",
            )
        self.likelihood = likelihood
        self.reduction = resolve_reduction(reduction)

    def forward(self, raw: Tensor, target: Tensor) -> Tensor:
        return self.likelihood.nll(raw, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"likelihood={self.likelihood!r}, reduction={self.reduction!r}"
