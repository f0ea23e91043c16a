"""``nllkit check MODEL --loss LOSS``: model/loss pairings from tiny model files, and every
bad-input case (one line on stderr, exit 2)."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest
import torch

from nllkit.cli import main

from .test_compare import run_cli

MODELS = '''
from __future__ import annotations

import dataclasses

import torch
from torch import nn


@dataclasses.dataclass
class Config:  # a dataclass needs its module in sys.modules while the file loads
    width: int = 1

sigmoid_head = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())
linear = nn.Sequential(nn.Linear(4, 1))
softmax_head = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))
log_softmax_head = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(dim=1))
not_a_model = 42


class SigmoidInForward(nn.Module):
    """The classic hidden mistake: no Sigmoid layer, a torch.sigmoid in forward."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        return torch.sigmoid(self.fc(x))


class Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        raise ValueError("broken forward\\non two lines")


class Zoo:
    head = nn.Sequential(nn.Linear(4, 1))


def build():
    return nn.Sequential(nn.Linear(4, 2), nn.Sigmoid())


def build_tuple():
    return (nn.Linear(4, 1),)


def build_with_args(width):
    return nn.Linear(4, width)
'''


@pytest.fixture
def models(tmp_path, monkeypatch):
    """``models.py`` written into tmp_path, which is also the working directory."""
    (tmp_path / "models.py").write_text(textwrap.dedent(MODELS))
    monkeypatch.chdir(tmp_path)
    return "models.py"


def check(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_problems(out: str, n: int) -> list[str]:
    lines = out.splitlines()
    assert len(lines) == n and all(line.startswith("problem: ") for line in lines), out
    return lines


# --------------------------------------------------------------------------------------------
# pairings
# --------------------------------------------------------------------------------------------
def test_sigmoid_head_with_bce_with_logits_is_a_problem(capsys, models):
    code, out, err = check(capsys, "models.py:sigmoid_head", "--loss", "BCEWithLogitsLoss")
    assert code == 1 and err == ""
    (line,) = assert_problems(out, 1)
    assert "ends in Sigmoid" in line and "remove the final Sigmoid" in line


def test_linear_with_bce_with_logits_is_ok(capsys, models):
    code, out, _ = check(capsys, "models.py:linear", "--loss", "BCEWithLogitsLoss")
    assert code == 0
    assert out.startswith("ok: Sequential -> BCEWithLogitsLoss, which expects logits")
    assert "last layer Linear" in out and out.count("\n") == 1


def test_bce_loss_on_logits_needs_the_input_shape_to_show_the_range(capsys, models):
    args = ["models.py:linear", "--loss", "BCELoss", "--input-shape", "16,4"]
    code, out, _ = check(capsys, *args)
    assert code == 1
    (line,) = assert_problems(out, 1)
    assert "BCELoss expects probabilities but the model outputs logits" in line


def test_sigmoid_in_forward_is_caught_only_with_an_input(capsys, models):
    code, out, _ = check(capsys, "models.py:SigmoidInForward", "--loss", "bce")
    assert code == 0 and out.startswith("ok: SigmoidInForward -> BCEWithLogitsLoss")
    assert "--input-shape also checks the outputs" in out
    code, out, _ = check(
        capsys, "models.py:SigmoidInForward", "--loss", "bce", "--input-shape", "16,4"
    )
    assert code == 1
    (line,) = assert_problems(out, 1)
    assert "outputs probabilities" in line


def test_ok_line_reports_the_output_range(capsys, models):
    code, out, _ = check(capsys, "models.py:linear", "--loss", "bce", "--input-shape", "16,4")
    assert code == 0 and "output (16, 1) in [" in out


def test_log_softmax_with_nll_is_ok_and_softmax_with_ce_is_not(capsys, models):
    code, out, _ = check(capsys, "models.py:log_softmax_head", "--loss", "NLLLoss")
    assert code == 0 and "expects log_probabilities" in out and "LogSoftmax" in out
    code, out, _ = check(capsys, "models.py:softmax_head", "--loss", "CrossEntropyLoss")
    assert code == 1
    (line,) = assert_problems(out, 1)
    assert "ends in Softmax" in line and "CrossEntropyLoss" in line


def test_a_sum_reports_each_logits_term(capsys, models):
    code, out, _ = check(capsys, "models.py:sigmoid_head", "--loss", "bce+0.5*dice")
    assert code == 1
    lines = assert_problems(out, 2)
    assert "BCEWithLogitsLoss" in lines[0] and "DiceLoss" in lines[1]


def test_ce_infers_multiclass_and_a_given_task_is_kept(capsys, models):
    code, out, _ = check(capsys, "models.py:softmax_head", "--loss", "ce")
    assert code == 1 and "CrossEntropyLoss" in out  # built for multiclass without --task
    code, out, _ = check(capsys, "models.py:log_softmax_head", "--loss", "ce")
    assert code == 0 and "CrossEntropyLoss" in out  # log-probabilities are valid logits
    code, out, _ = check(capsys, "models.py:linear", "--loss", "ce", "--task", "multiclass")
    assert code == 0 and "CrossEntropyLoss" in out
    code, _, err = check(capsys, "models.py:linear", "--loss", "ce", "--task", "binary")
    assert code == 2 and "a loss for a binary target" in err


def test_class_paths_and_a_loss_without_expectation(capsys, models):
    code, out, _ = check(capsys, "models.py:sigmoid_head", "--loss", "torch.nn.BCELoss")
    assert code == 0 and "-> BCELoss, which expects probabilities" in out
    # a loss from a module:attr path in the working directory
    with open("check_my_losses.py", "w") as f:
        f.write("from torch import nn\n\nclass MyLoss(nn.MSELoss):\n    pass\n")
    code, out, _ = check(capsys, "models.py:linear", "--loss", "check_my_losses:MyLoss")
    assert code == 0
    assert "MyLoss, which expects unknown" in out and "could not judge" in out
    code, out, _ = check(capsys, "models.py:linear", "--loss", "MSELoss")  # a torch.nn name
    assert code == 0 and "-> MSELoss, which expects unknown" in out


def test_module_import_from_cwd_factories_and_class_attributes(capsys, tmp_path, models):
    (tmp_path / "check_pkg_a").mkdir()
    (tmp_path / "check_pkg_a" / "__init__.py").write_text("")
    (tmp_path / "check_pkg_a" / "nets.py").write_text(textwrap.dedent(MODELS))
    code, out, _ = check(capsys, "check_pkg_a.nets:build", "--loss", "bce")
    assert code == 1 and "ends in Sigmoid" in out  # a factory function, imported from cwd
    code, out, _ = check(capsys, "check_pkg_a.nets:Zoo.head", "--loss", "bce")
    assert code == 0 and out.startswith("ok: Sequential")  # a dotted attribute
    code, out, _ = check(capsys, "models.py:SigmoidInForward", "--loss", "bce")
    assert code == 0  # a class, instantiated
    assert os.getcwd() not in sys.path  # the working directory is removed again


def test_quiet_prints_nothing(capsys, models):
    assert check(capsys, "models.py:sigmoid_head", "--loss", "bce", "-q") == (1, "", "")
    assert check(capsys, "models.py:linear", "--loss", "bce", "--quiet") == (0, "", "")


def test_the_global_rng_is_left_alone(capsys, models):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check(capsys, "models.py:linear", "--loss", "bce", "--input-shape", "16,4")
    assert torch.equal(torch.rand(3), expected)


# --------------------------------------------------------------------------------------------
# bad input: one line on stderr, exit 2
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models.py", "--loss", "bce"], "expected module.path:attr or path/to/file.py:attr"),
        (["missing.py:net", "--loss", "bce"], "no file 'missing.py'"),
        (["no_such_module_x:net", "--loss", "bce"], "No module named 'no_such_module_x'"),
        (["models.py:nope", "--loss", "bce"], "no attribute 'nope'"),
        (["models.py:not_a_model", "--loss", "bce"], "models.py:not_a_model is a int"),
        (["models.py:build_tuple", "--loss", "bce"], "to return an nn.Module, but found a tuple"),
        (["models.py:build_with_args", "--loss", "bce"], "missing 1 required positional"),
        (["broken.py:net", "--loss", "bce"], "ZeroDivisionError: division by zero"),
        (["models.py:linear", "--loss", "nope"], "a loss class of nllkit.nn (BCELoss"),
        (["models.py:linear", "--loss", "focal:gama=2"], "unknown option 'gama'"),
        (["models.py:linear", "--loss", "bce, dice"], "a single loss, but found 2 specs"),
        (["models.py:linear", "--loss", "nope.mod:X"], "No module named 'nope'"),
        (["models.py:linear", "--loss", "torch.nn.init"], "torch.nn.init is a module"),
        (["models.py:linear", "--loss", "bce", "--input-shape", "4,x"], "positive integers"),
        (["models.py:linear", "--loss", "bce", "--input-shape", "4,0"], "positive integers"),
        (["models.py:linear", "--loss", "bce", "--input-shape", "4,5"], "mat1 and mat2"),
        (["models.py:Raises", "--loss", "bce", "--input-shape", "4,4"], "broken forward on two"),
        (["models.py:linear"], "the following arguments are required: --loss"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, models, args, message):
    with open("broken.py", "w") as f:
        f.write("net = 1 / 0\n")
    code, out, err = check(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("nllkit") and err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err


def test_forward_error_names_the_shape(capsys, models):
    code, _, err = check(capsys, "models.py:linear", "--loss", "bce", "--input-shape", "4,5")
    assert code == 2 and "batch of shape (4, 5)" in err and "RuntimeError" in err


# --------------------------------------------------------------------------------------------
# end to end
# --------------------------------------------------------------------------------------------
def test_python_m_nllkit_check_subprocess(tmp_path):
    (tmp_path / "models.py").write_text(textwrap.dedent(MODELS))
    r = run_cli("check", "models.py:sigmoid_head", "--loss", "bce", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert r.stdout.startswith("problem: the model ends in Sigmoid but BCEWithLogitsLoss")
    assert r.stderr == ""


def test_an_output_too_small_to_judge_says_so(capsys, models):
    code, out, _ = check(
        capsys, "models.py:linear", "--loss", "BCEWithLogitsLoss", "--input-shape", "2,4"
    )
    assert code == 0 and "too few values to judge" in out and " in [" not in out
