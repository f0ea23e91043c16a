"""Calibration: make predicted probabilities mean what they say, and measure how far they are off.

A model trained on the negative log-likelihood is calibrated in the limit, but a large network
fitted to a finite training set is usually over-confident on new data (Guo et al. 2017). The fix
is a small post-hoc map of the logits, fitted on held-out data by minimising the same NLL:

* :class:`TemperatureScaling`: ``z / T`` (one parameter; keeps the argmax);
* :class:`VectorScaling`: ``z_k / T_k + b_k`` (a temperature and a bias per class);
* :class:`PlattScaling`: ``a·z + b`` for a binary logit (Platt 1999).

Each has ``fit(logits, targets)`` → self (L-BFGS with a strong-Wolfe line search in float64 on the
logits' device, temperatures optimised as ``log T`` so they stay positive), ``transform(logits)``
→ calibrated logits, ``predict_proba(logits)``, fitted state with a trailing underscore, and
``to_dict``/``from_dict`` for JSON. Fitting starts at the identity map and is rolled back if it
did not lower the NLL, so it never raises the NLL on the fitting data.

:func:`calibration_report` measures calibration: ECE, MCE, Brier score, NLL and the reliability bins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigurationError, InputShapeError, InputValueError, NotFittedError
from ..guards import check_class_targets, warn_if_probabilities
from ._arrays import as_tensor, binary_targets, check_probs, is_numpy, to_output

__all__ = [
    "CalibrationReport",
    "PlattScaling",
    "TemperatureScaling",
    "VectorScaling",
    "calibration_report",
]


# --------------------------------------------------------------------------------------------
# Calibrators
# --------------------------------------------------------------------------------------------
class _Calibrator:
    """Shared machinery: input checks, the L-BFGS fit, the fitted-state check, JSON state."""

    _fitted: tuple[str, ...] = ()
    _binary_only = False
    _multiclass_only = False

    def __init__(self, *, max_iter: int = 100) -> None:
        if max_iter < 1:
            raise ConfigurationError(
                argument="max_iter",
                expected="a positive number of L-BFGS iterations",
                found=repr(max_iter),
                fix="pass max_iter=100 (the default)",
            )
        self.max_iter = max_iter

    # -- inputs -------------------------------------------------------------------------------
    def _logits(self, logits: Any, *, fitting: bool) -> Tensor:
        z = as_tensor(logits, "logits")
        if not z.is_floating_point():
            raise InputValueError(
                argument="logits",
                expected="floating-point logits",
                found=f"dtype {z.dtype}",
                fix="pass the model's raw outputs (before sigmoid/softmax)",
            )
        name = type(self).__name__
        if z.dim() == 2 and z.shape[1] == 1:
            z = z[:, 0]
        if z.dim() not in (1, 2) or (self._binary_only and z.dim() != 1):
            expected = "(N,) binary logits" if self._binary_only else "(N,) or (N, C) logits"
            raise InputShapeError(
                argument="logits",
                expected=f"{expected} for {name}",
                found=f"shape {tuple(z.shape)}",
                fix="flatten extra dimensions into N (logits.movedim(1, -1).reshape(-1, C))",
            )
        if self._multiclass_only and z.dim() != 2:
            raise InputShapeError(
                argument="logits",
                expected=f"(N, C) multiclass logits for {name}",
                found=f"shape {tuple(z.shape)}",
                fix="for one binary logit use PlattScaling or TemperatureScaling",
            )
        if fitting:
            if z.numel() == 0:
                raise InputShapeError(
                    argument="logits",
                    expected="at least one sample",
                    found="an empty array",
                    fix="fit on a held-out validation set",
                )
            if not bool(torch.isfinite(z).all()):
                raise InputValueError(
                    argument="logits",
                    expected="finite logits",
                    found="NaN or Inf",
                    fix="find where they come from; nllkit never drops them silently",
                )
            warn_if_probabilities(
                z,
                "logits",
                class_dim=1 if z.dim() == 2 else None,
                fix=f"{name} takes logits: pass the model's raw outputs, before sigmoid/softmax",
            )
        return z

    def _targets(self, targets: Any, z: Tensor) -> Tensor:
        y = as_tensor(targets, "targets").to(z.device)
        if z.dim() == 1:
            return binary_targets(y, z.shape).to(torch.float64)
        if y.shape != z.shape[:1]:
            raise InputShapeError(
                argument="targets",
                expected=f"(N,) class indices for logits {tuple(z.shape)}",
                found=f"{tuple(y.shape)}",
                fix="pass class indices, not one-hot rows (targets.argmax(1))",
            )
        check_class_targets(y, z.shape[1], None, "targets")
        return y

    def _check_fitted(self) -> None:
        if any(getattr(self, a, None) is None for a in self._fitted):
            raise NotFittedError(
                argument=type(self).__name__,
                expected="a fitted calibrator",
                found="an unfitted one",
                fix="call .fit(val_logits, val_targets) first",
            )

    # -- the fit --------------------------------------------------------------------------------
    @staticmethod
    def _nll(z: Tensor, y: Tensor) -> Tensor:
        # Stable NLLs from logits: softplus(z) − y·z (binary), logsumexp(z) − z_y (multiclass).
        if z.dim() == 1:
            return F.binary_cross_entropy_with_logits(z, y)
        return F.cross_entropy(z, y)

    def _apply(self, z: Tensor, params: list[Tensor]) -> Tensor:
        raise NotImplementedError

    def _minimise(self, z: Tensor, y: Tensor, params: list[Tensor]) -> tuple[float, float]:
        """Minimise the NLL over ``params`` (identity at their initial value) with L-BFGS."""
        with torch.no_grad():
            before = float(self._nll(self._apply(z, params), y))
        initial = [p.detach().clone() for p in params]
        opt = torch.optim.LBFGS(
            params,
            lr=1.0,
            max_iter=self.max_iter,
            tolerance_grad=1e-10,
            tolerance_change=1e-12,
            line_search_fn="strong_wolfe",
        )

        def closure() -> Tensor:
            opt.zero_grad()
            loss = self._nll(self._apply(z, params), y)
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            after = float(self._nll(self._apply(z, params), y))
            if not math.isfinite(after) or after > before:
                # Never worse than the identity map on the fitting data.
                for p, p0 in zip(params, initial):
                    p.copy_(p0)
                after = before
        return before, after

    # -- API --------------------------------------------------------------------------------------
    def transform(self, logits: Any) -> Any:
        """Calibrated logits (same shape, dtype, device and array type as ``logits``)."""
        self._check_fitted()
        z = self._logits(logits, fitting=False)
        out = self._transform(z).reshape(as_tensor(logits, "logits").shape)
        return to_output(out, is_numpy(logits))

    def predict_proba(self, logits: Any) -> Any:
        """Calibrated probabilities: ``sigmoid`` of a binary logit, ``softmax`` over dim 1."""
        self._check_fitted()
        z = self._logits(logits, fitting=False)
        c = self._transform(z)
        p = torch.sigmoid(c) if c.dim() == 1 else torch.softmax(c, dim=1)
        return to_output(p.reshape(as_tensor(logits, "logits").shape), is_numpy(logits))

    def _transform(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as plain JSON-able values."""
        self._check_fitted()
        out: dict[str, Any] = {"type": type(self).__name__}
        for a in self._fitted:
            v = getattr(self, a)
            out[a] = v.tolist() if isinstance(v, Tensor) else v
        return out

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Any:
        """Rebuild a fitted calibrator from :meth:`to_dict`'s output."""
        if state.get("type") != cls.__name__:
            raise ConfigurationError(
                argument="state",
                expected=f"a {cls.__name__} state",
                found=repr(state.get("type")),
                fix="load it with the class named in its 'type' field",
            )
        obj = cls()
        for a in cls._fitted:
            v = state[a]
            setattr(obj, a, torch.tensor(v, dtype=torch.float64) if isinstance(v, list) else v)
        return obj

    def __repr__(self) -> str:
        state = ", ".join(f"{a}={getattr(self, a, None)!r}" for a in self._fitted)
        return f"{type(self).__name__}({state})"


