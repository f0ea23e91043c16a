"""Cross-entropy over a huge number of classes without holding the logits.

``linear_cross_entropy(hidden, weight, target)`` is ``cross_entropy(hidden @ weight.T, target)``
(the NLL of a Categorical over ``V`` classes whose logits are a linear projection of ``hidden``)
computed one chunk of rows at a time, so that only a ``(chunk, V)`` block of logits ever exists. The
gradients for ``hidden``, ``weight`` and ``bias`` are computed in the same pass (three matrix
products per chunk, the least possible), kept until the backward, and scaled there by the incoming
gradient.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch._subclasses.fake_tensor import is_fake
from torch.autograd.function import once_differentiable

from .._math import resolve_reduction
from ..errors import ConfigurationError, InputShapeError, InputTypeError
from ..guards import (
    check_class_targets,
    check_finite,
    check_floating,
    check_label_smoothing,
    check_same_device,
    check_tensor,
    mark_checked,
    needs_check,
)

__all__ = ["default_chunk_size", "linear_cross_entropy"]

_REDUCTION_CODE = {"mean": 0, "sum": 1, "none": 2}
_MiB = 1 << 20
# Bytes of the float32 buffer in which a bfloat16/float16 chunk's softmax is computed a few rows
# at a time (small enough to stay in a core's L2 cache).
_SUB_BYTES = 1 * _MiB


def default_chunk_size(
    num_rows: int,
    in_features: int,
    num_classes: int,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    *,
    softcap: bool = False,
) -> int:
    """The number of rows of logits :func:`linear_cross_entropy` holds at once, by default.

    The chunk's working set is sized from the bytes of ``weight`` (whose gradient has to be held
    anyway, so the loss never needs much more than the parameters it trains): for float32/float64
    inputs, the chunk's logits (plus the ``tanh`` values when soft-capping) take half of them; for
    bfloat16/float16 inputs, whose logits are held in the input dtype (the float32 softmax runs a
    few rows at a time in a small buffer), a quarter. Two machine floors keep the matrix products
    efficient: every chunk re-reads ``weight`` twice and re-writes the weight gradient once,
    which costs time when chunks are small (at least 256 rows on a CPU, 512 on an accelerator;
    measured on a CPU with bfloat16 N=4096, D=1024, V=32768: 128 rows 1.26 s, 192 rows 1.1 s,
    256 rows 0.95 s, 512 rows 0.90 s, at 88, 93, 96, 113 MiB). The result is a multiple of 64
    and never more than ``num_rows``.

    Args:
        num_rows: ``N``, rows of ``hidden`` (after dropping ignored targets).
        in_features: ``D``.
        num_classes: ``V``.
        dtype: dtype of ``hidden``/``weight``.
        device: where they live.
        softcap: whether logit soft-capping is on (one more ``(chunk, V)`` buffer).

    Returns:
        The chunk size in rows (at least 1).

    Example:
        >>> default_chunk_size(8192, 1024, 65536, torch.float32)
        512
        >>> default_chunk_size(100, 1024, 65536, torch.float32)
        100
    """
    device = torch.device(device)
    compute_bytes = 8 if dtype == torch.float64 else 4
    in_bytes = torch.empty((), dtype=dtype).element_size()
    low = in_bytes < compute_bytes
    # half precision: the chunk holds its logits in the input dtype (the softmax's float32 and
    # tanh buffers are a few rows only); full precision: in the compute dtype, plus tanh values
    row_bytes = num_classes * (in_bytes + (4 if softcap and not low else 0))
    weight_bytes = num_classes * in_features * in_bytes
    budget = max(weight_bytes // 2, 32 * _MiB) // (2 if low else 1)
    floor = 256 if device.type == "cpu" else 512
    rows = max(floor, (budget // max(row_bytes, 1)) // 64 * 64)
    return max(1, min(rows, num_rows))


# --------------------------------------------------------------------------------------------
# The chunked kernel (plain torch, eager): loss and, optionally, gradients
# --------------------------------------------------------------------------------------------
def _chunked(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    target: Tensor,
    *,
    row_scale: Tensor | float,
    per_row_loss: bool,
    label_smoothing: float,
    softcap: float,
    z_loss: float,
    chunk_size: int,
    need_grad_hidden: bool,
    need_grad_weight: bool,
    need_grad_bias: bool,
) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
    """Loss (summed, or per row) and gradients of ``Σᵢ scaleᵢ·lossᵢ`` over rows with valid targets.

    ``hidden``/``target`` hold only rows whose target is not ignored. The gradients of hidden and
    weight come back in the input dtype: each is made by matrix products that accumulate in
    float32 inside (the weight's adds every chunk's product into itself, ``addmm`` with
    ``beta=1``). The loss, the lse and the bias gradient are computed and summed in the compute
    dtype (float32, float64 for float64 inputs).

    For bfloat16/float16 inputs the chunk's logits are held in the input dtype (the product's own
    rounding) and the softmax is computed ``_SUB_BYTES`` at a time in a small float32 buffer,
    which stays in cache; the gradient overwrites the logits in place.
    """
    n, d = hidden.shape
    v = weight.shape[0]
    dtype = hidden.dtype
    cdt = torch.promote_types(dtype, torch.float32)
    low = dtype != cdt
    dev = hidden.device
    need_any = need_grad_hidden or need_grad_weight or need_grad_bias
    c = max(1, min(chunk_size, n))

    losses = torch.empty(n, dtype=cdt, device=dev) if per_row_loss else None
    total = torch.zeros((), dtype=cdt, device=dev)
    grad_hidden = torch.empty(n, d, dtype=dtype, device=dev) if need_grad_hidden else None
    grad_weight = torch.empty(v, d, dtype=dtype, device=dev) if need_grad_weight else None
    grad_bias = torch.zeros(v, dtype=cdt, device=dev) if need_grad_bias else None
    if n == 0:
        if grad_weight is not None:
            grad_weight.zero_()
        return (losses if losses is not None else total), grad_hidden, grad_weight, grad_bias

    # the chunk's logits, then its gradient (input dtype: the products read and write it)
    buf = torch.empty(c, v, dtype=dtype, device=dev)
    sub = max(1, min(c, _SUB_BYTES // (v * 4))) if low else c
    tmp = torch.empty(sub, v, dtype=cdt, device=dev) if low else None
    tanh_buf = torch.empty(sub, v, dtype=cdt, device=dev) if softcap > 0 else None
    w_t = weight.t()
    first = True
    for start in range(0, n, c):
        stop = min(start + c, n)
        rows = stop - start
        h = hidden[start:stop]
        zc = buf[:rows]
        # logits z = h Wᵀ + b
        if bias is None:
            torch.mm(h, w_t, out=zc)
        else:
            torch.addmm(bias, h, w_t, out=zc)
        for r0 in range(0, rows, sub):
            r1 = min(r0 + sub, rows)
            z = zc[r0:r1]
            if tmp is not None:
                z = tmp[: r1 - r0].copy_(z)  # float32 from here on
            sc = row_scale[start + r0 : start + r1] if isinstance(row_scale, Tensor) else row_scale
            loss = _rows(
                z,
                target[start + r0 : start + r1].unsqueeze(1),
                sc,
                label_smoothing,
                softcap,
                z_loss,
                tanh_buf[: r1 - r0] if tanh_buf is not None else None,
                need_any,
                grad_bias,
            )
            if losses is not None:
                losses[start + r0 : start + r1] = loss
            else:
                total += loss.sum()
            if tmp is not None and need_any:
                zc[r0:r1].copy_(z)
        if not need_any:
            continue
        if grad_hidden is not None:
            torch.mm(zc, weight, out=grad_hidden[start:stop])
        if grad_weight is not None:
            if first:
                torch.mm(zc.t(), h, out=grad_weight)
            else:
                grad_weight.addmm_(zc.t(), h)
        first = False
    return (losses if losses is not None else total), grad_hidden, grad_weight, grad_bias


def _rows(
    z: Tensor,
    t: Tensor,
    sc: Tensor | float,
    eps: float,
    softcap: float,
    z_loss: float,
    tanh_z: Tensor | None,
    need_grad: bool,
    grad_bias: Tensor | None,
) -> Tensor:
    """The loss of each row of the logits ``z`` (compute dtype); ``z`` becomes its gradient.

    When ``need_grad``, ``z`` is overwritten with ``sc·d loss / d z`` and its column sums are
    added to ``grad_bias``; otherwise ``z`` is left holding scratch values.
    """
    v = z.shape[1]
    if tanh_z is not None:
        # soft-capping z ← cap·tanh(z/cap); its derivative 1 − tanh² is applied below
        torch.div(z, softcap, out=tanh_z).tanh_()
        torch.mul(tanh_z, softcap, out=z)
    z_target = z.gather(1, t).squeeze(1)
    z_sum = z.sum(1) if eps > 0 else None
    # log-sum-exp with the row max taken out: lse = m + log Σ exp(z − m), done in place
    m = z.amax(1, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    z.sub_(m).exp_()
    s = z.sum(1, keepdim=True)
    lse = (m + s.log()).squeeze(1)
    # NLL of the smoothed target q = (1 − ε)·onehot + ε/V:  Σ q·(lse − z)
    loss = lse - (1.0 - eps) * z_target
    if z_sum is not None:
        loss = loss - (eps / v) * z_sum
    if z_loss > 0:
        loss = loss + z_loss * lse.square()
    if not need_grad:
        return loss
    # d loss / d z = softmax(z)·(1 + 2λ·lse) − q, times the row's scale
    factor = (1.0 + 2.0 * z_loss * lse) * sc if z_loss > 0 else sc
    z.mul_(s.reciprocal_().mul_(_col(factor)))
    if eps > 0:
        z.sub_(_col(sc) * (eps / v) if isinstance(sc, Tensor) else sc * eps / v)
    hot = -(1.0 - eps) * (sc if isinstance(sc, Tensor) else torch.full_like(lse, sc))
    z.scatter_add_(1, t, hot.to(z.dtype).unsqueeze(1))
    if tanh_z is not None:
        z.mul_(tanh_z.square_().neg_().add_(1.0))
    if grad_bias is not None:
        grad_bias += z.sum(0)
    return loss


def _col(x: Tensor | float) -> Tensor | float:
    return x.unsqueeze(1) if isinstance(x, Tensor) else x


def _empty(ref: Tensor) -> Tensor:
    return ref.new_empty(0)


# --------------------------------------------------------------------------------------------
# One custom op around the kernel: opaque to torch.compile (its chunk loop and the data-dependent
# number of kept rows stay eager), with a shape-only fake implementation for tracing.
# --------------------------------------------------------------------------------------------
@torch.library.custom_op("nllkit::linear_cross_entropy", mutates_args=())
def _lce_op(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    target: Tensor,
    row_scale: Tensor | None,
    ignore_index: int,
    reduction: int,
    label_smoothing: float,
    softcap: float,
    z_loss: float,
    chunk_size: int,
    need_grad_hidden: bool,
    need_grad_weight: bool,
    need_grad_bias: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    n, d = hidden.shape
    v = weight.shape[0]
    dtype = hidden.dtype
    cdt = torch.promote_types(dtype, torch.float32)
    with torch.autocast(hidden.device.type, enabled=False):
        # drop ignored targets before the projection (one host sync: the number kept)
        keep = target != ignore_index
        idx = keep.nonzero().squeeze(1)
        n_kept = idx.numel()
        compact = n_kept < n
        h = hidden.index_select(0, idx) if compact else hidden
        t = target.index_select(0, idx) if compact else target
        if row_scale is not None:
            scale: Tensor | float = row_scale.to(cdt)
            if compact:
                scale = row_scale.to(cdt).index_select(0, idx)
        elif reduction == 0:
            scale = 1.0 / max(n_kept, 1)
        else:
            scale = 1.0
        chunk = (
            chunk_size
            if chunk_size > 0
            else default_chunk_size(n_kept, d, v, dtype, hidden.device, softcap=softcap > 0)
        )
        loss, gh, gw, gb = _chunked(
            h.contiguous(),
            weight,
            bias,
            t,
            row_scale=scale,
            per_row_loss=reduction == 2,
            label_smoothing=label_smoothing,
            softcap=softcap,
            z_loss=z_loss,
            chunk_size=chunk,
            need_grad_hidden=need_grad_hidden,
            need_grad_weight=need_grad_weight,
            need_grad_bias=need_grad_bias,
        )
        if reduction == 2 and compact:
            loss = torch.zeros(n, dtype=cdt, device=hidden.device).index_copy_(0, idx, loss)
        elif reduction == 0:
            loss = loss / max(n_kept, 1)
        if gh is not None and compact:
            gh = torch.zeros_like(hidden).index_copy_(0, idx, gh)
    return (
        loss,
        gh if gh is not None else _empty(hidden),
        gw if gw is not None else _empty(weight),
        gb if gb is not None else _empty(weight).to(cdt),
    )


@_lce_op.register_fake
def _lce_op_fake(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    target: Tensor,
    row_scale: Tensor | None,
    ignore_index: int,
    reduction: int,
    label_smoothing: float,
    softcap: float,
    z_loss: float,
    chunk_size: int,
    need_grad_hidden: bool,
    need_grad_weight: bool,
    need_grad_bias: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    n, d = hidden.shape
    v = weight.shape[0]
    cdt = torch.promote_types(hidden.dtype, torch.float32)
    loss = hidden.new_empty((n,) if reduction == 2 else (), dtype=cdt)
    gh = hidden.new_empty((n, d) if need_grad_hidden else (0,))
    gw = hidden.new_empty((v, d) if need_grad_weight else (0,))
    gb = hidden.new_empty((v,) if need_grad_bias else (0,), dtype=cdt)
    return loss, gh, gw, gb


class _LinearCrossEntropy(torch.autograd.Function):
    """Chunked ``cross_entropy(hidden @ weight.T + bias, target)`` with fused gradients.

    ``"mean"``/``"sum"``: the forward computes the loss and the gradients together (three matrix
    products per chunk); the backward multiplies them by the incoming scalar gradient.
    ``"none"``: the forward computes the per-row losses only; the backward recomputes each chunk's
    logits with the per-row incoming gradients (four products in all, no extra memory).
    """

    @staticmethod
    def forward(
        ctx: Any,
        hidden: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        target: Tensor,
        opts: tuple[int, int, float, float, float, int],
    ) -> Tensor:
        ignore_index, reduction, eps, softcap, z_loss, chunk = opts
        need = ctx.needs_input_grad
        fused = reduction != 2
        loss, gh, gw, gb = torch.ops.nllkit.linear_cross_entropy(
            hidden, weight, bias, target, None, ignore_index, reduction, eps, softcap, z_loss,
            chunk, fused and need[0], fused and need[1], fused and bias is not None and need[2],
        )  # fmt: skip
        ctx.opts = opts
        ctx.has_bias = bias is not None
        ctx.dtypes = (hidden.dtype, weight.dtype, bias.dtype if bias is not None else None)
        if fused:
            ctx.save_for_backward(gh, gw, gb)
        else:
            ctx.save_for_backward(hidden, weight, bias, target)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        need = ctx.needs_input_grad
        ignore_index, reduction, eps, softcap, z_loss, chunk = ctx.opts
        h_dt, w_dt, b_dt = ctx.dtypes
        if reduction != 2:
            gh, gw, gb = ctx.saved_tensors
            # the saved buffers stay unchanged (a retained graph can run backward again)
            grad_hidden = _scaled(gh, grad_out, h_dt) if need[0] else None
            grad_weight = _scaled(gw, grad_out, w_dt) if need[1] else None
            grad_bias = _scaled(gb, grad_out, b_dt) if ctx.has_bias and need[2] else None
        else:
            hidden, weight, bias, target = ctx.saved_tensors
            _, gh, gw, gb = torch.ops.nllkit.linear_cross_entropy(
                hidden, weight, bias, target, grad_out, ignore_index, 1, eps, softcap, z_loss,
                chunk, need[0], need[1], bias is not None and need[2],
            )  # fmt: skip
            grad_hidden = gh if need[0] else None
            grad_weight = gw.to(w_dt) if need[1] else None
            grad_bias = gb.to(b_dt) if bias is not None and need[2] else None
        return grad_hidden, grad_weight, grad_bias, None, None


def _scaled(grad: Tensor, grad_out: Tensor, dtype: torch.dtype) -> Tensor:
    """``grad_out · grad`` in ``dtype``, without a temporary; ``grad`` itself when that is exact.

    A loss is almost always the root of the backward (``grad_out`` is 1): on a CPU, where reading
    the value costs no device sync, that case hands back the saved buffer instead of a copy.
    """
    if (
        grad_out.device.type == "cpu"
        and not torch.compiler.is_compiling()
        and not is_fake(grad_out)
        and grad_out.item() == 1.0
    ):
        return grad if grad.dtype == dtype else grad.to(dtype)
    return torch.mul(grad, grad_out.to(grad.dtype), out=torch.empty_like(grad, dtype=dtype))


def _check_shapes(hidden: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor) -> None:
    """Shape and dtype checks: they read no values, so they always run."""
    for x, name in ((hidden, "hidden"), (weight, "weight"), (target, "target")):
        check_tensor(x, name)
    if bias is not None:
        check_tensor(bias, "bias")
    check_floating(hidden, "hidden")
    check_floating(weight, "weight")
    if weight.dim() != 2:
        raise InputShapeError(
            argument="weight",
            expected="a 2-D projection weight of shape (V, D), like nn.Linear(D, V).weight",
            found=f"shape {tuple(weight.shape)}",
            fix="pass the output layer's weight, e.g. model.lm_head.weight",
        )
    if hidden.dim() < 1 or hidden.shape[-1] != weight.shape[1]:
        fix = "pass hidden states of shape (..., D) with D = weight.shape[1]"
        if hidden.dim() >= 1 and hidden.shape[-1] == weight.shape[0] != weight.shape[1]:
            fix = "weight looks transposed: pass it as (V, D) (nn.Linear's layout), not (D, V)"
        raise InputShapeError(
            argument="hidden",
            expected=f"a last dimension of {weight.shape[1]} (weight is {tuple(weight.shape)})",
            found=f"shape {tuple(hidden.shape)}",
            fix=fix,
        )
    if target.shape != hidden.shape[:-1]:
        raise InputShapeError(
            argument="target",
            expected=f"class indices of shape {tuple(hidden.shape[:-1])} (hidden without its D)",
            found=f"shape {tuple(target.shape)}",
            fix="give one class index per row of hidden",
        )
    if target.dtype != torch.long:
        raise InputTypeError(
            argument="target",
            expected="class indices of dtype torch.int64",
            found=f"dtype {target.dtype}",
            fix="call target.long()",
        )
    if hidden.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        raise InputTypeError(
            argument="weight",
            expected=f"the dtype of `hidden` ({hidden.dtype}) for weight and bias",
            found=f"weight {weight.dtype}" + (f", bias {bias.dtype}" if bias is not None else ""),
            fix="cast them to one dtype, or run under torch.autocast",
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise InputShapeError(
            argument="bias",
            expected=f"shape ({weight.shape[0]},)",
            found=f"shape {tuple(bias.shape)}",
            fix="pass the output layer's bias (one value per class), or None",
        )


def linear_cross_entropy(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor,
    bias: Tensor | None = None,
    *,
    reduction: str = "mean",
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    softcap: float | None = None,
    z_loss: float = 0.0,
    chunk_size: int | None = None,
    check: str = "first",
) -> Tensor:
    r"""Cross-entropy of the logits ``hidden @ weight.T + bias``, without ever holding them all.

    The loss of an output layer with a huge number of classes (a language model's vocabulary):
    the same value and gradients as ``F.cross_entropy(F.linear(hidden, weight, bias), target)``,
    computed ``chunk_size`` rows at a time so that at most a ``(chunk_size, V)`` block of logits
    exists (the naive way holds ``N × V`` logits, their softmax and their gradient).

    Math: with logits :math:`z_i = W h_i + b`, optionally soft-capped
    :math:`z \leftarrow c\,\tanh(z/c)`, and the smoothed target
    :math:`q_i = (1-\varepsilon)\,e_{y_i} + \varepsilon/V`,

    .. math::
        \ell_i = \operatorname{lse}(z_i) - \sum_k q_{ik} z_{ik}
                 + \lambda\,\operatorname{lse}(z_i)^2,
        \qquad \frac{\partial \ell_i}{\partial z_i}
        = \operatorname{softmax}(z_i)\,(1 + 2\lambda\,\operatorname{lse}(z_i)) - q_i .

    Derivation: the Categorical's log-probability of class :math:`k` is
    :math:`z_k - \operatorname{lse}(z)`; its NLL averaged under :math:`q` is the first two terms.
    The last is the z-loss (PaLM), which keeps the normaliser near 1.

    Numerical identity: :math:`\operatorname{lse}(z) = m + \log \sum_k e^{z_k - m}` with the row
    maximum :math:`m`, computed in float32 (float64 for float64 inputs) whatever the input dtype.
    The matrix products run in the input dtype (accumulating in float32 inside); the loss and the
    bias gradient are summed across chunks in float32. The weight gradient is held in the input
    dtype and each chunk's product adds into it (one rounding per chunk for bfloat16/float16).

    Rows whose target is ``ignore_index`` are dropped before the projection (costs nothing, counts
    nowhere; this takes one host sync per call to learn how many rows remain). ``"mean"`` divides
    by the number of kept rows; a batch with every target ignored gives 0 with zero gradients.

    Args:
        hidden: the last hidden states, ``(N, D)`` or ``(..., D)``.
        weight: the output projection, ``(V, D)`` (``nn.Linear(D, V).weight``).
        target: class indices in ``[0, V)`` or ``ignore_index``, ``(N,)`` or ``(...)``.
        bias: optional ``(V,)``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``. ``"none"`` computes the gradients in the
            backward, recomputing the logits (one more matrix product) to stay as small.
        ignore_index: target value to skip (torch's default, -100).
        label_smoothing: :math:`\varepsilon \in [0, 1]`, torch's meaning.
        softcap: :math:`c > 0` for logit soft-capping :math:`c\,\tanh(z/c)` (Gemma 2); ``None``
            turns it off.
        z_loss: :math:`\lambda \ge 0`, weight of the :math:`\operatorname{lse}^2` term (included in
            the returned loss).
        chunk_size: rows per chunk; ``None`` picks one from the shapes and the device
            (:func:`default_chunk_size`).
        check: ``"first"`` | ``"always"`` | ``"never"``: when to check target values and NaN.

    Returns:
        The loss: a scalar, or ``target``'s shape for ``"none"``. Its dtype is float32 for
        bfloat16/float16 inputs (a bfloat16 loss near 10 is off by up to 3e-3 from rounding
        alone), else the input dtype.

    Shapes:
        hidden ``(N, D)``, weight ``(V, D)``, bias ``(V,)``, target ``(N,)``; leading dimensions
        of ``hidden``/``target`` beyond one are flattened.

    Not supported: class weights, probability targets, double backward (it raises). Gradients of
    ``"mean"``/``"sum"`` are computed in the forward and kept until the backward (which can run
    again on a retained graph); under ``torch.no_grad()`` no gradient work is done at all.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> g = torch.Generator().manual_seed(0)
        >>> hidden = torch.randn(5, 4, generator=g)
        >>> weight = torch.randn(10, 4, generator=g, requires_grad=True)
        >>> target = torch.tensor([1, 0, 9, -100, 3])
        >>> loss = linear_cross_entropy(hidden, weight, target, chunk_size=2)
        >>> round(loss.item(), 4)
        3.3029
        >>> round(F.cross_entropy(hidden @ weight.T, target).item(), 4)
        3.3029
        >>> loss.backward()
        >>> weight.grad.shape
        torch.Size([10, 4])

    References:
        Wijmans et al., "Cut Your Losses in Large-Vocabulary Language Models" (2024);
        Hsu et al., "Liger Kernel" (2024); Chowdhery et al., "PaLM" (2022) for the z-loss;
        Gemma Team, "Gemma 2" (2024) for soft-capping.
    """
    reduction = resolve_reduction(reduction)
    check_label_smoothing(label_smoothing)
    if softcap is not None and not (isinstance(softcap, (int, float)) and softcap > 0):
        raise ConfigurationError(
            argument="softcap",
            expected="None or a positive float",
            found=repr(softcap),
            fix="pass softcap=None to turn soft-capping off, or e.g. softcap=30.0",
        )
    if not (isinstance(z_loss, (int, float)) and z_loss >= 0 and math.isfinite(z_loss)):
        raise ConfigurationError(
            argument="z_loss",
            expected="a finite float >= 0",
            found=repr(z_loss),
            fix="pass e.g. z_loss=1e-4, or 0.0 to turn it off",
        )
    if chunk_size is not None and not (isinstance(chunk_size, int) and chunk_size > 0):
        raise ConfigurationError(
            argument="chunk_size",
            expected="None or a positive int",
            found=repr(chunk_size),
            fix="pass chunk_size=None to choose it from the shapes",
        )
    _check_shapes(hidden, weight, bias, target)
    if needs_check("linear_cross_entropy", check):
        check_same_device([hidden, weight, bias, target], ["hidden", "weight", "bias", "target"])
        check_class_targets(target, weight.shape[0], ignore_index)
        check_finite(hidden, "hidden")
        check_finite(weight, "weight")
        if bias is not None:
            check_finite(bias, "bias")
        mark_checked("linear_cross_entropy")

    out_shape = target.shape
    hidden = hidden.reshape(-1, hidden.shape[-1])
    target = target.reshape(-1)
    dev = hidden.device.type
    if torch.is_autocast_enabled(dev):
        # what F.linear does under autocast: the product in the autocast dtype
        dt = torch.get_autocast_dtype(dev)
        hidden, weight = hidden.to(dt), weight.to(dt)
        bias = bias.to(dt) if bias is not None else None
    opts = (
        int(ignore_index),
        _REDUCTION_CODE[reduction],
        float(label_smoothing),
        float(softcap or 0.0),
        float(z_loss),
        int(chunk_size or 0),
    )
    wants_grad = torch.is_grad_enabled() and (
        hidden.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
    )
    if wants_grad:
        loss = _LinearCrossEntropy.apply(hidden, weight, bias, target, opts)
    else:
        # no gradient wanted: the loss only, one matrix product per chunk
        loss = torch.ops.nllkit.linear_cross_entropy(
            hidden, weight, bias, target, None, *opts, False, False, False
        )[0]
    return loss.reshape(out_shape) if reduction == "none" else loss
