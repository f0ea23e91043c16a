"""Step 4 of the recipe: thresholds, calibration and decision metrics."""

__all__: list[str] = []
