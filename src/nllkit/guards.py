"""Guards against the classic loss-function mistakes, run on a loss's first call only.

The mistakes this module catches:

* probabilities given to a loss that takes logits (a sigmoid or softmax applied twice): a
  :class:`~nllkit.errors.LooksLikeProbabilitiesWarning` that names the fix;
* values outside [0, 1] given to a loss that takes probabilities (``BCELoss``): an error that says
  they look like logits and to use ``BCEWithLogitsLoss``;
* a model whose last layer is ``Sigmoid``/``Softmax``/``LogSoftmax`` paired with a loss that applies
  its own (:func:`inspect_model`);
* shapes, dtypes, devices, label ranges and NaN that torch reports late or not at all.

When checks run
---------------
Every loss takes ``check="first" | "always" | "never"``. With ``"first"`` (the default) a loss
checks its inputs on its first successful call and never again, so a training step pays nothing:
the checks read tensor values (``.any()``, ``.min()``), which forces a host sync on a GPU, and they
are skipped afterwards. Modules remember this per instance; the stateless functions remember it per
function for the whole process (:func:`reset_checks` re-arms them). Checks are skipped while
``torch.compile`` traces, so compiled code never breaks its graph for them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from .errors import (
    ConfigurationError,
    InputShapeError,
    InputTypeError,
    InputValueError,
    LooksLikeProbabilitiesWarning,
)

__all__ = [
    "CheckMode",
    "check_broadcastable",
    "check_class_targets",
    "check_finite",
    "check_floating",
    "check_label_smoothing",
    "check_same_device",
    "check_same_shape",
    "check_tensor",
    "check_unit_interval",
    "inspect_model",
    "mark_checked",
    "needs_check",
    "reset_checks",
    "warn_if_probabilities",
]

CheckMode = Literal["first", "always", "never"]
_CHECK_MODES = ("first", "always", "never")
_CHECKED: set[str] = set()


# --------------------------------------------------------------------------------------------
# When to check
# --------------------------------------------------------------------------------------------
def needs_check(key: str, check: str) -> bool:
    """Whether the guarded function ``key`` must check its inputs on this call.

    Args:
        key: a name for the guarded function (its ``__name__``).
        check: ``"first"``, ``"always"`` or ``"never"``.
    """
    if check == "never":
        return False
    if check not in _CHECK_MODES:
        raise ConfigurationError(
            argument="check",
            expected="one of 'first', 'always', 'never'",
            found=repr(check),
            fix="pass check='first' (the default: check the first call only)",
        )
    if torch.compiler.is_compiling():
        return False
    return check == "always" or key not in _CHECKED


def mark_checked(key: str) -> None:
    """Record that ``key`` passed its checks once (``check="first"`` then skips them)."""
    _CHECKED.add(key)


def reset_checks() -> None:
    """Forget which functions were checked, so ``check="first"`` checks their next call again."""
    _CHECKED.clear()


# --------------------------------------------------------------------------------------------
# Validators: each raises an NLLKitError naming the argument, expected, found and fix
# --------------------------------------------------------------------------------------------
def check_label_smoothing(label_smoothing: float) -> None:
    """Raise unless ``label_smoothing`` is a float in [0, 1] (a configuration check: always runs)."""
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ConfigurationError(
            argument="label_smoothing",
            expected="a float in [0, 1]",
            found=repr(label_smoothing),
            fix="use a small value such as 0.1, or 0.0 to turn smoothing off",
        )


def check_tensor(x: object, argument: str) -> Tensor:
    """Raise unless ``x`` is a ``torch.Tensor``."""
    if not isinstance(x, Tensor):
        raise InputTypeError(
            argument=argument,
            expected="a torch.Tensor",
            found=type(x).__name__,
            fix=f"convert it first, e.g. torch.as_tensor({argument})",
        )
    return x


def check_floating(x: Tensor, argument: str) -> None:
    """Raise unless ``x`` has a floating dtype."""
    if not x.is_floating_point():
        raise InputTypeError(
            argument=argument,
            expected="a floating-point tensor",
            found=f"dtype {x.dtype}",
            fix=f"call {argument}.float()",
        )


def check_same_shape(a: Tensor, b: Tensor, names: tuple[str, str], fix: str = "") -> None:
    """Raise unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise InputShapeError(
            argument=names[1],
            expected=f"the shape of `{names[0]}` {tuple(a.shape)}",
            found=f"{tuple(b.shape)}",
            fix=fix or f"reshape `{names[1]}` to {tuple(a.shape)} (e.g. .view_as({names[0]}))",
        )


def check_same_device(tensors: Sequence[Tensor | None], names: Sequence[str]) -> None:
    """Raise unless every given tensor lives on the device of the first."""
    first = tensors[0]
    assert first is not None  # internal: the first tensor is always the input
    for t, name in zip(tensors[1:], names[1:]):
        if t is not None and t.device != first.device:
            raise InputTypeError(
                argument=name,
                expected=f"a tensor on {first.device} like `{names[0]}`",
                found=f"a tensor on {t.device}",
                fix=f"move it with {name}.to({names[0]}.device)",
            )


