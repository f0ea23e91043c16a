"""Peer libraries for parity tests (test-only), and the formulas of those that cannot be imported.

* MONAI is a dev dependency: :func:`monai_losses` imports ``monai.losses`` or skips.
* segmentation_models_pytorch (smp) imports timm and torchvision at package level, which do not
  work with the CPU torch pinned here. Its ``losses`` subpackage needs neither, so
  :func:`smp_losses` loads it under a stub parent package (when smp is installed, e.g. with
  ``pip install --no-deps segmentation_models_pytorch``) or skips.
* torchvision is not importable: :func:`torchvision_sigmoid_focal_loss` is its documented formula,
  written out in float64.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

import pytest
import torch
from torch import Tensor


def monai_losses() -> Any:
    return pytest.importorskip("monai.losses")


def smp_losses() -> Any:
    name = "segmentation_models_pytorch"
    if f"{name}.losses" in sys.modules:
        return sys.modules[f"{name}.losses"]
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("segmentation_models_pytorch is not installed")
    if name not in sys.modules:
        stub = types.ModuleType(name)
        stub.__path__ = list(spec.submodule_search_locations)
        sys.modules[name] = stub
    try:
        return importlib.import_module(f"{name}.losses")
    except ImportError as exc:  # pragma: no cover - depends on the installed version
        pytest.skip(f"segmentation_models_pytorch.losses cannot be imported: {exc}")


def torchvision_sigmoid_focal_loss(
    inputs: Tensor,
    targets: Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> Tensor:
    """torchvision.ops.sigmoid_focal_loss as documented: BCE · (1 − p_t)^γ · α_t (float64).

    ``p = σ(x)``, ``p_t = p·t + (1 − p)(1 − t)``, ``α_t = α·t + (1 − α)(1 − t)`` (skipped when
    ``α < 0``), with the BCE computed from the logits.
    """
    x, t = inputs.double(), targets.double()
    p = torch.sigmoid(x)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
