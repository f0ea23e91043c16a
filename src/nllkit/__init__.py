"""nllkit: loss functions as negative log-likelihoods, for PyTorch.

The recipe: choose a distribution over the target (``nllkit.likelihoods``), let the network predict
its parameters, train on the negative log-likelihood (``nllkit.functional``, ``nllkit.nn``), then
decide (``nllkit.decision``). ``nllkit.guards`` catches the classic mistakes on the way.
"""

from . import decision, errors, functional, guards, likelihoods, nn
from .errors import NLLKitError

__version__ = "0.1.0"

__all__ = [
    "NLLKitError",
    "__version__",
    "decision",
    "errors",
    "functional",
    "guards",
    "likelihoods",
    "nn",
]
