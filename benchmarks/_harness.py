"""Shared by the loss benchmarks: peers, per-call time and memory, the allocator setting.

Memory is read from the process's resident set size (Linux): writing ``5`` to
``/proc/self/clear_refs`` resets the peak (``VmHWM``) to the current size before each call.
With glibc's mmap threshold fixed (see :func:`fix_mmap_threshold`) every large tensor is its
own mapping, returned to the OS when freed, so the resident size follows the live tensors.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def fix_mmap_threshold() -> None:
    """Re-execute this script with ``MALLOC_MMAP_THRESHOLD_=65536`` unless it is already set.

    glibc otherwise raises the threshold after the first free and keeps freed blocks resident,
    and the resident size stops following the live tensors.
    """
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def results_path(default: Path, threads: int) -> Path:
    """``default`` for one thread, ``<stem>_threads<N>.json`` beside it for ``N`` threads."""
    return default if threads == 1 else default.with_name(f"{default.stem}_threads{threads}.json")


def smp_losses() -> Any | None:
    """segmentation_models_pytorch's ``losses`` subpackage, loaded without timm/torchvision."""
    name = "segmentation_models_pytorch"
    if f"{name}.losses" in sys.modules:
        return sys.modules[f"{name}.losses"]
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    if name not in sys.modules:
        stub = types.ModuleType(name)
        stub.__path__ = list(spec.submodule_search_locations)
        sys.modules[name] = stub
    try:
        return importlib.import_module(f"{name}.losses")
    except ImportError:
        return None


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory(f: Loss, x: torch.Tensor, y: torch.Tensor) -> tuple[int, int]:
    """``(peak, held)`` in bytes: the peak resident growth over one forward+backward, and the
    growth between forward and backward (what the forward keeps for the backward)."""
    x.grad = None
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before = _status("VmRSS")
    out = f(x, y)
    held = _status("VmRSS") - before
    out.backward()
    return _status("VmHWM") - before, held


def measure(
    losses: dict[str, Loss], x: torch.Tensor, y: torch.Tensor, repeats: int
) -> tuple[dict[str, float], dict[str, int], dict[str, int]]:
    """Median forward+backward seconds, peak and held bytes of each loss, interleaved."""
    samples: dict[str, list[float]] = {k: [] for k in losses}
    mem: dict[str, list[tuple[int, int]]] = {k: [] for k in losses}
    for _ in range(2):  # warm-up
        for f in losses.values():
            f(x, y).backward()
    for _ in range(repeats):
        for k, f in losses.items():
            x.grad = None
            t0 = time.perf_counter()
            f(x, y).backward()
            samples[k].append(time.perf_counter() - t0)
            mem[k].append(memory(f, x, y))
    med = {k: statistics.median(v) for k, v in samples.items()}
    peak = {k: int(statistics.median(a for a, _ in v)) for k, v in mem.items()}
    held = {k: int(statistics.median(b for _, b in v)) for k, v in mem.items()}
    return med, peak, held
