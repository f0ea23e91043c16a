"""Training one model per loss for ``nllkit compare``: same model, seed, split and budget.

Tables get a small MLP (standardised features → 64 → 64 → outputs), images a small fully
convolutional CNN (per-pixel logits). Adam, mini-batches, and early stopping on the *validation
NLL* of the task's likelihood (Bernoulli or Categorical), whatever the training loss: the NLL is
the one score every loss can be compared on, and the weights of the best epoch are kept.

With ``select_by="calibrated_nll"`` (the command's default for images) the NLL is taken after
temperature scaling, cross-fitted (see :func:`cross_fitted_nll`): a proper score that no longer
charges a loss for the *scale* of its logits. Losses that are not likelihoods (Dice, focal) give
over- or under-confident logits whose raw NLL rises while their predictions still improve;
stopping on the raw NLL (``select_by="nll"``, the default for tables, whose validation sets are
too small to fit a temperature on reliably) then stops them early and understates them: on the
shapes data pure Dice stopped at epoch 3 of 12 with a test Dice of 0.783 where BCE reached 0.873.
Adam's L2 weight decay (default 1e-2 for tables) keeps the small tables from being
fitted to zero training loss.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from ..data import Dataset, Split
from ..errors import ConfigurationError
from ..likelihoods import Bernoulli, Categorical, Likelihood, MultiLabel
from .evaluate import fit_temperature

__all__ = ["SELECT_BY", "Prepared", "Settings", "TrainResult", "build_model", "prepare", "train"]

SELECT_BY = ("calibrated_nll", "nll")


@dataclass(frozen=True)
class Settings:
    """The training budget, shared by every loss."""

    epochs: int
    batch_size: int
    lr: float
    patience: int
    seed: int
    weight_decay: float = 0.0
    select_by: str = "calibrated_nll"  # or "nll": the validation score of early stopping


@dataclass
class Prepared:
    """Tensors of the three parts, ready for the model and the losses."""

    task: str
    kind: str
    num_outputs: int
    in_features: int
    likelihood: Likelihood
    X: dict[str, Tensor]
    y: dict[str, Tensor]  # in the form the losses take (float 0/1, or int64 classes)


@dataclass
class TrainResult:
    """A trained model, its per-epoch curves, and its logits on validation and test."""

    model: nn.Module
    train_loss: list[float] = field(default_factory=list)
    val_nll: list[float] = field(default_factory=list)
    val_nll_calibrated: list[float] = field(default_factory=list)
    best_epoch: int = 0
    epochs_run: int = 0
    logits: dict[str, Tensor] = field(default_factory=dict)


def likelihood_of(ds: Dataset) -> Likelihood:
    """The likelihood whose NLL the validation score is: the task's own."""
    if ds.task == "multiclass":
        return Categorical(len(ds.class_names))
    if ds.task == "multilabel":
        return MultiLabel(int(ds.y.shape[1]))
    return Bernoulli()


def prepare(ds: Dataset, split: Split) -> Prepared:
    """Standardise a table on its training rows and cut the three parts into tensors."""
    X = ds.X.astype(np.float32)
    if ds.kind == "table":
        mu = X[split.train].mean(axis=0)
        sd = X[split.train].std(axis=0)
        X = (X - mu) / np.where(sd > 0, sd, 1.0).astype(np.float32)
    if ds.task == "multiclass":
        y = torch.as_tensor(ds.y, dtype=torch.long)
        num_outputs = len(ds.class_names)
    else:
        y = torch.as_tensor(ds.y, dtype=torch.float32)
        num_outputs = int(ds.y.shape[1]) if ds.task == "multilabel" else 1
    Xt = torch.as_tensor(X)
    parts = {"train": split.train, "val": split.val, "test": split.test}
    return Prepared(
        task=ds.task,
        kind=ds.kind,
        num_outputs=num_outputs,
        in_features=int(X.shape[1]),
        likelihood=likelihood_of(ds),
        X={k: Xt[torch.as_tensor(v)] for k, v in parts.items()},
        y={k: y[torch.as_tensor(v)] for k, v in parts.items()},
    )


