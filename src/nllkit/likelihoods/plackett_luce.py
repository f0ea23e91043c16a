"""Plackett–Luce: rankings (full or top-k) of M items from one score per item."""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor
from torch.distributions import Distribution, constraints

from ..errors import InputTypeError
from ._common import CheckedLikelihood, check_float, check_in_domain

__all__ = ["PlackettLuce", "PlackettLuceDistribution", "PlackettLuceParams"]


class PlackettLuceParams(NamedTuple):
    """Parameters of a Plackett–Luce model: one real ``scores`` value per item (dim 1)."""

    scores: Tensor


def _plackett_luce_log_prob(scores: Tensor, ranking: Tensor, dim: int) -> Tensor:
    """``Σ_j [s_{π_j} − log Σ_{l not yet ranked} e^{s_l}]`` along ``dim``.

    ``ranking`` holds the ``k ≤ M`` best items in order along ``dim``. The denominators are a
    reverse log-cumsum-exp over the ranked scores, log-add-exp'ed with the log-sum-exp of the
    unranked items' scores (absent for a full ranking).
    """
    ranked = scores.gather(dim, ranking)
    # log Σ_{l ≥ j} e^{s_{π_l}}: logcumsumexp over the reversed order.
    tail = torch.logcumsumexp(ranked.flip(dim), dim).flip(dim)
    if ranking.shape[dim] < scores.shape[dim]:
        chosen = torch.zeros_like(scores, dtype=torch.bool).scatter(dim, ranking, True)
        rest = torch.logsumexp(scores.masked_fill(chosen, -torch.inf), dim, keepdim=True)
        tail = torch.logaddexp(tail, rest)
    return (ranked - tail).sum(dim)


