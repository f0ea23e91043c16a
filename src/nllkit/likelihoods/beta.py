"""Beta: proportions, targets strictly inside (0, 1)."""

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
    split_params,
    validated_floor,
)

__all__ = ["Beta", "BetaParams"]


class BetaParams(NamedTuple):
    """Parameters of a Beta: ``concentration1`` α (pulls towards 1), ``concentration0`` β."""

    concentration1: Tensor
    concentration0: Tensor


class Beta(CheckedLikelihood):
    r"""Proportions ``y ∈ (0, 1)``: ``Pr(y | α, β) = y^{α−1} (1 − y)^{β−1} / B(α, β)``.

    The network predicts ``(z_α, z_β)`` on dim 1; ``α = softplus(z_α) + floor`` and
    ``β = softplus(z_β) + floor``. The NLL, in log space (``log1p(−y)`` for ``log(1 − y)`` and
    ``lgamma`` for the Beta function)::

        −(α − 1)·log y − (β − 1)·log1p(−y) + lgamma(α) + lgamma(β) − lgamma(α + β)

    Targets must lie strictly inside (0, 1): at 0 or 1 the density is 0 or infinite (depending on
    α, β), so the NLL is ±∞ and no gradient step can fix it. Squeeze such data first, e.g.
    ``y·(n − 1)/n + 1/(2n)`` (Smithson & Verkuilen 2006), or use a Bernoulli with soft targets.

    ``predict`` returns the mode: ``(α − 1)/(α + β − 2)`` when ``α, β > 1``; 0 or 1 when the
    density rises to one end (α ≤ 1 < β, or β ≤ 1 < α); for a U-shaped density (α, β ≤ 1) the
    end with the smaller exponent (0.5 when α = β). ``mean`` is ``α/(α + β)``.

    Shapes: ``raw`` is ``(N, 2, d1, ...)`` for ``y`` of ``(N, d1, ...)``.

    Args:
        floor: the smallest α and β (default ``1e-6``).
        check: when to validate target values (``"first"``, ``"always"``, ``"never"``).

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import Beta
        >>> lik = Beta()
        >>> raw = torch.tensor([[2.0, 1.0], [0.0, 3.0]])
        >>> lik.params(raw)
        BetaParams(concentration1=tensor([2.1269, 0.6931]), concentration0=tensor([1.3133, 3.0486]))
        >>> lik.log_prob(raw, torch.tensor([0.7, 0.1]))
        tensor([0.4081, 0.9600])
        >>> lik.predict(raw), lik.mean(raw)
        (tensor([0.7825, 0.0000]), tensor([0.6183, 0.1852]))

    References:
        Ferrari & Cribari-Neto, "Beta regression for modelling rates and proportions" (2004).
    """

    domain = "(0, 1): proportions strictly between 0 and 1"
    distribution_name = "Beta(α, β): y^(α−1) (1 − y)^(β−1) / B(α, β)"
    link = "α = softplus(z_α) + floor, β = softplus(z_β) + floor"
    nll_formula = "−(α−1)·log y − (β−1)·log(1 − y) + lgamma(α) + lgamma(β) − lgamma(α + β)"
    predict_rule = "the mode (α − 1)/(α + β − 2) for α, β > 1 (else an end point); mean α/(α + β)"
    implemented_by = ("nllkit.nn.LikelihoodLoss(Beta())",)
    pitfalls = (
        "Targets of exactly 0 or 1 make the NLL infinite: squeeze them into (0, 1) first.",
        "For 0/1 labels (or soft labels in [0, 1]) use Bernoulli, not Beta.",
    )

    def __init__(self, *, floor: float = 1e-6, check: str = "first") -> None:
        super().__init__(check=check)
        self.floor = validated_floor(floor)

    @property
    def num_outputs(self) -> int:
        return 2

    def params(self, raw: Tensor) -> BetaParams:
        check_float(raw)
        z_a, z_b = split_params(raw, 2, "Beta")
        return BetaParams(positive(z_a, self.floor), positive(z_b, self.floor))

    def _validate_target(self, y: Tensor) -> None:
        check_in_domain(
            (y <= 0) | (y >= 1),
            y,
            "targets strictly inside (0, 1): the Beta density at 0 or 1 is 0 or infinite, so "
            "the NLL there is ±inf",
            "squeeze the targets, e.g. y * (n - 1) / n + 1 / (2 * n) for n samples; for 0/1 "
            "labels use Bernoulli",
        )

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        a, b = self.params(raw)
        check_target_shape(y, a.shape, "Beta")
        self._maybe_validate(y)
        y = y.to(a.dtype)
        # log Beta(y; α, β) = (α−1)·log y + (β−1)·log1p(−y) − [lgamma α + lgamma β − lgamma(α+β)].
        log_beta_fn = torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
        return (a - 1.0) * y.log() + (b - 1.0) * torch.log1p(-y) - log_beta_fn

    def predict(self, raw: Tensor) -> Tensor:
        """The mode (an end point when the density rises towards it)."""
        a, b = self.params(raw)
        inner = (a - 1.0) / (a + b - 2.0).clamp(min=torch.finfo(a.dtype).tiny)
        ends = torch.where(a < b, torch.zeros_like(a), torch.where(a > b, 1.0, 0.5))
        edge = torch.where(a > 1, torch.ones_like(a), torch.zeros_like(a))  # one of α, β ≤ 1
        interior = (a > 1) & (b > 1)
        one_sided = (a > 1) != (b > 1)
        return torch.where(interior, inner, torch.where(one_sided, edge, ends))

    def mean(self, raw: Tensor) -> Tensor:
        """The mean ``α/(α + β)``."""
        a, b = self.params(raw)
        return a / (a + b)

    def distribution(self, raw: Tensor) -> torch.distributions.Beta:
        a, b = self.params(raw)
        return torch.distributions.Beta(a, b)
