r"""Overlap losses: soft Dice, Jaccard (IoU) and Tversky, from one core.

Every loss here is one minus a soft Tversky index of the predicted probabilities ``p`` against the
targets ``t``, per class (and per sample, or pooled over the batch)::

    loss = 1 − (TP + s) / (TP + α·FP + β·FN + s)

    TP = (Σp + Σt − Σ|p − t|) / 2,   FP = Σp − TP,   FN = Σt − TP

Dice is ``α = β = ½`` (``2TP / (2TP + FP + FN)``), Jaccard ``α = β = 1`` (``TP / (TP + FP + FN)``).
For hard targets ``TP = Σ p·t``; the ``|p − t|`` form extends it to soft targets so that a
prediction equal to its soft target has loss exactly 0 (``Σ p·t`` does not: it gives
``Σt² / Σt < 1``). These losses are not negative log-likelihoods: they score a whole mask at once,
which is why they are usually *added* to a cross-entropy (see :class:`nllkit.nn.CombinedLoss`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .._math import ignore_mask, masked_mean, resolve_reduction
from ..errors import ConfigurationError, InputShapeError
from ..guards import (
    check_finite,
    check_floating,
    check_same_device,
    check_tensor,
    check_unit_interval,
    mark_checked,
    needs_check,
    warn_if_probabilities,
)
from ._overlap_kernels import DenseSums, IndexSums
from .focal import (
    _binary_target,
    _check_class_vector,
    _check_mode,
    _check_multiclass_shape,
    _check_multiclass_target,
    _check_nonnegative,
    _check_sigmoid_target,
    _flatten_from,
    _is_index_target,
)

__all__ = ["dice_loss", "jaccard_loss", "tversky_loss"]

_ARGS_DOC = """
    Modes (the input is ``(N, C, d1, ...)``):

    * ``"binary"``: one channel and a sigmoid; the input may be ``(N, d1, ...)`` or
      ``(N, 1, d1, ...)``, the target has its shape (or drops the channel of ``(N, 1, ...)``).
    * ``"multilabel"``: a sigmoid per channel; the target has the input's shape.
    * ``"multiclass"``: a softmax over channels; the target is class indices ``(N, d1, ...)``
      (int64) or one-hot / class probabilities ``(N, C, d1, ...)``.

    Args:
        input: logits (``from_logits=True``, the default) or probabilities in [0, 1].
        target: see the modes; labels are 0/1 or soft in [0, 1].
        mode: ``"binary"`` (default), ``"multilabel"`` or ``"multiclass"``.
        from_logits: apply the sigmoid / softmax here (default). With ``False`` the input must be
            probabilities (checked to lie in [0, 1] on the first call).
        smooth: ``s ≥ 0`` added to the numerator and the denominator.
        squared: use ``Σp²`` and ``Σt²`` in the denominator (the V-Net form): then
            ``TP = Σ p·t``, ``FP = Σp² − TP``, ``FN = Σt² − TP``.
        per_sample: ``True`` (default): one score per sample and class, then the mean (MONAI's
            ``batch=False``); ``False``: sums pooled over the batch, one score per class (smp).
        classes: indices of the classes to score (after the softmax over all of them); default
            all.
        weight: class weights ``(C,)`` (one per input channel): ``"mean"`` becomes the weighted
            mean ``Σ w·ℓ / Σ w`` and ``"none"``/``"sum"`` return ``w·ℓ``.
        ignore_index: a target value whose positions count nowhere: not in TP, FP or FN nor in
            any denominator (a sample whose positions are all ignored drops out of the mean).
        log_loss: return ``−log(score)`` (score clamped at the dtype's smallest normal number)
            instead of ``1 − score``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``: a ``(N, C')`` tensor
            (``per_sample=True``) or ``(C',)`` (``False``), ``C'`` the number of scored classes.
        check: ``"first"`` (default), ``"always"`` or ``"never"``: when to validate inputs.

    Empty classes: a class with no target and no predicted mass (``TP = FP = FN = 0``) scores 1,
    loss 0, also with ``smooth=0`` (the ``0/0`` is defined as 1). Predicted mass on a class absent
    from the target is a false positive and costs up to 1 (segmentation_models_pytorch instead
    zeroes the loss of every class absent from the target).

    Inputs of half precision are accumulated in float32 and the loss is returned in float32.
"""


def _prepare(
    input: Tensor,
    target: Tensor,
    mode: str,
    from_logits: bool,
    ignore_index: int | None,
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """Probabilities ``(N, C, S)``, targets (indices ``(N, S)`` or values ``(N, C, S)``), masks."""
    if mode == "binary":
        target = _binary_target(input, target, mode)
        p = _flatten_from(input, 1).unsqueeze(1)
        t = _flatten_from(target, 1).unsqueeze(1)
    else:
        p = _flatten_from(input, 2)
        index = _is_index_target(input, target)
        t = _flatten_from(target, 1) if index else target.reshape(p.shape)
    acc = torch.promote_types(p.dtype, torch.float32)
    p = p.to(acc)
    if from_logits:
        p = torch.softmax(p, 1) if mode == "multiclass" else torch.sigmoid(p)
    valid = None
    if ignore_index is not None:
        valid = t != ignore_index
        t = torch.where(valid, t, torch.zeros_like(t))
    if t.is_floating_point():
        t = t.to(acc)
    sample_valid = None
    if valid is not None:
        sample_valid = valid.flatten(1).any(1)
    return p, t, valid, sample_valid


def _stats(
    p: Tensor, t: Tensor, valid: Tensor | None, squared: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """Per-sample, per-class ``(TP, Σp or Σp², Σt or Σt²)``, each ``(N, C)``."""
    if t.ndim == 2:  # class indices (N, S): never materialise the one-hot target
        n, c, _ = p.shape
        if valid is not None:
            p = p * valid.unsqueeze(1).to(p.dtype)
        # TP_c = Σ_{positions labelled c} p_c: gather p at the label, then sum per label
        tp = torch.zeros(n, c, dtype=p.dtype, device=p.device).scatter_add(
            1, t, p.gather(1, t.unsqueeze(1)).squeeze(1)
        )
        ones = torch.ones(t.shape, dtype=p.dtype, device=p.device)
        if valid is not None:
            ones = ones * valid
        st = torch.zeros(n, c, dtype=p.dtype, device=p.device).scatter_add(1, t, ones)
        sp = torch.einsum("ncs,ncs->nc", p, p) if squared else p.sum(2)
        return tp, sp, st
    if valid is not None:
        p = p * valid.to(p.dtype)
    if squared:
        tp = torch.einsum("ncs,ncs->nc", p, t)
        return tp, torch.einsum("ncs,ncs->nc", p, p), torch.einsum("ncs,ncs->nc", t, t)
    sp, st = p.sum(2), t.sum(2)
    # TP = (Σp + Σt − Σ|p − t|) / 2: equals Σ p·t for hard targets, and Σt when p = t
    tp = (sp + st - (p - t).abs().sum(2)) / 2
    return tp, sp, st


def _fused_stats(
    input: Tensor,
    target: Tensor,
    mode: str,
    from_logits: bool,
    ignore_index: int | None,
    squared: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor | None] | None:
    """``(TP, Σp or Σp², Σt or Σt², sample_valid)`` in one fused pass, or ``None``.

    The sigmoid / softmax (for logits) is fused with the sums (see ``_overlap_kernels``): no
    temporary of the input's size, and for logits the probabilities become the gradient's buffer.
    A target that needs a gradient, or an empty batch, takes the composite path (``_stats``).
    """
    if target.requires_grad or input.shape[0] == 0:
        return None
    activation = "identity"
    if from_logits:
        activation = "softmax" if mode == "multiclass" else "sigmoid"
    index = mode == "multiclass" and _is_index_target(input, target)
    if mode == "binary":
        target = _binary_target(input, target, mode)
        x = _flatten_from(input, 1).unsqueeze(1)
    else:
        x = _flatten_from(input, 2)
    t = _flatten_from(target, 1) if index else target.reshape(x.shape)
    x = x.to(torch.promote_types(x.dtype, torch.float32))
    sample_valid = m = None
    if ignore_index is not None:
        t, m = ignore_mask(t, ignore_index, x.dtype)
        sample_valid = m.flatten(1).sum(1) > 0
    if index:
        sp, tp, st = IndexSums.apply(x, t, m, squared, activation)
        return tp, sp, st, sample_valid
    t = t.to(x.dtype)
    if squared:
        tp, sp = DenseSums.apply(x, t, m, True, activation)
        return tp, sp, torch.linalg.vecdot(t, t), sample_valid
    sp, sabs = DenseSums.apply(x, t, m, False, activation)
    st = t.sum(2)
    # TP = (Σp + Σt − Σ|p − t|) / 2: equals Σ p·t for hard targets, and Σt when p = t
    return (sp + st - sabs) / 2, sp, st, sample_valid


def _overlap_loss(
    name: str,
    input: Tensor,
    target: Tensor,
    mode: str,
    alpha: float,
    beta: float,
    from_logits: bool,
    smooth: float,
    squared: bool,
    per_sample: bool,
    classes: Sequence[int] | None,
    weight: Tensor | None,
    ignore_index: int | None,
    log_loss: bool,
    reduction: str,
    check: str,
) -> Tensor:
    reduction = resolve_reduction(reduction)
    _check_mode(mode)
    _check_nonnegative(smooth, "smooth", fix="use a small value such as 1e-5, or 0")
    _check_nonnegative(alpha, "alpha", fix="alpha weighs false positives; use 0.5 (Dice)")
    _check_nonnegative(beta, "beta", fix="beta weighs false negatives; use 0.5 (Dice)")
    check_tensor(input, "input")
    if input.ndim < 1:
        raise InputShapeError(
            argument="input",
            expected="a batch (N, ...)",
            found="a 0-d tensor",
            fix="add a batch dimension with input.unsqueeze(0)",
        )
    if mode == "multiclass":
        _check_multiclass_shape(input, "input")
    elif mode == "multilabel" and input.ndim < 2:
        raise InputShapeError(
            argument="input",
            expected="shape (N, C, d1, ...) in mode='multilabel'",
            found=f"{tuple(input.shape)}",
            fix="use mode='binary' for a single output",
        )
    num_classes = 1 if mode == "binary" else input.shape[1]
    cls = _resolve_classes(classes, num_classes)
    if mode == "multiclass" and ignore_index is not None and target.is_floating_point():
        raise ConfigurationError(
            argument="ignore_index",
            expected="None with class-probability targets",
            found=repr(ignore_index),
            fix="ignore_index applies to class-index targets in mode='multiclass'",
        )
    if needs_check(name, check):
        check_tensor(target, "target")
        check_floating(input, "input")
        check_same_device([input, target, weight], ["input", "target", "weight"])
        if mode == "multiclass":
            _check_multiclass_target(input, target, ignore_index, "input")
        else:
            _check_sigmoid_target(input, _binary_target(input, target, mode), ignore_index, "input")
        _check_class_vector(weight, num_classes, "weight")
        if from_logits:
            check_finite(input, "input", allow_inf=True)
            warn_if_probabilities(
                input,
                "input",
                class_dim=1 if mode == "multiclass" else None,
                fix="remove the final Sigmoid/Softmax from the model, or pass "
                "from_logits=False if these are probabilities",
            )
        else:
            check_finite(input, "input")
            check_unit_interval(
                input,
                "input",
                fix="these look like logits: pass from_logits=True (the default)",
            )
        mark_checked(name)

    fused = _fused_stats(input, target, mode, from_logits, ignore_index, squared)
    if fused is not None:
        tp, sp, st, sample_valid = fused
    else:
        p, t, valid, sample_valid = _prepare(input, target, mode, from_logits, ignore_index)
        tp, sp, st = _stats(p, t, valid, squared)
    if not per_sample:
        tp, sp, st = tp.sum(0), sp.sum(0), st.sum(0)
    if cls is not None:
        tp, sp, st = tp[..., cls], sp[..., cls], st[..., cls]
    fp, fn = sp - tp, st - tp
    den = tp + alpha * fp + beta * fn + smooth
    nonempty = den > 0
    # an empty class (TP = FP = FN = 0, smooth = 0) scores 1: the 0/0 is defined as 1
    score = torch.where(nonempty, (tp + smooth) / torch.where(nonempty, den, 1.0), 1.0)
    if log_loss:
        loss = -torch.log(score.clamp_min(torch.finfo(score.dtype).tiny))
    else:
        loss = 1.0 - score
    w = None
    if weight is not None:
        w = weight.to(loss.dtype)
        if mode == "binary":
            w = w.reshape(1)
        if cls is not None:
            w = w[cls]
        loss = loss * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    count = torch.ones_like(loss) if w is None else w.expand_as(loss)
    if per_sample and sample_valid is not None:
        count = count * sample_valid.unsqueeze(1).to(count.dtype)
    if w is None and sample_valid is None:
        return loss.mean()
    return masked_mean(loss.sum(), count.sum())


def _resolve_classes(classes: Sequence[int] | None, num_classes: int) -> list[int] | None:
    if classes is None:
        return None
    cls = [int(c) for c in classes]
    if not cls or len(set(cls)) != len(cls) or any(not 0 <= c < num_classes for c in cls):
        raise ConfigurationError(
            argument="classes",
            expected=f"distinct class indices in [0, {num_classes})",
            found=repr(list(classes)),
            fix="list the channels to score, e.g. classes=[1, 2] to leave out the background",
        )
    return cls


def tversky_loss(
    input: Tensor,
    target: Tensor,
    mode: str = "binary",
    alpha: float = 0.5,
    beta: float = 0.5,
    *,
    from_logits: bool = True,
    smooth: float = 1e-5,
    squared: bool = False,
    per_sample: bool = True,
    classes: Sequence[int] | None = None,
    weight: Tensor | None = None,
    ignore_index: int | None = None,
    log_loss: bool = False,
    reduction: str = "mean",
    check: str = "first",
) -> Tensor:
    r"""Soft Tversky loss ``1 − (TP + s) / (TP + α·FP + β·FN + s)``: Dice with tunable FP/FN costs.

    ``α`` weighs false positives and ``β`` false negatives; ``β > α`` favours recall of small
    structures. ``α = β = ½`` is Dice and ``α = β = 1`` Jaccard.

    Peers (pinned by tests/functional/test_overlap.py):

    * MONAI ``TverskyLoss(alpha=α, beta=β, smooth_nr=s, smooth_dr=s, batch=not per_sample,
      sigmoid=True | softmax=True, to_onehot_y=<index targets>,
      include_background=<0 in classes>)`` gives the same number without ``weight``.
    * segmentation_models_pytorch ``TverskyLoss(mode, alpha=α, beta=β, smooth=s)`` equals
      ``per_sample=False`` when every class is present in the batch (smp zeroes the loss of
      absent classes).
    <args>
    Example:
        >>> import torch
        >>> from nllkit.functional import tversky_loss
        >>> x = torch.tensor([[[4.0, 4.0, -4.0, -4.0]]])      # (N=1, C=1, 4 pixels)
        >>> t = torch.tensor([[[1.0, 0.0, 0.0, 0.0]]])
        >>> tversky_loss(x, t, alpha=0.3, beta=0.7)           # one false positive
        tensor(0.2446)
        >>> tversky_loss(x, t, alpha=0.7, beta=0.3)           # costs more with a larger alpha
        tensor(0.4223)

    References:
        Salehi, Erdogmus, Gholipour, "Tversky loss function for image segmentation using 3D
        fully convolutional deep networks", MLMI 2017; Wang & Blaschko, "Dice semimetric losses"
        (2023) for the soft-target form of TP.
    """
    return _overlap_loss(
        "tversky_loss", input, target, mode, alpha, beta, from_logits, smooth, squared,
        per_sample, classes, weight, ignore_index, log_loss, reduction, check,
    )  # fmt: skip


def dice_loss(
    input: Tensor,
    target: Tensor,
    mode: str = "binary",
    *,
    from_logits: bool = True,
    smooth: float = 1e-5,
    squared: bool = False,
    per_sample: bool = True,
    classes: Sequence[int] | None = None,
    weight: Tensor | None = None,
    ignore_index: int | None = None,
    log_loss: bool = False,
    reduction: str = "mean",
    check: str = "first",
) -> Tensor:
    r"""Soft Dice loss ``1 − (2TP + 2s) / (2TP + FP + FN + 2s)``: the Tversky core with α = β = ½.

    On hard masks and probabilities it is ``1 − 2|P ∩ T| / (|P| + |T|)`` (with ``s = 0``).

    Peers (pinned by tests/functional/test_overlap.py):

    * MONAI ``DiceLoss(smooth_nr=2s, smooth_dr=2s, batch=not per_sample, squared_pred=squared,
      sigmoid=True | softmax=True, to_onehot_y=<index targets>,
      include_background=<0 in classes>, soft_label=True)`` gives the same number without
      ``weight`` (MONAI's ``weight`` multiplies before a plain mean; nllkit's is a weighted mean).
      MONAI's numerator and denominator are both doubled, hence ``2s``.
    * segmentation_models_pytorch ``DiceLoss(mode, smooth=s, log_loss=...)`` equals
      ``per_sample=False`` when every class is present in the batch (smp zeroes the loss of
      absent classes); with ``ignore_index`` too for smp >= 0.6 (older releases counted ignored
      positions as class 0 in multiclass mode, a known bug that nllkit does not copy).
    <args>
    Example:
        >>> import torch
        >>> from nllkit.functional import dice_loss
        >>> p = torch.tensor([[1.0, 1.0, 0.0, 0.0]])          # |P| = 2
        >>> t = torch.tensor([[1.0, 0.0, 0.0, 0.0]])          # |T| = 1, |P ∩ T| = 1
        >>> dice_loss(p, t, from_logits=False, smooth=0.0)   # 1 − 2·1 / (2 + 1)
        tensor(0.3333)
        >>> x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
        >>> y = torch.randint(0, 3, (2, 8, 8), generator=torch.Generator().manual_seed(1))
        >>> dice_loss(x, y, "multiclass", reduction="none").shape
        torch.Size([2, 3])

    References:
        Milletari, Navab, Ahmadi, "V-Net", 3DV 2016 (the squared form); Sudre et al.,
        "Generalised Dice overlap as a deep learning loss function", DLMIA 2017.
    """
    return _overlap_loss(
        "dice_loss", input, target, mode, 0.5, 0.5, from_logits, smooth, squared,
        per_sample, classes, weight, ignore_index, log_loss, reduction, check,
    )  # fmt: skip


def jaccard_loss(
    input: Tensor,
    target: Tensor,
    mode: str = "binary",
    *,
    from_logits: bool = True,
    smooth: float = 1e-5,
    squared: bool = False,
    per_sample: bool = True,
    classes: Sequence[int] | None = None,
    weight: Tensor | None = None,
    ignore_index: int | None = None,
    log_loss: bool = False,
    reduction: str = "mean",
    check: str = "first",
) -> Tensor:
    r"""Soft Jaccard (IoU) loss ``1 − (TP + s) / (TP + FP + FN + s)``: the Tversky core, α = β = 1.

    On hard masks and probabilities it is ``1 − |P ∩ T| / |P ∪ T|``.

    Peers (pinned by tests/functional/test_overlap.py):

    * MONAI ``DiceLoss(jaccard=True, smooth_nr=2s, smooth_dr=2s, soft_label=True, ...)`` (the
      other settings as for :func:`dice_loss`).
    * segmentation_models_pytorch ``JaccardLoss(mode, smooth=s)`` equals ``per_sample=False``
      under the same conditions as for :func:`dice_loss`.
    <args>
    Example:
        >>> import torch
        >>> from nllkit.functional import jaccard_loss
        >>> p = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
        >>> t = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
        >>> jaccard_loss(p, t, from_logits=False, smooth=0.0)   # 1 − |P ∩ T| / |P ∪ T| = 1 − 1/2
        tensor(0.5000)

    References:
        Rahman & Wang, "Optimizing intersection-over-union in deep neural networks for image
        segmentation", ISVC 2016; Berman et al., "The Lovász-Softmax loss", CVPR 2018.
    """
    return _overlap_loss(
        "jaccard_loss", input, target, mode, 1.0, 1.0, from_logits, smooth, squared,
        per_sample, classes, weight, ignore_index, log_loss, reduction, check,
    )  # fmt: skip


for _fn in (tversky_loss, dice_loss, jaccard_loss):
    _fn.__doc__ = (_fn.__doc__ or "").replace("    <args>\n", _ARGS_DOC.lstrip("\n") + "\n")
