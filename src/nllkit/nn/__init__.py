"""The losses of ``nllkit.functional`` as ``torch.nn.Module`` classes (thin wrappers)."""

from .combined import CombinedLoss, L1Penalty, L2Penalty
from .cross_entropy import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss
from .focal import FocalLoss
from .likelihood import LikelihoodLoss
from .linear_cross_entropy import LinearCrossEntropyLoss
from .overlap import DiceLoss, JaccardLoss, TverskyLoss

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CombinedLoss",
    "CrossEntropyLoss",
    "DiceLoss",
    "FocalLoss",
    "JaccardLoss",
    "L1Penalty",
    "L2Penalty",
    "LikelihoodLoss",
    "LinearCrossEntropyLoss",
    "NLLLoss",
    "TverskyLoss",
]