def check_finite(
    x: Tensor, argument: str, *, allow_inf: bool = False, allow_neg_inf: bool = False
) -> None:
    """Raise if ``x`` holds NaN, or ±inf unless ``allow_inf`` (``−inf`` alone: ``allow_neg_inf``)."""
    if not x.is_floating_point():
        return
    if allow_inf:
        bad, what = torch.isnan(x), "NaN"
    elif allow_neg_inf:
        bad, what = torch.isnan(x) | torch.isposinf(x), "NaN or +inf (−inf masks a class)"
    else:
        bad, what = ~torch.isfinite(x), "NaN or Inf"
    count = int(bad.sum())
    if count:
        raise InputValueError(
            argument=argument,
            expected=f"values without {what}",
            found=f"{count} such value(s) out of {x.numel()}",
            fix="find where they come from (torch.autograd.set_detect_anomaly(True) helps), or "
            "lower the learning rate; nllkit never silently replaces them",
        )


def check_unit_interval(x: Tensor, argument: str, *, fix: str) -> None:
    """Raise unless every value of ``x`` lies in [0, 1]."""
    if x.numel() == 0:
        return
    lo, hi = float(x.detach().min()), float(x.detach().max())
    if lo < 0.0 or hi > 1.0:
        raise InputValueError(
            argument=argument,
            expected="values in [0, 1]",
            found=f"values in [{lo:.4g}, {hi:.4g}]",
            fix=fix,
        )


def check_class_targets(
    target: Tensor, num_classes: int, ignore_index: int | None, argument: str = "target"
) -> None:
    """Raise unless ``target`` holds int64 class indices in ``[0, num_classes)`` or ``ignore_index``."""
    if target.dtype != torch.long:
        fix = f"call {argument}.long()"
        if target.is_floating_point():
            fix += (
                " if these are class indices; for class probabilities give them the shape of "
                "the input, (N, C, d1, ...)"
            )
        raise InputTypeError(
            argument=argument,
            expected="class indices of dtype torch.int64",
            found=f"dtype {target.dtype}",
            fix=fix,
        )
    valid = (target >= 0) & (target < num_classes)
    if ignore_index is not None:
        valid |= target == ignore_index
    if not bool(valid.all()):
        bad = target[~valid]
        ign = f" or ignore_index={ignore_index}" if ignore_index is not None else ""
        raise InputValueError(
            argument=argument,
            expected=f"class indices in [0, {num_classes}){ign}",
            found=f"{bad.numel()} value(s) outside, e.g. {int(bad[0])}",
            fix="check the label encoding (labels start at 0), the number of model outputs, "
            "and ignore_index",
        )


def check_broadcastable(w: Tensor, shape: torch.Size, argument: str, fix: str) -> None:
    """Raise unless ``w`` broadcasts to ``shape`` without growing it."""
    try:
        out = torch.broadcast_shapes(w.shape, shape)
    except RuntimeError:
        out = None
    if out != shape:
        raise InputShapeError(
            argument=argument,
            expected=f"a shape that broadcasts to {tuple(shape)}",
            found=f"{tuple(w.shape)}",
            fix=fix,
        )


def warn_if_probabilities(
    logits: Tensor, argument: str, *, class_dim: int | None, fix: str, min_numel: int = 8
) -> bool:
    """Warn when a tensor given as logits looks like probabilities; return whether it warned.

    With ``class_dim=None`` (sigmoid losses) the signal is: every value in [0, 1] and at least
    ``min_numel`` values (a handful of logits can lie in [0, 1] by chance). With a class dimension
    (softmax losses) it is: every value in [0, 1] and every row summing to 1 along ``class_dim``.
    """
    if logits.numel() == 0 or not logits.is_floating_point():
        return False
    x = logits.detach()
    in_unit = bool(((x >= 0) & (x <= 1)).all())
    if not in_unit:
        return False
    if class_dim is None:
        looks = x.numel() >= min_numel
        found = "every value in [0, 1]"
    else:
        if x.shape[class_dim] < 2:
            return False
        sums = x.float().sum(dim=class_dim)
        looks = bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-3))
        found = "every value in [0, 1] and every row summing to 1"
    if looks:
        warnings.warn(
            f"`{argument}`: expected logits (any real numbers), but found {found}: these look "
            f"like probabilities, as if a sigmoid/softmax was applied twice. Fix: {fix}. "
            "(Pass check='never' to silence this if they really are logits.)",
            LooksLikeProbabilitiesWarning,
            stacklevel=3,
        )
    return looks


