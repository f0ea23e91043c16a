"""Errors and warnings raised by nllkit.

Every error derives from :class:`NLLKitError` and is also a ``ValueError`` or a ``TypeError``, so
code that already catches torch's own exceptions keeps working. Each message names the argument,
what was expected, what was found, and the fix::

    `target`: expected class indices in [0, 3) or ignore_index=-100, but found 7. Fix: ...

The structured parts are kept as attributes (``argument``, ``expected``, ``found``, ``fix``) for
programs that want them.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "InputShapeError",
    "InputTypeError",
    "InputValueError",
    "LooksLikeProbabilitiesWarning",
    "NLLKitError",
    "NLLKitWarning",
    "NotFittedError",
    "format_message",
]


def format_message(argument: str, expected: str, found: str, fix: str) -> str:
    """The one message format of nllkit: argument, expected, found, fix."""
    return f"`{argument}`: expected {expected}, but found {found}. Fix: {fix}"


class NLLKitError(Exception):
    """Base class of every nllkit error.

    Build it either from a plain message or from the four parts of :func:`format_message`.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        argument: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        fix: str | None = None,
    ) -> None:
        if message is None:
            message = format_message(
                argument or "input", expected or "?", found or "?", fix or "see the docs"
            )
        super().__init__(message)
        self.argument = argument
        self.expected = expected
        self.found = found
        self.fix = fix


class InputShapeError(NLLKitError, ValueError):
    """A tensor has the wrong shape, or two tensors do not match."""


class InputValueError(NLLKitError, ValueError):
    """A tensor holds values outside its domain (NaN, a label out of range, logits given as probs)."""


class InputTypeError(NLLKitError, TypeError):
    """A tensor has the wrong dtype or device, or an argument has the wrong Python type."""


class ConfigurationError(NLLKitError, ValueError):
    """A hyperparameter or option is invalid (unknown reduction, negative gamma, ...)."""


class NotFittedError(NLLKitError, ValueError):
    """A calibrator or thresholder was used before ``fit``."""


class NLLKitWarning(UserWarning):
    """Base class of every nllkit warning."""


class LooksLikeProbabilitiesWarning(NLLKitWarning):
    """A loss that takes logits received values that look like probabilities.

    Usually a sigmoid or softmax was applied twice: once in the model and once in the loss.
    """
