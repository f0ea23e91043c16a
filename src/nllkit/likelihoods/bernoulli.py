"""Bernoulli and MultiLabel (independent Bernoullis): binary targets, sigmoid link."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Likelihood

__all__ = ["Bernoulli", "BernoulliParams", "MultiLabel"]


class BernoulliParams(NamedTuple):
    """Parameters of a Bernoulli: the probability of a 1 and its logit."""

    probs: Tensor
    logits: Tensor


def _bernoulli_log_prob(logits: Tensor, y: Tensor) -> Tensor:
    # y·logσ(z) + (1−y)·logσ(−z) = −(softplus(z) − y·z): torch's fused, stable BCE-with-logits kernel.
    return -F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype), reduction="none")


class Bernoulli(Likelihood):
    r"""Binary targets ``y ∈ {0, 1}``: ``Pr(y | z) = σ(z)^y (1 − σ(z))^{1−y}``.

    The network predicts one logit ``z`` per target; the sigmoid link ``p = σ(z)`` keeps the
    probability in (0, 1). The negative log-likelihood is binary cross-entropy::

        −log Pr(y | z) = −y·log σ(z) − (1 − y)·log σ(−z) = softplus(z) − y·z

    computed from the logit with the log-sigmoid identity ``log σ(z) = −softplus(−z)``, never as
    ``log(sigmoid(z))`` (which is ``log 0 = −inf`` once ``σ(z)`` rounds to 0 or 1). Soft targets in
    [0, 1] are accepted (the same formula is then a cross-entropy between two Bernoullis).

    Shapes: ``raw`` and ``y`` have the same shape (any); ``log_prob`` returns that shape.

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import Bernoulli
        >>> lik = Bernoulli()
        >>> z = torch.tensor([-2.0, 0.0, 3.0])
        >>> lik.log_prob(z, torch.tensor([0.0, 1.0, 1.0]))
        tensor([-0.1269, -0.6931, -0.0486])
        >>> lik.predict(z)
        tensor([0, 0, 1])

    References:
        Prince, *Understanding Deep Learning* (2023), §5.4.
    """

    domain = "{0, 1} (soft targets in [0, 1] also work)"
    distribution_name = "Bernoulli(p): Pr(y) = p^y (1 − p)^(1 − y)"
    link = "p = sigmoid(z), z = the network's logit"
    nll_formula = "−y·log σ(z) − (1 − y)·log σ(−z) = softplus(z) − y·z  (binary cross-entropy)"
    predict_rule = (
        "the mode: 1 where z > 0 (p > 0.5), else 0; or tune a threshold on p "
        "(nllkit.decision.tune_threshold)"
    )
    implemented_by = (
        "torch.nn.BCEWithLogitsLoss (logits)",
        "nllkit.nn.BCEWithLogitsLoss (logits)",
        "torch.nn.BCELoss / nllkit.nn.BCELoss (probabilities)",
    )
    pitfalls = (
        "BCELoss takes probabilities (apply the sigmoid before it); BCEWithLogitsLoss takes logits "
        "and applies a stable log-sigmoid itself: never put a Sigmoid before it.",
        "At inference BCEWithLogitsLoss returns a loss, not probabilities: apply torch.sigmoid "
        "to the logits yourself.",
        "0.5 is rarely the best threshold: tune it on validation data for your metric.",
    )

    @property
    def num_outputs(self) -> int:
        return 1

    def params(self, raw: Tensor) -> BernoulliParams:
        return BernoulliParams(probs=torch.sigmoid(raw), logits=raw)

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        return _bernoulli_log_prob(raw, y)

    def predict(self, raw: Tensor) -> Tensor:
        """The mode: ``1`` where ``raw > 0`` (ties at ``p = 0.5`` go to 0), as int64."""
        return (raw > 0).long()

    def mean(self, raw: Tensor) -> Tensor:
        """The mean ``p = σ(z)``."""
        return torch.sigmoid(raw)

    def distribution(self, raw: Tensor) -> torch.distributions.Bernoulli:
        return torch.distributions.Bernoulli(logits=raw)


class MultiLabel(Likelihood):
    r"""Multi-label targets ``y ∈ {0, 1}^L``: ``L`` independent Bernoullis, one sigmoid per label.

    ``Pr(y | z) = Π_l σ(z_l)^{y_l} (1 − σ(z_l))^{1 − y_l}``, so the NLL is a sum of binary
    cross-entropies, one per label. :meth:`log_prob` returns one value per label (shape
    ``(N, L)``), so ``nll(..., reduction="mean")`` equals ``BCEWithLogitsLoss()`` on the same
    tensors; :meth:`distribution` is ``Independent(Bernoulli, 1)``, whose ``log_prob`` is the sum
    over labels (``log_prob(raw, y).sum(-1)``).

    Shapes: ``raw`` and ``y`` are ``(N, L)`` (or ``(N, L, d1, ...)``: labels on dim 1).

    Example:
        >>> import torch
        >>> from nllkit.likelihoods import MultiLabel
        >>> lik = MultiLabel(3)
        >>> z = torch.tensor([[2.0, -1.0, 0.5]])
        >>> lik.predict(z)
        tensor([[1, 0, 1]])
        >>> lik.nll(z, torch.tensor([[1.0, 0.0, 0.0]]))
        tensor(0.4714)
    """

    domain = "{0, 1}^L: any subset of L labels"
    distribution_name = "L independent Bernoulli(p_l)"
    link = "p_l = sigmoid(z_l), one logit per label (not a softmax: labels do not compete)"
    nll_formula = "Σ_l softplus(z_l) − y_l·z_l  (binary cross-entropy per label)"
    predict_rule = "1 where z_l > 0 for each label, or a threshold tuned per label"
    implemented_by = (
        "torch.nn.BCEWithLogitsLoss",
        "nllkit.nn.BCEWithLogitsLoss",
        "torch.nn.MultiLabelSoftMarginLoss",
    )
    pitfalls = (
        "Do not use a softmax/CrossEntropyLoss for multi-label targets: it forces labels to compete.",
        "Tune one threshold per label (tune_threshold on a 2-D input does it).",
    )

    def __init__(self, num_labels: int) -> None:
        from ..errors import ConfigurationError

        if not isinstance(num_labels, int) or num_labels < 1:
            raise ConfigurationError(
                argument="num_labels",
                expected="a positive int",
                found=repr(num_labels),
                fix="pass the number of labels, e.g. MultiLabel(5)",
            )
        self.num_labels = num_labels

    @property
    def num_outputs(self) -> int:
        return self.num_labels

    def params(self, raw: Tensor) -> BernoulliParams:
        return BernoulliParams(probs=torch.sigmoid(raw), logits=raw)

    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        return _bernoulli_log_prob(raw, y)

    def predict(self, raw: Tensor) -> Tensor:
        return (raw > 0).long()

    def mean(self, raw: Tensor) -> Tensor:
        return torch.sigmoid(raw)

    def distribution(self, raw: Tensor) -> torch.distributions.Independent:
        base = torch.distributions.Bernoulli(logits=raw.movedim(1, -1))
        return torch.distributions.Independent(base, 1)

    def sample(self, raw: Tensor, n: int = 1) -> Tensor:
        return self.distribution(raw).sample((n,)).movedim(-1, 2)

    def _repr_args(self) -> dict[str, Any]:
        return {"num_labels": self.num_labels}
