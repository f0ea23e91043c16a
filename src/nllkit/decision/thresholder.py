"""Apply a decision rule to predicted probabilities, and save it next to the model as JSON."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import Any

import torch

from ..errors import ConfigurationError, InputShapeError
from ._arrays import as_tensor, check_probs, is_numpy, to_output
from .thresholds import ThresholdResult

__all__ = ["Thresholder"]

_FORMAT = "nllkit.Thresholder/1"


class Thresholder:
    """The last step of the recipe: probabilities in, decisions out.

    * binary: ``(N,)`` probabilities, one threshold: ``prob >= threshold`` → 1;
    * multi-label: ``(N, L)`` probabilities, one threshold (shared) or ``L`` thresholds (one per
      column, e.g. from :func:`~nllkit.decision.tune_threshold` on ``(N, L)`` input);
    * multiclass (``multiclass=True``): ``(N, C)`` probabilities (or logits: the order is the
      same), the argmax over dim 1 (the Categorical's mode; no threshold).

    Predictions are int64 (numpy or tensor, like the input, on its device). The rule is stored as
    JSON with :meth:`save` / :meth:`load` (``{"format": ..., "threshold": ..., "multiclass": ...,
    "metric": ..., "score": ...}``), so it ships next to the model weights.

    Args:
        threshold: a float in [0, 1], or a sequence of floats (one per label); ``None`` with
            ``multiclass=True``.
        multiclass: predict the argmax instead of thresholding.
        metric: optional name of the metric the threshold was tuned for (kept in the JSON).
        score: optional score it reached on the tuning data (kept in the JSON).

    Example:
        >>> import torch
        >>> Thresholder(0.3).predict(torch.tensor([0.1, 0.3, 0.8]))
        tensor([0, 1, 1])
        >>> Thresholder([0.5, 0.2]).predict(torch.tensor([[0.4, 0.4], [0.6, 0.1]]))
        tensor([[0, 1],
                [1, 0]])
        >>> Thresholder(multiclass=True).predict(torch.tensor([[0.2, 0.5, 0.3]]))
        tensor([1])
    """

    def __init__(
        self,
        threshold: float | Sequence[float] | None = 0.5,
        *,
        multiclass: bool = False,
        metric: str | None = None,
        score: float | Sequence[float] | None = None,
    ) -> None:
        if multiclass:
            if threshold is not None and threshold != 0.5:
                raise ConfigurationError(
                    argument="threshold",
                    expected="no threshold with multiclass=True (the argmax decides)",
                    found=repr(threshold),
                    fix="pass Thresholder(multiclass=True), or multiclass=False for multi-label",
                )
            self.threshold: float | list[float] | None = None
        else:
            self.threshold = self._check_threshold(threshold)
        self.multiclass = multiclass
        self.metric = metric
        self.score = _plain(score)

    @staticmethod
    def _check_threshold(threshold: Any) -> float | list[float]:
        value = _plain(threshold)
        values = value if isinstance(value, list) else [value]
        ok = bool(values) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in values
        )
        if not ok:
            raise ConfigurationError(
                argument="threshold",
                expected="a finite number, or a list of them (one per label)",
                found=repr(threshold),
                fix="pass e.g. Thresholder(0.5) or Thresholder.from_result(tune_threshold(...))",
            )
        return value

    @classmethod
    def from_result(cls, result: ThresholdResult) -> Thresholder:
        """The thresholds found by :func:`~nllkit.decision.tune_threshold` (1-D or multi-label)."""
        return cls(result.threshold, metric=result.metric, score=result.score)

    def predict(self, probs: Any) -> Any:
        """Decisions for ``probs``: 0/1 per element, or the class index with ``multiclass``."""
        p = as_tensor(probs, "probs")
        if self.multiclass:
            if p.dim() < 2:
                raise InputShapeError(
                    argument="probs",
                    expected="(N, C, ...) class probabilities for multiclass=True",
                    found=f"shape {tuple(p.shape)}",
                    fix="pass the (N, C) softmax outputs (or logits)",
                )
            return to_output(p.argmax(dim=1), is_numpy(probs))
        check_probs(p)
        if isinstance(self.threshold, list):
            if p.dim() != 2 or p.shape[1] != len(self.threshold):
                raise InputShapeError(
                    argument="probs",
                    expected=f"(N, {len(self.threshold)}): one column per threshold",
                    found=f"shape {tuple(p.shape)}",
                    fix="pass probabilities with one column per label tuned",
                )
            t = torch.tensor(self.threshold, dtype=torch.float64, device=p.device)
            out = p.to(torch.float64) >= t
        else:
            out = p >= float(self.threshold or 0.0)
        return to_output(out.long(), is_numpy(probs))

    def to_dict(self) -> dict[str, Any]:
        """The rule as JSON-able values."""
        return {
            "format": _FORMAT,
            "threshold": self.threshold,
            "multiclass": self.multiclass,
            "metric": self.metric,
            "score": self.score,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Thresholder:
        """Rebuild a thresholder from :meth:`to_dict`'s output."""
        if state.get("format") != _FORMAT:
            raise ConfigurationError(
                argument="state",
                expected=f"a {_FORMAT!r} document",
                found=f"format {state.get('format')!r}",
                fix="load a file written by Thresholder.save",
            )
        return cls(
            state["threshold"],
            multiclass=bool(state["multiclass"]),
            metric=state.get("metric"),
            score=state.get("score"),
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the rule to ``path`` as JSON."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Thresholder:
        """Read a rule written by :meth:`save`."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def __repr__(self) -> str:
        if self.multiclass:
            return "Thresholder(multiclass=True)"
        return f"Thresholder({self.threshold!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Thresholder) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]


def _plain(x: Any) -> Any:
    """Tensors / numpy arrays / numpy scalars as Python floats or lists of floats."""
    if x is None or isinstance(x, (float, int)):
        return x
    if hasattr(x, "tolist"):
        v = x.tolist()
        return v
    if isinstance(x, Sequence) and not isinstance(x, str):
        return [float(v) for v in x]
    return x
