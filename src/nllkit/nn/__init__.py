"""The losses of ``nllkit.functional`` as ``torch.nn.Module`` classes (thin wrappers)."""

from .cross_entropy import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss
from .likelihood import LikelihoodLoss

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "LikelihoodLoss",
    "NLLLoss",
]
