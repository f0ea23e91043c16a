"""Laplace: real-valued targets with heavy (exponential) tails; the absolute-error loss."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from ._common import (
    CheckedLikelihood,
    check_float,
    check_target_shape,
    positive,
    split_params,
    validated_floor,
)

__all__ = ["Laplace", "LaplaceParams"]


class LaplaceParams(NamedTuple):
    """Parameters of a Laplace: location ``loc`` (the median) and scale ``b``."""

    loc: Tensor
    scale: Tensor


class Laplace(CheckedLikelihood):
    r"""Real targets with exponential tails: ``Pr(y | μ, b) = exp(−|y − μ| / b) / (2b)``.

    The network predicts ``(z_μ, z_b)`` on dim 1; the links are ``μ = z_μ`` (identity) and
    ``b = softplus(z_b) + floor``. The NLL is an absolute error scaled by the learned ``b``::

        −log Pr(y | μ, b) = |y − μ| / b + log(2b)

    so with a fixed ``b`` minimising it is least absolute deviations (L1 loss): the constant that
    minimises it is the sample **median**, not the mean, which makes it robust to outliers. The
    log-density is computed in closed form (``log b`` from the floored softplus), never as the log
    of the density. ``predict`` (the mode) and ``mean`` both return ``μ``.

    Shapes: ``raw`` is ``(N, 2, d1, ...)`` for ``y`` of ``(N, d1, ...)``.

    Args:
        floor: the smallest scale ``b`` (default ``1e-6``).
        check: when to validate target values (``"first"``, ``"always"``, ``"never"``).

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import Laplace
        >>> lik = Laplace()
        >>> raw = torch.tensor([[1.0, 0.5413], [0.0, -2.0]])   # b = softplus(0.5413) ≈ 1
        >>> lik.params(raw).scale
        tensor([1.0000, 0.1269])
        >>> lik.log_prob(raw, torch.tensor([3.0, 0.1]))
        tensor([-2.6932,  0.5831])
        >>> lik.predict(raw)
        tensor([1., 0.])

    References:
        Prince, *Understanding Deep Learning* (2023), problem 5.9 (Laplace → L1 loss).
    """

    domain = "ℝ: any real number (robust to outliers)"
    distribution_name = "Laplace(μ, b): exp(−|y − μ|/b) / (2b)"
    link = "μ = z_μ (identity); b = softplus(z_b) + floor"
    nll_formula = "|y − μ|/b + log(2b)  (fixed b: mean absolute error / b + const)"
    predict_rule = "the mode = the median = the mean = μ"
    implemented_by = (
        "torch.nn.L1Loss (fixed b, up to 1/b and a constant)",
        "nllkit.nn.LikelihoodLoss(Laplace())",
    )
    pitfalls = (
        "The L1 loss's minimiser is the median: predictions are not means.",
        "|y − μ| has a kink at 0: the gradient's magnitude does not shrink near the optimum, "
        "so decay the learning rate.",
    )

    def __init__(self, *, floor: float = 1e-6, check: str = "first") -> None:
        super().__init__(check=check)
        self.floor = validated_floor(floor)

    @property
    def num_outputs(self) -> int:
        return 2

    def params(self, raw: Tensor) -> LaplaceParams:
        check_float(raw)
        z_loc, z_scale = split_params(raw, 2, "Laplace")
        return LaplaceParams(loc=z_loc, scale=positive(z_scale, self.floor))

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        loc, scale = self.params(raw)
        check_target_shape(y, loc.shape, "Laplace")
        self._maybe_validate(y)
        y = y.to(loc.dtype)
        # log Laplace(y; μ, b) = −|y − μ|/b − log b − log 2.
        return -(y - loc).abs() / scale - scale.log() - math.log(2.0)

    def predict(self, raw: Tensor) -> Tensor:
        """The mode ``μ`` (also the median and the mean)."""
        return self.params(raw).loc

    def mean(self, raw: Tensor) -> Tensor:
        return self.params(raw).loc

    def distribution(self, raw: Tensor) -> torch.distributions.Laplace:
        loc, scale = self.params(raw)
        return torch.distributions.Laplace(loc, scale)