class TemperatureScaling(_Calibrator):
    r"""Divide the logits by one temperature ``T > 0`` fitted to minimise the validation NLL.

    Math: ``p = softmax(z / T)`` (or ``σ(z / T)`` for a binary logit). The NLL of the scaled
    Categorical, ``logsumexp(z / T) − z_y / T``, is convex in ``1 / T``; it is minimised by L-BFGS
    over ``log T`` (so ``T`` stays positive), starting from ``T = 1``. ``T > 1`` softens an
    over-confident model. Dividing every logit by the same positive number keeps their order, so
    the argmax (accuracy) is unchanged: only the confidence moves.

    Shapes: ``(N,)`` binary logits with 0/1 targets, or ``(N, C)`` logits with ``(N,)`` class
    indices. Fitted state: ``temperature_`` (float), ``nll_before_`` and ``nll_after_`` (the
    fitting data's NLL at ``T = 1`` and at the fit).

    Example:
        >>> import torch
        >>> z = torch.tensor([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0], [0.0, 4.0]])
        >>> y = torch.tensor([0, 1, 1, 1])
        >>> ts = TemperatureScaling().fit(z, y)
        >>> round(ts.temperature_, 3)
        3.641
        >>> ts.transform(z)[0]
        tensor([1.0986, 0.0000])

    References:
        Guo, Pleiss, Sun, Weinberger, "On Calibration of Modern Neural Networks", ICML 2017.
    """

    _fitted = ("temperature_",)

    def __init__(self, *, max_iter: int = 100) -> None:
        super().__init__(max_iter=max_iter)
        self.temperature_: float | None = None
        self.nll_before_: float | None = None
        self.nll_after_: float | None = None

    def _apply(self, z: Tensor, params: list[Tensor]) -> Tensor:
        # z / T = z · exp(−log T)
        return z * torch.exp(-params[0])

    def fit(self, logits: Any, targets: Any) -> TemperatureScaling:
        """Fit ``temperature_`` on held-out ``logits`` and ``targets``; returns ``self``."""
        z = self._logits(logits, fitting=True)
        y = self._targets(targets, z)
        log_t = torch.zeros((), dtype=torch.float64, device=z.device, requires_grad=True)
        self.nll_before_, self.nll_after_ = self._minimise(z.detach().double(), y, [log_t])
        self.temperature_ = float(torch.exp(log_t.detach()))
        return self

    def _transform(self, z: Tensor) -> Tensor:
        assert self.temperature_ is not None  # checked by _check_fitted
        return z / self.temperature_


