"""Every parametric likelihood against torch.distributions, gradcheck, extremes and the API."""

from __future__ import annotations

import math

import pytest
import torch

import nllkit.likelihoods as L
from nllkit.errors import ConfigurationError, InputShapeError, InputTypeError

from ._cases import BY_NAME, CASES, Case

IDS = [c.name for c in CASES]


def _data(case: Case, n: int = 64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return case.make(), case.raw(g, n), case.y(g, n)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_log_prob_matches_torch_distribution(case: Case) -> None:
    lik, raw, y = _data(case)
    ours = lik.log_prob(raw, y)
    theirs = lik.distribution(raw).log_prob(case.to_dist(y).to(raw.dtype))
    assert ours.dtype == torch.float64
    if case.name == "von_mises":
        # torch's log I0 is a polynomial approximation (~1e-7); scipy is checked separately.
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    else:
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-10)


def test_parity_with_torch_built_from_params() -> None:
    """torch.distributions.<X>(params) built by hand, not through .distribution()."""
    g = torch.Generator().manual_seed(1)
    raw2 = torch.randn(50, 2, generator=g, dtype=torch.float64)
    y = torch.rand(50, generator=g, dtype=torch.float64) * 0.9 + 0.05
    sp = torch.nn.functional.softplus(raw2) + 1e-6
    D = torch.distributions
    pairs = [
        (L.Gaussian(), D.Normal(raw2[:, 0], sp[:, 1])),
        (L.Laplace(), D.Laplace(raw2[:, 0], sp[:, 1])),
        (L.Gamma(), D.Gamma(sp[:, 0], sp[:, 1])),
        (L.Beta(), D.Beta(sp[:, 0], sp[:, 1])),
        (L.StudentT(df=2.5), D.StudentT(2.5, raw2[:, 0], sp[:, 1])),
    ]
    for lik, dist in pairs:
        torch.testing.assert_close(lik.log_prob(raw2, y), dist.log_prob(y), rtol=1e-12, atol=0)
    torch.testing.assert_close(
        L.Poisson().log_prob(raw2[:, 0], y.round()),
        D.Poisson(raw2[:, 0].exp()).log_prob(y.round()),
        rtol=1e-12,
        atol=1e-12,
    )
    torch.testing.assert_close(
        L.Exponential().log_prob(raw2[:, 0], y), D.Exponential(sp[:, 0]).log_prob(y)
    )


def test_von_mises_matches_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    lik, raw, y = _data(BY_NAME["von_mises"])
    loc, kappa = lik.params(raw)
    ref = stats.vonmises.logpdf(y.numpy(), kappa.numpy(), loc=loc.numpy())
    torch.testing.assert_close(lik.log_prob(raw, y), torch.from_numpy(ref), rtol=1e-12, atol=1e-12)
    # a very concentrated von Mises (κ = 1e4) is still finite and matches the Gaussian limit
    big = torch.tensor([[0.0, 1e4]], dtype=torch.float64)
    lp = lik.log_prob(big, torch.tensor([0.001], dtype=torch.float64))
    k = 1e4 + 1e-6
    gauss = -0.5 * k * 0.001**2 + 0.5 * math.log(k / (2 * math.pi))
    assert abs(float(lp) - gauss) < 1e-4


