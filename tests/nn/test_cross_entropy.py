"""The cross-entropy modules are drop-in replacements for torch's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import nllkit.nn as NN
from nllkit.errors import ConfigurationError, InputTypeError, InputValueError
from nllkit.likelihoods import Bernoulli, Categorical, MultiLabel


def _pairs():
    w3 = torch.rand(3) + 0.1
    return [
        (NN.BCEWithLogitsLoss(), nn.BCEWithLogitsLoss(), "logits"),
        (
            NN.BCEWithLogitsLoss(w3, pos_weight=w3 * 2, reduction="sum"),
            nn.BCEWithLogitsLoss(w3, pos_weight=w3 * 2, reduction="sum"),
            "logits",
        ),
        (NN.BCELoss(w3, reduction="none"), nn.BCELoss(w3, reduction="none"), "probs"),
        (
            NN.CrossEntropyLoss(w3, ignore_index=1, label_smoothing=0.1),
            nn.CrossEntropyLoss(w3, ignore_index=1, label_smoothing=0.1),
            "index",
        ),
        (NN.NLLLoss(w3, reduction="sum"), nn.NLLLoss(w3, reduction="sum"), "log_probs"),
    ]


@pytest.mark.parametrize("i", range(5))
def test_modules_give_torchs_numbers_and_gradients(i):
    ours, theirs, kind = _pairs()[i]
    z = torch.randn(6, 3, requires_grad=True)
    if kind == "logits":
        x, t = z, torch.rand(6, 3).round()
    elif kind == "probs":
        x, t = torch.sigmoid(z), torch.rand(6, 3).round()
    elif kind == "index":
        x, t = z, torch.randint(0, 3, (6,))
    else:
        x, t = torch.log_softmax(z, 1), torch.randint(0, 3, (6,))
    a, b = ours(x, t), theirs(x, t)
    torch.testing.assert_close(a, b)
    (ga,) = torch.autograd.grad(a.sum(), z, retain_graph=True)
    (gb,) = torch.autograd.grad(b.sum(), z)
    torch.testing.assert_close(ga, gb)


def test_buffers_move_with_the_module_and_are_in_the_state_dict():
    loss = NN.CrossEntropyLoss(torch.tensor([1.0, 2.0]))
    assert set(loss.state_dict()) == {"weight"}
    loss = loss.double()
    assert loss.weight.dtype == torch.float64
    z = torch.randn(4, 2, dtype=torch.float64)
    out = loss(z, torch.tensor([0, 1, 1, 0]))
    assert out.dtype == torch.float64


def test_module_checks_its_first_call_only():
    loss = NN.BCEWithLogitsLoss()
    z = torch.randn(3)
    with pytest.raises(InputValueError, match="`target`"):
        loss(z, torch.tensor([0.0, 2.0, 1.0]))  # a failed check is not remembered as passed
    loss(z, torch.tensor([0.0, 1.0, 1.0]))
    loss(z, torch.tensor([0.0, 2.0, 1.0]))  # no second check: the hot path pays nothing
    always = NN.BCEWithLogitsLoss(check="always")
    always(z, torch.rand(3))
    with pytest.raises(InputValueError):
        always(z, torch.tensor([0.0, 2.0, 1.0]))


def test_module_rejects_bad_configuration_at_construction():
    with pytest.raises(ConfigurationError, match="`reduction`"):
        NN.CrossEntropyLoss(reduction="average")
    with pytest.raises(ConfigurationError, match="`check`"):
        NN.BCELoss(check="once")
    with pytest.raises(ConfigurationError, match="`label_smoothing`"):
        NN.BCEWithLogitsLoss(label_smoothing=-0.1)


def test_legacy_reduce_argument():
    loss = NN.BCEWithLogitsLoss(reduce=False)
    assert loss.reduction == "none"
    assert loss(torch.randn(4), torch.rand(4)).shape == (4,)


def test_compile_gives_the_same_numbers():
    loss = NN.CrossEntropyLoss(label_smoothing=0.1)
    z, t = torch.randn(8, 5), torch.randint(0, 5, (8,))
    eager = loss(z, t)
    compiled = torch.compile(loss, backend="eager", fullgraph=False)
    torch.testing.assert_close(compiled(z, t), eager)
    bce = torch.compile(NN.BCEWithLogitsLoss(), backend="eager")
    x, y = torch.randn(8), torch.rand(8)
    torch.testing.assert_close(bce(x, y), NN.BCEWithLogitsLoss()(x, y))


def test_autocast_bf16_training_step():
    model = nn.Linear(4, 3)
    loss = NN.CrossEntropyLoss()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = loss(model(torch.randn(8, 4)), torch.randint(0, 3, (8,)))
    out.backward()
    assert torch.isfinite(model.weight.grad).all()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        p = torch.sigmoid(model(torch.randn(8, 4)))
        out = NN.BCELoss()(p, torch.rand(8, 3).round())
    assert out.dtype == torch.float32


# ---------------------------------------------------------------- LikelihoodLoss
def test_likelihood_loss_equals_the_matching_torch_loss():
    z = torch.randn(6, 4)
    y = torch.randint(0, 4, (6,))
    torch.testing.assert_close(NN.LikelihoodLoss(Categorical(4))(z, y), nn.CrossEntropyLoss()(z, y))
    yb = torch.rand(6, 4).round()
    torch.testing.assert_close(
        NN.LikelihoodLoss(MultiLabel(4), reduction="sum")(z, yb),
        nn.BCEWithLogitsLoss(reduction="sum")(z, yb),
    )
    torch.testing.assert_close(
        NN.LikelihoodLoss(Bernoulli(), reduction="none")(z, yb),
        nn.BCEWithLogitsLoss(reduction="none")(z, yb),
    )


def test_likelihood_loss_rejects_a_class():
    with pytest.raises(InputTypeError, match=r"`likelihood`: expected an nllkit.likelihoods"):
        NN.LikelihoodLoss(Bernoulli)  # type: ignore[arg-type]
