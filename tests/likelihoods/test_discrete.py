"""Bernoulli, Categorical and MultiLabel against torch.distributions and torch's losses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as TF

from nllkit.errors import ConfigurationError
from nllkit.likelihoods import Bernoulli, Categorical, MultiLabel


def test_bernoulli_log_prob_matches_torch_distributions_in_float64():
    z = torch.randn(5, 3, dtype=torch.float64) * 4
    y = torch.rand(5, 3, dtype=torch.float64).round()
    lik = Bernoulli()
    torch.testing.assert_close(lik.log_prob(z, y), lik.distribution(z).log_prob(y))
    torch.testing.assert_close(lik.nll(z, y), TF.binary_cross_entropy_with_logits(z, y))
    assert lik.num_outputs == 1


def test_bernoulli_stays_finite_far_from_zero_where_log_of_sigmoid_does_not():
    z = torch.tensor([-200.0, 200.0, 1e4])
    y = torch.tensor([1.0, 0.0, 1.0])
    naive = y * torch.log(torch.sigmoid(z)) + (1 - y) * torch.log(1 - torch.sigmoid(z))
    assert torch.isinf(naive[:2]).all()
    lp = Bernoulli().log_prob(z, y)
    torch.testing.assert_close(lp[:2], torch.tensor([-200.0, -200.0]))
    assert lp[2] == 0


def test_bernoulli_predict_params_mean_sample():
    lik = Bernoulli()
    z = torch.tensor([-1.0, 0.0, 2.0])
    assert lik.predict(z).tolist() == [0, 0, 1]
    p = lik.params(z)
    torch.testing.assert_close(p.probs, torch.sigmoid(z))
    torch.testing.assert_close(lik.mean(z), p.probs)
    s = lik.sample(z, 7)
    assert s.shape == (7, 3) and set(s.unique().tolist()) <= {0.0, 1.0}


def test_categorical_matches_torch_distributions_on_maps():
    z = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    y = torch.randint(0, 4, (2, 3, 3))
    lik = Categorical(4)
    torch.testing.assert_close(lik.log_prob(z, y), lik.distribution(z).log_prob(y))
    torch.testing.assert_close(
        lik.nll(z, y, reduction="sum"), TF.cross_entropy(z, y, reduction="sum")
    )
    assert lik.predict(z).shape == (2, 3, 3)
    torch.testing.assert_close(lik.predict(z), z.argmax(1))
    assert lik.sample(z, 5).shape == (5, 2, 3, 3)
    torch.testing.assert_close(lik.params(z).probs.sum(1), torch.ones(2, 3, 3, dtype=torch.float64))


def test_categorical_mean_is_undefined_and_says_what_to_use():
    with pytest.raises(ConfigurationError, match=r"`mean`: .*Categorical.*use params\(raw\)"):
        Categorical(3).mean(torch.randn(2, 3))


def test_multilabel_distribution_sums_labels():
    z = torch.randn(4, 5, dtype=torch.float64)
    y = torch.rand(4, 5, dtype=torch.float64).round()
    lik = MultiLabel(5)
    torch.testing.assert_close(lik.log_prob(z, y).sum(-1), lik.distribution(z).log_prob(y))
    assert lik.sample(z, 3).shape == (3, 4, 5)
    assert lik.num_outputs == 5


def test_constructor_errors():
    with pytest.raises(ConfigurationError, match=r"`num_classes`: expected an int >= 2.*Bernoulli"):
        Categorical(1)
    with pytest.raises(ConfigurationError, match=r"`num_labels`: expected a positive int"):
        MultiLabel(0)


def test_recipe_text_is_complete():
    for cls in (Bernoulli, Categorical, MultiLabel):
        r = cls.recipe()
        assert all([r.domain, r.distribution, r.link, r.nll, r.predict, r.implemented_by])
        assert cls.__name__ in r.render()
    assert "BCELoss takes probabilities" in Bernoulli.recipe().render()


def test_gradcheck_log_prob():
    z = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 4, (3,))
    assert torch.autograd.gradcheck(lambda z: Categorical(4).log_prob(z, y), (z,))
    yb = torch.rand(3, 4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda z: Bernoulli().log_prob(z, yb), (z,))
