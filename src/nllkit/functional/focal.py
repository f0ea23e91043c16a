r"""Focal loss: cross-entropy with the easy examples down-weighted, computed in log space.

The focal loss of Lin et al. (2017) multiplies the negative log-likelihood of the true class by a
modulating factor ``(1 − p_t)^γ`` that vanishes for confident, correct predictions::

    FL = −α_t · (1 − p_t)^γ · log p_t

With ``γ = 0`` and ``α = None`` it *is* the cross-entropy (the Bernoulli or Categorical NLL),
bit for bit. Never ``(1 − p_t) ** γ`` on a rounded probability under autograd: at a logit of
``±100`` the probability ``1 − p_t`` rounds to 0, where the derivative of ``u ** γ`` is infinite
for ``γ < 1`` and the backward pass returns NaN (the bug several peer libraries shipped). The
composite formula takes ``exp(γ · log(1 − p_t))`` with ``log(1 − p_t)`` from log-sigmoids /
log-sum-exps of the logits; the fused kernels (``_focal_kernels``) write the derivative with the
ratio ``p(1 − p)/(1 − p_t)``, which stays bounded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .._math import ignore_mask, masked_mean, resolve_reduction
from ..errors import ConfigurationError, InputShapeError, InputTypeError, InputValueError
from ..guards import (
    check_broadcastable,
    check_class_targets,
    check_finite,
    check_floating,
    check_same_device,
    check_same_shape,
    check_tensor,
    check_unit_interval,
    mark_checked,
    needs_check,
    warn_if_probabilities,
)
from ._focal_kernels import (
    SigmoidFocal,
    SoftmaxFocal,
    log1m_softmax,
    saturate,
    sigmoid_focal_reference,
)

__all__ = ["focal_loss"]

_MODES = ("binary", "multiclass", "multilabel")


# --------------------------------------------------------------------------------------------
# Helpers shared with nllkit.functional.overlap
# --------------------------------------------------------------------------------------------
def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ConfigurationError(
            argument="mode",
            expected="one of 'binary', 'multiclass', 'multilabel'",
            found=repr(mode),
            fix="'binary' for one sigmoid output, 'multilabel' for a sigmoid per channel, "
            "'multiclass' for a softmax over channels (dim 1)",
        )


def _check_nonnegative(value: float, argument: str, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(
            argument=argument,
            expected="a float",
            found=type(value).__name__,
            fix=fix,
        )
    if not (math.isfinite(value) and value >= 0):
        raise ConfigurationError(
            argument=argument, expected="a finite float >= 0", found=repr(value), fix=fix
        )


def _binary_target(x: Tensor, target: Tensor, mode: str) -> Tensor:
    """In binary mode accept a target without the channel dimension of an ``(N, 1, ...)`` input."""
    if (
        mode == "binary"
        and target.ndim == x.ndim - 1
        and x.ndim >= 2
        and x.shape[1] == 1
        and target.shape == x.shape[:1] + x.shape[2:]
    ):
        return target.unsqueeze(1)
    return target


def _is_index_target(x: Tensor, target: Tensor) -> bool:
    """Multiclass targets: class indices ``(N, d1, ...)`` or probabilities ``(N, C, d1, ...)``."""
    return not target.is_floating_point() and target.ndim == x.ndim - 1


def _check_multiclass_shape(x: Tensor, argument: str) -> None:
    if x.ndim < 2 or x.shape[1] < 2:
        raise InputShapeError(
            argument=argument,
            expected="shape (N, C, d1, ...) with C >= 2 classes on dim 1 in mode='multiclass'",
            found=f"{tuple(x.shape)}",
            fix="use mode='binary' for a single output channel",
        )


def _check_sigmoid_target(
    x: Tensor, target: Tensor, ignore_index: int | None, argument: str
) -> None:
    """First-call checks of a binary / multilabel target: same shape, float, values in [0, 1]."""
    check_same_shape(x, target, (argument, "target"))
    if not target.is_floating_point():
        raise InputTypeError(
            argument="target",
            expected="a floating-point tensor of 0/1 (or soft) labels",
            found=f"dtype {target.dtype}",
            fix="call target.float()",
        )
    check_finite(target, "target")
    t = target if ignore_index is None else target[target != ignore_index]
    check_unit_interval(
        t,
        "target",
        fix="binary/multilabel targets are probabilities of the positive class (0/1 or soft); "
        "mark positions to skip with ignore_index",
    )


def _check_multiclass_target(
    x: Tensor, target: Tensor, ignore_index: int | None, argument: str
) -> None:
    """First-call checks of a multiclass target: indices ``(N, d1, ...)`` or probabilities."""
    if _is_index_target(x, target):
        if target.shape != x.shape[:1] + x.shape[2:]:
            raise InputShapeError(
                argument="target",
                expected=f"class indices of shape {tuple(x.shape[:1] + x.shape[2:])}",
                found=f"{tuple(target.shape)}",
                fix="class-index targets drop the class dimension (dim 1) of the input",
            )
        check_class_targets(target, x.shape[1], ignore_index)
        return
    if target.shape != x.shape:
        raise InputShapeError(
            argument="target",
            expected=f"class indices of shape {tuple(x.shape[:1] + x.shape[2:])} (int64) or "
            f"class probabilities of shape {tuple(x.shape)}",
            found=f"{tuple(target.shape)} with dtype {target.dtype}",
            fix="give class indices as target.long() without the class dimension",
        )
    check_floating(target, "target")
    check_finite(target, "target")
    check_unit_interval(target, "target", fix="class probabilities lie in [0, 1]")


def _flatten_from(t: Tensor, dim: int) -> Tensor:
    """``t`` with its dimensions from ``dim`` on merged into one (well defined for empty ``t``,
    where ``reshape(..., -1)`` is not)."""
    return t.reshape(*t.shape[:dim], math.prod(t.shape[dim:]))


def _class_view(v: Tensor, ndim: int) -> Tensor:
    """A per-class vector ``(C,)`` viewed to broadcast over dim 1 of an ``ndim`` tensor."""
    return v.view((1, -1) + (1,) * (ndim - 2)) if ndim >= 2 else v


def _as_alpha(alpha: float | Sequence[float] | Tensor | None, mode: str) -> float | Tensor | None:
    if alpha is None:
        return None
    if isinstance(alpha, Tensor):
        return alpha
    if isinstance(alpha, (int, float)) and not isinstance(alpha, bool):
        if mode == "multiclass":
            raise ConfigurationError(
                argument="alpha",
                expected="one weight per class (a sequence or tensor of length C) in "
                "mode='multiclass'",
                found=f"the scalar {alpha!r}",
                fix="pass e.g. alpha=[1 - a, a, a] (MONAI's convention: 1 - a for class 0) or "
                "use weight= for class weights",
            )
        if not 0.0 <= float(alpha) <= 1.0:
            raise ConfigurationError(
                argument="alpha",
                expected="a float in [0, 1] (the weight of positives; negatives get 1 - alpha)",
                found=repr(alpha),
                fix="use alpha=0.25 (the paper's value) or alpha=None for no balancing",
            )
        return float(alpha)
    return torch.as_tensor(alpha, dtype=torch.float64)  # cast to the input dtype on use


# --------------------------------------------------------------------------------------------
# The kernels
# --------------------------------------------------------------------------------------------
def _sigmoid_focal(x: Tensor, t: Tensor, gamma: float, alpha: float | Tensor | None) -> Tensor:
    """Elementwise sigmoid focal loss of raw logits (torchvision's convention for soft targets)."""
    if gamma == 0.0:
        # −[t log σ(x) + (1 − t) log σ(−x)]: torch's fused kernel, so γ = 0 is BCE bit for bit
        loss = F.binary_cross_entropy_with_logits(saturate(x, gamma), t, reduction="none")
    elif t.requires_grad or t.shape != x.shape:  # the composite formula, under autograd
        loss = sigmoid_focal_reference(saturate(x, gamma), t, gamma)
    else:  # the fused kernel (loss and gradient in one pass); α_t fused when α is a float
        loss = SigmoidFocal.apply(x, t, gamma, alpha if isinstance(alpha, float) else None)
        if not isinstance(alpha, Tensor):
            return loss
    if alpha is not None:
        at = _class_view(alpha.to(x), x.ndim) if isinstance(alpha, Tensor) else alpha
        loss = loss * (at * t + (1 - at) * (1 - t))
    return loss


def focal_loss(
    logits: Tensor,
    target: Tensor,
    mode: str = "binary",
    alpha: float | Sequence[float] | Tensor | None = None,
    gamma: float = 2.0,
    *,
    weight: Tensor | None = None,
    ignore_index: int | None = None,
    reduction: str = "mean",
    check: str = "first",
) -> Tensor:
    r"""Focal loss from logits: ``−α_t (1 − p_t)^γ log p_t``, stable for every ``γ ≥ 0``.

    Derivation: the cross-entropy ``−log p_t`` is the NLL of the true class under a Bernoulli
    (sigmoid link) or a Categorical (softmax link). Focal loss multiplies it by ``(1 − p_t)^γ``,
    which is ≈ 1 for a misclassified example and → 0 as ``p_t → 1``, so the many easy examples of
    an imbalanced set stop dominating the gradient; ``α_t`` re-weights the classes.

    Numerical identity: ``(1 − p_t)^γ = exp(γ · log(1 − p_t))`` with

    * sigmoid modes: ``1 − p_t = t·σ(−x) + (1 − t)·σ(x)``, so ``log(1 − p_t) =
      logaddexp(log t + log σ(−x), log(1 − t) + log σ(x))`` (written as
      ``max + log1p(exp(−|a − b|))``, which keeps second derivatives finite);
    * multiclass: ``log(1 − p_c) = logsumexp_{j≠c} x_j − logsumexp_j x_j`` for the top class and
      ``log1p(−p_c)`` (with ``p_c ≤ ½``) for the others.

    So values and gradients are finite for every ``γ ≥ 0`` (including ``γ < 1``) at logits of
    ``±100`` or ``±1e4``, and ``±inf`` logits give the limit.

    Computation: for ``γ > 0`` (every mode and target kind) the loss and its gradient come out
    of one fused, slice-by-slice pass (``_focal_kernels``), with the
    derivative written to stay exact where the textbook form cancels (``1 − p_t`` and ``p − t``
    from ``σ(x)`` and ``σ(−x)`` separately, ``1 − p_y = Σ_{c≠y} p_c``); the composite formula
    above serves double backward and targets that need a gradient. Half-precision logits are
    computed in float32, and the loss is float32.

    Modes:

    * ``"binary"`` / ``"multilabel"``: a sigmoid per element. ``target`` has the shape of
      ``logits`` (in binary mode an ``(N, 1, ...)`` input also takes an ``(N, ...)`` target) with
      0/1 or soft labels; ``p_t = p·t + (1 − p)(1 − t)``. ``alpha`` follows torchvision: ``α`` for
      positives and ``1 − α`` for negatives (``α_t = α·t + (1 − α)(1 − t)``); a tensor gives one
      ``α`` per channel (dim 1). ``weight`` rescales each element (broadcast, like
      ``BCEWithLogitsLoss``) and ``"mean"`` is the plain mean.
    * ``"multiclass"``: a softmax over dim 1 of ``(N, C, d1, ...)``. ``target`` is class indices
      ``(N, d1, ...)`` (int64) or class probabilities ``(N, C, d1, ...)`` (then the loss is
      ``Σ_c t_c · FL_c``). ``alpha`` must be one value per class. ``weight`` is a class weight
      ``(C,)`` with ``cross_entropy``'s meaning: with index targets ``"mean"`` is the weighted mean
      ``Σ w_t ℓ / Σ w_t``.

    ``ignore_index`` drops targets equal to it (class indices, or label values in the sigmoid
    modes) from the loss and from the mean's denominator; a batch with every target ignored
    gives 0. It does not apply to multiclass probability targets.

    Peers (pinned by tests/functional/test_focal.py):

    * ``torchvision.ops.sigmoid_focal_loss(x, t, alpha, gamma, reduction)`` equals
      ``focal_loss(x, t, "binary", alpha, gamma, reduction=...)`` for hard and soft targets
      (torchvision's default ``alpha=0.25``; nllkit's default is ``None``).
    * MONAI ``FocalLoss(gamma=g, alpha=a)`` (sigmoid) equals the binary/multilabel mode on hard
      targets; on soft targets MONAI uses ``exp(γ·log σ(−x(2t − 1)))``, which is not
      ``(1 − p_t)^γ``, and nllkit deliberately follows torchvision.
      MONAI ``FocalLoss(use_softmax=True, to_onehot_y=True)`` keeps one value per channel, so its
      ``"mean"`` is nllkit's multiclass mean divided by ``C``.
    * segmentation_models_pytorch ``FocalLoss("binary", alpha, gamma)`` equals the binary mode on
      hard targets (its ``(1 − exp(−BCE))^γ`` differs on soft targets and gives NaN gradients for
      ``γ < 1`` at confident predictions). Its ``"multiclass"`` mode is a one-vs-rest *sigmoid*
      focal loss averaged over classes, not a softmax focal loss: nllkit deliberately differs.

    Args:
        logits: raw scores; any shape ``(*)`` in the sigmoid modes, ``(N, C, d1, ...)`` in
            multiclass mode.
        target: see the modes above.
        mode: ``"binary"`` (default), ``"multilabel"`` or ``"multiclass"``.
        alpha: class balance: a float in [0, 1] (sigmoid modes) or one value per class.
        gamma: focusing parameter ``γ ≥ 0`` (2.0, the paper's value, by default).
        weight: see the modes above.
        ignore_index: a target value to skip, or ``None`` (default).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (the shape of ``logits``, or of
            ``target`` without the class dimension in multiclass mode).
        check: ``"first"`` (default), ``"always"`` or ``"never"``: when to validate inputs.

    Returns:
        The loss: a scalar, or the per-element losses with ``reduction="none"``.

    Example:
        >>> import torch
        >>> from nllkit.functional import focal_loss
        >>> x = torch.tensor([3.0, -1.0, 0.5, -4.0])
        >>> t = torch.tensor([1.0, 1.0, 0.0, 0.0])
        >>> focal_loss(x, t, gamma=2.0, reduction="none")
        tensor([1.0928e-04, 7.0187e-01, 3.7741e-01, 5.8716e-06])
        >>> focal_loss(x, t, gamma=0.0)  # γ = 0: binary cross-entropy
        tensor(0.5885)
        >>> z = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 3.0]])
        >>> focal_loss(z, torch.tensor([0, 1]), "multiclass", alpha=[0.5, 1.0, 1.0])
        tensor(1.4115)

    References:
        Lin, Goyal, Girshick, He, Dollár, "Focal Loss for Dense Object Detection", ICCV 2017;
        ``torchvision.ops.sigmoid_focal_loss``.
    """
    reduction = resolve_reduction(reduction)
    _check_mode(mode)
    _check_nonnegative(gamma, "gamma", fix="use gamma=2.0 (the paper's value) or 0 for plain CE")
    gamma = float(gamma)
    a = _as_alpha(alpha, mode)
    if mode == "binary":
        target = _binary_target(logits, target, mode)
    if mode == "multiclass":
        _check_multiclass_shape(logits, "logits")
        if ignore_index is not None and not _is_index_target(logits, target):
            raise ConfigurationError(
                argument="ignore_index",
                expected="None with class-probability targets",
                found=repr(ignore_index),
                fix="ignore_index applies to class-index targets; give ignored positions a "
                "zero probability row or a zero weight instead",
            )
    if needs_check("focal_loss", check):
        check_tensor(logits, "logits")
        check_tensor(target, "target")
        check_floating(logits, "logits")
        check_same_device([logits, target, weight], ["logits", "target", "weight"])
        check_finite(logits, "logits", allow_inf=True)
        if mode == "multiclass":
            _check_multiclass_target(logits, target, ignore_index, "logits")
            _check_class_vector(weight, logits.shape[1], "weight")
            if isinstance(a, Tensor):
                _check_class_vector(a, logits.shape[1], "alpha")
        else:
            _check_sigmoid_target(logits, target, ignore_index, "logits")
            if weight is not None:
                check_broadcastable(
                    weight,
                    logits.shape,
                    "weight",
                    fix=f"give weight a shape that broadcasts to {tuple(logits.shape)}",
                )
            if isinstance(a, Tensor):
                c = logits.shape[1] if logits.ndim >= 2 else 1
                _check_class_vector(a, c, "alpha")
        if isinstance(a, Tensor):
            check_unit_interval(a, "alpha", fix="each alpha is a weight in [0, 1]")
        warn_if_probabilities(
            logits,
            "logits",
            class_dim=1 if mode == "multiclass" else None,
            fix="remove the final Sigmoid/Softmax from the model (focal_loss applies its own)",
        )
        mark_checked("focal_loss")

    x = logits
    if gamma != 0.0 and x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()  # the modulating factor and its gradient need float32's range
    if mode != "multiclass":
        return _reduce_sigmoid(x, target, gamma, a, weight, ignore_index, reduction)
    return _reduce_softmax(x, target, gamma, a, weight, ignore_index, reduction)


def _check_class_vector(v: Tensor | None, num_classes: int, argument: str) -> None:
    if v is None:
        return
    if v.ndim != 1 or v.numel() != num_classes:
        raise InputShapeError(
            argument=argument,
            expected=f"one value per class, shape ({num_classes},)",
            found=f"{tuple(v.shape)}",
            fix=f"give a 1-D tensor of length {num_classes} (the size of dim 1 of the input)",
        )
    check_finite(v, argument)
    if bool((v < 0).any()):
        raise InputValueError(
            argument=argument,
            expected="non-negative values",
            found=f"minimum {float(v.min()):.4g}",
            fix="class weights are >= 0",
        )


def _reduce_sigmoid(
    x: Tensor,
    t: Tensor,
    gamma: float,
    alpha: float | Tensor | None,
    weight: Tensor | None,
    ignore_index: int | None,
    reduction: str,
) -> Tensor:
    keep = None
    if ignore_index is not None:
        t, keep = ignore_mask(t, ignore_index, x.dtype)
    t = t.to(x.dtype)
    loss = _sigmoid_focal(x, t, gamma, alpha)
    if weight is not None:
        loss = loss * weight
    if keep is not None:
        loss = loss * keep  # finite everywhere: the logits are saturated
        if reduction == "mean":
            return masked_mean(loss.sum(), keep.sum())
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _reduce_softmax(
    x: Tensor,
    target: Tensor,
    gamma: float,
    alpha: float | Tensor | None,
    weight: Tensor | None,
    ignore_index: int | None,
    reduction: str,
) -> Tensor:
    assert not isinstance(alpha, float)  # rejected by _as_alpha in multiclass mode
    if not _is_index_target(x, target):
        t = target.to(x.dtype)
        # α_c and w_c weigh class c's term: fold them into its target weight t_c
        for v in (alpha, weight):
            if v is not None:
                t = t * _class_view(v.to(x), x.ndim)
        if gamma == 0.0 or t.requires_grad:  # the composite formula, under autograd
            x = saturate(x, gamma)
            # log p = x − logsumexp(x): torch's log-softmax kernel
            logp = F.log_softmax(x, 1)
            loss = -logp * t
            if gamma != 0.0:
                loss = loss * torch.exp(gamma * log1m_softmax(x, logp))
            loss = loss.sum(1)
        else:  # the fused kernel: loss and gradient in one pass
            shape = (x.shape[0], *x.shape[2:])
            loss = SoftmaxFocal.apply(_flatten_from(x, 2), _flatten_from(t, 2), gamma)
            loss = loss.view(shape)
        if reduction == "mean":
            return loss.mean()
        return loss.sum() if reduction == "sum" else loss
    keep = None
    y = target
    if ignore_index is not None:
        y, keep = ignore_mask(target, ignore_index, x.dtype)
    if gamma == 0.0:
        # −log p_y, with log p = x − logsumexp(x): torch's log-softmax kernel
        loss = -F.log_softmax(saturate(x, gamma), 1).gather(1, y.unsqueeze(1)).squeeze(1)
    else:  # the fused kernel: loss and gradient in one pass
        loss = SoftmaxFocal.apply(_flatten_from(x, 2), _flatten_from(y, 1), gamma).view(y.shape)
    if alpha is not None:
        loss = loss * alpha.to(x)[y]
    w = None
    if weight is not None:
        w = weight.to(x)[y]
        loss = loss * w
    if keep is not None:
        loss = loss * keep  # finite everywhere: the logits are saturated
        if w is not None:
            w = w * keep
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if w is not None:
        return masked_mean(loss.sum(), w.sum())
    if keep is not None:
        return masked_mean(loss.sum(), keep.sum())
    return loss.mean()
