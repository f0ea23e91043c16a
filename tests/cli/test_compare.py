"""``nllkit compare`` end to end: subprocess runs on every embedded data set and on a CSV, the
files and their contents, determinism, resume after an interruption, and every bad-input case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nllkit.cli import main

SRC = str(Path(__file__).resolve().parents[2] / "src")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m nllkit ARGS`` in a fresh process (src/ on the path, so no install needed)."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env["MPLBACKEND"] = "Agg"
    return subprocess.run(
        [sys.executable, "-m", "nllkit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def check_report(out: Path, losses: list[str], task: str) -> dict:
    """The three outputs exist, agree with each other, and hold what the issue lists."""
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["complete"] is True
    assert metrics["data"]["task"] == task
    assert [r["loss"] for r in metrics["results"]] == losses
    assert {"torch", "numpy", "nllkit", "python"} <= set(metrics["versions"])
    assert metrics["command"][:2] == ["nllkit", "compare"]
    assert isinstance(metrics["seed"], int)
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(losses)
    assert "<table>" in html and "src='figures/" not in html  # self-contained
    for r in metrics["results"]:
        png = out / r["figure"]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"<code>{r['loss']}</code>" in html
        t = r["test"]
        for key in ("nll", "nll_calibrated", "accuracy", "auroc", "brier", "ece", "ece_calibrated"):
            assert isinstance(t[key], float), key
        assert 0.0 <= t["accuracy"] <= 1.0 and 0.0 <= t["auroc"] <= 1.0
        assert len(r["curves"]["val_nll"]) == r["epochs_run"] >= r["best_epoch"] >= 1
        assert r["temperature"] > 0
    assert not list(out.glob("*.tmp")) and not list(out.glob("figures/*.tmp"))
    return metrics


# --------------------------------------------------------------------------------------------
# subprocess runs: each embedded data set, and a CSV
# --------------------------------------------------------------------------------------------
def test_default_dataset_subprocess(tmp_path):
    r = run_cli(
        "compare", "--epochs", "2", "--losses", "bce, focal:gamma=2", "--out", "rep", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    m = check_report(tmp_path / "rep", ["bce", "focal:gamma=2"], "binary")
    assert m["data"]["name"] == "breast_cancer" and m["data"]["likelihood"] == "Bernoulli"
    t = m["results"][0]["test"]
    assert t["auroc"] > 0.9  # two epochs already separate the classes
    assert {"f1_at_0.5", "f1_tuned", "threshold"} <= set(t)
    # the results table is printed, and the task with its likelihood
    assert "nllkit compare: breast_cancer" in r.stdout and "F1 tuned" in r.stdout
    assert "binary -> Bernoulli" in r.stderr
    assert "Traceback" not in r.stderr
    # the same command in-process gives the same metrics.json (up to the --out path)
    assert (
        main(
            [
                "compare",
                "--epochs",
                "2",
                "--losses",
                "bce, focal:gamma=2",
                "-q",
                "--out",
                str(tmp_path / "again"),
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    m.pop("command"), again.pop("command")
    assert m == again


def test_digits_subprocess(tmp_path):
    r = run_cli(
        "compare",
        "--dataset",
        "digits",
        "--epochs",
        "1",
        "--losses",
        "ce",
        "--out",
        "rep",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    m = check_report(tmp_path / "rep", ["ce"], "multiclass")
    t = m["results"][0]["test"]
    assert t["accuracy"] > 0.8 and t["f1_tuned"] is None and t["f1_macro"] > 0.8
    assert m["data"]["likelihood"] == "Categorical"


def test_shapes_subprocess(tmp_path):
    r = run_cli(
        "compare",
        "--dataset",
        "shapes",
        "--epochs",
        "1",
        "--losses",
        "bce+dice",
        "--out",
        "rep",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    m = check_report(tmp_path / "rep", ["bce+dice"], "segmentation")
    t = m["results"][0]["test"]
    for key in ("dice_at_0.5", "iou_at_0.5", "dice_tuned", "iou_tuned"):
        assert 0.0 <= t[key] <= 1.0
    assert t["iou_tuned"] <= t["dice_tuned"]  # IoU = D / (2 − D) ≤ D per image
    assert m["results"][0]["module"] == "nllkit.nn.CombinedLoss"
    assert m["config"]["select_by"] == "calibrated-nll"  # the default for images


def _csv(path: Path, n: int = 120, labels: tuple[str, ...] = ("no", "yes")) -> Path:
    rng = np.random.default_rng(0)
    y = rng.integers(0, len(labels), n)
    x = rng.normal(size=(n, 3)) + y[:, None]
    lines = ["f1,f2,f3,label"] + [
        f"{a:.4f},{b:.4f},{c:.4f},{labels[k]}" for (a, b, c), k in zip(x, y)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_subprocess(tmp_path):
    csv = _csv(tmp_path / "mine.csv", labels=("low", "mid", "high"))
    r = run_cli(
        "compare",
        "--csv",
        str(csv),
        "--target",
        "label",
        "--epochs",
        "2",
        "--losses",
        "ce, focal:gamma=2",
        "--out",
        "rep",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    m = check_report(tmp_path / "rep", ["ce", "focal:gamma=2"], "multiclass")
    assert "multiclass -> Categorical" in r.stderr  # the task is printed
    assert m["data"]["classes"] == ["high", "low", "mid"]
    assert m["config"]["csv"] == str(csv.resolve())


def test_multilabel_csv_in_process(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(90, 4))
    lines = ["a,b,c,d,l1,l2"] + [
        ",".join(f"{v:.3f}" for v in row) + f",{int(row[0] > 0)},{int(row[1] > 0)}" for row in x
    ]
    csv = tmp_path / "ml.csv"
    csv.write_text("\n".join(lines))
    out = tmp_path / "rep"
    assert (
        main(
            [
                "compare",
                "--csv",
                str(csv),
                "--target",
                "l1,l2",
                "--epochs",
                "2",
                "-q",
                "--losses",
                "bce",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    m = check_report(out, ["bce"], "multilabel")
    assert len(m["results"][0]["test"]["threshold"]) == 2  # one tuned threshold per label
    assert m["config"]["select_by"] == "nll"  # the default for tables
    assert "early stopping on validation NLL (raw)" in (out / "report.html").read_text()
    curves = m["results"][0]["curves"]
    assert len(curves["val_nll_calibrated"]) == len(curves["val_nll"]) == 2
    # --select-by calibrated-nll: written in the config and the report
    cal = tmp_path / "cal"
    args = ["compare", "--csv", str(csv), "--target", "l1,l2", "--epochs", "2", "-q"]
    assert main([*args, "--losses", "bce", "--select-by", "calibrated-nll", "--out", str(cal)]) == 0
    assert json.loads((cal / "metrics.json").read_text())["config"]["select_by"] == "calibrated-nll"
    html = (cal / "report.html").read_text()
    assert "early stopping on validation NLL after temperature scaling" in html


# --------------------------------------------------------------------------------------------
# interruption and --resume
# --------------------------------------------------------------------------------------------
def test_interrupt_keeps_finished_losses_and_resume_completes(tmp_path, monkeypatch, capsys):
    from nllkit.cli import compare

    out = tmp_path / "rep"
    args = ["compare", "--epochs", "2", "--losses", "bce, bce:pos_weight=2", "--out", str(out)]
    real_train = compare.train
    calls = {"n": 0}

    def train_then_ctrl_c(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_train(*a, **k)

    monkeypatch.setattr(compare, "train", train_then_ctrl_c)
    assert main(args) == 130
    err = capsys.readouterr().err
    assert "1 of 2 losses finished" in err and "--resume" in err
    m = json.loads((out / "metrics.json").read_text())
    assert m["complete"] is False and [r["loss"] for r in m["results"]] == ["bce"]
    assert "Incomplete run" in (out / "report.html").read_text()
    first = m["results"][0]

    monkeypatch.setattr(compare, "train", real_train)
    assert main([*args, "--resume"]) == 0
    assert "bce: resumed" in capsys.readouterr().err
    m = check_report(out, ["bce", "bce:pos_weight=2"], "binary")
    assert m["results"][0] == first

    # a fresh run gives the same numbers as the interrupted-and-resumed one
    assert main([*args[:-1], str(tmp_path / "fresh"), "-q"]) == 0
    fresh = json.loads((tmp_path / "fresh" / "metrics.json").read_text())
    assert fresh["results"] == m["results"]


def test_resume_refuses_other_settings_or_no_run(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["compare", "--resume", "--out", str(out), "--epochs", "1"]) == 2
    assert "no" in capsys.readouterr().err
    assert main(["compare", "--epochs", "1", "--losses", "bce", "-q", "--out", str(out)]) == 0
    assert main(["compare", "--epochs", "2", "--losses", "bce", "--resume", "--out", str(out)]) == 2
    assert "epochs = 2 now, 1 then" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# bad input: one line on stderr, exit 2, no traceback, nothing written
# --------------------------------------------------------------------------------------------
def _bad_cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    good = _csv(tmp / "good.csv")
    (tmp / "nan.csv").write_text("a,b,y\n1,2,0\n3,,1\n4,5,0\n")
    (tmp / "text.csv").write_text("a,b,y\n1,red,0\n3,blue,1\n")
    (tmp / "const.csv").write_text("a,y\n" + "\n".join(f"{i},1" for i in range(20)))
    (tmp / "few.csv").write_text("a,y\n" + "\n".join(f"{i},{int(i < 2)}" for i in range(12)))
    (tmp / "bytes.csv").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01")
    (tmp / "afile").write_text("x")
    return {
        "missing file": (["--csv", str(tmp / "nope.csv"), "--target", "y"], "no file at"),
        "unreadable csv": (["--csv", str(tmp / "bytes.csv"), "--target", "y"], "CSV"),
        "missing target": (["--csv", str(good), "--target", "nope"], "no column 'nope'"),
        "no target": (["--csv", str(good)], "--target"),
        "constant target": (["--csv", str(tmp / "const.csv"), "--target", "y"], "constant"),
        "non-numeric": (["--csv", str(tmp / "text.csv"), "--target", "y"], "non-numeric"),
        "nan": (["--csv", str(tmp / "nan.csv"), "--target", "y"], "missing value"),
        "too few rows": (["--csv", str(tmp / "few.csv"), "--target", "y"], "rows of each class"),
        "unknown loss": (["--losses", "bce, nope"], "unknown loss 'nope'"),
        "unknown option": (["--losses", "focal:gama=2"], "unknown option 'gama'"),
        "unknown dataset": (["--dataset", "mnist"], "breast_cancer, digits, shapes"),
        "bad epochs": (["--epochs", "0"], "--epochs"),
        "unwritable out": (["--out", str(tmp / "afile" / "sub")], "--out"),
        "out is a file": (["--out", str(tmp / "afile")], "is a file"),
        "bad metric": (["--metric", "f7"], "invalid choice"),
    }


BAD_CASES = [
    "missing file",
    "unreadable csv",
    "missing target",
    "no target",
    "constant target",
    "non-numeric",
    "nan",
    "too few rows",
    "unknown loss",
    "unknown option",
    "unknown dataset",
    "bad epochs",
    "unwritable out",
    "out is a file",
    "bad metric",
]


def test_bad_cases_are_all_listed(tmp_path):
    assert sorted(_bad_cases(tmp_path)) == sorted(BAD_CASES)


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_in_process(tmp_path, capsys, case):
    args, match = _bad_cases(tmp_path)[case]
    if "--out" not in args:
        args = [*args, "--out", str(tmp_path / "rep")]
    assert main(["compare", "--epochs", "1", *args]) == 2
    err = capsys.readouterr().err
    assert match in err
    assert err.count("\n") == 1 and err.startswith("nllkit")  # one line
    assert "Traceback" not in err
    assert not (tmp_path / "rep").exists()  # nothing written


def test_bad_input_subprocess_has_no_traceback(tmp_path):
    r = run_cli("compare", "--losses", "focal:gama=2", "--out", "rep", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "unknown option 'gama'" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "rep").exists()