class PlackettLuceDistribution(Distribution):
    """The Plackett–Luce distribution over permutations of the last dimension of ``logits``.

    ``sample`` draws permutations with the Gumbel-max trick (sort scores plus Gumbel noise);
    ``log_prob`` scores full or top-k rankings (best item first).
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "logits": constraints.real_vector
    }
    has_rsample = False

    def __init__(self, logits: Tensor, validate_args: bool | None = None) -> None:
        self.logits = logits
        super().__init__(logits.shape[:-1], logits.shape[-1:], validate_args=False)

    @property
    def support(self) -> Any:  # a permutation of range(M): no torch constraint expresses it
        return constraints.independent(constraints.nonnegative_integer, 1)

    def sample(self, sample_shape: torch.Size | list[int] | tuple[int, ...] = ()) -> Tensor:
        shape = self._extended_shape(torch.Size(sample_shape))
        with torch.no_grad():
            # Gumbel-max: −log E with E ~ Exp(1) is a standard Gumbel.
            noise = torch.empty(shape, dtype=self.logits.dtype, device=self.logits.device)
            gumbel = -noise.exponential_().log()
            return torch.argsort(self.logits.expand(shape) + gumbel, dim=-1, descending=True)

    def log_prob(self, value: Tensor) -> Tensor:
        scores = self.logits.expand(value.shape[:-1] + self.logits.shape[-1:])
        return _plackett_luce_log_prob(scores, value.long(), dim=-1)


class PlackettLuce(CheckedLikelihood):
    r"""Rankings of M items: ``Pr(π | s) = Π_j e^{s_{π_j}} / Σ_{l ≥ j} e^{s_{π_l}}``.

    The network predicts one real score ``s_i`` per item (identity link; only differences
    matter). A ranking ``π`` (best item first) is drawn by repeatedly picking the next item
    with softmax probabilities over the items not yet picked, so the log-likelihood is a sum of
    log-softmaxes with shrinking denominators::

        log Pr(π | s) = Σ_j [s_{π_j} − logsumexp_{l ≥ j} s_{π_l}]

    computed with one reverse ``logcumsumexp`` (O(M), no products of probabilities). For a
    partial (top-k) ranking only the first k picks are scored, and every denominator also counts
    the unranked items. With M = 2 it is a Bernoulli on ``s_a − s_b`` (Bradley–Terry); with k = 1
    a Categorical (softmax cross-entropy). ``predict`` returns the mode: the items sorted by
    decreasing score.

    Shapes: ``raw`` is ``(N, M, d1, ...)``; ``y`` is ``(N, k, d1, ...)`` int64 item indices in
    rank order (``k ≤ M``, distinct); ``log_prob`` is ``(N, d1, ...)``.

    Args:
        check: when to validate target values (``"first"``, ``"always"``, ``"never"``).

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import PlackettLuce
        >>> lik = PlackettLuce()
        >>> s = torch.tensor([[2.0, 0.0, 1.0]])
        >>> lik.log_prob(s, torch.tensor([[0, 2, 1]]))      # the most likely order
        tensor([-0.7209])
        >>> lik.log_prob(s, torch.tensor([[1, 2, 0]]))      # the least likely
        tensor([-3.7209])
        >>> lik.predict(s)
        tensor([[0, 2, 1]])

    References:
        Plackett, "The analysis of permutations", JRSS C (1975); Luce, *Individual Choice
        Behavior* (1959); Cao et al., "Learning to rank: from pairwise approach to listwise
        approach" (ListMLE, 2007).
    """

    domain = "rankings: permutations of M items (or the top k, best first)"
    distribution_name = "Plackett–Luce(s): pick items one by one, softmax over those left"
    link = "one score per item, identity (only differences matter)"
    nll_formula = "Σ_j [logsumexp_{l ≥ j} s_{π_l} − s_{π_j}]  (ListMLE)"
    predict_rule = "the mode: items sorted by decreasing score"
    implemented_by = ("nllkit.nn.LikelihoodLoss(PlackettLuce())",)
    pitfalls = (
        "y lists item indices in rank order (best first), not each item's rank.",
        "Scores are defined up to a constant: regularise or fix one if you read them directly.",
    )

    @property
    def num_outputs(self) -> int:
        """One score per item: the number of items M is set by ``raw``'s dim 1 (returns 1)."""
        return 1

    def params(self, raw: Tensor) -> PlackettLuceParams:
        check_float(raw)
        return PlackettLuceParams(scores=raw)

    def _validate_target(self, y: Tensor) -> None:
        pass  # validated in _check_ranking, which needs M

    def _check_ranking(self, raw: Tensor, y: Tensor) -> None:
        from ..errors import InputShapeError

        if not isinstance(y, Tensor) or y.dtype != torch.long:
            found = type(y).__name__ if not isinstance(y, Tensor) else f"dtype {y.dtype}"
            raise InputTypeError(
                argument="y",
                expected="an int64 tensor of item indices in rank order",
                found=found,
                fix="call y.long(); y[i, j] is the index of the item ranked j-th (best first)",
            )
        m = raw.shape[1] if raw.dim() >= 2 else 0
        ok = raw.dim() >= 2 and y.dim() == raw.dim() and 1 <= y.shape[1] <= m
        ok = ok and y.shape[:1] + y.shape[2:] == raw.shape[:1] + raw.shape[2:]
        if not ok:
            raise InputShapeError(
                argument="y",
                expected=f"shape (N, k, d1, ...) with 1 ≤ k ≤ M for raw scores {tuple(raw.shape)}",
                found=f"{tuple(y.shape)}",
                fix="raw holds one score per item on dim 1; y the ranked item indices on dim 1",
            )
        if self.check == "never" or torch.compiler.is_compiling():
            return
        if self.check == "first" and self._checked:
            return
        check_in_domain(
            (y < 0) | (y >= m), y, f"item indices in [0, {m})", "index items from 0 to M − 1"
        )
        srt = y.sort(dim=1).values
        dup = (srt.narrow(1, 1, y.shape[1] - 1) == srt.narrow(1, 0, y.shape[1] - 1)).any(1)
        check_in_domain(
            dup,
            dup,
            "rankings without repeated items",
            "each item appears at most once in a ranking; ties are not modelled",
        )
        self._checked = True

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        (scores,) = self.params(raw)
        self._check_ranking(scores, y)
        return _plackett_luce_log_prob(scores, y, dim=1)

    def predict(self, raw: Tensor) -> Tensor:
        """The most probable ranking: item indices by decreasing score (dim 1)."""
        return torch.argsort(self.params(raw).scores, dim=1, descending=True)

    def distribution(self, raw: Tensor) -> PlackettLuceDistribution:
        """A :class:`PlackettLuceDistribution` with the items on the last dimension."""
        return PlackettLuceDistribution(self.params(raw).scores.movedim(1, -1))

    def sample(self, raw: Tensor, n: int = 1) -> Tensor:
        """``n`` rankings per target, shape ``(n, N, M, d1, ...)``."""
        return self.distribution(raw).sample((n,)).movedim(-1, 2)

    def _repr_args(self) -> dict[str, Any]:
        return {}
