"""Step 4 of the recipe: thresholds, calibration and decision metrics.

* :func:`tune_threshold` — the exact best threshold for a metric (one sort, every distinct score);
* :class:`Thresholder` — applies thresholds (or the argmax) and saves them as JSON;
* :class:`TemperatureScaling`, :class:`VectorScaling`, :class:`PlattScaling` — post-hoc calibration;
* :func:`calibration_report` — ECE, MCE, Brier score, NLL and reliability bins;
* :mod:`nllkit.decision.metrics` — confusion counts at every threshold, PR and ROC curves.
"""

from . import metrics
from .calibration import (
    CalibrationReport,
    PlattScaling,
    TemperatureScaling,
    VectorScaling,
    calibration_report,
)
from .thresholder import Thresholder
from .thresholds import ThresholdResult, bayes_threshold, tune_threshold

__all__ = [
    "CalibrationReport",
    "PlattScaling",
    "TemperatureScaling",
    "ThresholdResult",
    "Thresholder",
    "VectorScaling",
    "bayes_threshold",
    "calibration_report",
    "metrics",
    "tune_threshold",
]
