"""Step 3 of the recipe as stateless functions with torch-style signatures."""

from .cross_entropy import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)
from .focal import focal_loss
from .linear_cross_entropy import linear_cross_entropy
from .overlap import dice_loss, jaccard_loss, tversky_loss

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dice_loss",
    "focal_loss",
    "jaccard_loss",
    "linear_cross_entropy",
    "nll_loss",
    "tversky_loss",
]