class _Squeeze(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.squeeze(-1)


def build_model(p: Prepared) -> nn.Module:
    """The model for ``p``'s data: an MLP for tables, a small CNN for images (raw logits out)."""
    if p.kind == "image":
        return nn.Sequential(
            nn.Conv2d(p.in_features, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=2, dilation=2),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=4, dilation=4),
            nn.ReLU(),
            nn.Conv2d(16, p.num_outputs, 1),
        )
    layers: list[nn.Module] = [
        nn.Linear(p.in_features, 64),
        nn.ReLU(),
        nn.Linear(64, 64),
        nn.ReLU(),
        nn.Linear(64, p.num_outputs),
    ]
    if p.task == "binary":
        layers.append(_Squeeze())  # (N, 1) -> (N,), the shape of a binary target
    return nn.Sequential(*layers)


@torch.no_grad()
def _logits(model: nn.Module, X: Tensor, batch: int = 512) -> Tensor:
    model.eval()
    return torch.cat([model(X[i : i + batch]) for i in range(0, len(X), batch)])


def cross_fitted_nll(p: Prepared, logits: Tensor, y: Tensor) -> float:
    """The validation NLL after temperature scaling, cross-fitted: a temperature fitted on one
    half of the examples (even or odd positions) scales the logits of the other half.

    Fitting and scoring on the same examples is optimistic where it matters: on a small,
    nearly separable validation set the in-sample fit drives ``T`` towards 0 and the NLL with
    it, and the epoch kept is a lucky one.
    """
    halves = (slice(0, None, 2), slice(1, None, 2))
    total = 0.0
    for fit, score in (halves, halves[::-1]):
        temperature, _ = fit_temperature(p.task, logits[fit], y[fit])
        nll = p.likelihood.nll(logits[score] / temperature, y[score], reduction="sum")
        total += float(nll)
    return total / _count(p.likelihood, logits, y)


def _count(likelihood: Likelihood, logits: Tensor, y: Tensor) -> float:
    """How many terms the likelihood's mean NLL averages over (so sums / count = the mean)."""
    return float(likelihood.nll(logits, y, reduction="none").numel())


def train(
    p: Prepared,
    loss_fn: nn.Module,
    s: Settings,
    on_epoch: Callable[[int, float, float], None] | None = None,
) -> TrainResult:
    """Train a fresh model (seeded by ``s.seed``) with ``loss_fn``; keep the best epoch.

    The best epoch has the lowest validation NLL, after temperature scaling unless
    ``s.select_by == "nll"`` (see the module docstring).

    Args:
        p: the prepared data.
        loss_fn: the training loss (takes ``(logits, target)``).
        s: the budget.
        on_epoch: called as ``on_epoch(epoch, train_loss, score)`` after each epoch, ``score``
            the validation NLL early stopping uses.
    """
    if s.select_by not in SELECT_BY:
        raise ConfigurationError(
            argument="select_by",
            expected=" or ".join(repr(v) for v in SELECT_BY),
            found=repr(s.select_by),
            fix='use "calibrated_nll" (the default) or "nll"',
        )
    torch.manual_seed(s.seed)
    model = build_model(p)
    opt = torch.optim.Adam(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    gen = torch.Generator().manual_seed(s.seed)
    Xtr, ytr = p.X["train"], p.y["train"]
    n = len(Xtr)
    out = TrainResult(model=model)
    best = float("inf")
    best_state = copy.deepcopy(model.state_dict())
    since_best = 0
    for epoch in range(1, s.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=gen)
        total, seen = torch.zeros(()), 0
        for i in range(0, n, s.batch_size):
            idx = order[i : i + s.batch_size]
            loss = loss_fn(model(Xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
            seen += len(idx)
        val_logits, y_val = _logits(model, p.X["val"]), p.y["val"]
        val_nll = float(p.likelihood.nll(val_logits, y_val))
        calibrated = cross_fitted_nll(p, val_logits, y_val)
        score = calibrated if s.select_by == "calibrated_nll" else val_nll
        train_loss = float(total) / seen
        out.train_loss.append(train_loss)
        out.val_nll.append(val_nll)
        out.val_nll_calibrated.append(calibrated)
        out.epochs_run = epoch
        if on_epoch is not None:
            on_epoch(epoch, train_loss, score)
        if score < best - 1e-6:
            best, out.best_epoch, since_best = score, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            since_best += 1
            if since_best >= s.patience:
                break
    model.load_state_dict(best_state)
    out.logits = {k: _logits(model, p.X[k]) for k in ("val", "test")}
    return out
