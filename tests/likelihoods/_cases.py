"""Shared test cases: one entry per parametric likelihood (float64 raw outputs and targets)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

import nllkit.likelihoods as L


@dataclass
class Case:
    name: str
    make: Callable[[], L.Likelihood]
    raw: Callable[[torch.Generator, int], Tensor]
    y: Callable[[torch.Generator, int], Tensor]
    # targets as torch.distributions expects them (event dims last)
    to_dist: Callable[[Tensor], Tensor] = lambda y: y


def _randn(*shape: int) -> Callable[[torch.Generator, int], Tensor]:
    def f(g: torch.Generator, n: int) -> Tensor:
        return torch.randn(n, *shape, generator=g, dtype=torch.float64)

    return f


def _perm(m: int) -> Callable[[torch.Generator, int], Tensor]:
    def f(g: torch.Generator, n: int) -> Tensor:
        return torch.stack([torch.randperm(m, generator=g) for _ in range(n)])

    return f


def _counts(g: torch.Generator, n: int) -> Tensor:
    return torch.poisson(torch.full((n,), 4.0, dtype=torch.float64), generator=g)


CASES = [
    Case("gaussian_fixed", lambda: L.Gaussian(scale=0.7), _randn(), _randn()),
    Case("gaussian", lambda: L.Gaussian(), _randn(2), _randn()),
    Case("laplace", lambda: L.Laplace(), _randn(2), _randn()),
    Case("student_t_fixed", lambda: L.StudentT(df=4.0), _randn(2), _randn()),
    Case("student_t", lambda: L.StudentT(), _randn(3), _randn()),
    Case(
        "gamma",
        lambda: L.Gamma(),
        _randn(2),
        lambda g, n: torch.rand(n, generator=g, dtype=torch.float64) * 5 + 0.01,
    ),
    Case(
        "exponential",
        lambda: L.Exponential(),
        _randn(),
        lambda g, n: torch.rand(n, generator=g, dtype=torch.float64) * 5,
    ),
    Case(
        "beta",
        lambda: L.Beta(),
        _randn(2),
        lambda g, n: torch.rand(n, generator=g, dtype=torch.float64) * 0.98 + 0.01,
    ),
    Case(
        "von_mises",
        lambda: L.VonMises(),
        _randn(2),
        lambda g, n: (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * math.pi,
    ),
    Case("mixture", lambda: L.MixtureOfGaussians(3), _randn(9), _randn()),
    Case("poisson", lambda: L.Poisson(), _randn(), _counts),
    Case("negative_binomial", lambda: L.NegativeBinomial(), _randn(2), _counts),
    Case(
        "ordinal",
        lambda: L.Ordinal(4),
        _randn(3),
        lambda g, n: torch.randint(0, 4, (n,), generator=g),
    ),
    Case("plackett_luce", lambda: L.PlackettLuce(), _randn(5), _perm(5)),
    Case(
        "multivariate_gaussian",
        lambda: L.MultivariateGaussian(3),
        _randn(9),
        _randn(3),
        lambda y: y.movedim(1, -1),
    ),
]
BY_NAME = {c.name: c for c in CASES}
