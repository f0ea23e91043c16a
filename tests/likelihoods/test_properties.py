"""Hypothesis property tests of the likelihoods (kept small: ~30 examples each)."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nllkit.likelihoods as L

FLOATS = st.floats(-1e4, 1e4, allow_nan=False, width=64)
SETTINGS = settings(max_examples=30, deadline=None)


@SETTINGS
@given(st.lists(FLOATS, min_size=4, max_size=4))
def test_ordinal_probabilities_are_a_distribution(values: list[float]) -> None:
    lik = L.Ordinal(5)
    p = lik.params(torch.tensor([values], dtype=torch.float64))
    probs = p.log_probs.exp()
    assert bool((probs >= 0).all())
    assert abs(float(probs.sum()) - 1.0) < 1e-9
    assert bool((p.cutpoints[:, 1:] > p.cutpoints[:, :-1]).all())


@SETTINGS
@given(st.lists(st.floats(-50, 50, width=64), min_size=6, max_size=6), st.floats(-50, 50))
def test_mixture_log_prob_between_best_component_and_plus_log_k(raw: list[float], y: float) -> None:
    lik = L.MixtureOfGaussians(2)
    r = torch.tensor([raw], dtype=torch.float64)
    yy = torch.tensor([y], dtype=torch.float64)
    lp = float(lik.log_prob(r, yy))
    p = lik.params(r)
    comp = p.log_weights + torch.distributions.Normal(p.loc, p.scale).log_prob(yy[:, None])
    best = float(comp.max())
    tol = 1e-9 + 1e-12 * abs(best)
    assert best - tol <= lp <= best + math.log(2) + tol


@SETTINGS
@given(st.lists(st.floats(-100, 100, width=64), min_size=5, max_size=5), st.permutations(range(5)))
def test_plackett_luce_log_prob_is_a_log_probability(scores: list[float], perm: list[int]) -> None:
    lik = L.PlackettLuce()
    s = torch.tensor([scores], dtype=torch.float64)
    lp = float(lik.log_prob(s, torch.tensor([perm])))
    assert lp <= 1e-12
    # the mode is at least as likely as any ranking
    assert float(lik.log_prob(s, lik.predict(s))) >= lp - 1e-9


@SETTINGS
@given(FLOATS, FLOATS, st.floats(-1e3, 1e3, width=64))
def test_gaussian_is_symmetric_and_finite(loc: float, scale_raw: float, d: float) -> None:
    lik = L.Gaussian()
    r = torch.tensor([[loc, scale_raw]], dtype=torch.float64)
    a = lik.log_prob(r, torch.tensor([loc + d], dtype=torch.float64))
    b = lik.log_prob(r, torch.tensor([loc - d], dtype=torch.float64))
    assert not bool(torch.isnan(a).any())
    torch.testing.assert_close(a, b)


@SETTINGS
@given(st.floats(-30, 30), st.floats(-30, 30), st.floats(1e-3, 1 - 1e-3))
def test_beta_density_integrates_with_its_mode_highest(za: float, zb: float, y: float) -> None:
    lik = L.Beta()
    r = torch.tensor([[za, zb]], dtype=torch.float64)
    a, b = lik.params(r)
    if float(a) > 1 and float(b) > 1:
        mode = lik.predict(r)
        assert (
            float(lik.log_prob(r, mode))
            >= float(lik.log_prob(r, torch.tensor([y], dtype=torch.float64))) - 1e-9
        )


@SETTINGS
@given(st.floats(-1e4, 1e4), st.integers(0, 10_000))
def test_poisson_and_negative_binomial_are_finite(z: float, y: int) -> None:
    zt = torch.tensor([z], dtype=torch.float32, requires_grad=True)
    lp = L.Poisson().log_prob(zt, torch.tensor([y]))
    lp.backward()
    assert bool(torch.isfinite(lp).all()) and bool(torch.isfinite(zt.grad).all())
    r2 = torch.tensor([[z, -z]], dtype=torch.float32, requires_grad=True)
    lp2 = L.NegativeBinomial().log_prob(r2, torch.tensor([y]))
    lp2.backward()
    assert not bool(torch.isnan(lp2).any()) and not bool(torch.isnan(r2.grad).any())
