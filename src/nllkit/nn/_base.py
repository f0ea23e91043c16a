"""The base class of nllkit's loss modules: reduction, check-once state, and delegation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from torch import Tensor, nn

from .._math import resolve_reduction
from ..guards import needs_check

__all__ = ["Loss"]


class Loss(nn.Module):
    """Base of every nllkit loss module.

    A module is a thin wrapper over its functional (the source of truth): it stores the
    hyperparameters, registers tensors (class weights, ...) as buffers so ``.to(device)`` moves
    them, and remembers whether its inputs were checked (``check="first"``: the first call
    checks, later calls pass ``check="never"`` and pay nothing).

    Subclasses declare ``expects`` ("logits", "probabilities" or "log_probabilities"), which
    :func:`nllkit.guards.inspect_model` reads, and call :meth:`_call` from ``forward``.
    """

    #: what the loss takes as input: "logits", "probabilities" or "log_probabilities"
    expects: ClassVar[str | None] = None

    def __init__(
        self,
        reduction: str = "mean",
        *,
        check: str = "first",
        size_average: bool | None = None,
        reduce: bool | None = None,
    ) -> None:
        super().__init__()
        self.reduction = resolve_reduction(reduction, size_average, reduce)
        needs_check("", check)  # validates the value of `check` now, not on the first call
        self.check = check
        self._checked = False

    def _check_mode(self) -> str:
        if self.check == "first":
            return "never" if self._checked else "always"
        return self.check

    def _call(self, fn: Callable[..., Tensor], *args: Any, **kwargs: Any) -> Tensor:
        """Call the functional ``fn`` with this module's check mode; remember a passed check."""
        out = fn(*args, check=self._check_mode(), **kwargs)
        self._checked = True
        return out

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
