"""``likelihood_for``: pick a likelihood from the values of the targets, and say why."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..errors import InputShapeError, InputValueError
from .base import Likelihood
from .bernoulli import Bernoulli, MultiLabel
from .beta import Beta
from .categorical import Categorical
from .gamma import Gamma
from .gaussian import Gaussian
from .multivariate_gaussian import MultivariateGaussian
from .negative_binomial import NegativeBinomial
from .poisson import Poisson
from .von_mises import VonMises

__all__ = ["LikelihoodChoice", "likelihood_for"]


class LikelihoodChoice(NamedTuple):
    """The chosen likelihood and a one-line reason (which says what it assumed, if anything)."""

    likelihood: Likelihood
    reason: str


def likelihood_for(
    y: object, *, circular: bool = False, max_classes: int = 20, overdispersion: float = 2.0
) -> LikelihoodChoice:
    """Choose a likelihood from the target values (step 1 of the recipe) and say why.

    The rules, in order:

    * 2-D ``(N, L)`` targets of 0/1 with ``L ≥ 2`` → :class:`MultiLabel` (L independent labels);
      other 2-D real targets → :class:`MultivariateGaussian`;
    * ``circular=True`` → :class:`VonMises` (radians; values beyond ±2π are rejected as degrees);
    * two values {0, 1} (or bool) → :class:`Bernoulli`;
    * integers exactly ``{0, …, K−1}`` with ``3 ≤ K ≤ max_classes`` → :class:`Categorical` —
      *assumed* class labels, since small counts look the same (the reason says so);
    * other non-negative integers → counts: :class:`Poisson`, or :class:`NegativeBinomial` when
      the variance exceeds ``overdispersion`` × the mean;
    * reals in [0, 1] that include 0 or 1 → :class:`Bernoulli` with soft targets (assumed);
      reals strictly inside (0, 1) → :class:`Beta`;
    * strictly positive reals → :class:`Gamma`;
    * any other reals → :class:`Gaussian` with a fixed scale 1 (least squares).

    It reads every value (a host sync): call it once on the training targets, not in a loop.

    Args:
        y: the targets: a tensor, numpy array or sequence; ``(N,)`` or ``(N, L)``.
        circular: the targets are angles in radians.
        max_classes: the largest number of integer labels still read as classes.
        overdispersion: the variance/mean ratio above which counts get a NegativeBinomial.

    Returns:
        ``LikelihoodChoice(likelihood, reason)``.

    Raises:
        InputShapeError: empty targets, or more than 2 dimensions.
        InputValueError: NaN or ±inf targets, or angles outside [−2π, 2π].

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import likelihood_for
        >>> choice = likelihood_for(torch.tensor([0, 1, 1, 0]))
        >>> choice.likelihood, choice.reason
        (Bernoulli(), 'binary targets {0, 1} → Bernoulli (one logit per target)')
        >>> likelihood_for(torch.tensor([0.2, 0.5, 0.9])).likelihood
        Beta()
        >>> print(likelihood_for(torch.tensor([3, 0, 7, 12, 1])).reason)
        non-negative integers (max 12, mean 4.6, variance 24.3): counts → NegativeBinomial
        (variance > 2 × mean: over-dispersed)
    """
    t = torch.as_tensor(np.asarray(y) if not isinstance(y, Tensor) else y).detach()
    if t.numel() == 0:
        raise InputShapeError(
            argument="y",
            expected="at least one target",
            found="an empty tensor",
            fix="pass the training targets",
        )
    if t.dim() > 2:
        raise InputShapeError(
            argument="y",
            expected="targets of shape (N,) or (N, L)",
            found=f"{tuple(t.shape)}",
            fix="flatten the spatial dimensions, or choose the likelihood by hand",
        )
    if t.dtype == torch.bool:
        t = t.long()
    x = t.double()
    if not bool(torch.isfinite(x).all()):
        raise InputValueError(
            argument="y",
            expected="finite targets",
            found=f"{int((~torch.isfinite(x)).sum())} NaN or Inf value(s)",
            fix="drop or impute missing targets first",
        )
    if t.dim() == 2 and t.shape[1] == 1:
        t, x = t[:, 0], x[:, 0]
    lo, hi = float(x.min()), float(x.max())
    binary = bool(((x == 0) | (x == 1)).all())

    if t.dim() == 2:
        n_out = t.shape[1]
        if binary:
            return LikelihoodChoice(
                MultiLabel(n_out),
                f"2-D targets of 0/1 with {n_out} columns → MultiLabel ({n_out} independent "
                "Bernoullis, one logit each)",
            )
        return LikelihoodChoice(
            MultivariateGaussian(n_out),
            f"2-D real targets with {n_out} columns → MultivariateGaussian (assumed one "
            f"{n_out}-vector per row; fit columns separately for independent Gaussians)",
        )

    if circular:
        if lo < -2 * math.pi - 1e-6 or hi > 2 * math.pi + 1e-6:
            raise InputValueError(
                argument="y",
                expected="angles in radians within [−2π, 2π]",
                found=f"values in [{lo:.4g}, {hi:.4g}]",
                fix="convert degrees with torch.deg2rad(y)",
            )
        return LikelihoodChoice(VonMises(), "circular=True: angles in radians → VonMises")

    if binary:
        return LikelihoodChoice(
            Bernoulli(), "binary targets {0, 1} → Bernoulli (one logit per target)"
        )

    integer = bool((x == x.floor()).all())
    if integer and lo >= 0:
        values = torch.unique(x)
        k = values.numel()
        if 3 <= k <= max_classes and lo == 0 and hi == k - 1:
            return LikelihoodChoice(
                Categorical(k),
                f"integer labels 0..{k - 1} → Categorical({k}) (assumed class labels; if these "
                "are counts use Poisson(), if ordered classes Ordinal)",
            )
        mean, var = float(x.mean()), float(x.var()) if x.numel() > 1 else 0.0
        stats = f"max {hi:.6g}, mean {mean:.3g}, variance {var:.3g}"
        if mean > 0 and var > overdispersion * mean:
            return LikelihoodChoice(
                NegativeBinomial(),
                f"non-negative integers ({stats}): counts → NegativeBinomial (variance > "
                f"{overdispersion:g} × mean: over-dispersed)",
            )
        return LikelihoodChoice(Poisson(), f"non-negative integers ({stats}): counts → Poisson")

    if 0 <= lo and hi <= 1:
        if lo == 0 or hi == 1:
            return LikelihoodChoice(
                Bernoulli(),
                "reals in [0, 1] including 0 or 1 → Bernoulli with soft targets (assumed "
                "probabilities; Beta needs values strictly inside (0, 1))",
            )
        return LikelihoodChoice(Beta(), "reals strictly inside (0, 1): proportions → Beta")
    if lo > 0:
        return LikelihoodChoice(
            Gamma(), f"strictly positive reals (min {lo:.4g}) → Gamma (spread grows with level)"
        )
    return LikelihoodChoice(
        Gaussian(scale=1.0),
        "real targets → Gaussian with fixed scale 1 (least squares); use Gaussian() to learn "
        "the scale, Laplace/StudentT for outliers",
    )