def test_ordinal_matches_naive_float64() -> None:
    lik, raw, y = _data(BY_NAME["ordinal"])
    cut = lik.params(raw).cutpoints
    assert bool((cut[:, 1:] > cut[:, :-1]).all())
    cdf = torch.cat([torch.zeros(64, 1), torch.sigmoid(cut), torch.ones(64, 1)], 1).double()
    probs = cdf[:, 1:] - cdf[:, :-1]
    torch.testing.assert_close(lik.params(raw).log_probs.exp(), probs, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(lik.log_prob(raw, y), probs.gather(1, y[:, None]).log().squeeze(1))


def test_plackett_luce_matches_sequential_softmax() -> None:
    lik, raw, y = _data(BY_NAME["plackett_luce"], n=8)
    for i in range(8):
        left = list(range(5))
        total = 0.0
        for item in y[i].tolist():
            total += float(torch.log_softmax(raw[i, left], 0)[left.index(item)])
            left.remove(item)
        assert abs(total - float(lik.log_prob(raw[i : i + 1], y[i : i + 1]))) < 1e-12


def test_plackett_luce_top_k_and_special_cases() -> None:
    lik = L.PlackettLuce()
    s = torch.tensor([[0.3, -1.0, 2.0, 0.5]], dtype=torch.float64)
    # top-1 is a softmax cross-entropy over all items
    top1 = lik.log_prob(s, torch.tensor([[3]]))
    torch.testing.assert_close(top1, torch.log_softmax(s, 1)[:, 3])
    # top-2 = pick 2 first, then 0 among {0, 1, 3}
    top2 = lik.log_prob(s, torch.tensor([[2, 0]]))
    ref = torch.log_softmax(s, 1)[0, 2] + torch.log_softmax(s[0, [0, 1, 3]], 0)[0]
    torch.testing.assert_close(top2, ref.view(1))
    # M = 2 is Bradley–Terry: log σ(s_a − s_b)
    pair = torch.tensor([[1.5, -0.5]], dtype=torch.float64)
    bt = lik.log_prob(pair, torch.tensor([[0, 1]]))
    torch.testing.assert_close(bt, torch.nn.functional.logsigmoid(pair[:, 0] - pair[:, 1]))


def test_plackett_luce_probabilities_sum_to_one() -> None:
    import itertools

    lik = L.PlackettLuce()
    s = torch.tensor([[0.3, -1.0, 2.0, 0.5]], dtype=torch.float64)
    perms = torch.tensor(list(itertools.permutations(range(4))))
    lp = lik.log_prob(s.expand(len(perms), 4), perms)
    assert abs(float(lp.exp().sum()) - 1.0) < 1e-12
    assert perms[lp.argmax()].tolist() == lik.predict(s)[0].tolist()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_mean_matches_torch(case: Case) -> None:
    lik, raw, _ = _data(case)
    if case.name == "plackett_luce":
        with pytest.raises(ConfigurationError, match="mean is undefined"):
            lik.mean(raw)
        return
    ours = lik.mean(raw)
    if case.name == "ordinal":
        probs = lik.params(raw).log_probs.exp()
        ref = (probs * torch.arange(4, dtype=probs.dtype)).sum(1)
    else:
        ref = lik.distribution(raw).mean
        if case.name == "multivariate_gaussian":
            ref = ref.movedim(-1, 1)
        if case.name == "von_mises":
            ref = L.wrap_angle(ref)
    torch.testing.assert_close(ours, ref, equal_nan=True)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_sample_and_predict_shapes(case: Case) -> None:
    lik, raw, y = _data(case, n=6)
    s = lik.sample(raw, 4)
    assert s.shape == (4, *y.shape)
    assert lik.predict(raw).shape == y.shape
    # the samples lie in the target domain: the likelihood scores them finitely
    assert bool(torch.isfinite(lik.log_prob(raw, s[0].to(y.dtype))).all())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(case: Case) -> None:
    lik, raw, y = _data(case, n=3)
    raw = raw.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda r: lik.log_prob(r, y), (raw,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_extreme_raw_outputs_give_no_nan(case: Case, dtype: torch.dtype) -> None:
    lik, raw, y = _data(case, n=8)
    for value in (1e4, -1e4, 100.0, -100.0):
        signs = torch.where(
            torch.rand(raw.shape, generator=torch.Generator().manual_seed(3)) < 0.5, 1, -1
        )
        for r in (torch.full_like(raw, value), raw.sign() * value, signs * value):
            r = r.to(dtype).requires_grad_(True)
            params = lik.params(r)
            for p in params:
                assert not bool(torch.isnan(p).any()), (case.name, value)
            lp = lik.log_prob(r, y if not y.is_floating_point() else y.to(dtype))
            assert not bool(torch.isnan(lp).any()), (case.name, value)
            lp.sum().backward()
            assert not bool(torch.isnan(r.grad).any()), (case.name, value)
    # predict once per value sign (the mixture's mode search is iterative)
    for value in (1e4, -1e4):
        r = torch.full_like(raw, value).to(dtype)
        assert not bool(torch.isnan(lik.predict(r).float()).any())


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.name not in ("plackett_luce", "ordinal", "mixture")],
    ids=lambda c: c.name,
)
def test_links_keep_parameters_in_domain(case: Case) -> None:
    lik = case.make()
    n_out = lik.num_outputs
    for value in (1e4, -1e4):
        shape = (5,) if case.name in ("gaussian_fixed", "exponential", "poisson") else (5, n_out)
        for dtype in (torch.float32, torch.float64):
            d = lik.distribution(torch.full(shape, value, dtype=dtype))
            for name, constraint in d.arg_constraints.items():
                # check the parameters we pass, not torch's derived ones (probs from logits,
                # precision from scale_tril), which may round to their domain's edge
                if name in ("logits", "loc", "probs", "precision_matrix", "covariance_matrix"):
                    continue
                val = getattr(d, name)
                assert bool(torch.isfinite(val).all()), (case.name, name, value)
                assert bool(constraint.check(val).all()), (case.name, name, value)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_nll_reductions(case: Case) -> None:
    lik, raw, y = _data(case, n=10)
    none = lik.nll(raw, y, reduction="none")
    torch.testing.assert_close(none, -lik.log_prob(raw, y))
    torch.testing.assert_close(lik.nll(raw, y), none.mean())
    torch.testing.assert_close(lik.nll(raw, y, reduction="sum"), none.sum())
    with pytest.raises(ConfigurationError, match="reduction"):
        lik.nll(raw, y, reduction="avg")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_recipe_text_is_complete(case: Case) -> None:
    lik = case.make()
    r = type(lik).recipe()
    assert all([r.domain, r.distribution, r.link, r.nll, r.predict, r.implemented_by, r.pitfalls])
    assert type(lik).__name__ in r.render()
    assert type(lik).__name__ in repr(lik)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.name != "plackett_luce"], ids=lambda c: c.name
)
def test_wrong_number_of_outputs_is_an_error(case: Case) -> None:
    lik, raw, y = _data(case, n=4)
    if lik.num_outputs == 1:
        # one output per target: y's shape must match raw's
        with pytest.raises(InputShapeError, match="shape"):
            lik.log_prob(raw, y[:2])
        return
    bad = torch.cat([raw, raw[:, :1]], dim=1)
    with pytest.raises(InputShapeError, match="dim 1"):
        lik.log_prob(bad, y)
    with pytest.raises(InputShapeError, match="`y`"):
        lik.log_prob(raw, y[:2])


