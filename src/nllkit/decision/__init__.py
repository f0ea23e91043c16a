"""Step 4 of the recipe: thresholds, calibration and decision metrics."""

from . import metrics
from .thresholds import ThresholdResult, bayes_threshold, tune_threshold

__all__ = ["ThresholdResult", "bayes_threshold", "metrics", "tune_threshold"]
