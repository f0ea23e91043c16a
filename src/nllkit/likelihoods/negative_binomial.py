"""Negative Binomial: over-dispersed counts (variance larger than the mean)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import (
    CheckedLikelihood,
    bounded_log,
    check_float,
    check_target_shape,
    positive,
    split_params,
    validated_floor,
)
from .poisson import validate_counts

__all__ = ["NegativeBinomial", "NegativeBinomialParams"]


class NegativeBinomialParams(NamedTuple):
    """Parameters of a Negative Binomial: its ``mean`` μ, ``total_count`` r and torch's ``logits``.

    ``logits = log μ − log r`` is the log-odds of torch's "success" probability ``p = μ/(μ + r)``.
    """

    mean: Tensor
    total_count: Tensor
    logits: Tensor


class NegativeBinomial(CheckedLikelihood):
    r"""Over-dispersed counts: ``Pr(y | μ, r) = Γ(y + r)/(Γ(r)·y!) · (r/(r+μ))^r · (μ/(r+μ))^y``.

    A Poisson whose rate is Gamma-distributed: mean ``μ``, variance ``μ + μ²/r`` (``r → ∞`` is the
    Poisson). The network predicts ``(z_μ, z_r)`` on dim 1; ``μ = e^{z_μ}`` (log link, clamped
    like :class:`Poisson`) and the dispersion ``r = softplus(z_r) + floor``. With
    ``ℓ = log μ − log r`` (the logit of ``p = μ/(μ + r)``) the log-likelihood is evaluated with
    log-sigmoids, never with ``log(p)``::

        log Pr = lgamma(y + r) − lgamma(r) − lgamma(y + 1) + r·log σ(−ℓ) + y·log σ(ℓ)

    ``predict`` returns the mode ``⌊μ·(r − 1)/r⌋`` (0 when ``r ≤ 1``), torch's rule; ``mean``
    returns ``μ``.

    Shapes: ``raw`` is ``(N, 2, d1, ...)`` for ``y`` of ``(N, d1, ...)``.

    Args:
        floor: the smallest dispersion r (default ``1e-6``).
        check: when to validate target values (``"first"``, ``"always"``, ``"never"``).

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import NegativeBinomial
        >>> lik = NegativeBinomial()
        >>> raw = torch.tensor([[1.6094, 0.5413], [1.6094, 5.0]])   # μ = 5, r ≈ 1 or ≈ 5
        >>> lik.log_prob(raw, torch.tensor([12, 12]))
        tensor([-3.9797, -4.2777])
        >>> lik.predict(raw)
        tensor([0., 4.])

    References:
        Hilbe, *Negative Binomial Regression* (2011), ch. 8 (NB2).
    """

    domain = "{0, 1, 2, …}: counts with variance above the mean"
    distribution_name = "NegativeBinomial(μ, r): Poisson–Gamma mixture, variance μ + μ²/r"
    link = "μ = exp(z_μ) (log link); r = softplus(z_r) + floor"
    nll_formula = "−lgamma(y+r) + lgamma(r) + lgamma(y+1) − r·log σ(−ℓ) − y·log σ(ℓ), ℓ = log(μ/r)"
    predict_rule = "the mode ⌊μ(r − 1)/r⌋ (0 for r ≤ 1); mean μ"
    implemented_by = ("nllkit.nn.LikelihoodLoss(NegativeBinomial())",)
    pitfalls = (
        "torch.distributions.NegativeBinomial counts failures with 'probs' of success: its "
        "mean is r·p/(1 − p); this class is parametrised by the mean instead.",
        "If the data are not over-dispersed r grows without bound: the Poisson is then enough.",
    )

    def __init__(self, *, floor: float = 1e-6, check: str = "first") -> None:
        super().__init__(check=check)
        self.floor = validated_floor(floor)

    @property
    def num_outputs(self) -> int:
        return 2

    def params(self, raw: Tensor) -> NegativeBinomialParams:
        check_float(raw)
        z_mean, z_r = split_params(raw, 2, "NegativeBinomial")
        log_mean = bounded_log(z_mean)
        r = positive(z_r, self.floor)
        return NegativeBinomialParams(mean=log_mean.exp(), total_count=r, logits=log_mean - r.log())

    def _validate_target(self, y: Tensor) -> None:
        validate_counts(y, "NegativeBinomial")

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        _, r, logits = self.params(raw)
        check_target_shape(y, r.shape, "NegativeBinomial")
        self._maybe_validate(y)
        y = y.to(r.dtype)
        # r·log(1 − p) + y·log p with log p = log σ(ℓ), log(1 − p) = log σ(−ℓ).
        log_norm = torch.lgamma(y + r) - torch.lgamma(r) - torch.lgamma(y + 1.0)
        return log_norm + r * F.logsigmoid(-logits) + y * F.logsigmoid(logits)

    def predict(self, raw: Tensor) -> Tensor:
        """The mode ``⌊μ·(r − 1)/r⌋``, 0 when ``r ≤ 1``."""
        mean, r, _ = self.params(raw)
        return (mean * (r - 1.0) / r).floor().clamp(min=0.0)

    def mean(self, raw: Tensor) -> Tensor:
        """The mean ``μ``."""
        return self.params(raw).mean

    def distribution(self, raw: Tensor) -> torch.distributions.NegativeBinomial:
        _, r, logits = self.params(raw)
        return torch.distributions.NegativeBinomial(total_count=r, logits=logits)
