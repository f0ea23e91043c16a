"""Mixture of Gaussians: multimodal real targets (several plausible answers per input)."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
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

__all__ = ["MixtureOfGaussians", "MixtureParams"]


class MixtureParams(NamedTuple):
    """Parameters of a mixture of K Gaussians, each ``(N, K, d1, ...)``: component ``log_weights``
    (log-softmax), means ``loc`` and standard deviations ``scale``."""

    log_weights: Tensor
    loc: Tensor
    scale: Tensor


def _normal_log_prob(y: Tensor, loc: Tensor, scale: Tensor) -> Tensor:
    # log N(y; μ, σ) = −½((y − μ)/σ)² − log σ − ½ log 2π.
    return -0.5 * ((y - loc) / scale) ** 2 - scale.log() - 0.5 * LOG_2PI


class MixtureOfGaussians(CheckedLikelihood):
    r"""Multimodal real targets: ``Pr(y) = Σ_k π_k·N(y; μ_k, σ_k)``, K components.

    The network predicts ``3K`` raw values per target on dim 1, in three blocks of K: the
    component logits ``w``, the means ``μ`` and the raw scales. The links are
    ``π = softmax(w)``, ``μ_k`` the identity and ``σ_k = softplus(·) + floor``. The NLL is a
    log-sum-exp over components, never the log of a sum of densities (which underflows to
    ``log 0`` as soon as ``y`` is far from every component)::

        −log Pr(y) = −logsumexp_k [log_softmax(w)_k + log N(y; μ_k, σ_k)]

    A single Gaussian would put its mean between two modes, where no target ever lies; a mixture
    keeps both (a "mixture density network"). ``mean`` returns the mixture mean ``Σ π_k μ_k``;
    ``predict`` returns the **mode**, found numerically: a fixed-point (mean-shift) ascent
    ``y ← Σ_k r_k(y)·μ_k/σ_k² / Σ_k r_k(y)/σ_k²`` with responsibilities
    ``r_k(y) ∝ π_k N(y; μ_k, σ_k)``, started from every component mean; the highest-density end
    point wins. Each step cannot decrease the density (Carreira-Perpiñán 2000). It stops after
    ``iterations`` steps or once no candidate moves (checked every 10 steps: a host sync, fine at
    inference).

    Shapes: ``raw`` is ``(N, 3K, d1, ...)`` for ``y`` of ``(N, d1, ...)``.

    Args:
        k: the number of components (≥ 1).
        floor: the smallest component scale (default ``1e-6``).
        check: when to validate target values (``"first"``, ``"always"``, ``"never"``).

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import MixtureOfGaussians
        >>> lik = MixtureOfGaussians(2)
        >>> # weights softmax(0.4, 0) ≈ (0.6, 0.4), means −2 and 3, scales ≈ 1 and ≈ 0.5
        >>> raw = torch.tensor([[0.4, 0.0, -2.0, 3.0, 0.5413, -0.4328]])
        >>> lik.log_prob(raw, torch.tensor([3.0]))
        tensor([-1.1388])
        >>> lik.mean(raw), lik.predict(raw)
        (tensor([0.0066]), tensor([3.0000]))

    References:
        Bishop, "Mixture density networks" (1994); Carreira-Perpiñán, "Mode-finding for mixtures
        of Gaussian distributions", IEEE TPAMI (2000).
    """

    domain = "ℝ with several modes (several plausible values per input)"
    distribution_name = "Σ_k π_k N(μ_k, σ_k²): a mixture of K Gaussians"
    link = "π = softmax(w), μ_k = identity, σ_k = softplus(·) + floor  (3K outputs)"
    nll_formula = "−logsumexp_k [log_softmax(w)_k − ½((y − μ_k)/σ_k)² − log σ_k − ½ log 2π]"
    predict_rule = "the mode, found by fixed-point ascent from every component mean; mean Σ π_k μ_k"
    implemented_by = ("nllkit.nn.LikelihoodLoss(MixtureOfGaussians(k))",)
    pitfalls = (
        "The mean of a multimodal distribution can be a value that never occurs: predict the mode.",
        "Components collapse onto single points (σ → 0) without a floor on σ.",
        "log(Σ π_k N_k) underflows: use log-sum-exp over log π_k + log N_k.",
    )

    def __init__(
        self, k: int, *, floor: float = 1e-6, iterations: int = 200, check: str = "first"
    ) -> None:
        super().__init__(check=check)
        self.k = check_int(k, "k", 1, "pass the number of components, e.g. MixtureOfGaussians(3)")
        self.iterations = check_int(
            iterations, "iterations", 1, "pass the number of mode-finding steps"
        )
        self.floor = validated_floor(floor)

    @property
    def num_outputs(self) -> int:
        return 3 * self.k

    def params(self, raw: Tensor) -> MixtureParams:
        check_float(raw)
        if raw.dim() < 2 or raw.shape[1] != 3 * self.k:
            from ..errors import InputShapeError

            raise InputShapeError(
                argument="raw",
                expected=f"shape (N, {3 * self.k}, d1, ...): 3K = {3 * self.k} outputs on dim 1 "
                "(K logits, K means, K raw scales)",
                found=f"{tuple(raw.shape)}",
                fix=f"make the model output num_outputs = {3 * self.k} values per target",
            )
        w, loc, z_scale = raw.unflatten(1, (3, self.k)).unbind(1)
        return MixtureParams(F.log_softmax(w, dim=1), loc, positive(z_scale, self.floor))

    def _component_log_prob(self, p: MixtureParams, y: Tensor) -> Tensor:
        # log π_k + log N(y; μ_k, σ_k), (N, K, d1, ...); y has shape (N, S, d1, ...) or (N, d1, ...)
        return p.log_weights + _normal_log_prob(y, p.loc, p.scale)

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        p = self.params(raw)
        check_target_shape(y, p.loc.shape[:1] + p.loc.shape[2:], "MixtureOfGaussians")
        self._maybe_validate(y)
        # log Σ_k π_k N_k = logsumexp_k (log π_k + log N_k).
        return torch.logsumexp(self._component_log_prob(p, y.to(p.loc.dtype).unsqueeze(1)), 1)

    def mean(self, raw: Tensor) -> Tensor:
        """The mixture mean ``Σ_k π_k μ_k``."""
        p = self.params(raw)
        return (p.log_weights.exp() * p.loc).sum(dim=1)

    def predict(self, raw: Tensor) -> Tensor:
        """The mode, by fixed-point ascent from each component mean (not differentiable)."""
        with torch.no_grad():
            p = self.params(raw)
            # candidates x: (N, S=K starts, 1, d1, ...); components: (N, 1, K, d1, ...)
            lw, loc, scale = (t.unsqueeze(1) for t in p)
            x = p.loc.unsqueeze(2)
            prec_log = -2.0 * scale.log()  # log 1/σ_k²
            tol = 4 * torch.finfo(x.dtype).eps
            for step in range(self.iterations):
                # x ← Σ_k softmax_k(log π_k + log N(x; μ_k, σ_k) − 2 log σ_k)·μ_k
                a = lw + _normal_log_prob(x, loc, scale) + prec_log
                new = (torch.softmax(a, dim=2) * loc).sum(dim=2, keepdim=True)
                # inference only: one host sync every 10 steps to stop once converged
                if step % 10 == 9 and bool(((new - x).abs() <= tol * (1 + x.abs())).all()):
                    x = new
                    break
                x = new
            dens = torch.logsumexp(lw + _normal_log_prob(x, loc, scale), dim=2)  # (N, S, ...)
            best = dens.argmax(dim=1, keepdim=True)
            return x.squeeze(2).gather(1, best).squeeze(1)

    def distribution(self, raw: Tensor) -> torch.distributions.MixtureSameFamily:
        p = self.params(raw)
        mix = torch.distributions.Categorical(logits=p.log_weights.movedim(1, -1))
        comp = torch.distributions.Normal(p.loc.movedim(1, -1), p.scale.movedim(1, -1))
        return torch.distributions.MixtureSameFamily(mix, comp)

    def _repr_args(self) -> dict[str, Any]:
        return {"k": self.k}
