"""tune_threshold on 10^7 scores against one sort of the same scores and scikit-learn.

Claim (issue 4): the exact F1-optimal threshold over every distinct score costs at most 2x one
``torch.sort`` of the scores (the floor of any sort-based method) and at most 0.5x scikit-learn's
``precision_recall_curve`` + argmax F1 (the same exact answer).

Measured in one run, interleaved (sort, numpy sort, nllkit, scikit-learn, repeat), medians of
``--repeats`` runs; ratios are against references timed in the same run. ``np.sort`` (values
only) is printed too because nllkit sorts packed integer keys with it on the CPU, so the honest
floor for this implementation is a values-only sort, which is much faster than ``torch.sort``
(that also returns indices). Both answers (threshold and F1) are checked to be equal.

Usage: python benchmarks/bench_threshold.py [--n 10000000] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from nllkit.decision import tune_threshold


def _time(fn) -> tuple[float, object]:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t0, out


def _sklearn_f1(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import precision_recall_curve

    prec, rec, thr = precision_recall_curve(y, p)
    den = prec + rec
    f1 = np.divide(2 * prec * rec, den, out=np.zeros_like(den), where=den > 0)
    i = int(np.argmax(f1[:-1]))
    return float(thr[i]), float(f1[i])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-sklearn", action="store_true")
    ap.add_argument(
        "--threads", type=int, default=None, help="torch threads (1 is steadier on a busy machine)"
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    g = torch.Generator().manual_seed(0)
    y = torch.rand(args.n, generator=g) < 0.3
    # Continuous scores with some ties (float32 sigmoid outputs round to ~5e6 distinct values).
    p = torch.sigmoid(torch.randn(args.n, generator=g) + 1.5 * y)
    p_dev, y_dev = p.to(args.device), y.to(args.device)
    p_np, y_np = p.numpy(), y.numpy()

    tasks = {
        "torch.sort": lambda: torch.sort(p_dev),
        "np.sort (values only)": lambda: np.sort(p_np),
        "nllkit tune_threshold f1": lambda: tune_threshold(p_dev, y_dev, "f1"),
    }
    if not args.no_sklearn:
        tasks["sklearn precision_recall_curve + argmax F1"] = lambda: _sklearn_f1(p_np, y_np)
    times: dict[str, list[float]] = {k: [] for k in tasks}
    answers: dict[str, object] = {}
    tune_threshold(p_dev[:1000], y_dev[:1000], "f1")  # warm-up (imports, allocator)
    for _ in range(args.repeats):
        for name, fn in tasks.items():
            t, out = _time(fn)
            times[name].append(t)
            answers[name] = out
        print(".", end="", flush=True)
    print()

    med = {k: statistics.median(v) for k, v in times.items()}
    ours = answers["nllkit tune_threshold f1"]
    result = {
        "n": args.n,
        "repeats": args.repeats,
        "device": args.device,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "median_s": med,
        "all_s": times,
        "threshold": ours.threshold,  # type: ignore[attr-defined]
        "f1": ours.score,  # type: ignore[attr-defined]
        "ratio_vs_torch_sort": med["nllkit tune_threshold f1"] / med["torch.sort"],
        "ratio_vs_np_sort": med["nllkit tune_threshold f1"] / med["np.sort (values only)"],
    }
    sk = "sklearn precision_recall_curve + argmax F1"
    if sk in med:
        sk_t, sk_f1 = answers[sk]  # type: ignore[misc]
        result["ratio_vs_sklearn"] = med["nllkit tune_threshold f1"] / med[sk]
        result["sklearn_threshold"], result["sklearn_f1"] = sk_t, sk_f1
        result["same_answer"] = bool(sk_t == ours.threshold and abs(sk_f1 - ours.score) < 1e-12)  # type: ignore[attr-defined]

    ref = med["nllkit tune_threshold f1"]
    print(f"tune_threshold on n = {args.n:,} scores ({args.device}, medians of {args.repeats})")
    print(f"| {'method':<44} | {'median s':>9} | {'nllkit / this':>13} |")
    print(f"|{'-' * 46}|{'-' * 11}|{'-' * 15}|")
    for name, t in med.items():
        print(f"| {name:<44} | {t:>9.3f} | {ref / t:>13.2f} |")
    print(f"threshold = {ours.threshold!r}, F1 = {ours.score:.6f}")  # type: ignore[attr-defined]
    if "same_answer" in result:
        print(f"same answer as scikit-learn: {result['same_answer']}")
    out = Path(__file__).parent / "results" / "bench_threshold.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
