"""Steps 1-2 of the recipe: one class per distribution (link, log_prob, nll, predict, distribution).

Every likelihood has ``num_outputs``, ``params(raw)``, ``log_prob(raw, y)``, ``nll(raw, y)``,
``predict(raw)``, ``mean(raw)`` where defined, ``distribution(raw)`` and ``sample(raw, n)``.
"""

from .base import Likelihood, Recipe
from .bernoulli import Bernoulli, BernoulliParams, MultiLabel
from .beta import Beta, BetaParams
from .categorical import Categorical, CategoricalParams
from .exponential import Exponential, ExponentialParams
from .gamma import Gamma, GammaParams
from .gaussian import Gaussian, GaussianParams
from .laplace import Laplace, LaplaceParams
from .mixture import MixtureOfGaussians, MixtureParams
from .multivariate_gaussian import MultivariateGaussian, MultivariateGaussianParams
from .negative_binomial import NegativeBinomial, NegativeBinomialParams
from .ordinal import Ordinal, OrdinalParams
from .plackett_luce import PlackettLuce, PlackettLuceDistribution, PlackettLuceParams
from .poisson import Poisson, PoissonParams
from .select import LikelihoodChoice, likelihood_for
from .student_t import StudentT, StudentTParams
from .von_mises import VonMises, VonMisesParams, wrap_angle

__all__ = [
    "Bernoulli",
    "BernoulliParams",
    "Beta",
    "BetaParams",
    "Categorical",
    "CategoricalParams",
    "Exponential",
    "ExponentialParams",
    "Gamma",
    "GammaParams",
    "Gaussian",
    "GaussianParams",
    "Laplace",
    "LaplaceParams",
    "Likelihood",
    "LikelihoodChoice",
    "MixtureOfGaussians",
    "MixtureParams",
    "MultiLabel",
    "MultivariateGaussian",
    "MultivariateGaussianParams",
    "NegativeBinomial",
    "NegativeBinomialParams",
    "Ordinal",
    "OrdinalParams",
    "PlackettLuce",
    "PlackettLuceDistribution",
    "PlackettLuceParams",
    "Poisson",
    "PoissonParams",
    "Recipe",
    "StudentT",
    "StudentTParams",
    "VonMises",
    "VonMisesParams",
    "likelihood_for",
    "wrap_angle",
]
