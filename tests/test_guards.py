"""nllkit.guards: inspect_model, warnings, and the check-once machinery."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import nllkit.nn as NN
from nllkit import guards
from nllkit.errors import InputShapeError, InputValueError, NLLKitError


def test_sigmoid_before_bce_with_logits_is_found():
    model = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())
    (finding,) = guards.inspect_model(model, nn.BCEWithLogitsLoss())
    assert "ends in Sigmoid" in finding and "remove the final Sigmoid" in finding
    assert guards.inspect_model(model, NN.BCEWithLogitsLoss())  # nllkit's module too


def test_softmax_before_cross_entropy_is_found():
    model = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))
    (finding,) = guards.inspect_model(model, NN.CrossEntropyLoss())
    assert "remove the final Softmax" in finding
    (finding,) = guards.inspect_model(model, NN.FocalLoss("multiclass"))
    assert "remove the final Softmax" in finding


def test_log_softmax_before_a_softmax_loss_is_harmless_but_not_before_a_sigmoid_one():
    """Log-probabilities are valid logits for a softmax (softmax(log_softmax(z)) = softmax(z)):
    CrossEntropyLoss on them gives the same loss, and so does a multiclass focal or Dice loss.
    A sigmoid loss on them is wrong."""
    logsm = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(dim=1))
    x = torch.randn(16, 4)
    for loss in (nn.CrossEntropyLoss(), NN.CrossEntropyLoss(), NN.FocalLoss("multiclass")):
        assert guards.inspect_model(logsm, loss) == []
        assert guards.inspect_model(logsm, loss, x) == []
    (finding,) = guards.inspect_model(logsm, NN.BCEWithLogitsLoss())
    assert "ends in LogSoftmax" in finding
    y = torch.randint(0, 3, (16,))
    z = torch.randn(16, 3)
    torch.testing.assert_close(
        nn.functional.cross_entropy(torch.log_softmax(z, 1), y), nn.functional.cross_entropy(z, y)
    )


def test_all_negative_logits_are_not_taken_for_log_probabilities():
    """A rare class's logits are mostly negative: only rows that log-sum-exp to 0 are
    log-probabilities, so a plain linear head with negative outputs raises nothing."""
    model = nn.Linear(4, 3)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.fill_(-4.0)
    x = torch.randn(16, 4)
    assert guards.inspect_model(model, nn.CrossEntropyLoss(), x) == []
    (finding,) = guards.inspect_model(model, nn.NLLLoss(), x)
    assert "NLLLoss expects log-probabilities but the model outputs logits" in finding
    logsm = nn.Sequential(model, nn.LogSoftmax(dim=1))
    assert guards.inspect_model(logsm, nn.NLLLoss(), x) == []


def test_right_pairings_have_no_findings():
    assert guards.inspect_model(nn.Sequential(nn.Linear(4, 1)), nn.BCEWithLogitsLoss()) == []
    sig = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid(), nn.Dropout(0.1))
    assert guards.inspect_model(sig, nn.BCELoss()) == []
    logsm = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(dim=1))
    assert guards.inspect_model(logsm, NN.NLLLoss()) == []


def test_bce_loss_without_sigmoid_and_nll_without_log_softmax_are_found():
    (f1,) = guards.inspect_model(nn.Sequential(nn.Linear(4, 1)), nn.BCELoss())
    assert "BCELoss expects probabilities" in f1 and "BCEWithLogitsLoss" in f1
    (f2,) = guards.inspect_model(nn.Sequential(nn.Linear(4, 3), nn.Softmax(1)), nn.NLLLoss())
    assert "NLLLoss expects log-probabilities" in f2


def test_sigmoid_inside_forward_is_found_with_an_example_input():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 1)

        def forward(self, x):
            return torch.sigmoid(self.fc(x))

    assert guards.inspect_model(Net(), nn.BCEWithLogitsLoss()) == []  # invisible statically
    (finding,) = guards.inspect_model(Net(), nn.BCEWithLogitsLoss(), torch.randn(16, 4))
    assert "outputs probabilities" in finding


def test_strict_raises_the_first_finding():
    model = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())
    with pytest.raises(InputValueError, match="remove the final Sigmoid"):
        guards.inspect_model(model, nn.BCEWithLogitsLoss(), strict=True)


def test_check_modes_and_reset():
    assert guards.needs_check("f", "first")
    guards.mark_checked("f")
    assert not guards.needs_check("f", "first")
    assert guards.needs_check("f", "always")
    assert not guards.needs_check("f", "never")
    guards.reset_checks()
    assert guards.needs_check("f", "first")


def test_validators_raise_with_the_four_parts():
    with pytest.raises(InputShapeError) as info:
        guards.check_broadcastable(torch.rand(3), torch.Size([4, 2]), "w", fix="reshape it")
    err = info.value
    assert isinstance(err, NLLKitError) and isinstance(err, ValueError)
    assert (err.argument, err.found, err.fix) == ("w", "(3,)", "reshape it")
    assert (
        str(err)
        == "`w`: expected a shape that broadcasts to (4, 2), but found (3,). Fix: reshape it"
    )


def test_infinite_values_are_reported_when_not_allowed():
    with pytest.raises(InputValueError, match=r"without NaN or Inf.*1 such value"):
        guards.check_finite(torch.tensor([0.0, float("inf")]), "x")
    guards.check_finite(torch.tensor([0.0, float("inf")]), "x", allow_inf=True)


def test_fused_kernel_slices_by_device_and_threads():
    """Fused kernels slice by 2**16 elements on one CPU thread (cache), 2**18 with more threads
    (parallel grain), and 2**22 elsewhere (launches)."""
    from nllkit._math import (
        SLICE_ACCELERATOR,
        SLICE_CPU,
        SLICE_CPU_THREADS,
        samples_per_slice,
        slice_elements,
    )

    cpu, meta = torch.empty(100, 3, 1000), torch.empty(100, 3, 1000, device="meta")
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert slice_elements(cpu) == SLICE_CPU == 2**16
        assert samples_per_slice(cpu) == 2**16 // 3000
        torch.set_num_threads(2)
        assert slice_elements(cpu) == SLICE_CPU_THREADS == 2**18
    finally:
        torch.set_num_threads(threads)
    assert slice_elements(meta) == SLICE_ACCELERATOR == 2**22
    assert samples_per_slice(meta) == 2**22 // 3000
    assert samples_per_slice(torch.empty(2, 3, 10**7)) == 1  # a sample larger than a slice


def test_ignore_mask_zeroes_ignored_targets_and_keeps_dtypes():
    from nllkit._math import ignore_mask

    t = torch.tensor([0.0, 1.0, -1.0, 0.25, -1.0], dtype=torch.float64)
    t0, m = ignore_mask(t, -1, torch.float32)
    assert t0.dtype == m.dtype == torch.float32
    assert t0.tolist() == [0.0, 1.0, 0.0, 0.25, 0.0] and m.tolist() == [1, 1, 0, 1, 0]
    y = torch.tensor([[2, 255, 0], [255, 1, 3]])
    y0, k = ignore_mask(y, 255, torch.float64)
    assert y0.dtype == torch.int64 and k.dtype == torch.float64
    assert y0.tolist() == [[2, 0, 0], [0, 1, 3]] and k.tolist() == [[1, 0, 1], [0, 1, 1]]
