"""Ordinal: ordered classes (ratings, grades, severities) with cumulative logits."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..guards import check_class_targets
from ._common import (
    CheckedLikelihood,
    check_float,
    check_int,
    check_target_shape,
    log1mexp,
    positive,
    validated_floor,
)

__all__ = ["Ordinal", "OrdinalParams"]


class OrdinalParams(NamedTuple):
    """Parameters of an ordinal model: increasing ``cutpoints`` c_k with ``Pr(y ≤ k) = σ(c_k)``
    (``(N, K−1, d1, ...)``) and the class ``log_probs`` (``(N, K, d1, ...)``)."""

    cutpoints: Tensor
    log_probs: Tensor


class Ordinal(CheckedLikelihood):
    r"""Ordered classes ``y ∈ {0 < 1 < … < K−1}`` with cumulative logits.

    The model is ``Pr(y ≤ k) = σ(c_k)`` for increasing cut-points ``c_0 < c_1 < … < c_{K−2}``, so
    ``Pr(y = k) = σ(c_k) − σ(c_{k−1})`` (with ``σ(c_{−1}) = 0``, ``σ(c_{K−1}) = 1``). The network
    predicts ``K − 1`` raw values per target; the link makes the cut-points ordered for any input::

        c_0 = z_0,   c_k = c_{k−1} + g_k,   g_k = softplus(z_k) + floor > 0

    The difference of sigmoids is never formed (it cancels catastrophically when two cut-points
    are close); the identity ``σ(b) − σ(a) = σ(b)·σ(−a)·(1 − e^{−(b−a)})`` gives, in log space::

        log Pr(y = k) = log σ(c_k) + log σ(−c_{k−1}) + log(1 − e^{−g_k})

    with ``log(1 − e^{−g})`` from the gap ``g_k`` itself (:func:`log1mexp`). The NLL is
    ``−log Pr(y | c)``. The proportional-odds model (one score ``f`` and shared thresholds
    ``θ_k``) is the special case ``c_k = θ_k − f``. ``predict`` returns the mode (the most
    probable class); ``mean`` the expected class index ``Σ_k k·Pr(y = k)``.

    Unlike cross-entropy over K classes, predicting 3 when the truth is 4 costs less than
    predicting 0: the classes share the cut-points, so the ordering is used.

    Shapes: ``raw`` is ``(N, K−1, d1, ...)``; ``y`` is ``(N, d1, ...)`` int64 class indices.

    Args:
        num_classes: the number of ordered classes K (≥ 2).
        floor: the smallest gap between consecutive cut-points (default ``1e-6``).
        check: when to validate target values (``"first"``, ``"always"``, ``"never"``).

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import Ordinal
        >>> lik = Ordinal(3)
        >>> raw = torch.tensor([[-1.0, 2.0]])           # c₀ = −1, c₁ = −1 + softplus(2)
        >>> lik.params(raw).cutpoints
        tensor([[-1.0000,  1.1269]])
        >>> lik.params(raw).log_probs.exp()
        tensor([[0.2689, 0.4863, 0.2447]])
        >>> lik.log_prob(raw, torch.tensor([1]))
        tensor([-0.7209])
        >>> lik.predict(raw), lik.mean(raw)
        (tensor([1]), tensor([0.9758]))

    References:
        McCullagh, "Regression models for ordinal data", JRSS B (1980).
    """

    domain = "{0 < 1 < … < K−1}: ordered classes"
    distribution_name = "cumulative logit: Pr(y ≤ k) = σ(c_k), c_0 < … < c_{K−2}"
    link = "c_0 = z_0, c_k = c_{k−1} + softplus(z_k) + floor (ordered for any z)"
    nll_formula = "−[log σ(c_y) + log σ(−c_{y−1}) + log(1 − e^{−(c_y − c_{y−1})})]"
    predict_rule = "the mode argmax_k Pr(y = k); mean Σ_k k·Pr(y = k)"
    implemented_by = ("nllkit.nn.LikelihoodLoss(Ordinal(K))",)
    pitfalls = (
        "Cross-entropy ignores the order of the classes; regression on the index assumes equal "
        "spacing: cumulative logits do neither.",
        "Unconstrained cut-points can cross and give negative probabilities: the link orders them.",
    )

    def __init__(self, num_classes: int, *, floor: float = 1e-6, check: str = "first") -> None:
        super().__init__(check=check)
        self.num_classes = check_int(
            num_classes, "num_classes", 2, "pass the number of ordered classes, e.g. Ordinal(5)"
        )
        self.floor = validated_floor(floor)

    @property
    def num_outputs(self) -> int:
        return self.num_classes - 1

    def params(self, raw: Tensor) -> OrdinalParams:
        check_float(raw)
        k = self.num_classes
        if raw.dim() < 2 or raw.shape[1] != k - 1:
            from ..errors import InputShapeError

            raise InputShapeError(
                argument="raw",
                expected=f"shape (N, {k - 1}, d1, ...): K − 1 = {k - 1} cut-point outputs on dim 1",
                found=f"{tuple(raw.shape)}",
                fix=f"make the model output num_outputs = {k - 1} values per target",
            )
        first, rest = raw.narrow(1, 0, 1), raw.narrow(1, 1, k - 2)
        gaps = positive(rest, self.floor)
        cut = torch.cat([first, first + gaps.cumsum(1)], dim=1)
        # log σ(c_k) for the lower classes, log σ(−c_{k−1}) for the upper ones.
        log_below = F.logsigmoid(cut)  # log Pr(y ≤ k)
        log_above = F.logsigmoid(-cut)  # log Pr(y > k)
        middle = log_below.narrow(1, 1, k - 2) + log_above.narrow(1, 0, k - 2) + log1mexp(gaps)
        log_probs = torch.cat([log_below.narrow(1, 0, 1), middle, log_above.narrow(1, k - 2, 1)], 1)
        return OrdinalParams(cutpoints=cut, log_probs=log_probs)

    def _validate_target(self, y: Tensor) -> None:
        check_class_targets(y, self.num_classes, None, "y")

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        log_probs = self.params(raw).log_probs
        expected = log_probs.shape[:1] + log_probs.shape[2:]
        check_target_shape(y, expected, "Ordinal")
        self._maybe_validate(y)
        return log_probs.gather(1, y.long().unsqueeze(1)).squeeze(1)

    def predict(self, raw: Tensor) -> Tensor:
        """The most probable class (int64)."""
        return self.params(raw).log_probs.argmax(dim=1)

    def mean(self, raw: Tensor) -> Tensor:
        """The expected class index ``Σ_k k·Pr(y = k)``."""
        probs = self.params(raw).log_probs.exp()
        shape = [1, self.num_classes] + [1] * (probs.dim() - 2)
        ks = torch.arange(self.num_classes, dtype=probs.dtype, device=probs.device).view(shape)
        return (probs * ks).sum(dim=1)

    def distribution(self, raw: Tensor) -> torch.distributions.Categorical:
        """A ``Categorical`` over the K classes with the ordinal class probabilities."""
        return torch.distributions.Categorical(logits=self.params(raw).log_probs.movedim(1, -1))

    def _repr_args(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes}