class VectorScaling(_Calibrator):
    r"""A temperature and a bias per class: ``z_k / T_k + b_k``, fitted on the validation NLL.

    Vector scaling (Guo et al. 2017) generalises temperature scaling with ``2C`` parameters; unlike
    it, it can change the argmax. Fitted by L-BFGS over ``(log T_k, b_k)`` from ``(0, 0)`` (the
    identity map).

    Shapes: ``(N, C)`` logits and ``(N,)`` class indices. Fitted state: ``temperature_`` and
    ``bias_`` (``(C,)`` float64 tensors), ``nll_before_``, ``nll_after_``.

    Example:
        >>> import torch
        >>> z = torch.eye(3).repeat(2, 1) * 3.0
        >>> vs = VectorScaling().fit(z, torch.tensor([0, 1, 2, 1, 2, 0]))
        >>> round(vs.nll_before_, 4), round(vs.nll_after_, 4)
        (1.5949, 1.0397)

    References:
        Guo, Pleiss, Sun, Weinberger, "On Calibration of Modern Neural Networks", ICML 2017.
    """

    _fitted = ("temperature_", "bias_")
    _multiclass_only = True

    def __init__(self, *, max_iter: int = 100) -> None:
        super().__init__(max_iter=max_iter)
        self.temperature_: Tensor | None = None
        self.bias_: Tensor | None = None
        self.nll_before_: float | None = None
        self.nll_after_: float | None = None

    def _apply(self, z: Tensor, params: list[Tensor]) -> Tensor:
        return z * torch.exp(-params[0]) + params[1]

    def fit(self, logits: Any, targets: Any) -> VectorScaling:
        """Fit ``temperature_`` and ``bias_`` on held-out data; returns ``self``."""
        z = self._logits(logits, fitting=True)
        y = self._targets(targets, z)
        c = z.shape[1]
        log_t = torch.zeros(c, dtype=torch.float64, device=z.device, requires_grad=True)
        b = torch.zeros(c, dtype=torch.float64, device=z.device, requires_grad=True)
        self.nll_before_, self.nll_after_ = self._minimise(z.detach().double(), y, [log_t, b])
        self.temperature_ = torch.exp(log_t.detach()).cpu()
        self.bias_ = b.detach().cpu()
        return self

    def _transform(self, z: Tensor) -> Tensor:
        assert self.temperature_ is not None and self.bias_ is not None
        if z.dim() != 2 or z.shape[1] != self.temperature_.numel():
            raise InputShapeError(
                argument="logits",
                expected=f"(N, {self.temperature_.numel()}) logits, as in fit",
                found=f"shape {tuple(z.shape)}",
                fix="pass logits with the number of classes the calibrator was fitted on",
            )
        t = self.temperature_.to(device=z.device, dtype=z.dtype)
        return z / t + self.bias_.to(device=z.device, dtype=z.dtype)


