"""Steps 1-2 of the recipe: one class per distribution (link, log_prob, nll, predict, distribution).

Every likelihood has ``num_outputs``, ``params(raw)``, ``log_prob(raw, y)``, ``nll(raw, y)``,
``predict(raw)``, ``mean(raw)`` where defined, ``distribution(raw)`` and ``sample(raw, n)``.
"""

from .base import Likelihood, Recipe
from .bernoulli import Bernoulli, BernoulliParams, MultiLabel
from .categorical import Categorical, CategoricalParams

__all__ = [
    "Bernoulli",
    "BernoulliParams",
    "Categorical",
    "CategoricalParams",
    "Likelihood",
    "MultiLabel",
    "Recipe",
]
