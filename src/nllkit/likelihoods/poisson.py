"""Poisson and Negative Binomial helpers: count targets with a log link."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ._common import (
    CheckedLikelihood,
    bounded_log,
    check_float,
    check_in_domain,
    check_target_shape,
)

__all__ = ["Poisson", "PoissonParams", "validate_counts"]


class PoissonParams(NamedTuple):
    """Parameters of a Poisson: the ``rate`` λ and its log (the raw output after clamping)."""

    rate: Tensor
    log_rate: Tensor


def validate_counts(y: Tensor, name: str) -> None:
    """Raise unless every target is a non-negative integer (reads values: first call only)."""
    if y.dtype == torch.bool or y.is_complex():
        check_in_domain(torch.ones_like(y, dtype=torch.bool), y, "counts", "pass counts as numbers")
    bad = y < 0
    if y.is_floating_point():
        bad = bad | (y != torch.floor(y))
    check_in_domain(
        bad,
        y,
        "counts: non-negative integers",
        f"{name} models counts 0, 1, 2, ...; for positive reals use Gamma, for reals Gaussian",
    )


class Poisson(CheckedLikelihood):
    r"""Counts ``y ∈ {0, 1, 2, …}``: ``Pr(y | λ) = λ^y e^{−λ} / y!``.

    The network predicts the log-rate ``z`` (log link, ``λ = e^z``), one value per target. The NLL
    is computed from ``z`` directly, never from ``log(exp(z))``::

        −log Pr(y | z) = e^z − y·z + lgamma(y + 1)

    (``torch.nn.PoissonNLLLoss(log_input=True, full=True)`` up to its Stirling approximation of
    ``lgamma``). The constant rate that minimises it is the sample mean. ``z`` is clamped to
    ``[log tiny, ½·log max]`` of its dtype in the forward pass with a straight-through gradient,
    so λ is a finite positive float even for ``z = ±1e4``. ``predict`` returns the mode
    ``⌊λ⌋``; ``mean`` returns ``λ``. Variance = mean: for over-dispersed counts use
    :class:`NegativeBinomial`.

    Shapes: ``raw`` and ``y`` share a shape; ``y`` may be float or integer.

    Args:
        check: when to validate target values (``"first"``, ``"always"``, ``"never"``).

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import Poisson
        >>> lik = Poisson()
        >>> z = torch.tensor([0.0, 1.2528, 2.0])          # λ = 1, 3.5, 7.39
        >>> lik.log_prob(z, torch.tensor([0, 2, 10]))
        tensor([-1.0000, -1.6877, -2.4935])
        >>> lik.predict(z), lik.mean(z)
        (tensor([1., 3., 7.]), tensor([1.0000, 3.5001, 7.3891]))

    References:
        McCullagh & Nelder, *Generalized Linear Models* (1989), ch. 6.
    """

    domain = "{0, 1, 2, …}: counts"
    distribution_name = "Poisson(λ): λ^y e^(−λ) / y!"
    link = "λ = exp(z) (log link; z clamped to the dtype's range, gradient straight through)"
    nll_formula = "exp(z) − y·z + lgamma(y + 1)"
    predict_rule = "the mode ⌊λ⌋; mean λ"
    implemented_by = (
        "torch.nn.PoissonNLLLoss(log_input=True) (without the lgamma constant unless full=True)",
        "nllkit.nn.LikelihoodLoss(Poisson())",
    )
    pitfalls = (
        "PoissonNLLLoss defaults to log_input=True: give it log-rates, not rates.",
        "A Poisson's variance equals its mean: over-dispersed counts need NegativeBinomial.",
        "Squared error on counts over-weights large counts: the Poisson NLL is the matching loss.",
    )

    @property
    def num_outputs(self) -> int:
        return 1

    def params(self, raw: Tensor) -> PoissonParams:
        check_float(raw)
        log_rate = bounded_log(raw)
        return PoissonParams(rate=log_rate.exp(), log_rate=log_rate)

    def _validate_target(self, y: Tensor) -> None:
        validate_counts(y, "Poisson")

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        rate, log_rate = self.params(raw)
        check_target_shape(y, rate.shape, "Poisson")
        self._maybe_validate(y)
        y = y.to(rate.dtype)
        # log Poisson(y; e^z) = y·z − e^z − lgamma(y + 1).
        return y * log_rate - rate - torch.lgamma(y + 1.0)

    def predict(self, raw: Tensor) -> Tensor:
        """The mode ``⌊λ⌋`` (for an integer λ, λ − 1 is a mode too)."""
        return self.params(raw).rate.floor()

    def mean(self, raw: Tensor) -> Tensor:
        """The mean ``λ``."""
        return self.params(raw).rate

    def distribution(self, raw: Tensor) -> torch.distributions.Poisson:
        return torch.distributions.Poisson(self.params(raw).rate)