class PlattScaling(_Calibrator):
    r"""Platt scaling of a binary logit: ``p = σ(a·z + b)``, fitted on the validation NLL.

    Logistic regression on the logit (Platt 1999): two parameters, fitted by L-BFGS from
    ``(a, b) = (1, 0)`` (the identity). ``a < 1`` softens an over-confident model and ``b`` shifts
    for a different class balance.

    Shapes: ``(N,)`` logits and 0/1 targets. Fitted state: ``a_``, ``b_`` (floats),
    ``nll_before_``, ``nll_after_``.

    Example:
        >>> import torch
        >>> z = torch.tensor([-4.0, -3.0, -1.0, 1.0, 3.0, 4.0])
        >>> ps = PlattScaling().fit(z, torch.tensor([0, 1, 0, 1, 0, 1]))
        >>> ps.a_ < 1.0
        True

    References:
        Platt, "Probabilistic Outputs for Support Vector Machines and Comparisons to Regularized
        Likelihood Methods", 1999.
    """

    _fitted = ("a_", "b_")
    _binary_only = True

    def __init__(self, *, max_iter: int = 100) -> None:
        super().__init__(max_iter=max_iter)
        self.a_: float | None = None
        self.b_: float | None = None
        self.nll_before_: float | None = None
        self.nll_after_: float | None = None

    def _apply(self, z: Tensor, params: list[Tensor]) -> Tensor:
        return params[0] * z + params[1]

    def fit(self, logits: Any, targets: Any) -> PlattScaling:
        """Fit ``a_`` and ``b_`` on held-out binary logits and 0/1 targets; returns ``self``."""
        z = self._logits(logits, fitting=True)
        y = self._targets(targets, z)
        a = torch.ones((), dtype=torch.float64, device=z.device, requires_grad=True)
        b = torch.zeros((), dtype=torch.float64, device=z.device, requires_grad=True)
        self.nll_before_, self.nll_after_ = self._minimise(z.detach().double(), y, [a, b])
        self.a_, self.b_ = float(a.detach()), float(b.detach())
        return self

    def _transform(self, z: Tensor) -> Tensor:
        assert self.a_ is not None and self.b_ is not None
        return self.a_ * z + self.b_


