"""likelihood_for: the choice and the reason, from target values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nllkit.likelihoods as L
from nllkit.errors import InputShapeError, InputValueError


@pytest.mark.parametrize(
    "y, cls, words",
    [
        (torch.tensor([0, 1, 1, 0]), L.Bernoulli, "binary"),
        (torch.tensor([True, False]), L.Bernoulli, "binary"),
        (np.array([0.0, 1.0, 1.0]), L.Bernoulli, "binary"),
        (torch.tensor([[0, 1, 1], [1, 0, 0]]), L.MultiLabel, "MultiLabel"),
        (torch.tensor([0, 2, 1, 2, 0]), L.Categorical, "assumed class labels"),
        (torch.tensor([3, 1, 4, 2, 5]), L.Poisson, "counts"),
        (torch.tensor([0.0, 30.0, 1.0, 0.0, 2.0, 45.0]), L.NegativeBinomial, "over-dispersed"),
        (torch.tensor([0.2, 0.5, 0.9]), L.Beta, "(0, 1)"),
        (torch.tensor([0.0, 0.5, 0.9]), L.Bernoulli, "soft targets"),
        (torch.tensor([0.5, 2.5, 10.0]), L.Gamma, "positive"),
        (torch.tensor([-1.5, 2.5, 0.0]), L.Gaussian, "least squares"),
        (torch.tensor([[0.5, 1.5], [2.0, -1.0]]), L.MultivariateGaussian, "assumed"),
        ([1.0, 2.5, 7.25], L.Gamma, "positive"),
        (torch.tensor([[0.5], [1.5], [-3.0]]), L.Gaussian, "real"),
    ],
)
def test_choice_and_reason(y, cls, words) -> None:
    choice = L.likelihood_for(y)
    assert isinstance(choice, L.LikelihoodChoice)
    assert type(choice.likelihood) is cls
    assert words in choice.reason
    assert "\n" not in choice.reason


def test_the_choice_fits_the_targets() -> None:
    y = torch.tensor([0, 2, 1, 2, 0])
    lik = L.likelihood_for(y).likelihood
    assert lik.num_outputs == 3
    assert lik.log_prob(torch.zeros(5, 3), y).shape == (5,)
    y2 = torch.tensor([[0, 1, 1], [1, 0, 0]])
    ml = L.likelihood_for(y2).likelihood
    assert ml.num_outputs == 3


def test_circular() -> None:
    y = torch.tensor([-3.0, 0.1, 3.1])
    assert type(L.likelihood_for(y, circular=True).likelihood) is L.VonMises
    assert type(L.likelihood_for(y).likelihood) is L.Gaussian
    with pytest.raises(InputValueError, match="deg2rad"):
        L.likelihood_for(torch.tensor([10.0, 350.0]), circular=True)


def test_many_integer_labels_are_counts() -> None:
    y = torch.arange(30).repeat(2)
    assert type(L.likelihood_for(y).likelihood) in (L.Poisson, L.NegativeBinomial)
    assert type(L.likelihood_for(y, max_classes=40).likelihood) is L.Categorical


def test_errors() -> None:
    with pytest.raises(InputShapeError, match="empty"):
        L.likelihood_for(torch.tensor([]))
    with pytest.raises(InputShapeError, match=r"\(N,\) or \(N, L\)"):
        L.likelihood_for(torch.zeros(2, 2, 2))
    with pytest.raises(InputValueError, match="NaN"):
        L.likelihood_for(torch.tensor([1.0, math.nan]))
