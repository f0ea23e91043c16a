"""Shared plumbing of the parametric likelihoods: links, parameter splitting and first-call checks.

Links (each keeps its parameter inside its domain for any finite raw output, ±1e4 included):

* ``positive(z, floor) = softplus(z) + floor``: scales, rates, concentrations, degrees of freedom.
  ``softplus`` is linear for large ``z`` (no overflow, unlike ``exp``) and the floor keeps the
  parameter strictly positive when ``softplus`` underflows to 0 (``z ≈ −1e4``).
* ``bounded_log(z)``: a log link's argument clamped to ``[log tiny, ½·log max]`` of the dtype in the
  forward pass, with the identity as backward (a straight-through clamp). ``exp`` of it is then a
  finite positive float whose square is finite too; inside the range it is exactly ``z``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .._math import straight_through_clamp
from ..errors import ConfigurationError, InputShapeError, InputTypeError, InputValueError
from ..guards import needs_check
from .base import Likelihood

__all__ = [
    "LOG_2PI",
    "CheckedLikelihood",
    "bounded_log",
    "log1mexp",
    "positive",
    "split_params",
    "validated_floor",
]

LOG_2PI = math.log(2.0 * math.pi)


def positive(z: Tensor, floor: float) -> Tensor:
    """``softplus(z) + floor``: a strictly positive parameter from any real ``z``."""
    return F.softplus(z) + floor


def bounded_log(z: Tensor) -> Tensor:
    """A log-link argument clamped so ``exp`` of it and its square stay finite and positive.

    The range is ``[log finfo.tiny, ½·log finfo.max]`` (about ``[−87.3, 44.4]`` in float32,
    ``[−708.4, 354.9]`` in float64); the gradient passes straight through, so a network whose output
    lies beyond the range still gets the gradient that pulls it back.
    """
    info = torch.finfo(z.dtype)
    return straight_through_clamp(z, math.log(info.tiny), 0.5 * math.log(info.max))


def log1mexp(x: Tensor) -> Tensor:
    """``log(1 − exp(−x))`` for ``x > 0``, stable at both ends (Mächler 2012).

    ``log(−expm1(−x))`` for ``x ≤ log 2`` (where ``1 − e^{−x}`` is small) and
    ``log1p(−exp(−x))`` beyond (where ``e^{−x}`` is small).
    """
    small = x <= math.log(2.0)
    # Evaluate each branch only where it is accurate; the other argument is kept in range (no NaN).
    a = torch.log(-torch.expm1(-torch.where(small, x, torch.ones_like(x))))
    b = torch.log1p(-torch.exp(-torch.where(small, torch.ones_like(x), x)))
    return torch.where(small, a, b)


def split_params(raw: Tensor, num_params: int, name: str) -> tuple[Tensor, ...]:
    """Split ``raw`` of shape ``(N, P, d1, ...)`` into ``P`` tensors of shape ``(N, d1, ...)``."""
    if raw.dim() < 2 or raw.shape[1] != num_params:
        raise InputShapeError(
            argument="raw",
            expected=f"shape (N, {num_params}, d1, ...): the {num_params} raw parameters of "
            f"{name} on dim 1",
            found=f"{tuple(raw.shape)}",
            fix=f"make the model output {num_params} values per target (num_outputs) and put "
            "them on dim 1",
        )
    return raw.unbind(1)


def check_float(raw: Tensor) -> None:
    """Raise unless ``raw`` is a floating-point tensor (shape-only, no host sync)."""
    if not isinstance(raw, Tensor):
        raise InputTypeError(
            argument="raw",
            expected="a torch.Tensor of raw network outputs",
            found=type(raw).__name__,
            fix="pass the model's output tensor",
        )
    if not raw.is_floating_point():
        raise InputTypeError(
            argument="raw",
            expected="a floating-point tensor of raw network outputs",
            found=f"dtype {raw.dtype}",
            fix="call raw.float()",
        )


def check_target_shape(y: Tensor, expected: torch.Size, name: str) -> None:
    """Raise unless the target ``y`` has the shape the raw outputs imply (no host sync)."""
    if not isinstance(y, Tensor):
        raise InputTypeError(
            argument="y",
            expected="a torch.Tensor of targets",
            found=type(y).__name__,
            fix="convert it first, e.g. torch.as_tensor(y)",
        )
    if y.shape != expected:
        raise InputShapeError(
            argument="y",
            expected=f"shape {tuple(expected)} for these raw outputs of {name}",
            found=f"{tuple(y.shape)}",
            fix="targets have the raw outputs' shape without the parameter dimension (dim 1); "
            "check num_outputs and that y is not (N, 1) where (N,) is meant",
        )


def check_no_nan(y: Tensor) -> None:
    """Raise if the target holds NaN or ±inf (reads values: first call only)."""
    if y.is_floating_point():
        count = int((~torch.isfinite(y)).sum())
        if count:
            raise InputValueError(
                argument="y",
                expected="finite targets (no NaN or Inf)",
                found=f"{count} such value(s) out of {y.numel()}",
                fix="drop or impute missing targets before computing the loss",
            )


class CheckedLikelihood(Likelihood):
    """A likelihood that validates its targets' values on its first call (``check="first"``).

    Value checks read tensor values (a host sync on a GPU), so by default they run on the
    instance's first ``log_prob``/``nll`` call only; ``check="always"`` runs them on every call and
    ``check="never"`` skips them. Shape checks are free and always run. Checks are skipped while
    ``torch.compile`` traces.
    """

    def __init__(self, *, check: str = "first") -> None:
        needs_check("", check)  # validates the value of `check` now
        self.check = check
        self._checked = False

    def _maybe_validate(self, y: Tensor) -> None:
        if self.check == "never" or torch.compiler.is_compiling():
            return
        if self.check == "first" and self._checked:
            return
        check_no_nan(y)
        self._validate_target(y)
        self._checked = True

    def _validate_target(self, y: Tensor) -> None:
        """Subclasses raise an InputValueError for targets outside the domain."""


def validated_floor(floor: float) -> float:
    """The ``floor`` option of a likelihood with a positive parameter, checked and as a float."""
    check_positive_float(floor, "floor", "pass a small positive floor such as 1e-6")
    return float(floor)


def check_positive_float(value: float | None, argument: str, fix: str) -> None:
    """Raise a ConfigurationError unless ``value`` is a positive finite number (or None)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(
            argument=argument,
            expected="a positive number",
            found=repr(value),
            fix=fix,
        )
    if not math.isfinite(float(value)):
        raise ConfigurationError(
            argument=argument, expected="a finite positive number", found=repr(value), fix=fix
        )


def check_int(value: object, argument: str, minimum: int, fix: str) -> int:
    """Raise a ConfigurationError unless ``value`` is an int ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(
            argument=argument, expected=f"an int >= {minimum}", found=repr(value), fix=fix
        )
    return value


def check_in_domain(bad: Tensor, y: Tensor, expected: str, fix: str) -> None:
    """Raise an InputValueError when the mask ``bad`` has any True (reads values: first call)."""
    count = int(bad.sum())
    if count:
        example = y[bad].flatten()[0].item()
        raise InputValueError(
            argument="y",
            expected=expected,
            found=f"{count} value(s) outside out of {y.numel()}, e.g. {example!r}",
            fix=fix,
        )
