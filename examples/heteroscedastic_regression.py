"""Heteroscedastic regression: a Gaussian likelihood with a learned, input-dependent scale.

The noise of y = sin(x) + ε grows with |x|. Least squares (a Gaussian with a fixed scale) fits the
mean only; `Gaussian()` predicts a mean and a scale per input (2 outputs) and recovers the noise
level. Run: python examples/heteroscedastic_regression.py  (a few seconds on a CPU)
"""

from __future__ import annotations

import torch
from torch import nn

from nllkit.likelihoods import Gaussian
from nllkit.nn import LikelihoodLoss


def true_std(x: torch.Tensor) -> torch.Tensor:
    return 0.05 + 0.3 * x.abs() / 3


def main() -> None:
    torch.manual_seed(0)
    x = torch.rand(1000, 1) * 6 - 3
    y = torch.sin(x[:, 0]) + true_std(x[:, 0]) * torch.randn(1000)

    lik = Gaussian()  # learned scale: the network outputs (mean, raw scale)
    model = nn.Sequential(
        nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, lik.num_outputs)
    )
    loss_fn = LikelihoodLoss(lik)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(800):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if step % 200 == 0:
            print(f"step {step:4d}  Gaussian NLL {loss.item():.4f}")

    grid = torch.tensor([[-3.0], [-1.5], [0.0], [1.5], [3.0]])
    with torch.no_grad():
        loc, scale = lik.params(model(grid))
    print(f"final NLL {loss.item():.4f}")
    print("   x   predicted mean  sin(x)  predicted std  true std")
    for xi, m, s in zip(grid[:, 0], loc, scale):
        print(f"{xi:5.1f}  {m:13.3f}  {torch.sin(xi):6.3f}  {s:13.3f}  {true_std(xi):8.3f}")


if __name__ == "__main__":
    main()
