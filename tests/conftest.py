"""Shared test set-up: deterministic seeds, a headless matplotlib, and fresh first-call guards."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch
from hypothesis import settings

from nllkit.guards import reset_checks

# The suite runs with one pytest worker per core (-n 2): one torch thread each avoids
# oversubscription, which makes tiny ops hundreds of times slower on a 2-core machine.
torch.set_num_threads(1)

# Property tests: no per-example deadline (shared CI machines are noisy) and a fixed example
# sequence, so a CI run is reproducible; tests set max_examples themselves.
settings.register_profile("nllkit", deadline=None, derandomize=True)
settings.load_profile("nllkit")


@pytest.fixture(autouse=True)
def _fresh_guards_and_seed():
    """Each test starts with un-checked functionals and the same seed."""
    reset_checks()
    torch.manual_seed(0)
    yield
    reset_checks()
