"""Benchmark: fused linear + cross-entropy (nllkit) against the naive way and torch's chunked op.

Each measurement runs in a fresh Python process (so one configuration's allocations cannot inflate
another's peak), one at a time, and measures one forward+backward:

* time: wall-clock seconds of ``loss = f(hidden, weight, target); loss.backward()``;
* memory: the process's peak resident memory above what it held once the inputs existed (Linux
  ``VmHWM``, reset through ``/proc/self/clear_refs`` just before the step), in MiB. It counts the
  gradients too: every method has to produce them.

Methods: ``naive`` (``F.cross_entropy(hidden @ weight.T, target)``), ``torch-default`` and
``torch-bcs=K`` (torch's ``F.linear_cross_entropy`` with ``LinearCrossEntropyOptions()`` and with
``batch_chunk_size=K``; only where the installed torch has it), ``nllkit`` (the automatic chunk
size) and ``floor`` (three bare matrix products of the same shapes: the logits, the hidden
gradient, the weight gradient). Repeats are interleaved (every method once, then again) and the
table shows medians; ratios are against ``naive``, the best torch setting and ``floor`` measured
in the same run.

Usage::

    python benchmarks/bench_linear_ce.py                 # both configurations, 3 repeats
    python benchmarks/bench_linear_ce.py --configs bf16 --repeats 1
    python benchmarks/bench_linear_ce.py --scale 4       # N and V divided by 4 (quick look)

The JSON (``results/bench_linear_ce.json``, ``_scaleK`` for ``--scale K``) is merged by
configuration: a run of ``--configs bf16`` replaces only the ``bf16`` entry and keeps ``fp32``.
Each entry records the machine and repeats it was measured with.
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

RESULTS = Path(__file__).resolve().parent / "results"
CONFIGS = {
    "fp32": {"N": 8192, "D": 1024, "V": 65536, "dtype": "float32"},
    "bf16": {"N": 4096, "D": 1024, "V": 32768, "dtype": "bfloat16"},
}
TORCH_CHUNKS = (256, 512, 1024, 2048)


def _status(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"{key} not in /proc/self/status (the benchmark needs Linux)")


def _has_torch_lce() -> bool:
    import torch.nn.functional as F

    return hasattr(F, "linear_cross_entropy") and hasattr(torch.nn, "LinearCrossEntropyOptions")


def _step_fn(method: str):
    import torch.nn.functional as F

    if method == "naive":
        return lambda h, w, t: F.cross_entropy(h @ w.T, t)
    if method.startswith("torch-"):
        opts_cls = torch.nn.LinearCrossEntropyOptions
        if method == "torch-default":
            opts = opts_cls()
        else:
            opts = opts_cls(batch_chunk_size=int(method.split("=")[1]), chunking_method=None)
        return lambda h, w, t: F.linear_cross_entropy(h, w, t, options=opts)
    if method.startswith("nllkit"):
        from nllkit.functional import linear_cross_entropy

        chunk = int(method.split("=")[1]) if "=" in method else None
        return lambda h, w, t: linear_cross_entropy(h, w, t, chunk_size=chunk, check="never")
    raise ValueError(method)


def worker(method: str, n: int, d: int, v: int, dtype_name: str) -> dict:
    """One forward+backward in this process; returns time, peak memory and the loss."""
    dtype = getattr(torch, dtype_name)
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(n, d, generator=g).mul_(0.5).to(dtype).requires_grad_()
    weight = torch.randn(v, d, generator=g).mul_(d**-0.5).to(dtype).requires_grad_()
    target = torch.randint(0, v, (n,), generator=g)
    if method == "floor":
        step = None
    else:
        step = _step_fn(method)
        # warm-up on tiny inputs: lazy imports and one-time set-up must not count as peak memory
        hs = hidden[:8].detach().clone().requires_grad_()
        ws = weight[:64].detach().clone().requires_grad_()
        step(hs, ws, target[:8] % 64).backward()
        del hs, ws
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident size
    base = _status("VmRSS")
    t0 = time.perf_counter()
    if step is None:
        with torch.no_grad():
            z = hidden @ weight.T  # the logits
            gh = z @ weight  # the hidden gradient's product
            gw = z.T @ hidden  # the weight gradient's product
        loss = float("nan")
        del z, gh, gw
    else:
        out = step(hidden, weight, target)
        out.backward()
        loss = float(out)
    elapsed = time.perf_counter() - t0
    peak = _status("VmHWM") - base
    return {"method": method, "time_s": elapsed, "peak_mib": peak, "loss": loss}


def run_one(method: str, cfg: dict) -> dict:
    cmd = [sys.executable, __file__, "--worker", method]
    cmd += [str(cfg["N"]), str(cfg["D"]), str(cfg["V"]), cfg["dtype"]]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        return {"method": method, "error": res.stderr.strip().splitlines()[-1:]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench_config(name: str, cfg: dict, repeats: int, torch_chunks: tuple[int, ...]) -> dict:
    methods = ["naive", "floor", "nllkit"]
    if _has_torch_lce():
        methods += ["torch-default"] + [f"torch-bcs={k}" for k in torch_chunks if k < cfg["N"]]
    runs: dict[str, list[dict]] = {m: [] for m in methods}
    for r in range(repeats):
        for m in methods:
            out = run_one(m, cfg)
            runs[m].append(out)
            msg = out.get("error") or f"{out['time_s']:.2f} s, {out['peak_mib']:.0f} MiB"
            print(f"  [{name} repeat {r + 1}/{repeats}] {m:>15}: {msg}", flush=True)
    rows = {}
    for m, outs in runs.items():
        ok = [o for o in outs if "error" not in o]
        if not ok:
            rows[m] = {"error": outs[0].get("error")}
            continue
        rows[m] = {
            "time_s": statistics.median(o["time_s"] for o in ok),
            "peak_mib": statistics.median(o["peak_mib"] for o in ok),
            "loss": ok[0]["loss"],
            "runs": len(ok),
        }
    return {"config": cfg, "rows": rows}


def summarize(name: str, result: dict) -> dict:
    rows = result["rows"]
    cfg = result["config"]
    naive = rows["naive"]
    torch_rows = {m: r for m, r in rows.items() if m.startswith("torch-") and "time_s" in r}
    best = min(torch_rows, key=lambda m: torch_rows[m]["time_s"]) if torch_rows else None
    head = f"{name}: N={cfg['N']}, D={cfg['D']}, V={cfg['V']}, {cfg['dtype']}"
    print(f"\n{head}")
    print("| method | time (s) | × naive | peak above inputs (MiB) | × naive | loss |")
    print("|---|---:|---:|---:|---:|---:|")
    for m, r in rows.items():
        if "time_s" not in r:
            print(f"| {m} | error: {r.get('error')} | | | | |")
            continue
        tag = " (best torch)" if m == best else ""
        print(
            f"| {m}{tag} | {r['time_s']:.2f} | {r['time_s'] / naive['time_s']:.2f} | "
            f"{r['peak_mib']:.0f} | {r['peak_mib'] / naive['peak_mib']:.3f} | {r['loss']:.4f} |"
        )
    ours = rows["nllkit"]
    goals = {
        "memory_vs_naive": ours["peak_mib"] / naive["peak_mib"],
        "time_vs_naive": ours["time_s"] / naive["time_s"],
        "time_vs_floor": ours["time_s"] / rows["floor"]["time_s"],
    }
    if best is not None:
        goals["time_vs_best_torch"] = ours["time_s"] / torch_rows[best]["time_s"]
    limits = {
        "memory_vs_naive": 0.12,
        "time_vs_naive": 0.7,
        "time_vs_floor": 1.15,
        "time_vs_best_torch": 1.0,
    }
    print("\nnllkit against the goals (same run):")
    for k, val in goals.items():
        verdict = "met" if val <= limits[k] else "NOT met"
        print(f"  {k:>20}: {val:.3f} (goal <= {limits[k]}) {verdict}")
    return {"best_torch": best, "goals": goals, "limits": limits}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--scale", type=int, default=1, help="divide N and V by this (quick runs)")
    p.add_argument("--torch-chunks", type=int, nargs="+", default=list(TORCH_CHUNKS))
    p.add_argument("--worker", nargs=5, metavar=("METHOD", "N", "D", "V", "DTYPE"))
    args = p.parse_args()
    if args.worker:
        m, n, d, v, dt = args.worker
        print(json.dumps(worker(m, int(n), int(d), int(v), dt)))
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "repeats": args.repeats,
        "scale": args.scale,
        "configs": {},
    }
    for name in args.configs:
        cfg = dict(CONFIGS[name])
        cfg["N"] //= args.scale
        cfg["V"] //= args.scale
        print(f"== {name}: {cfg}", flush=True)
        res = bench_config(name, cfg, args.repeats, tuple(args.torch_chunks))
        res["summary"] = summarize(name, res)
        out["configs"][name] = res
    suffix = f"_scale{args.scale}" if args.scale != 1 else ""
    path = RESULTS / f"bench_linear_ce{suffix}.json"
    path.write_text(json.dumps(_merged(path, out), indent=2))
    print(f"\nwrote {path} (configs: {', '.join(args.configs)})")


def _merged(path: Path, out: dict) -> dict:
    """``out`` merged into the results already in ``path``, config by config.

    A run of some configurations replaces only those; the others keep their last measurement,
    each with the machine and repeats it was measured with (stored per config).
    """
    for res in out["configs"].values():
        res["machine"] = out["machine"]
        res["repeats"] = out["repeats"]
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return out
    if not isinstance(old, dict) or not isinstance(old.get("configs"), dict):
        return out
    configs = {}
    for name, res in old["configs"].items():
        if isinstance(res, dict):
            res.setdefault("machine", old.get("machine"))
            res.setdefault("repeats", old.get("repeats"))
            configs[name] = res
    configs.update(out["configs"])
    return {**out, "configs": configs}


if __name__ == "__main__":
    main()