def test_spatial_shapes() -> None:
    """(N, P, H, W) raw outputs for (N, H, W) targets: parameters on dim 1."""
    g = torch.Generator().manual_seed(5)
    raw = torch.randn(2, 2, 3, 4, generator=g, dtype=torch.float64)
    y = torch.randn(2, 3, 4, generator=g, dtype=torch.float64)
    lp = L.Gaussian().log_prob(raw, y)
    assert lp.shape == (2, 3, 4)
    flat = L.Gaussian().log_prob(raw.movedim(1, -1).reshape(-1, 2), y.reshape(-1))
    torch.testing.assert_close(lp.reshape(-1), flat)
    mog = L.MixtureOfGaussians(2)
    r6 = torch.randn(2, 6, 3, generator=g, dtype=torch.float64)
    assert mog.log_prob(r6, y[:, :, 0]).shape == (2, 3)
    assert mog.predict(r6).shape == (2, 3)
    mvn = L.MultivariateGaussian(2)
    r5 = torch.randn(2, 5, 3, generator=g, dtype=torch.float64)
    y2 = torch.randn(2, 2, 3, generator=g, dtype=torch.float64)
    lp = mvn.log_prob(r5, y2)
    assert lp.shape == (2, 3)
    ref = mvn.log_prob(r5[:, :, 1], y2[:, :, 1])
    torch.testing.assert_close(lp[:, 1], ref)
    assert mvn.sample(r5, 7).shape == (7, 2, 2, 3)
    ordinal = L.Ordinal(3)
    r2 = torch.randn(2, 2, 3, generator=g, dtype=torch.float64)
    assert ordinal.log_prob(r2, torch.zeros(2, 3, dtype=torch.long)).shape == (2, 3)


