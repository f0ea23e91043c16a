"""Von Mises: angles (directions, times of day, phases), the circle's Gaussian."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from ._common import (
    LOG_2PI,
    CheckedLikelihood,
    check_float,
    check_in_domain,
    check_target_shape,
    positive,
    split_params,
    validated_floor,
)

__all__ = ["VonMises", "VonMisesParams", "wrap_angle"]


class VonMisesParams(NamedTuple):
    """Parameters of a von Mises: mean direction ``loc`` (radians) and ``concentration`` κ."""

    loc: Tensor
    concentration: Tensor


def wrap_angle(x: Tensor) -> Tensor:
    """Wrap angles (radians) into ``(−π, π]``: ``π − ((π − x) mod 2π)``."""
    return math.pi - torch.remainder(math.pi - x, 2.0 * math.pi)


class VonMises(CheckedLikelihood):
    r"""Angles ``y`` (radians): ``Pr(y | μ, κ) = exp(κ·cos(y − μ)) / (2π·I₀(κ))``.

    The network predicts ``(z_μ, z_κ)`` on dim 1; ``μ = z_μ`` (any real: the density is periodic,
    so no wrapping is needed during training) and ``κ = softplus(z_κ) + floor``. The NLL::

        −log Pr(y | μ, κ) = −κ·cos(y − μ) + log 2π + log I₀(κ)

    ``I₀(κ)`` grows like ``e^κ``, so it is never formed: with the exponentially scaled Bessel
    function ``i0e(κ) = e^{−κ} I₀(κ)``, ``log I₀(κ) = log i0e(κ) + κ`` and the log-density is
    ``κ·(cos(y − μ) − 1) − log 2π − log i0e(κ)``, finite for κ up to the dtype's range. A squared
    error on angles would call 359° and 1° far apart; this loss calls them 2° apart. ``predict``
    (the mode) and ``mean`` (the circular mean) return ``μ`` wrapped into ``(−π, π]``.

    Shapes: ``raw`` is ``(N, 2, d1, ...)`` for ``y`` of ``(N, d1, ...)``; targets in radians,
    within ``[−2π, 2π]`` (so both ``(−π, π]`` and ``[0, 2π)`` conventions work).

    Args:
        floor: the smallest concentration κ (default ``1e-6``).
        check: when to validate target values (``"first"``, ``"always"``, ``"never"``).

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import VonMises
        >>> lik = VonMises()
        >>> raw = torch.tensor([[3.0, 2.0], [7.0, 2.0]])        # 7 rad wraps to 0.7168
        >>> lik.log_prob(raw, torch.tensor([-3.0, 0.7]))
        tensor([-0.7095, -0.6251])
        >>> lik.predict(raw)
        tensor([3.0000, 0.7168])

    References:
        Mardia & Jupp, *Directional Statistics* (2000), §3.5.4.
    """

    domain = "angles in radians (a circle: −π and π are the same direction)"
    distribution_name = "VonMises(μ, κ): exp(κ cos(y − μ)) / (2π I₀(κ))"
    link = "μ = z_μ (any real, periodic); κ = softplus(z_κ) + floor"
    nll_formula = "−κ·cos(y − μ) + log 2π + log I₀(κ)  (log I₀ via log i0e(κ) + κ)"
    predict_rule = "the mode μ, wrapped into (−π, π]"
    implemented_by = ("nllkit.nn.LikelihoodLoss(VonMises())",)
    pitfalls = (
        "Squared error on angles treats 359° and 1° as far apart: use a circular likelihood.",
        "Targets are radians: convert degrees with torch.deg2rad.",
        "The raw μ is unbounded: wrap predictions (predict does) before comparing angles.",
    )

    def __init__(self, *, floor: float = 1e-6, check: str = "first") -> None:
        super().__init__(check=check)
        self.floor = validated_floor(floor)

    @property
    def num_outputs(self) -> int:
        return 2

    def params(self, raw: Tensor) -> VonMisesParams:
        check_float(raw)
        z_loc, z_conc = split_params(raw, 2, "VonMises")
        return VonMisesParams(loc=z_loc, concentration=positive(z_conc, self.floor))

    def _validate_target(self, y: Tensor) -> None:
        check_in_domain(
            y.abs() > 2.0 * math.pi + 1e-6,
            y,
            "angles in radians within [−2π, 2π]",
            "convert degrees with torch.deg2rad(y), or wrap angles with "
            "nllkit.likelihoods.wrap_angle(y)",
        )

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        loc, kappa = self.params(raw)
        check_target_shape(y, loc.shape, "VonMises")
        self._maybe_validate(y)
        y = y.to(loc.dtype)
        # log VM = κ cos(y − μ) − log 2π − log I₀(κ), with log I₀(κ) = log i0e(κ) + κ.
        return kappa * (torch.cos(y - loc) - 1.0) - LOG_2PI - torch.special.i0e(kappa).log()

    def predict(self, raw: Tensor) -> Tensor:
        """The mode ``μ`` wrapped into ``(−π, π]``."""
        return wrap_angle(self.params(raw).loc)

    def mean(self, raw: Tensor) -> Tensor:
        """The circular mean direction ``μ`` wrapped into ``(−π, π]``."""
        return wrap_angle(self.params(raw).loc)

    def distribution(self, raw: Tensor) -> torch.distributions.VonMises:
        loc, kappa = self.params(raw)
        return torch.distributions.VonMises(loc, kappa)
