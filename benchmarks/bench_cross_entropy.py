"""nllkit's cross-entropy family against torch's: forward+backward time and peak memory, as ratios.

Cases (issue 2): BCE-with-logits on 4M elements, CE on 65,536 x 1,000, CE on a (16, 21, 128, 128)
segmentation map (with some ignored pixels). nllkit runs with its default ``check="first"`` (the
first call, made during warm-up, checks; the timed calls do not).

Time: both implementations run interleaved in one process; the ratio is of medians.
Memory: each (case, implementation) runs in a fresh subprocess; the peak resident memory above what
the inputs already hold is read from ``VmHWM`` after resetting it (``/proc/self/clear_refs``).

Usage: ``python benchmarks/bench_cross_entropy.py [--repeats 15]``; writes
``benchmarks/results/cross_entropy.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as TF

import nllkit.functional as NF

CASES = {
    "bce_logits_4M": "BCE-with-logits, 4,194,304 elements",
    "ce_65536x1000": "CE, 65,536 x 1,000",
    "ce_seg_16x21x128x128": "CE, (16, 21, 128, 128) map, ignore_index",
}


def make_inputs(case: str) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    if case == "bce_logits_4M":
        x = torch.randn(4 * 1024 * 1024, generator=g)
        t = torch.randint(0, 2, x.shape, generator=g).float()
    elif case == "ce_65536x1000":
        x = torch.randn(65536, 1000, generator=g)
        t = torch.randint(0, 1000, (65536,), generator=g)
    else:
        x = torch.randn(16, 21, 128, 128, generator=g)
        t = torch.randint(0, 21, (16, 128, 128), generator=g)
        t[:, :8] = 255  # an ignored border, as in VOC-style masks
    return x.requires_grad_(), t


def step(impl: str, case: str, x: torch.Tensor, t: torch.Tensor) -> None:
    mod = NF if impl == "nllkit" else TF
    if case == "bce_logits_4M":
        loss = mod.binary_cross_entropy_with_logits(x, t)
    elif case == "ce_65536x1000":
        loss = mod.cross_entropy(x, t)
    else:
        loss = mod.cross_entropy(x, t, ignore_index=255)
    loss.backward()
    x.grad = None


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def worker_memory(impl: str, case: str) -> None:
    """Run in a fresh process: print the peak RSS (MiB) above the inputs for one step."""
    torch.set_num_threads(2)
    x, t = make_inputs(case)
    step(impl, case, x, t)  # warm-up: the first call also runs nllkit's checks
    base = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    step(impl, case, x, t)
    peak = _status_kib("VmHWM")
    print(json.dumps({"peak_above_inputs_mib": (peak - base) / 1024}))


def measure_memory(impl: str, case: str) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", impl, case],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_above_inputs_mib"])


def measure_time(case: str, repeats: int) -> dict[str, float]:
    x, t = make_inputs(case)
    times: dict[str, list[float]] = {"torch": [], "nllkit": []}
    for impl in times:
        for _ in range(2):
            step(impl, case, x, t)  # warm-up (nllkit's first call runs its checks)
    for _ in range(repeats):
        for impl in times:
            t0 = time.perf_counter()
            step(impl, case, x, t)
            times[impl].append(time.perf_counter() - t0)
    return {impl: statistics.median(v) for impl, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--worker", nargs=2, metavar=("IMPL", "CASE"))
    args = parser.parse_args()
    if args.worker:
        worker_memory(*args.worker)
        return
    torch.set_num_threads(2)
    rows = []
    for case, label in CASES.items():
        med = measure_time(case, args.repeats)
        mem = {impl: measure_memory(impl, case) for impl in ("torch", "nllkit")}
        rows.append(
            {
                "case": case,
                "label": label,
                "torch_ms": med["torch"] * 1e3,
                "nllkit_ms": med["nllkit"] * 1e3,
                "time_ratio": med["nllkit"] / med["torch"],
                "torch_peak_mib": mem["torch"],
                "nllkit_peak_mib": mem["nllkit"],
                "memory_ratio": mem["nllkit"] / mem["torch"] if mem["torch"] > 0 else float("nan"),
            }
        )
    header = (
        "| case | torch fwd+bwd (ms) | nllkit (ms) | time ratio | torch peak (MiB) "
        "| nllkit peak (MiB) | memory ratio |"
    )
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['label']} | {r['torch_ms']:.1f} | {r['nllkit_ms']:.1f} | {r['time_ratio']:.3f} "
            f"| {r['torch_peak_mib']:.1f} | {r['nllkit_peak_mib']:.1f} | {r['memory_ratio']:.3f} |"
        )
    out = Path(__file__).parent / "results" / "cross_entropy.json"
    out.parent.mkdir(exist_ok=True)
    meta = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "repeats": args.repeats,
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