def test_gaussian_fixed_scale_is_scaled_mse() -> None:
    g = torch.Generator().manual_seed(2)
    mu, y = torch.randn(100, generator=g), torch.randn(100, generator=g)
    for sigma in (0.3, 1.0, 2.5):
        nll = L.Gaussian(scale=sigma).nll(mu, y)
        mse = torch.nn.functional.mse_loss(mu, y)
        ref = mse / (2 * sigma**2) + math.log(sigma) + 0.5 * math.log(2 * math.pi)
        torch.testing.assert_close(nll, ref)


def test_gaussian_matches_torch_gaussian_nll_loss() -> None:
    g = torch.Generator().manual_seed(4)
    raw = torch.randn(30, 2, generator=g, dtype=torch.float64)
    y = torch.randn(30, generator=g, dtype=torch.float64)
    loc, scale = L.Gaussian().params(raw)
    ref = torch.nn.GaussianNLLLoss(full=True, eps=0.0)(loc, y, scale**2)
    torch.testing.assert_close(L.Gaussian().nll(raw, y), ref)


def test_poisson_matches_torch_poisson_nll_loss() -> None:
    g = torch.Generator().manual_seed(4)
    z = torch.randn(30, generator=g, dtype=torch.float64)
    y = torch.poisson(z.exp() * 3, generator=g)
    ref = torch.nn.functional.poisson_nll_loss(z, y, log_input=True, full=False)
    ours = L.Poisson().nll(z, y) - torch.lgamma(y + 1).mean()
    torch.testing.assert_close(ours, ref)


def test_predict_is_the_mode() -> None:
    """predict() maximises the density / mass (checked on a grid)."""
    g = torch.Generator().manual_seed(6)
    grid = torch.linspace(1e-4, 1 - 1e-4, 20001, dtype=torch.float64)
    raw = torch.randn(10, 2, generator=g, dtype=torch.float64) * 2
    beta = L.Beta()
    for i in range(10):
        r = raw[i : i + 1].expand(len(grid), 2)
        lp = beta.log_prob(r, grid)
        mode = float(beta.predict(raw[i : i + 1]))
        a, b = beta.params(raw[i : i + 1])
        if float(a) > 1 and float(b) > 1:
            assert abs(mode - float(grid[lp.argmax()])) < 1e-3
        else:
            assert mode in (0.0, 0.5, 1.0)
    gamma = L.Gamma()
    grid = torch.linspace(1e-3, 30, 30001, dtype=torch.float64)
    for r in ([2.0, 0.0], [4.0, 1.0], [-1.0, 0.0]):
        rr = torch.tensor([r], dtype=torch.float64)
        lp = gamma.log_prob(rr.expand(len(grid), 2), grid)
        assert abs(float(gamma.predict(rr)) - max(float(grid[lp.argmax()]), 0.0)) < 2e-3
    counts = torch.arange(0, 200, dtype=torch.float64)
    for r in ([1.0, 0.0], [2.5, 3.0], [3.0, -2.0], [1.2, 8.0]):
        rr = torch.tensor([r], dtype=torch.float64)
        nb = L.NegativeBinomial()
        lp = nb.log_prob(rr.expand(len(counts), 2), counts)
        assert float(nb.predict(rr)) == float(counts[lp.argmax()])
        pz = rr[:, 0]
        lp = L.Poisson().log_prob(pz.expand(len(counts)), counts)
        assert float(L.Poisson().predict(pz)) == float(counts[lp.argmax()])


def test_mixture_mode_found_numerically() -> None:
    lik = L.MixtureOfGaussians(3)
    g = torch.Generator().manual_seed(7)
    grid = torch.linspace(-12, 12, 24001, dtype=torch.float64)
    for _ in range(5):
        raw = torch.randn(1, 9, generator=g, dtype=torch.float64)
        raw[:, 3:6] *= 4
        lp = lik.log_prob(raw.expand(len(grid), 9), grid)
        mode = float(lik.predict(raw))
        best = float(grid[lp.argmax()])
        # the density at our mode is at least the grid's best (up to the grid spacing)
        assert (
            float(lik.log_prob(raw, torch.tensor([mode], dtype=torch.float64)))
            >= float(lp.max()) - 1e-6
        ), (mode, best)
    # a heavy component beside a tall narrow one: the mode is the narrow peak, not the mean
    raw = torch.tensor([[0.0, 0.0, -3.0, 3.0, 2.0, -3.0]], dtype=torch.float64)
    two = L.MixtureOfGaussians(2)
    assert abs(float(two.predict(raw)) - 3.0) < 1e-3
    assert abs(float(two.mean(raw))) < 1e-12


