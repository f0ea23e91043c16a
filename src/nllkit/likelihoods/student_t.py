"""Student's t: real-valued targets with polynomial (heavy) tails, robust regression."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor

from ._common import (
    CheckedLikelihood,
    check_float,
    check_positive_float,
    check_target_shape,
    positive,
    split_params,
    validated_floor,
)

__all__ = ["StudentT", "StudentTParams"]


class StudentTParams(NamedTuple):
    """Parameters of a Student's t: degrees of freedom ``df``, location ``loc``, ``scale``."""

    df: Tensor
    loc: Tensor
    scale: Tensor


class StudentT(CheckedLikelihood):
    r"""Real targets with heavy tails: ``Pr(y | ν, μ, σ) ∝ (1 + ((y − μ)/σ)² / ν)^{−(ν+1)/2}``.

    The density is::

        Γ((ν+1)/2) / (Γ(ν/2)·√(νπ)·σ) · (1 + t²/ν)^{−(ν+1)/2},   t = (y − μ)/σ

    The network predicts ``(z_μ, z_σ)`` — plus ``z_ν`` when ``df=None`` — on dim 1, with the links
    ``μ = z_μ``, ``σ = softplus(z_σ) + floor`` and ``ν = softplus(z_ν) + floor``. The NLL::

        ½(ν+1)·log1p(t²/ν) + log σ + ½·log(νπ) + lgamma(ν/2) − lgamma((ν+1)/2)

    grows only logarithmically in the residual, so an outlier pulls the fit far less than under a
    Gaussian (which it approaches as ``ν → ∞``). ``log1p`` and ``lgamma`` keep it accurate; the
    density itself is never formed. ``predict`` (the mode) returns ``μ``; ``mean`` returns ``μ``
    where ``ν > 1`` and NaN where the mean does not exist (``ν ≤ 1``), like torch.

    Shapes: ``raw`` is ``(N, 2, d1, ...)`` (fixed ``df``) or ``(N, 3, d1, ...)`` (learned ``df``,
    order ``loc, scale, df``) for ``y`` of ``(N, d1, ...)``.

    Args:
        df: fixed degrees of freedom ν, or ``None`` (default) to learn them per target.
        floor: the smallest learned σ and ν (default ``1e-6``).
        check: when to validate target values (``"first"``, ``"always"``, ``"never"``).

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import StudentT
        >>> lik = StudentT(df=3.0)
        >>> raw = torch.tensor([[0.0, 0.5413], [0.0, 0.5413]])   # μ = 0, σ ≈ 1
        >>> lik.log_prob(raw, torch.tensor([0.0, 10.0]))
        tensor([-1.0009, -8.0732])
        >>> lik.predict(raw)
        tensor([0., 0.])

    References:
        Lange, Little & Taylor, "Robust statistical modeling using the t distribution", JASA (1989).
    """

    domain = "ℝ: any real number (robust to outliers)"
    distribution_name = "StudentT(ν, μ, σ)"
    link = "μ = z_μ; σ = softplus(z_σ) + floor; ν fixed or softplus(z_ν) + floor"
    nll_formula = "½(ν+1)·log(1 + t²/ν) + log σ + ½·log(νπ) + lgamma(ν/2) − lgamma((ν+1)/2)"
    predict_rule = "the mode = μ (the mean exists only for ν > 1)"
    implemented_by = ("nllkit.nn.LikelihoodLoss(StudentT(...))",)
    pitfalls = (
        "A learned ν can run to small values and explain every residual as an outlier: fix ν "
        "(3 to 5 is a common robust choice) unless you have much data.",
        "The mean does not exist for ν ≤ 1 and the variance for ν ≤ 2.",
    )

    def __init__(
        self, df: float | None = None, *, floor: float = 1e-6, check: str = "first"
    ) -> None:
        super().__init__(check=check)
        check_positive_float(df, "df", "pass positive degrees of freedom, or df=None to learn them")
        self.df = None if df is None else float(df)
        self.floor = validated_floor(floor)

    @property
    def num_outputs(self) -> int:
        return 2 if self.df is not None else 3

    def params(self, raw: Tensor) -> StudentTParams:
        check_float(raw)
        if self.df is not None:
            z_loc, z_scale = split_params(raw, 2, "StudentT(df fixed)")
            df = torch.full_like(z_loc, self.df)
        else:
            z_loc, z_scale, z_df = split_params(raw, 3, "StudentT(df learned)")
            df = positive(z_df, self.floor)
        return StudentTParams(df=df, loc=z_loc, scale=positive(z_scale, self.floor))

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        df, loc, scale = self.params(raw)
        check_target_shape(y, loc.shape, "StudentT")
        self._maybe_validate(y)
        t = (y.to(loc.dtype) - loc) / scale
        # log Γ((ν+1)/2) − log Γ(ν/2) − ½ log(νπ) − log σ − ½(ν+1)·log1p(t²/ν).
        log_norm = (
            torch.lgamma(0.5 * (df + 1.0))
            - torch.lgamma(0.5 * df)
            - 0.5 * (df.log() + math.log(math.pi))
            - scale.log()
        )
        return log_norm - 0.5 * (df + 1.0) * torch.log1p(t * t / df)

    def predict(self, raw: Tensor) -> Tensor:
        """The mode ``μ``."""
        return self.params(raw).loc

    def mean(self, raw: Tensor) -> Tensor:
        """``μ`` where ``ν > 1``, NaN where the mean does not exist."""
        df, loc, _ = self.params(raw)
        return torch.where(df > 1, loc, torch.full_like(loc, math.nan))

    def distribution(self, raw: Tensor) -> torch.distributions.StudentT:
        df, loc, scale = self.params(raw)
        return torch.distributions.StudentT(df, loc, scale)

    def _repr_args(self) -> dict[str, Any]:
        return {"df": self.df}
