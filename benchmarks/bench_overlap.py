"""Forward+backward time and peak memory of soft Dice on a (16, 4, 128, 128) map: nllkit vs peers.

Peers: MONAI ``DiceLoss`` and segmentation_models_pytorch ``DiceLoss`` (its ``losses``
subpackage, loaded without timm/torchvision), and, when either is missing, its formula written
naively in torch. Every implementation computes the same number (checked before timing).

Cases (the first two are the headline; the others exercise the other code paths):

* ``multiclass``: logits, softmax over 4 classes, class-index targets, pooled over the batch
  (MONAI ``softmax=True, to_onehot_y=True, batch=True``; smp ``"multiclass"``);
* ``multilabel``: logits, a sigmoid per channel, 0/1 targets (MONAI ``sigmoid=True``; smp
  ``"multilabel"``);
* ``mc-onehot``: as multiclass with one-hot float targets ``(N, C, H, W)`` (MONAI only: smp's
  multiclass mode takes class indices);
* ``mc-per-sample``: as multiclass, one score per sample and class (MONAI ``batch=False``;
  smp has no per-sample mode);
* ``ml-probs``: probabilities in, ``from_logits=False`` (MONAI with no activation; smp
  ``from_logits=False``).

Time: median of several repeats, implementations interleaved. Memory, per call (median over
the repeats), from the process's resident set size (Linux: VmHWM is reset before each call
through /proc/self/clear_refs): ``peak``, the growth of the peak over the resident size just
before the call -- what forward and backward allocate beyond the inputs; and ``held``, what the
forward leaves allocated for the backward (the resident size after forward, less before).
Ratios are against the best peer of the same run.

Usage: python benchmarks/bench_overlap.py [--repeats 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
from _harness import fix_mmap_threshold, measure, results_path, smp_losses

SHAPE = (16, 4, 128, 128)
CASES = ("multiclass", "multilabel", "mc-onehot", "mc-per-sample", "ml-probs")
RESULTS = Path(__file__).parent / "results" / "bench_overlap.json"


def _naive_dice(case: str) -> Any:
    """The textbook formula in plain torch (one-hot target, p·t products)."""

    def f(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if case in ("multiclass", "mc-per-sample"):
            p = torch.softmax(x, 1)
            t = torch.nn.functional.one_hot(y, x.shape[1]).movedim(-1, 1).to(p.dtype)
        elif case == "mc-onehot":
            p, t = torch.softmax(x, 1), y
        else:
            p, t = (x if case == "ml-probs" else torch.sigmoid(x)), y
        dims = (2, 3) if case == "mc-per-sample" else (0, 2, 3)
        tp = (p * t).sum(dims)
        den = p.sum(dims) + t.sum(dims)
        return (1 - (2 * tp) / den).mean()

    return f


def make_losses(case: str) -> dict[str, Any]:
    from nllkit.nn import DiceLoss

    multiclass = case.startswith("mc") or case == "multiclass"
    mode = "multiclass" if multiclass else "multilabel"
    losses: dict[str, Any] = {
        "nllkit": DiceLoss(
            mode,
            smooth=0.0,
            per_sample=case == "mc-per-sample",
            from_logits=case != "ml-probs",
            check="never",
        ),
    }
    try:
        from monai.losses import DiceLoss as MonaiDice

        zero = {"smooth_nr": 0.0, "smooth_dr": 0.0}
        if case in ("multiclass", "mc-per-sample"):
            batch = case == "multiclass"
            m = MonaiDice(softmax=True, to_onehot_y=True, batch=batch, **zero)
            losses["monai"] = lambda x, y: m(x, y.unsqueeze(1))
        elif case == "mc-onehot":
            losses["monai"] = MonaiDice(softmax=True, batch=True, **zero)
        else:
            losses["monai"] = MonaiDice(sigmoid=case == "multilabel", batch=True, **zero)
    except ImportError:
        losses["monai-formula"] = _naive_dice(case)
    if case in ("multiclass", "multilabel", "ml-probs"):
        smp = smp_losses()
        if smp is not None:
            losses["smp"] = smp.DiceLoss(mode, smooth=0.0, from_logits=case != "ml-probs")
        else:
            losses["smp-formula"] = _naive_dice(case)
    return losses


def make_inputs(case: str) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(SHAPE, generator=g)
    if case == "ml-probs":
        x = torch.sigmoid(x)
    x.requires_grad_(True)
    if case.startswith("mc") or case == "multiclass":
        y = torch.randint(0, SHAPE[1], (SHAPE[0], *SHAPE[2:]), generator=g)
        if case == "mc-onehot":
            y = torch.nn.functional.one_hot(y, SHAPE[1]).movedim(-1, 1).float()
    else:
        y = (torch.rand(SHAPE, generator=g) > 0.7).float()
    return x, y


def time_all(case: str, repeats: int) -> tuple[dict[str, float], dict[str, Any], dict[str, float]]:
    losses = make_losses(case)
    x, y = make_inputs(case)
    values = {k: float(f(x, y).detach()) for k, f in losses.items()}
    ref = values["nllkit"]
    for k, v in values.items():
        if abs(v - ref) > 1e-4:
            raise SystemExit(f"{case}: {k} gives {v}, nllkit {ref}: not the same loss")
    med, peak, held = measure(losses, x, y, repeats)
    return med, {"peak": peak, "held": held}, values


def main() -> None:
    fix_mmap_threshold()
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for case in args.cases:
        times, mem, values = time_all(case, args.repeats)
        peers = [k for k in times if k != "nllkit"]
        t_best = min(times[k] for k in peers)
        m_best = min(mem["peak"][k] for k in peers)
        for name in times:
            rows.append(
                {
                    "case": case,
                    "impl": name,
                    "loss": values[name],
                    "time_ms": times[name] * 1e3,
                    "peak_mib": mem["peak"][name] / 2**20,
                    "held_mib": mem["held"][name] / 2**20,
                    "time_ratio": times[name] / t_best,
                    "mem_ratio": mem["peak"][name] / m_best,
                }
            )
    header = (
        f"{'case':<13} {'impl':<13} {'fwd+bwd ms':>10} {'peak MiB':>9} {'held MiB':>9} "
        f"{'time×':>7} {'peak×':>7}"
    )
    print(
        f"soft Dice, forward+backward on {SHAPE}, float32, CPU, {args.threads} thread(s), "
        f"median of {args.repeats}; ratios vs the best peer"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['case']:<13} {r['impl']:<13} {r['time_ms']:>10.1f} {r['peak_mib']:>9.1f} "
            f"{r['held_mib']:>9.1f} {r['time_ratio']:>7.2f} {r['mem_ratio']:>7.2f}"
        )
    results = results_path(RESULTS, args.threads)
    results.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "shape": SHAPE,
        "threads": args.threads,
        "repeats": args.repeats,
        "torch": torch.__version__,
    }
    results.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {results}")


if __name__ == "__main__":
    main()
