"""Gaussian: real-valued targets, least squares (fixed scale) or heteroscedastic (learned scale)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor

from ._common import (
    LOG_2PI,
    CheckedLikelihood,
    check_float,
    check_positive_float,
    check_target_shape,
    positive,
    split_params,
    validated_floor,
)

__all__ = ["Gaussian", "GaussianParams"]


class GaussianParams(NamedTuple):
    """Parameters of a Gaussian: mean ``loc`` and standard deviation ``scale``."""

    loc: Tensor
    scale: Tensor


class Gaussian(CheckedLikelihood):
    r"""Real targets ``y ∈ ℝ``: ``Pr(y | μ, σ) = exp(−(y − μ)² / 2σ²) / √(2πσ²)``.

    **Fixed scale** (``Gaussian(scale=σ)``, one output per target): the network predicts the mean
    ``μ = z`` (identity link) and the NLL is a scaled squared error plus a constant::

        −log Pr(y | μ) = (y − μ)² / (2σ²) + log σ + ½·log 2π

    so minimising it is least squares: ``nll(z, y) = mse(z, y) / (2σ²) + log σ + ½·log 2π``
    (the example below checks it), and σ does not move the minimiser.

    **Learned scale** (``Gaussian()``, heteroscedastic regression, two outputs per target): the
    network predicts ``(z_μ, z_σ)`` on dim 1; ``μ = z_μ`` and ``σ = softplus(z_σ) + floor``
    (positive for any ``z_σ``; the floor stops the likelihood from diverging as ``σ → 0``). The
    NLL is the same formula with a per-target σ, so the network learns where the targets are noisy.

    The log-density is computed as ``−½·((y − μ)/σ)² − log σ − ½·log 2π`` directly, never as the
    log of the density. ``predict`` (the mode) and ``mean`` both return ``μ``.

    Shapes: fixed scale: ``raw`` and ``y`` share a shape; learned scale: ``raw`` is
    ``(N, 2, d1, ...)`` for ``y`` of ``(N, d1, ...)``. ``log_prob`` has ``y``'s shape.

    Args:
        scale: the fixed standard deviation σ, or ``None`` (default) to learn it per target.
        floor: the smallest learned σ (default ``1e-6``).
        check: ``"first"`` (default), ``"always"`` or ``"never"``: when to validate target values.

    Example:
        >>> import math, torch
        >>> import torch.nn.functional as F
        >>> from nllkit.likelihoods import Gaussian
        >>> lik = Gaussian(scale=1.0)
        >>> mu, y = torch.tensor([0.5, 2.0, -1.0]), torch.tensor([0.0, 2.5, -1.0])
        >>> lik.nll(mu, y)
        tensor(1.0023)
        >>> F.mse_loss(mu, y) / 2 + 0.5 * math.log(2 * math.pi)
        tensor(1.0023)
        >>> het = Gaussian()                      # learned scale: 2 outputs per target
        >>> raw = torch.tensor([[0.5, 0.0], [2.0, -3.0]])
        >>> het.params(raw).scale
        tensor([0.6931, 0.0486])
        >>> het.log_prob(raw, torch.tensor([0.0, 2.0]))
        tensor([-0.8126,  2.1054])
        >>> het.predict(raw)
        tensor([0.5000, 2.0000])

    References:
        Prince, *Understanding Deep Learning* (2023), §5.3 (least squares) and §5.3.3
        (heteroscedastic regression). Nix & Weigend, "Estimating the mean and variance of the
        target probability distribution" (1994).
    """

    domain = "ℝ: any real number"
    distribution_name = "Normal(μ, σ): exp(−(y − μ)²/2σ²) / √(2πσ²)"
    link = "μ = z (identity); σ fixed, or σ = softplus(z_σ) + floor when learned"
    nll_formula = "(y − μ)²/(2σ²) + log σ + ½·log 2π  (fixed σ: mean squared error / 2σ² + const)"
    predict_rule = "the mode = the mean = μ"
    implemented_by = (
        "torch.nn.MSELoss (fixed σ, up to the factor 1/2σ² and a constant)",
        "torch.nn.GaussianNLLLoss (learned variance)",
        "nllkit.nn.LikelihoodLoss(Gaussian(...))",
    )
    pitfalls = (
        "torch.nn.GaussianNLLLoss takes the variance σ², not σ, and clamps it at eps.",
        "A learned σ needs a floor (or a prior): otherwise the NLL diverges to −∞ as σ → 0 on a "
        "point the mean fits exactly.",
        "Heavy-tailed noise makes least squares chase outliers: use Laplace or StudentT.",
    )

    def __init__(
        self, scale: float | None = None, *, floor: float = 1e-6, check: str = "first"
    ) -> None:
        super().__init__(check=check)
        check_positive_float(scale, "scale", "pass a positive σ, or scale=None to learn it")
        self.scale = None if scale is None else float(scale)
        self.floor = validated_floor(floor)

    @property
    def num_outputs(self) -> int:
        return 1 if self.scale is not None else 2

    def params(self, raw: Tensor) -> GaussianParams:
        check_float(raw)
        if self.scale is not None:
            return GaussianParams(loc=raw, scale=torch.full_like(raw, self.scale))
        z_loc, z_scale = split_params(raw, 2, "Gaussian")
        return GaussianParams(loc=z_loc, scale=positive(z_scale, self.floor))

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        loc, scale = self.params(raw)
        check_target_shape(y, loc.shape, "Gaussian")
        self._maybe_validate(y)
        y = y.to(loc.dtype)
        if self.scale is not None:
            # −½((y − μ)/σ)² − log σ − ½ log 2π with a constant σ.
            return -0.5 * ((y - loc) / self.scale) ** 2 - (math.log(self.scale) + 0.5 * LOG_2PI)
        # log N(y; μ, σ) = −½((y − μ)/σ)² − log σ − ½ log 2π (log of the density in closed form).
        return -0.5 * ((y - loc) / scale) ** 2 - scale.log() - 0.5 * LOG_2PI

    def predict(self, raw: Tensor) -> Tensor:
        """The mode (= the mean) ``μ``."""
        return self.params(raw).loc

    def mean(self, raw: Tensor) -> Tensor:
        """The mean ``μ``."""
        return self.params(raw).loc

    def distribution(self, raw: Tensor) -> torch.distributions.Normal:
        loc, scale = self.params(raw)
        return torch.distributions.Normal(loc, scale)

    def _repr_args(self) -> dict[str, Any]:
        return {"scale": self.scale}
