"""Exponential: non-negative real targets (waiting times), one rate per target."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ._common import (
    CheckedLikelihood,
    check_float,
    check_in_domain,
    check_target_shape,
    positive,
    validated_floor,
)

__all__ = ["Exponential", "ExponentialParams"]


class ExponentialParams(NamedTuple):
    """Parameter of an Exponential: the ``rate`` λ (the mean is 1/λ)."""

    rate: Tensor


class Exponential(CheckedLikelihood):
    r"""Non-negative targets ``y ≥ 0``: ``Pr(y | λ) = λ·e^{−λy}``.

    The network predicts one raw value per target; the link ``λ = softplus(z) + floor`` keeps the
    rate positive. The NLL, in log space::

        −log Pr(y | λ) = λy − log λ

    The constant rate that minimises it is ``1/mean(y)``. The mode of an exponential is always 0,
    so ``predict`` returns zeros (the recipe's rule); the useful point predictions are ``mean``
    (``1/λ``) or the median ``log 2 / λ``.

    Shapes: ``raw`` and ``y`` share a shape.

    Args:
        floor: the smallest rate λ (default ``1e-6``).
        check: when to validate target values (``"first"``, ``"always"``, ``"never"``).

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import Exponential
        >>> lik = Exponential()
        >>> raw = torch.tensor([0.5413, 2.0])          # λ ≈ 1 and λ ≈ 2.13
        >>> lik.log_prob(raw, torch.tensor([1.0, 0.5]))
        tensor([-1.0000, -0.3088])
        >>> lik.mean(raw)
        tensor([1.0000, 0.4702])

    References:
        McCullagh & Nelder, *Generalized Linear Models* (1989), §8.
    """

    domain = "[0, ∞): non-negative reals (waiting times)"
    distribution_name = "Exponential(λ): λ e^(−λy)"
    link = "λ = softplus(z) + floor"
    nll_formula = "λy − log λ"
    predict_rule = "the mode is always 0; use mean() = 1/λ or the median log 2/λ"
    implemented_by = ("nllkit.nn.LikelihoodLoss(Exponential())",)
    pitfalls = (
        "The mode is 0 whatever λ is: predict with the mean 1/λ or the median log 2/λ.",
        "An exponential has variance = mean²: for other spreads use Gamma.",
    )

    def __init__(self, *, floor: float = 1e-6, check: str = "first") -> None:
        super().__init__(check=check)
        self.floor = validated_floor(floor)

    @property
    def num_outputs(self) -> int:
        return 1

    def params(self, raw: Tensor) -> ExponentialParams:
        check_float(raw)
        return ExponentialParams(rate=positive(raw, self.floor))

    def _validate_target(self, y: Tensor) -> None:
        check_in_domain(
            y < 0, y, "non-negative targets", "an exponential models y ≥ 0 (e.g. waiting times)"
        )

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        (rate,) = self.params(raw)
        check_target_shape(y, rate.shape, "Exponential")
        self._maybe_validate(y)
        # log Exp(y; λ) = log λ − λy.
        return rate.log() - rate * y.to(rate.dtype)

    def predict(self, raw: Tensor) -> Tensor:
        """The mode, which is 0 for every λ (see :meth:`mean` for a useful point prediction)."""
        return torch.zeros_like(self.params(raw).rate)

    def mean(self, raw: Tensor) -> Tensor:
        """The mean ``1/λ``."""
        return self.params(raw).rate.reciprocal()

    def distribution(self, raw: Tensor) -> torch.distributions.Exponential:
        return torch.distributions.Exponential(self.params(raw).rate)
