"""Minimising the NLL over a constant recovers the maximum-likelihood estimate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nllkit.likelihoods as L

stats = pytest.importorskip("scipy.stats")


def _fit(
    lik: L.Likelihood, y: torch.Tensor, n_params: int | None, init=None, vector: bool = False
) -> torch.Tensor:
    """Fit one raw vector shared by every target with L-BFGS in float64; return it."""
    shape = (n_params,) if n_params else ()
    theta = torch.zeros(shape, dtype=torch.float64) if init is None else init.clone().double()
    theta.requires_grad_(True)
    opt = torch.optim.LBFGS(
        [theta],
        lr=1,
        max_iter=500,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )

    def raw() -> torch.Tensor:
        if n_params is None:
            return theta.expand(y.shape)
        if vector:  # y is (N, D): one raw row per target vector
            return theta.view(1, -1).expand(y.shape[0], -1)
        return theta.view(1, -1, *([1] * (y.dim() - 1))).expand(y.shape[0], -1, *y.shape[1:])

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = lik.nll(raw(), y)
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    return raw().detach()


def _gen(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_gaussian_fixed_scale_mle_is_the_sample_mean() -> None:
    y = torch.from_numpy(_gen().normal(3.0, 2.0, 500))
    raw = _fit(L.Gaussian(scale=1.0), y, None)
    assert abs(float(raw[0]) - float(y.mean())) < 1e-8


def test_gaussian_mle_is_sample_mean_and_variance() -> None:
    y = torch.from_numpy(_gen().normal(3.0, 2.0, 500))
    lik = L.Gaussian()
    loc, scale = lik.params(_fit(lik, y, 2))
    assert abs(float(loc[0]) - float(y.mean())) < 1e-7
    assert abs(float(scale[0]) ** 2 - float(y.var(unbiased=False))) < 1e-6


def test_laplace_mle_is_median_and_mean_absolute_deviation() -> None:
    y = torch.from_numpy(_gen().laplace(1.0, 0.5, 501))
    lik = L.Laplace()
    med = float(y.median())
    loc, scale = lik.params(_fit(lik, y, 2, init=torch.tensor([float(y.mean()), 0.0])))
    assert abs(float(loc[0]) - med) < 1e-3
    assert abs(float(scale[0]) - float((y - med).abs().mean())) < 1e-3


def test_poisson_mle_is_the_sample_mean() -> None:
    y = torch.from_numpy(_gen().poisson(3.7, 400).astype(np.float64))
    rate = L.Poisson().params(_fit(L.Poisson(), y, None)).rate
    assert abs(float(rate[0]) - float(y.mean())) < 1e-7


def test_exponential_mle_is_the_inverse_sample_mean() -> None:
    y = torch.from_numpy(_gen().exponential(2.0, 400))
    rate = L.Exponential().params(_fit(L.Exponential(), y, None)).rate
    assert abs(float(rate[0]) - 1 / float(y.mean())) < 1e-7


def test_gamma_mle_matches_scipy() -> None:
    y = torch.from_numpy(_gen().gamma(2.5, 1 / 1.5, 600))
    a_ref, _, scale_ref = stats.gamma.fit(y.numpy(), floc=0)
    lik = L.Gamma()
    a, b = lik.params(_fit(lik, y, 2))
    assert abs(float(a[0]) - a_ref) < 1e-3 * a_ref
    assert abs(float(b[0]) - 1 / scale_ref) < 1e-3 / scale_ref


def test_beta_mle_matches_scipy() -> None:
    y = torch.from_numpy(_gen().beta(2.0, 5.0, 600))
    a_ref, b_ref, _, _ = stats.beta.fit(y.numpy(), floc=0, fscale=1)
    lik = L.Beta()
    a, b = lik.params(_fit(lik, y, 2))
    assert abs(float(a[0]) - a_ref) < 1e-3 * a_ref
    assert abs(float(b[0]) - b_ref) < 1e-3 * b_ref


def test_student_t_mle_matches_scipy() -> None:
    y = torch.from_numpy(_gen().standard_t(4.0, 800) * 0.7 + 1.0)
    df_ref, loc_ref, scale_ref = stats.t.fit(y.numpy())
    lik = L.StudentT()
    df, loc, scale = lik.params(_fit(lik, y, 3, init=torch.tensor([1.0, 0.0, 3.0])))
    assert abs(float(loc[0]) - loc_ref) < 1e-3
    assert abs(float(scale[0]) - scale_ref) < 2e-3 * scale_ref
    assert abs(float(df[0]) - df_ref) < 1e-2 * df_ref


def test_von_mises_mle_is_circular_mean_and_solves_bessel_ratio() -> None:
    y = torch.from_numpy(_gen().vonmises(2.5, 3.0, 600))
    lik = L.VonMises()
    raw = _fit(lik, y, 2, init=torch.tensor([2.0, 1.0]))
    mu = float(lik.predict(raw)[0])
    kappa = float(lik.params(raw).concentration[0])
    c, s = float(torch.cos(y).mean()), float(torch.sin(y).mean())
    assert abs(mu - math.atan2(s, c)) < 1e-6
    r_bar = math.hypot(c, s)
    k = torch.tensor(kappa, dtype=torch.float64)
    assert abs(float(torch.special.i1e(k) / torch.special.i0e(k)) - r_bar) < 1e-7


def test_negative_binomial_mle_mean_is_sample_mean_and_r_matches_scipy() -> None:
    optimize = pytest.importorskip("scipy.optimize")
    g = _gen()
    y_np = g.negative_binomial(2.0, 2.0 / (2.0 + 6.0), 800).astype(np.float64)
    y = torch.from_numpy(y_np)
    lik = L.NegativeBinomial()
    mean, r, _ = lik.params(_fit(lik, y, 2, init=torch.tensor([1.5, 1.0])))
    assert abs(float(mean[0]) - y_np.mean()) < 1e-6
    m = y_np.mean()

    def neg(log_r: float) -> float:
        rr = math.exp(log_r)
        return -float(stats.nbinom.logpmf(y_np, rr, rr / (rr + m)).sum())

    r_ref = math.exp(optimize.minimize_scalar(neg, bounds=(-5, 5), method="bounded").x)
    assert abs(float(r[0]) - r_ref) < 1e-3 * r_ref


def test_multivariate_gaussian_mle_is_sample_mean_and_covariance() -> None:
    cov = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])
    y = torch.from_numpy(_gen().multivariate_normal([1.0, -2.0, 0.5], cov, 500))
    lik = L.MultivariateGaussian(3)
    loc, tril = lik.params(_fit(lik, y, lik.num_outputs, vector=True))
    torch.testing.assert_close(loc[0], y.mean(0), rtol=0, atol=1e-6)
    c = y - y.mean(0)
    torch.testing.assert_close(tril[0] @ tril[0].T, c.T @ c / len(y), rtol=0, atol=1e-6)


def test_ordinal_mle_is_the_class_frequencies() -> None:
    y = torch.from_numpy(_gen().choice(4, 600, p=[0.1, 0.4, 0.2, 0.3]))
    lik = L.Ordinal(4)
    probs = lik.params(_fit(lik, y, 3)).log_probs.exp()[0]
    freq = torch.bincount(y, minlength=4).double() / len(y)
    torch.testing.assert_close(probs, freq, rtol=0, atol=1e-6)


def test_mixture_mle_matches_sklearn_em() -> None:
    mixture = pytest.importorskip("sklearn.mixture")
    g = _gen()
    y_np = np.concatenate([g.normal(-2.0, 0.5, 300), g.normal(3.0, 1.0, 700)])
    gm = mixture.GaussianMixture(2, tol=1e-10, max_iter=1000, random_state=0).fit(y_np[:, None])
    y = torch.from_numpy(y_np)
    lik = L.MixtureOfGaussians(2)
    raw = _fit(lik, y, 6, init=torch.tensor([0.0, 0.0, -1.0, 1.0, 0.5, 0.5]))
    ours = -float(lik.nll(raw, y))
    assert abs(ours - gm.score(y_np[:, None])) < 1e-6
    w, loc, _ = lik.params(raw)
    order = np.argsort(gm.means_[:, 0])
    torch.testing.assert_close(loc[0], torch.from_numpy(gm.means_[order, 0]), atol=1e-4, rtol=0)
    torch.testing.assert_close(w[0].exp(), torch.from_numpy(gm.weights_[order]), atol=1e-4, rtol=0)


def test_plackett_luce_mle_recovers_scores() -> None:
    g = _gen()
    true = np.array([1.0, 0.0, -0.5, 2.0, 0.3])
    rankings = []
    for _ in range(3000):  # sequential draws: pick among the items left, softmax of scores
        left = list(range(5))
        order = []
        while left:
            p = np.exp(true[left] - true[left].max())
            i = left[g.choice(len(left), p=p / p.sum())]
            order.append(i)
            left.remove(i)
        rankings.append(order)
    y = torch.tensor(rankings)
    theta = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([theta], max_iter=200, line_search_fn="strong_wolfe")
    lik = L.PlackettLuce()

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = lik.nll(theta.expand(len(y), 5), y)
        loss.backward()
        return loss

    opt.step(closure)
    est = theta.detach().numpy()
    np.testing.assert_allclose(est - est.mean(), true - true.mean(), atol=0.1)
    assert lik.predict(theta.detach()[None]).tolist() == [[3, 0, 4, 1, 2]]