# --------------------------------------------------------------------------------------------
# inspect_model
# --------------------------------------------------------------------------------------------
# What a loss expects from the model, by class name, for torch's losses and nllkit's own
# (nllkit losses also declare it with an ``expects`` attribute, which wins).
_EXPECTS = {
    "BCEWithLogitsLoss": "logits",
    "CrossEntropyLoss": "logits",
    "MultiLabelSoftMarginLoss": "logits",
    "BCELoss": "probabilities",
    "NLLLoss": "log_probabilities",
    "KLDivLoss": "log_probabilities",
}
_LINK_LAYERS = {"Sigmoid": "probabilities", "Softmax": "probabilities", "LogSoftmax": "log"}


def _leaf_losses(loss: nn.Module) -> Iterable[nn.Module]:
    for m in loss.modules():
        if _expects(m) is not None:
            yield m


def _expects(loss: nn.Module) -> str | None:
    declared = getattr(loss, "expects", None)
    if isinstance(declared, str):
        return declared
    return _EXPECTS.get(type(loss).__name__)


def _softmax_link(loss: nn.Module) -> bool:
    """Whether ``loss`` applies a softmax over classes (not a sigmoid) to its logits."""
    return type(loss).__name__ == "CrossEntropyLoss" or getattr(loss, "mode", None) == "multiclass"


def _normalised_log(out: Tensor) -> bool:
    """Log-probabilities over dim 1: every value ≤ 0 and each row's log-sum-exp 0 (≈ 1e-3).

    All-negative logits alone are no sign (a rare class's logits mostly are).
    """
    if out.ndim < 2 or not bool((out <= 0).all()):
        return False
    return bool((torch.logsumexp(out.double(), 1).abs() < 1e-3).all())


def _last_layer(model: nn.Module) -> nn.Module | None:
    leaves = [m for m in model.modules() if not list(m.children())]
    leaves = [m for m in leaves if not isinstance(m, (nn.Dropout, nn.Identity))]
    return leaves[-1] if leaves else None


def inspect_model(
    model: nn.Module,
    loss: nn.Module,
    example_input: Tensor | None = None,
    *,
    strict: bool = False,
) -> list[str]:
    """Find a model/loss pairing that applies a sigmoid or softmax twice, or not at all.

    Looks at the model's last registered leaf module (the last layer of an ``nn.Sequential``) and,
    when ``example_input`` is given, at the range of the model's output on it (which also catches a
    ``torch.sigmoid`` called inside ``forward``). Losses inside a ``CombinedLoss`` are inspected too.

    Args:
        model: the network.
        loss: the loss module it is trained with (torch's or nllkit's).
        example_input: optional batch to run through the model (under ``torch.no_grad``).
        strict: raise :class:`~nllkit.errors.InputValueError` on the first finding instead of
            returning the list.

    Returns:
        One sentence per problem found (empty when the pairing is right), each naming the fix.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())
        >>> inspect_model(model, nn.BCEWithLogitsLoss())[0][:60]
        'the model ends in Sigmoid but BCEWithLogitsLoss expects logi'
    """
    findings: list[str] = []
    last = _last_layer(model)
    last_name = type(last).__name__ if last is not None else None
    out_range: str | None = None
    if example_input is not None:
        with torch.no_grad():
            out = model(example_input)
        if isinstance(out, Tensor) and out.is_floating_point() and out.numel() >= 8:
            if bool(((out >= 0) & (out <= 1)).all()):
                out_range = "probabilities"
            elif _normalised_log(out):
                out_range = "log"
            else:
                out_range = "logits"
    produced = _LINK_LAYERS.get(last_name or "", out_range or "logits")
    where = f"ends in {last_name}" if last_name in _LINK_LAYERS else "outputs"
    for leaf in _leaf_losses(loss):
        lname = type(leaf).__name__
        expects = _expects(leaf)
        if expects == "logits" and produced == "log" and _softmax_link(leaf):
            continue  # log-probabilities are logits too: softmax(log_softmax(z)) = softmax(z)
        if expects == "logits" and produced != "logits":
            findings.append(
                f"the model {where} {'' if last_name in _LINK_LAYERS else produced + ' '}but "
                f"{lname} expects logits and applies its own sigmoid/softmax: remove the final "
                f"{last_name if last_name in _LINK_LAYERS else 'sigmoid/softmax'} from the model "
                "(apply torch.sigmoid/softmax yourself at inference)".replace("  ", " ")
            )
        elif expects == "probabilities" and produced != "probabilities":
            findings.append(
                f"{lname} expects probabilities but the model {where} {produced}: use "
                "BCEWithLogitsLoss on the raw logits (stabler), or add a final nn.Sigmoid"
            )
        elif expects == "log_probabilities" and produced != "log":
            findings.append(
                f"{lname} expects log-probabilities but the model {where} {produced}: use "
                "CrossEntropyLoss on the raw logits, or end the model in nn.LogSoftmax(dim=1)"
            )
    if strict and findings:
        raise InputValueError(findings[0])
    return findings