# --------------------------------------------------------------------------------------------
# calibration_report
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CalibrationReport:
    """Calibration metrics and the reliability bins (all on the host, numpy arrays).

    Attributes:
        ece: expected calibration error ``Σ_b (n_b / N)·|acc_b − conf_b|``.
        mce: maximum calibration error ``max_b |acc_b − conf_b|`` over non-empty bins.
        brier: Brier score (binary: ``mean (p − y)²``; multiclass: ``mean Σ_k (p_k − 1[y=k])²``).
        nll: mean negative log-likelihood of the targets (probabilities clipped to
            ``[eps, 1 − eps]``, ``eps`` the dtype's machine epsilon, as scikit-learn's log_loss).
        kind: ``"top_label"`` or ``"positive"``.
        n_bins: the number of equal-width bins.
        bin_edges: ``(n_bins + 1,)`` edges ``0, 1/M, …, 1``.
        bin_confidence: mean confidence per bin (NaN where empty).
        bin_accuracy: accuracy per bin (``"positive"``: the fraction of positives; NaN if empty).
        bin_count: samples per bin.
    """

    ece: float
    mce: float
    brier: float
    nll: float
    kind: str
    n_bins: int
    bin_edges: np.ndarray
    bin_confidence: np.ndarray
    bin_accuracy: np.ndarray
    bin_count: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (NaN bins become ``None``)."""

        def clean(a: np.ndarray) -> list[Any]:
            return [None if isinstance(v, float) and math.isnan(v) else v for v in a.tolist()]

        return {
            "ece": self.ece,
            "mce": self.mce,
            "brier": self.brier,
            "nll": self.nll,
            "kind": self.kind,
            "n_bins": self.n_bins,
            "bin_edges": self.bin_edges.tolist(),
            "bin_confidence": clean(self.bin_confidence),
            "bin_accuracy": clean(self.bin_accuracy),
            "bin_count": self.bin_count.tolist(),
        }


def calibration_report(
    probs: Any, targets: Any, n_bins: int = 15, *, kind: str = "top_label"
) -> CalibrationReport:
    r"""ECE, MCE, Brier score, NLL and the reliability bins of predicted probabilities.

    Binning (Guo et al. 2017): ``M = n_bins`` equal-width bins closed on the right,
    ``B_m = ((m − 1)/M, m/M]`` (the first also holds 0), so a confidence of exactly 1.0 falls in
    the last bin; the same rule as ``sklearn.calibration.calibration_curve(strategy="uniform")``.
    Per bin: ``conf_b`` the mean confidence, ``acc_b`` the accuracy; then
    ``ECE = Σ_b (n_b / N)·|acc_b − conf_b|`` and ``MCE = max_b |acc_b − conf_b|``.

    What is binned (``kind``):

    * ``"top_label"`` (default): the confidence of the predicted class, ``max_k p_k``, against
      whether the prediction is right. For ``(N, C)`` multiclass probabilities that is the argmax;
      for ``(N,)`` binary probabilities the prediction is ``p >= 0.5`` and its confidence
      ``max(p, 1 − p)`` (in [0.5, 1]).
    * ``"positive"`` (binary only): the positive-class probability ``p`` against the fraction of
      positives in the bin: the classic reliability curve of ``calibration_curve``.

    The Brier score and the NLL do not depend on ``kind``.

    Args:
        probs: ``(N,)`` positive-class probabilities, or ``(N, C)`` class probabilities (rows sum
            to 1).
        targets: ``(N,)`` 0/1 labels (binary) or class indices (multiclass).
        n_bins: the number of bins (15, as in Guo et al.).
        kind: ``"top_label"`` or ``"positive"``.

    Returns:
        A :class:`CalibrationReport`.

    Example:
        >>> import torch
        >>> p = torch.tensor([0.9, 0.8, 0.3, 0.95, 0.2, 0.6])
        >>> y = torch.tensor([1, 0, 0, 1, 1, 1])
        >>> r = calibration_report(p, y, n_bins=5)
        >>> round(r.ece, 4), round(r.brier, 4), round(r.nll, 4)
        (0.125, 0.2571, 0.7072)
        >>> r.bin_count.tolist()
        [0, 0, 0, 3, 3]

    References:
        Guo, Pleiss, Sun, Weinberger, "On Calibration of Modern Neural Networks", ICML 2017.
        Naeini, Cooper, Hauskrecht, "Obtaining Well Calibrated Probabilities Using Bayesian
        Binning", AAAI 2015.
    """
    if not isinstance(n_bins, int) or n_bins < 1:
        raise ConfigurationError(
            argument="n_bins",
            expected="a positive integer",
            found=repr(n_bins),
            fix="pass n_bins=15 (Guo et al.) or 10",
        )
    if kind not in ("top_label", "positive"):
        raise ConfigurationError(
            argument="kind",
            expected="'top_label' or 'positive'",
            found=repr(kind),
            fix="pass kind='top_label' (any problem) or kind='positive' (binary)",
        )
    p = as_tensor(probs, "probs")
    check_probs(p)
    acc_dtype = torch.float64 if p.device.type != "mps" else torch.float32
    eps = float(torch.finfo(p.dtype).eps)
    if p.dim() == 1:
        y = binary_targets(as_tensor(targets, "targets").to(p.device), p.shape)
        pd, yd = p.to(acc_dtype), y.to(acc_dtype)
        brier = ((pd - yd) ** 2).mean()
        pc = pd.clamp(eps, 1 - eps)
        nll = -(yd * torch.log(pc) + (1 - yd) * torch.log1p(-pc)).mean()
        if kind == "positive":
            conf, hit = pd, yd
        else:
            pred = pd >= 0.5
            conf = torch.where(pred, pd, 1 - pd)
            hit = (pred == y).to(acc_dtype)
    elif p.dim() == 2:
        if kind == "positive":
            raise ConfigurationError(
                argument="kind",
                expected="kind='top_label' for (N, C) multiclass probabilities",
                found="kind='positive'",
                fix="use kind='top_label', or pass probs[:, k] with (targets == k) for class k",
            )
        sums = p.to(acc_dtype).sum(1)
        if not bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-3)):
            raise InputValueError(
                argument="probs",
                expected="(N, C) rows that sum to 1 (softmax outputs)",
                found=f"row sums in [{float(sums.min()):.4g}, {float(sums.max()):.4g}]",
                fix="apply torch.softmax(logits, dim=1); for multi-label (independent sigmoids) "
                "report each label as a binary problem, probs[:, j]",
            )
        y = as_tensor(targets, "targets").to(p.device)
        if y.shape != p.shape[:1]:
            raise InputShapeError(
                argument="targets",
                expected=f"(N,) class indices for probs {tuple(p.shape)}",
                found=f"{tuple(y.shape)}",
                fix="pass class indices, not one-hot rows (targets.argmax(1))",
            )
        check_class_targets(y, p.shape[1], None, "targets")
        pd = p.to(acc_dtype)
        onehot = F.one_hot(y, p.shape[1]).to(acc_dtype)
        brier = ((pd - onehot) ** 2).sum(1).mean()
        nll = -torch.log(pd.gather(1, y[:, None]).squeeze(1).clamp(eps, 1 - eps)).mean()
        conf, pred = pd.max(1)
        hit = (pred == y).to(acc_dtype)
    else:
        raise InputShapeError(
            argument="probs",
            expected="(N,) binary or (N, C) multiclass probabilities",
            found=f"shape {tuple(p.shape)}",
            fix="flatten extra dimensions into N",
        )
    edges = torch.linspace(0, 1, n_bins + 1, dtype=acc_dtype, device=p.device)
    # right=False: edges[i-1] < x <= edges[i], i.e. bins closed on the right (1.0 → last bin).
    idx = torch.bucketize(conf, edges[1:-1], right=False)
    count = torch.bincount(idx, minlength=n_bins).to(acc_dtype)
    conf_sum = torch.zeros(n_bins, dtype=acc_dtype, device=p.device).index_add_(0, idx, conf)
    hit_sum = torch.zeros(n_bins, dtype=acc_dtype, device=p.device).index_add_(0, idx, hit)
    nonempty = count > 0
    safe = torch.where(nonempty, count, torch.ones_like(count))
    nan = torch.full_like(count, float("nan"))
    bin_conf = torch.where(nonempty, conf_sum / safe, nan)
    bin_acc = torch.where(nonempty, hit_sum / safe, nan)
    gap = torch.where(nonempty, (bin_acc - bin_conf).abs(), torch.zeros_like(count))
    ece = (count * gap).sum() / count.sum()
    mce = gap.max()
    return CalibrationReport(
        ece=float(ece),
        mce=float(mce),
        brier=float(brier),
        nll=float(nll),
        kind=kind,
        n_bins=n_bins,
        bin_edges=edges.cpu().numpy(),
        bin_confidence=bin_conf.cpu().numpy(),
        bin_accuracy=bin_acc.cpu().numpy(),
        bin_count=count.cpu().numpy().astype(np.int64),
    )
