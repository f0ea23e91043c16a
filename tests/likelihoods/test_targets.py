"""Target-domain errors, raised on the first call (check="first"), every call, or never."""

from __future__ import annotations

import math

import pytest
import torch

import nllkit.likelihoods as L
from nllkit.errors import InputShapeError, InputTypeError, InputValueError


@pytest.mark.parametrize(
    "lik, raw, y, match",
    [
        (L.Beta(), torch.zeros(3, 2), torch.tensor([0.5, 1.0, 0.2]), r"strictly inside \(0, 1\)"),
        (L.Beta(), torch.zeros(2, 2), torch.tensor([0.0, 0.3]), "density at 0 or 1"),
        (L.Gamma(), torch.zeros(2, 2), torch.tensor([0.0, 1.0]), "strictly positive"),
        (L.Exponential(), torch.zeros(2), torch.tensor([-1.0, 1.0]), "non-negative"),
        (L.Poisson(), torch.zeros(2), torch.tensor([-1.0, 1.0]), "counts"),
        (L.Poisson(), torch.zeros(2), torch.tensor([0.5, 1.0]), "non-negative integers"),
        (L.NegativeBinomial(), torch.zeros(2, 2), torch.tensor([2.0, 1.5]), "counts"),
        (L.VonMises(), torch.zeros(2, 2), torch.tensor([10.0, 350.0]), "deg2rad"),
        (L.Ordinal(3), torch.zeros(2, 2), torch.tensor([0, 3]), r"\[0, 3\)"),
        (L.Gaussian(), torch.zeros(2, 2), torch.tensor([math.nan, 1.0]), "NaN"),
        (L.Laplace(), torch.zeros(2, 2), torch.tensor([math.inf, 1.0]), "Inf"),
        (L.PlackettLuce(), torch.zeros(1, 3), torch.tensor([[0, 0, 1]]), "repeated"),
        (L.PlackettLuce(), torch.zeros(1, 3), torch.tensor([[0, 3, 1]]), r"\[0, 3\)"),
    ],
)
def test_bad_targets_raise_with_the_fix(lik, raw, y, match) -> None:
    with pytest.raises(InputValueError, match=match):
        lik.log_prob(raw, y)


def test_beta_error_explains_why() -> None:
    with pytest.raises(InputValueError) as info:
        L.Beta().nll(torch.zeros(2, 2), torch.tensor([1.0, 0.5]))
    assert "inf" in str(info.value) and "squeeze" in str(info.value)


def test_check_modes() -> None:
    bad = torch.tensor([0.0, 0.5])
    raw = torch.zeros(2, 2)
    lik = L.Beta()
    lik.log_prob(raw, torch.tensor([0.3, 0.5]))  # first call passes and is remembered
    assert bool(torch.isinf(lik.log_prob(raw, bad)).any())  # later calls are not checked
    always = L.Beta(check="always")
    always.log_prob(raw, torch.tensor([0.3, 0.5]))
    with pytest.raises(InputValueError):
        always.log_prob(raw, bad)
    never = L.Beta(check="never")
    assert bool(torch.isinf(never.log_prob(raw, bad)).any())


def test_plackett_luce_shape_and_type_errors() -> None:
    lik = L.PlackettLuce()
    with pytest.raises(InputTypeError, match="int64"):
        lik.log_prob(torch.zeros(1, 3), torch.tensor([[0.0, 1.0, 2.0]]))
    with pytest.raises(InputShapeError, match="1 ≤ k ≤ M"):
        lik.log_prob(torch.zeros(1, 3), torch.tensor([[0, 1, 2, 2]]))
    with pytest.raises(InputShapeError, match="1 ≤ k ≤ M"):
        lik.log_prob(torch.zeros(2, 3), torch.tensor([[0, 1, 2]]))


def test_ordinal_needs_int64_labels() -> None:
    with pytest.raises(InputTypeError, match="int64"):
        L.Ordinal(3).log_prob(torch.zeros(2, 2), torch.tensor([0.0, 1.0]))


def test_integer_targets_are_accepted_where_they_make_sense() -> None:
    lp = L.Poisson().log_prob(torch.zeros(3), torch.tensor([0, 1, 2]))
    assert lp.dtype == torch.float32
    lp = L.Gaussian(scale=1.0).log_prob(torch.zeros(3), torch.tensor([0, 1, 2]))
    assert lp.dtype == torch.float32
