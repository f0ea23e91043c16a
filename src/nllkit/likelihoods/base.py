"""The likelihood interface: steps 1-2 of the recipe (a distribution and the link to its parameters).

A :class:`Likelihood` turns the network's raw outputs into the parameters of a distribution over
the target (through a link: sigmoid, softmax, softplus, ...) and scores a target by its
log-probability, computed stably from the raw outputs. Its negative log-likelihood is the loss.

Shapes: a likelihood with one parameter per target takes raw outputs of the target's shape; one with
``P`` parameters takes ``(N, P, d1, ...)`` for targets ``(N, d1, ...)`` (parameters on dim 1, torch's
class-dimension convention).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor

from .._math import apply_reduction, resolve_reduction

__all__ = ["Likelihood", "Recipe"]


class Recipe(NamedTuple):
    """The text of one recipe, for ``nllkit explain`` and the docs (one source of truth)."""

    name: str
    domain: str
    distribution: str
    link: str
    nll: str
    predict: str
    implemented_by: tuple[str, ...]
    pitfalls: tuple[str, ...]

    def render(self) -> str:
        """The recipe as plain text, one field a line."""
        lines = [
            f"{self.name}",
            f"  target domain : {self.domain}",
            f"  distribution  : {self.distribution}",
            f"  link          : {self.link}",
            f"  loss (NLL)    : {self.nll}",
            f"  predict       : {self.predict}",
            f"  implemented by: {', '.join(self.implemented_by)}",
        ]
        if self.pitfalls:
            lines.append("  pitfalls      :")
            lines.extend(f"    - {p}" for p in self.pitfalls)
        return "\n".join(lines)


class Likelihood(abc.ABC):
    """A distribution over targets whose parameters a network predicts.

    Subclasses set the class-level recipe text (``domain``, ``distribution_name``, ``link``,
    ``nll_formula``, ``predict_rule``, ``implemented_by``, ``pitfalls``) and implement
    :meth:`params`, :meth:`log_prob`, :meth:`predict` and :meth:`distribution`.
    """

    #: target domain, e.g. "{0, 1}"
    domain: ClassVar[str] = ""
    #: the distribution, e.g. "Bernoulli(p)"
    distribution_name: ClassVar[str] = ""
    #: the link from raw outputs to parameters, e.g. "p = sigmoid(z)"
    link: ClassVar[str] = ""
    #: the negative log-likelihood in closed form
    nll_formula: ClassVar[str] = ""
    #: what predict() returns
    predict_rule: ClassVar[str] = ""
    #: the torch and nllkit functions that compute the same loss
    implemented_by: ClassVar[tuple[str, ...]] = ()
    #: classic mistakes with this likelihood
    pitfalls: ClassVar[tuple[str, ...]] = ()

    @property
    @abc.abstractmethod
    def num_outputs(self) -> int:
        """How many raw network outputs this likelihood needs per target."""

    @abc.abstractmethod
    def params(self, raw: Tensor) -> NamedTuple:
        """The distribution's parameters after the link, as a named tuple."""

    @abc.abstractmethod
    def log_prob(self, raw: Tensor, y: Tensor) -> Tensor:
        """Per-element log-likelihood ``log Pr(y | link(raw))``, computed stably from ``raw``."""

    @abc.abstractmethod
    def predict(self, raw: Tensor) -> Tensor:
        """The mode of the predicted distribution (the maximum-likelihood answer)."""

    @abc.abstractmethod
    def distribution(self, raw: Tensor) -> torch.distributions.Distribution:
        """The equivalent ``torch.distributions.Distribution``."""

    def mean(self, raw: Tensor) -> Tensor:
        """The mean of the predicted distribution, where it is defined."""
        from ..errors import ConfigurationError

        raise ConfigurationError(
            argument="mean",
            expected="a likelihood whose targets have a mean",
            found=f"{type(self).__name__}, whose mean is undefined",
            fix="use params(raw) for the probabilities, or predict(raw) for the mode",
        )

    def nll(self, raw: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
        """The loss: ``-log_prob(raw, y)``, reduced by ``"mean"`` (default), ``"sum"`` or ``"none"``."""
        reduction = resolve_reduction(reduction)
        return apply_reduction(-self.log_prob(raw, y), reduction)

    def sample(self, raw: Tensor, n: int = 1) -> Tensor:
        """``n`` samples from the predicted distribution, stacked on a new leading dimension."""
        return self.distribution(raw).sample((n,))

    @classmethod
    def recipe(cls) -> Recipe:
        """The recipe of this likelihood (what ``nllkit explain`` prints)."""
        return Recipe(
            name=cls.__name__,
            domain=cls.domain,
            distribution=cls.distribution_name,
            link=cls.link,
            nll=cls.nll_formula,
            predict=cls.predict_rule,
            implemented_by=cls.implemented_by,
            pitfalls=cls.pitfalls,
        )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._repr_args().items())
        return f"{type(self).__name__}({args})"

    def _repr_args(self) -> dict[str, Any]:
        return {}