def test_von_mises_predict_wraps() -> None:
    lik = L.VonMises()
    raw = torch.tensor([[math.pi, 0.0], [-math.pi, 0.0], [7.0, 1.0], [-7.0, 1.0], [0.1, 0.0]])
    pred = lik.predict(raw)
    assert bool(((pred > -math.pi) & (pred <= math.pi)).all())
    torch.testing.assert_close(pred[:2], torch.tensor([math.pi, math.pi]))
    torch.testing.assert_close(torch.cos(pred), torch.cos(raw[:, 0]))
    # 359° and 1° are close: the loss for y = −0.01 around μ = 2π − 0.01 ≈ the loss at μ
    a = lik.log_prob(torch.tensor([[2 * math.pi - 0.01, 2.0]]), torch.tensor([-0.01]))
    b = lik.log_prob(torch.tensor([[-0.01, 2.0]]), torch.tensor([-0.01]))
    torch.testing.assert_close(a, b)


def test_student_t_mean_undefined_for_small_df() -> None:
    lik = L.StudentT(df=0.5)
    m = lik.mean(torch.tensor([[1.0, 0.0]]))
    assert bool(torch.isnan(m).all())
    assert float(L.StudentT(df=3.0).mean(torch.tensor([[1.0, 0.0]]))) == 1.0


def test_exponential_predict_is_zero_and_mean_is_inverse_rate() -> None:
    lik = L.Exponential()
    raw = torch.tensor([0.0, 3.0, -2.0])
    assert bool((lik.predict(raw) == 0).all())
    torch.testing.assert_close(lik.mean(raw), 1 / lik.params(raw).rate)


def test_bad_inputs() -> None:
    with pytest.raises(InputTypeError, match="floating-point"):
        L.Gaussian().log_prob(torch.zeros(3, 2, dtype=torch.long), torch.zeros(3))
    with pytest.raises(InputTypeError, match=r"torch\.Tensor"):
        L.Gaussian().log_prob([[0.0, 1.0]], torch.zeros(1))  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match=r"torch\.Tensor"):
        L.Gaussian().log_prob(torch.zeros(1, 2), [0.0])  # type: ignore[arg-type]
    with pytest.raises(InputShapeError, match="dim 1"):
        L.Gaussian().log_prob(torch.zeros(3), torch.zeros(3))
    with pytest.raises(InputShapeError, match="dim 1"):
        L.Ordinal(3).log_prob(torch.zeros(3, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(InputShapeError, match="dim 1"):
        L.MixtureOfGaussians(2).log_prob(torch.zeros(3, 5), torch.zeros(3))
    with pytest.raises(InputShapeError, match="dim 1"):
        L.MultivariateGaussian(2).log_prob(torch.zeros(3, 4), torch.zeros(3, 2))


@pytest.mark.parametrize(
    "factory, match",
    [
        (lambda: L.Gaussian(scale=0.0), "scale"),
        (lambda: L.Gaussian(scale=-1.0), "scale"),
        (lambda: L.Gaussian(scale=float("inf")), "scale"),
        (lambda: L.Gaussian(floor=0.0), "floor"),
        (lambda: L.StudentT(df=0), "df"),
        (lambda: L.StudentT(df="3"), "df"),
        (lambda: L.Ordinal(1), "num_classes"),
        (lambda: L.Ordinal(2.5), "num_classes"),
        (lambda: L.MixtureOfGaussians(0), "`k`"),
        (lambda: L.MixtureOfGaussians(2, iterations=0), "iterations"),
        (lambda: L.MultivariateGaussian(0), "`dim`"),
        (lambda: L.Beta(check="sometimes"), "check"),
        (lambda: L.Laplace(floor=-1e-6), "floor"),
    ],
)
def test_configuration_errors(factory, match) -> None:
    with pytest.raises(ConfigurationError, match=match):
        factory()
