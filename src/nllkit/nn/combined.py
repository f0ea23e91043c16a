"""Weighted sums of losses (:class:`CombinedLoss`) and regularisation terms (:class:`L2Penalty`,
:class:`L1Penalty`).

Segmentation is rarely trained on one loss: "BCE + Dice" adds an overlap loss to the Bernoulli
NLL with a weight that is a hyperparameter, and "in practice there will be regularization in the
loss too". :class:`CombinedLoss` is that sum, with each term's last value kept for logging.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ConfigurationError, InputTypeError

__all__ = ["CombinedLoss", "L1Penalty", "L2Penalty"]

_NORM_LAYERS: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
) + ((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ())


def _check_weight(name: str, weight: object) -> float:
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise ConfigurationError(
            argument=f"weight of {name!r}",
            expected="a Python float",
            found=type(weight).__name__,
            fix="give each term as (loss_module, float_weight)",
        )
    if weight != weight or weight in (float("inf"), float("-inf")):
        raise ConfigurationError(
            argument=f"weight of {name!r}",
            expected="a finite float",
            found=repr(weight),
            fix="use a finite weight (0 switches a term off)",
        )
    return float(weight)


class CombinedLoss(nn.Module):
    """A weighted sum of losses over one ``(input, target)``: ``Σ_k w_k · loss_k(input, target)``.

    Each term is an ``nn.Module`` called as ``term(input, target)`` (torch's losses, nllkit's, or a
    penalty such as :class:`L2Penalty`, which ignores the arguments) that returns a scalar. The
    terms live in an ``nn.ModuleDict`` (``self.terms``), so ``.to(device)`` moves their buffers and
    :func:`nllkit.guards.inspect_model` checks each of them against the model's last layer.

    Attributes:
        terms: the loss modules, by name.
        weights: the weight of each term, by name, a plain dict of floats: change it between steps
            for a schedule (``loss.weights["dice"] = 0.5 * epoch / n_epochs``) or use
            :meth:`set_weight`.
        last_terms: each term's *unweighted* value from the last call, detached (tensors: read
            them with ``.item()`` when you log, so the training step never syncs), plus
            ``"total"``.

    Args:
        terms: ``{"name": (module, weight)}`` (or ``{"name": module}`` for weight 1), in the order
            they are summed.

    Example:
        >>> import torch
        >>> from nllkit.nn import BCEWithLogitsLoss, CombinedLoss, DiceLoss
        >>> loss = CombinedLoss({"bce": (BCEWithLogitsLoss(), 1.0),
        ...                      "dice": (DiceLoss(mode="binary"), 0.5)})
        >>> x = torch.tensor([[2.0, -1.0, 0.5, -3.0]])
        >>> y = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
        >>> loss(x, y)
        tensor(0.3472)
        >>> {k: round(v.item(), 4) for k, v in loss.last_terms.items()}
        {'bce': 0.2407, 'dice': 0.2129, 'total': 0.3472}
        >>> loss.set_weight("dice", 1.0)
        >>> loss(x, y)
        tensor(0.4536)
    """

    def __init__(self, terms: Mapping[str, nn.Module | tuple[nn.Module, float]]) -> None:
        super().__init__()
        if not isinstance(terms, Mapping) or not terms:
            raise ConfigurationError(
                argument="terms",
                expected="a non-empty dict {name: (loss_module, weight)}",
                found=repr(terms) if not isinstance(terms, Mapping) else "an empty dict",
                fix='e.g. CombinedLoss({"bce": (BCEWithLogitsLoss(), 1.0), '
                '"dice": (DiceLoss(mode="binary"), 0.5)})',
            )
        modules: dict[str, nn.Module] = {}
        self.weights: dict[str, float] = {}
        for name, spec in terms.items():
            module, weight = spec if isinstance(spec, tuple) else (spec, 1.0)
            if not isinstance(module, nn.Module):
                raise InputTypeError(
                    argument=f"terms[{name!r}]",
                    expected="an nn.Module loss (or a (module, weight) pair)",
                    found=type(module).__name__,
                    fix="wrap a plain function in a small nn.Module, or use the nllkit.nn class",
                )
            modules[name] = module
            self.weights[name] = _check_weight(name, weight)
        self.terms = nn.ModuleDict(modules)
        self.last_terms: dict[str, Tensor] = {}

    def set_weight(self, name: str, weight: float) -> None:
        """Change the weight of term ``name`` (for a schedule)."""
        if name not in self.weights:
            raise ConfigurationError(
                argument="name",
                expected=f"one of {sorted(self.weights)}",
                found=repr(name),
                fix="use a name given to the constructor",
            )
        self.weights[name] = _check_weight(name, weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        total: Tensor | None = None
        last: dict[str, Tensor] = {}
        for name, term in self.terms.items():
            value = term(input, target)
            last[name] = value.detach()
            weighted = value * self.weights[name]
            total = weighted if total is None else total + weighted
        assert total is not None  # the constructor rejects an empty dict
        last["total"] = total.detach()
        self.last_terms = last
        return total

    def extra_repr(self) -> str:
        return "weights=" + ", ".join(f"{k}: {v:g}" for k, v in self.weights.items())


def _penalised_parameters(model: nn.Module, exclude_bias_and_norm: bool) -> list[nn.Parameter]:
    params: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        is_norm = isinstance(module, _NORM_LAYERS)
        for pname, p in module.named_parameters(recurse=False):
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            if exclude_bias_and_norm and (is_norm or pname.endswith("bias")):
                continue
            params.append(p)
    return params


class _Penalty(nn.Module):
    """A regulariser over a model's parameters; ignores the ``(input, target)`` it is given."""

    expects = None
    _ord: float = 2.0

    def __init__(
        self,
        model: nn.Module | Iterable[nn.Parameter],
        weight: float = 1.0,
        *,
        exclude_bias_and_norm: bool = True,
    ) -> None:
        super().__init__()
        self.weight = _check_weight("penalty", weight)
        if isinstance(model, nn.Module):
            params = _penalised_parameters(model, exclude_bias_and_norm)
        else:
            params = list(model)
        # a plain list, not registered: the penalty must not own (or move, or save) the model
        self._params: list[nn.Parameter] = params
        self.exclude_bias_and_norm = exclude_bias_and_norm

    @property
    def num_parameters(self) -> int:
        """How many scalar parameters are penalised."""
        return sum(p.numel() for p in self._params)

    def _norm(self, p: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        if not self._params:
            return torch.zeros(())
        return self.weight * torch.stack([self._norm(p) for p in self._params]).sum()

    def extra_repr(self) -> str:
        return f"weight={self.weight:g}, parameters={self.num_parameters}"


class L2Penalty(_Penalty):
    """``λ · Σ_θ ‖θ‖₂²``: an L2 (ridge, weight-decay) term over a model's parameters.

    Biases and the parameters of normalisation layers (BatchNorm, LayerNorm, GroupNorm, ...) are
    left out by default (``exclude_bias_and_norm=True``), as is usual for weight decay. With plain
    SGD, ``L2Penalty(model, λ)`` in the loss is ``weight_decay=2λ`` in the optimiser. Call it with
    no arguments, or with ``(input, target)`` which it ignores (so it plugs into
    :class:`CombinedLoss`).

    Derivation: a Gaussian prior ``θ ~ N(0, σ²)`` adds ``−log Pr(θ) = Σθ² / (2σ²) + const`` to the
    negative log-likelihood: the MAP estimate minimises NLL + ``λ Σθ²`` with ``λ = 1 / (2σ²)``.

    Args:
        model: the model (or an iterable of parameters, taken as given).
        weight: ``λ ≥ 0``.
        exclude_bias_and_norm: leave out biases and normalisation layers.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from nllkit.nn import L2Penalty
        >>> model = nn.Sequential(nn.Linear(2, 1), nn.LayerNorm(1))
        >>> with torch.no_grad():
        ...     _ = model[0].weight.copy_(torch.tensor([[3.0, 4.0]]))
        >>> L2Penalty(model, 0.1)()  # 0.1 · (3² + 4²); bias and LayerNorm left out
        tensor(2.5000, grad_fn=<MulBackward0>)
    """

    def _norm(self, p: Tensor) -> Tensor:
        return p.pow(2).sum()


class L1Penalty(_Penalty):
    """``λ · Σ_θ ‖θ‖₁``: an L1 (lasso) term over a model's parameters.

    The MAP term of a Laplace prior ``θ ~ Laplace(0, b)`` (``λ = 1 / b``). Same parameter
    selection and calling convention as :class:`L2Penalty`.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from nllkit.nn import L1Penalty
        >>> model = nn.Linear(2, 1)
        >>> with torch.no_grad():
        ...     _ = model.weight.copy_(torch.tensor([[3.0, -4.0]]))
        >>> L1Penalty(model, 0.1)()
        tensor(0.7000, grad_fn=<MulBackward0>)
    """

    def _norm(self, p: Tensor) -> Tensor:
        return p.abs().sum()
