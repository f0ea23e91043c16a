"""Input handling shared by ``nllkit.decision``: numpy or torch in, the same kind out.

Arrays are wrapped without a copy (``torch.from_numpy`` / ``torch.as_tensor``), computed on their
own device, and only results are converted back (a numpy input gives numpy outputs).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import InputShapeError, InputTypeError, InputValueError

__all__ = [
    "accumulate_dtype",
    "as_tensor",
    "binary_targets",
    "check_probs",
    "is_numpy",
    "to_output",
]


def is_numpy(x: object) -> bool:
    """Whether ``x`` is a numpy array (its results are returned as numpy)."""
    return isinstance(x, np.ndarray)


def as_tensor(x: Any, argument: str) -> Tensor:
    """``x`` as a tensor without copying: a tensor passes through, a numpy array is wrapped."""
    if isinstance(x, Tensor):
        return x.detach()
    if isinstance(x, np.ndarray):
        if x.dtype == np.bool_:
            return torch.from_numpy(x)
        if not (np.issubdtype(x.dtype, np.number)):
            raise InputTypeError(
                argument=argument,
                expected="a numeric numpy array or torch tensor",
                found=f"a numpy array of dtype {x.dtype}",
                fix=f"convert it, e.g. np.asarray({argument}, dtype=float)",
            )
        return torch.from_numpy(np.ascontiguousarray(x))
    if isinstance(x, (list, tuple)):
        return torch.as_tensor(np.asarray(x))
    raise InputTypeError(
        argument=argument,
        expected="a torch.Tensor or a numpy array",
        found=type(x).__name__,
        fix=f"pass torch.as_tensor({argument})",
    )


def to_output(t: Tensor, numpy: bool) -> Any:
    """A result tensor as numpy (when the input was numpy) or as a tensor on its device."""
    return t.cpu().numpy() if numpy else t


def accumulate_dtype(device: torch.device) -> torch.dtype:
    """float64 for exact sums and metrics, except on devices without it (MPS)."""
    return torch.float32 if device.type == "mps" else torch.float64


def check_probs(probs: Tensor, argument: str = "probs") -> None:
    """Raise unless ``probs`` is a non-empty floating tensor of finite values in [0, 1]."""
    if not probs.is_floating_point():
        raise InputTypeError(
            argument=argument,
            expected="floating-point probabilities",
            found=f"dtype {probs.dtype}",
            fix=f"pass probabilities, e.g. torch.sigmoid(logits) (or {argument}.float())",
        )
    if probs.numel() == 0:
        raise InputShapeError(
            argument=argument,
            expected="at least one value",
            found="an empty array",
            fix="pass the validation set's predicted probabilities",
        )
    nan = int(torch.isnan(probs).sum())
    if nan:
        raise InputValueError(
            argument=argument,
            expected="probabilities without NaN",
            found=f"{nan} NaN value(s) out of {probs.numel()}",
            fix="find where they come from (a diverged model, a 0/0); nllkit never drops them "
            "silently",
        )
    lo, hi = float(probs.min()), float(probs.max())
    if lo < 0.0 or hi > 1.0:
        raise InputValueError(
            argument=argument,
            expected="probabilities in [0, 1]",
            found=f"values in [{lo:.4g}, {hi:.4g}]: these look like logits",
            fix="apply torch.sigmoid (binary, multi-label) or torch.softmax(dim=1) (multiclass) "
            "to the logits first",
        )


def binary_targets(targets: Tensor, shape: torch.Size, argument: str = "targets") -> Tensor:
    """Validate 0/1 targets of the given shape and return them as a bool tensor."""
    if targets.shape != shape:
        raise InputShapeError(
            argument=argument,
            expected=f"the shape of `probs` {tuple(shape)}",
            found=f"{tuple(targets.shape)}",
            fix="pass one 0/1 label per probability (for multiclass use argmax, not thresholds)",
        )
    if targets.dtype == torch.bool:
        return targets
    ok = (targets == 0) | (targets == 1)
    if not bool(ok.all()):
        bad = targets[~ok]
        raise InputValueError(
            argument=argument,
            expected="binary labels 0 or 1",
            found=f"{bad.numel()} other value(s), e.g. {bad[0].item()!r}",
            fix="encode the positive class as 1 and the negative as 0 (e.g. (y == pos).long())",
        )
    return targets == 1
