"""Forward+backward time and memory of focal loss on a (16, 4, 128, 128) map: nllkit vs peers.

Cases:

* ``multilabel``: a sigmoid per element, 0/1 targets, ``alpha=0.25, gamma=2``. Peers:
  torchvision's ``sigmoid_focal_loss`` (its formula written in torch, as torchvision computes
  it: torchvision cannot be imported beside the CPU torch pinned here), MONAI
  ``FocalLoss(gamma=2, alpha=0.25)`` and segmentation_models_pytorch
  ``FocalLoss("multilabel", alpha=0.25, gamma=2)``.
* ``multiclass``: a softmax over 4 classes, class-index targets, ``gamma=2``. Peer: MONAI
  ``FocalLoss(use_softmax=True, to_onehot_y=True, gamma=2)``, times ``C`` (its mean runs over
  classes too). smp's multiclass focal is a one-vs-rest sigmoid loss, a different number.
* ``mc-onehot``: the same with one-hot float targets ``(N, C, H, W)`` (MONAI's usual input:
  ``FocalLoss(use_softmax=True, gamma=2)``, times ``C``); nllkit takes its soft-target path.

Every implementation computes the same number (checked before timing). The plain cross-entropy
(torch's fused kernel) is timed alongside as a yardstick, not a peer: focal loss cannot be
cheaper than the cross-entropy it modulates. Time: median of the repeats, implementations
interleaved. Memory per call (median): ``peak``, the growth of the peak resident size over the
call, and ``held``, what the forward keeps for the backward. Ratios are against the best peer.

Usage: python benchmarks/bench_focal.py [--repeats 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from _harness import fix_mmap_threshold, measure, results_path, smp_losses

SHAPE = (16, 4, 128, 128)
CASES = ("multilabel", "multiclass", "mc-onehot")
RESULTS = Path(__file__).parent / "results" / "bench_focal.json"
YARDSTICK = "torch CE"


def torchvision_formula(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """torchvision.ops.sigmoid_focal_loss(x, t, alpha=0.25, gamma=2, reduction="mean")."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * ((1 - p_t) ** 2.0)
    loss = (0.25 * t + 0.75 * (1 - t)) * loss
    return loss.mean()


def make_losses(case: str) -> dict[str, Any]:
    from nllkit.nn import FocalLoss

    losses: dict[str, Any] = {}
    if case == "multilabel":
        losses["nllkit"] = FocalLoss("multilabel", alpha=0.25, gamma=2.0, check="never")
        losses["torchvision-formula"] = torchvision_formula
        try:
            from monai.losses import FocalLoss as MonaiFocal

            losses["monai"] = MonaiFocal(gamma=2.0, alpha=0.25)
        except ImportError:
            pass
        smp = smp_losses()
        if smp is not None:
            losses["smp"] = smp.FocalLoss("multilabel", alpha=0.25, gamma=2.0)
        losses[YARDSTICK] = F.binary_cross_entropy_with_logits
    else:
        onehot = case == "mc-onehot"
        losses["nllkit"] = FocalLoss("multiclass", gamma=2.0, check="never")
        try:
            from monai.losses import FocalLoss as MonaiFocal

            m = MonaiFocal(gamma=2.0, use_softmax=True, to_onehot_y=not onehot)
            if onehot:
                losses["monai"] = lambda x, y: m(x, y) * x.shape[1]
            else:
                losses["monai"] = lambda x, y: m(x, y.unsqueeze(1)) * x.shape[1]
        except ImportError:
            losses["monai-formula"] = _softmax_formula
        losses[YARDSTICK] = F.cross_entropy
    return losses


def _softmax_formula(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Σ_c −t_c (1 − p_c)² log p_c, the mean over positions, written naively."""
    t = y if y.is_floating_point() else F.one_hot(y, x.shape[1]).movedim(-1, 1).to(x.dtype)
    logp = torch.log_softmax(x, 1)
    return (-t * (1 - logp.exp()) ** 2 * logp).sum(1).mean()


def make_inputs(case: str) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(SHAPE, generator=g) * 2).requires_grad_(True)
    if case in ("multiclass", "mc-onehot"):
        y = torch.randint(0, SHAPE[1], (SHAPE[0], *SHAPE[2:]), generator=g)
        return x, (F.one_hot(y, SHAPE[1]).movedim(-1, 1).float() if case == "mc-onehot" else y)
    return x, (torch.rand(SHAPE, generator=g) > 0.9).float()


def main() -> None:
    fix_mmap_threshold()
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for case in CASES:
        losses = make_losses(case)
        x, y = make_inputs(case)
        values = {k: float(f(x, y).detach()) for k, f in losses.items()}
        for k, v in values.items():
            if k != YARDSTICK and abs(v - values["nllkit"]) > 1e-5 * max(1.0, abs(v)):
                raise SystemExit(f"{case}: {k} gives {v}, nllkit {values['nllkit']}")
        times, peak, held = measure(losses, x, y, args.repeats)
        peers = [k for k in times if k not in ("nllkit", YARDSTICK)]
        t_best, m_best = min(times[k] for k in peers), min(peak[k] for k in peers)
        for name in times:
            rows.append(
                {
                    "case": case,
                    "impl": name,
                    "loss": values[name],
                    "time_ms": times[name] * 1e3,
                    "peak_mib": peak[name] / 2**20,
                    "held_mib": held[name] / 2**20,
                    "time_ratio": times[name] / t_best,
                    "mem_ratio": peak[name] / m_best,
                    "time_vs_ce": times[name] / times[YARDSTICK],
                }
            )
    header = (
        f"{'case':<11} {'impl':<20} {'fwd+bwd ms':>10} {'peak MiB':>9} {'held MiB':>9} "
        f"{'time×':>7} {'peak×':>7} {'×CE':>6}"
    )
    print(
        f"focal loss (gamma=2), forward+backward on {SHAPE}, float32, CPU, {args.threads} "
        f"thread(s), median of {args.repeats}; time×/peak× vs the best peer, ×CE vs {YARDSTICK}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['case']:<11} {r['impl']:<20} {r['time_ms']:>10.1f} {r['peak_mib']:>9.1f} "
            f"{r['held_mib']:>9.1f} {r['time_ratio']:>7.2f} {r['mem_ratio']:>7.2f} "
            f"{r['time_vs_ce']:>6.2f}"
        )
    results = results_path(RESULTS, args.threads)
    results.parent.mkdir(parents=True, exist_ok=True)
    meta = {"shape": SHAPE, "threads": args.threads, "repeats": args.repeats}
    meta["torch"] = torch.__version__
    results.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {results}")


if __name__ == "__main__":
    main()
