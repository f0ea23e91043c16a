"""Multivariate Gaussian: vector targets with correlated errors (Cholesky-factor link)."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from ._common import (
    LOG_2PI,
    CheckedLikelihood,
    check_float,
    check_int,
    check_target_shape,
    positive,
    validated_floor,
)

__all__ = ["MultivariateGaussian", "MultivariateGaussianParams"]


class MultivariateGaussianParams(NamedTuple):
    """Parameters of a multivariate Gaussian: ``loc`` ``(N, D, d1, ...)`` and the lower-triangular
    Cholesky factor ``scale_tril`` ``(N, d1, ..., D, D)`` of the covariance ``Σ = L Lᵀ``."""

    loc: Tensor
    scale_tril: Tensor


class MultivariateGaussian(CheckedLikelihood):
    r"""Vector targets ``y ∈ ℝ^D``: ``Pr(y | μ, Σ) = exp(−½ (y−μ)ᵀ Σ⁻¹ (y−μ)) / √((2π)^D |Σ|)``.

    The network predicts ``D + D(D+1)/2`` raw values per target on dim 1, in three blocks: the
    mean ``μ`` (D, identity), the Cholesky factor's diagonal (D, through
    ``softplus + floor`` so it is positive) and its strictly-lower entries (D(D−1)/2, identity,
    in ``torch.tril_indices(D, D, -1)`` order). ``Σ = L Lᵀ`` is then symmetric positive definite
    for any raw output, with no matrix inverse or determinant ever formed. The NLL::

        −log Pr(y) = ½‖L⁻¹(y − μ)‖² + Σ_i log L_ii + (D/2)·log 2π

    using one triangular solve for the Mahalanobis term and ``log |Σ| = 2 Σ_i log L_ii``. It is
    computed in float64 and cast back (the work is D×D per target): in float32 an ill-conditioned
    factor makes the Mahalanobis term overflow and its gradient NaN.
    ``predict`` (the mode) and ``mean`` return ``μ``.

    Shapes: ``raw`` is ``(N, D + D(D+1)/2, d1, ...)`` for ``y`` of ``(N, D, d1, ...)``;
    ``log_prob`` is ``(N, d1, ...)`` (one value per vector).

    Args:
        dim: the target dimension D (≥ 1).
        floor: the smallest diagonal entry of the Cholesky factor (default ``1e-6``).
        check: when to validate target values (``"first"``, ``"always"``, ``"never"``).

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import MultivariateGaussian
        >>> lik = MultivariateGaussian(2)
        >>> lik.num_outputs
        5
        >>> raw = torch.tensor([[1.0, -1.0, 0.5413, 0.5413, 0.8]])   # L = [[1, 0], [0.8, 1]]
        >>> lik.params(raw).scale_tril
        tensor([[[1.0000, 0.0000],
                 [0.8000, 1.0000]]])
        >>> lik.log_prob(raw, torch.tensor([[1.0, -0.2]]))
        tensor([-2.1579])
        >>> lik.predict(raw)
        tensor([[ 1., -1.]])

    References:
        Williams, "Using neural networks to model conditional multivariate densities" (1996);
        Bishop, *Pattern Recognition and Machine Learning* (2006), §2.3.
    """

    domain = "ℝ^D: real vectors whose components are correlated"
    distribution_name = "MultivariateNormal(μ, Σ = L Lᵀ)"
    link = "μ = identity; L_ii = softplus(·) + floor; L_ij (i > j) = identity  (D + D(D+1)/2)"
    nll_formula = "½‖L⁻¹(y − μ)‖² + Σ_i log L_ii + (D/2)·log 2π"
    predict_rule = "the mode = the mean = μ"
    implemented_by = ("nllkit.nn.LikelihoodLoss(MultivariateGaussian(D))",)
    pitfalls = (
        "Predicting Σ directly rarely gives a positive-definite matrix: predict its Cholesky "
        "factor with a positive diagonal.",
        "Never invert Σ or take log det Σ: a triangular solve and Σ log L_ii are stable.",
    )

    def __init__(self, dim: int, *, floor: float = 1e-6, check: str = "first") -> None:
        super().__init__(check=check)
        self.dim = check_int(
            dim, "dim", 1, "pass the target dimension, e.g. MultivariateGaussian(3)"
        )
        self.floor = validated_floor(floor)

    @property
    def num_outputs(self) -> int:
        return self.dim + self.dim * (self.dim + 1) // 2

    def params(self, raw: Tensor) -> MultivariateGaussianParams:
        check_float(raw)
        d, p = self.dim, self.num_outputs
        if raw.dim() < 2 or raw.shape[1] != p:
            from ..errors import InputShapeError

            raise InputShapeError(
                argument="raw",
                expected=f"shape (N, {p}, d1, ...): D + D(D+1)/2 = {p} outputs on dim 1",
                found=f"{tuple(raw.shape)}",
                fix=f"make the model output num_outputs = {p} values per target",
            )
        r = raw.movedim(1, -1)  # (N, d1, ..., P)
        loc = r[..., :d]
        diag = positive(r[..., d : 2 * d], self.floor)
        off = r[..., 2 * d :]
        rows, cols = torch.tril_indices(d, d, -1, device=raw.device)
        flat = r.new_zeros(*r.shape[:-1], d * d)
        flat = flat.index_copy(-1, rows * d + cols, off) if off.shape[-1] else flat
        tril = flat.view(*r.shape[:-1], d, d) + torch.diag_embed(diag)
        return MultivariateGaussianParams(loc=loc.movedim(-1, 1), scale_tril=tril)

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        check_float(raw)
        # Computed in float64 (D×D per target): an ill-conditioned L (diagonal at the floor,
        # off-diagonal entries of 1e4) makes ‖L⁻¹(y − μ)‖² overflow float32 and its backward NaN.
        acc = torch.promote_types(raw.dtype, torch.float64)
        loc, tril = self.params(raw.to(acc))
        check_target_shape(y, loc.shape, "MultivariateGaussian")
        self._maybe_validate(y)
        diff = (y.to(acc) - loc).movedim(1, -1).unsqueeze(-1)  # (N, d1, ..., D, 1)
        # ‖L⁻¹(y − μ)‖² by forward substitution; log|Σ| = 2 Σ log L_ii.
        z = torch.linalg.solve_triangular(tril, diff, upper=False).squeeze(-1)
        log_det_half = tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        lp = -0.5 * (z * z).sum(-1) - log_det_half - 0.5 * self.dim * LOG_2PI
        return lp.to(raw.dtype)

    def predict(self, raw: Tensor) -> Tensor:
        """The mode (= the mean) ``μ``, ``(N, D, d1, ...)``."""
        return self.params(raw).loc

    def mean(self, raw: Tensor) -> Tensor:
        return self.params(raw).loc

    def distribution(self, raw: Tensor) -> torch.distributions.MultivariateNormal:
        """The ``MultivariateNormal`` (event on the last dimension: ``(N, d1, ..., D)``)."""
        loc, tril = self.params(raw)
        return torch.distributions.MultivariateNormal(loc.movedim(1, -1), scale_tril=tril)

    def sample(self, raw: Tensor, n: int = 1) -> Tensor:
        """``n`` samples per target, ``(n, N, D, d1, ...)`` (the vector on dim 2, like ``y``)."""
        return self.distribution(raw).sample((n,)).movedim(-1, 2)

    def _repr_args(self) -> dict[str, Any]:
        return {"dim": self.dim}
