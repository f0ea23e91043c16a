"""Gamma: strictly positive real targets (durations, amounts, sizes)."""

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

__all__ = ["Gamma", "GammaParams"]


class GammaParams(NamedTuple):
    """Parameters of a Gamma: shape ``concentration`` α and inverse scale ``rate`` β."""

    concentration: Tensor
    rate: Tensor


class Gamma(CheckedLikelihood):
    r"""Positive targets ``y > 0``: ``Pr(y | α, β) = β^α y^{α−1} e^{−βy} / Γ(α)``.

    The network predicts ``(z_α, z_β)`` on dim 1; the links ``α = softplus(z_α) + floor`` and
    ``β = softplus(z_β) + floor`` keep both positive. The NLL, computed in log space::

        −log Pr(y | α, β) = βy − α·log β − (α − 1)·log y + lgamma(α)

    The mean is ``α/β`` and the variance ``α/β²``: unlike a Gaussian the spread grows with the
    level, the usual situation for positive quantities. ``predict`` returns the mode
    ``(α − 1)/β`` for ``α ≥ 1`` and 0 otherwise (the density then peaks at 0).

    Shapes: ``raw`` is ``(N, 2, d1, ...)`` for ``y`` of ``(N, d1, ...)``.

    Args:
        floor: the smallest α and β (default ``1e-6``).
        check: when to validate target values (``"first"``, ``"always"``, ``"never"``).

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import Gamma
        >>> lik = Gamma()
        >>> raw = torch.tensor([[2.0, 0.5413], [-1.0, 1.0]])
        >>> lik.params(raw)
        GammaParams(concentration=tensor([2.1269, 0.3133]), rate=tensor([1.0000, 1.3133]))
        >>> lik.log_prob(raw, torch.tensor([1.5, 0.2]))
        tensor([-1.1018, -0.1224])
        >>> lik.predict(raw), lik.mean(raw)
        (tensor([1.1269, 0.0000]), tensor([2.1270, 0.2385]))

    References:
        McCullagh & Nelder, *Generalized Linear Models* (1989), ch. 8.
    """

    domain = "(0, ∞): strictly positive reals"
    distribution_name = "Gamma(α, β): β^α y^(α−1) e^(−βy) / Γ(α)"
    link = "α = softplus(z_α) + floor, β = softplus(z_β) + floor"
    nll_formula = "βy − α·log β − (α − 1)·log y + lgamma(α)"
    predict_rule = "the mode (α − 1)/β for α ≥ 1, else 0; mean α/β"
    implemented_by = ("nllkit.nn.LikelihoodLoss(Gamma())",)
    pitfalls = (
        "A target of exactly 0 has zero density for α > 1 and infinite density for α < 1: "
        "shift zeros or use a hurdle model.",
        "The mode and the mean differ (skewed distribution): pick the one your metric rewards.",
    )

    def __init__(self, *, floor: float = 1e-6, check: str = "first") -> None:
        super().__init__(check=check)
        self.floor = validated_floor(floor)

    @property
    def num_outputs(self) -> int:
        return 2

    def params(self, raw: Tensor) -> GammaParams:
        check_float(raw)
        z_a, z_b = split_params(raw, 2, "Gamma")
        return GammaParams(positive(z_a, self.floor), positive(z_b, self.floor))

    def _validate_target(self, y: Tensor) -> None:
        check_in_domain(
            y <= 0,
            y,
            "strictly positive targets",
            "Gamma needs y > 0; for counts use Poisson, for data with zeros shift them or use "
            "a Gaussian/Laplace",
        )

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        a, b = self.params(raw)
        check_target_shape(y, a.shape, "Gamma")
        self._maybe_validate(y)
        y = y.to(a.dtype)
        # log Gamma(y; α, β) = α·log β + (α − 1)·log y − βy − lgamma(α).
        return a * b.log() + (a - 1.0) * y.log() - b * y - torch.lgamma(a)

    def predict(self, raw: Tensor) -> Tensor:
        """The mode ``max(α − 1, 0)/β``."""
        a, b = self.params(raw)
        return (a - 1.0).clamp(min=0.0) / b

    def mean(self, raw: Tensor) -> Tensor:
        """The mean ``α/β``."""
        a, b = self.params(raw)
        return a / b

    def distribution(self, raw: Tensor) -> torch.distributions.Gamma:
        a, b = self.params(raw)
        return torch.distributions.Gamma(a, b)
