"""Count regression: Poisson vs Negative Binomial on over-dispersed counts (log link).

Counts are drawn from a Negative Binomial whose mean is exp(0.5 + 0.8·x) and whose variance is
mean + mean²/2. Both likelihoods recover the mean's coefficients; only the Negative Binomial also
models the extra spread, which shows in the held-out NLL.
Run: python examples/count_regression.py  (a few seconds on a CPU)
"""

from __future__ import annotations

import torch
from torch import nn

from nllkit.likelihoods import NegativeBinomial, Poisson
from nllkit.nn import LikelihoodLoss


def make_data(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, 1, generator=generator)
    mean = torch.exp(0.5 + 0.8 * x[:, 0])
    rate = torch._standard_gamma(torch.full((n,), 2.0), generator=generator) / 2.0 * mean
    return x, torch.poisson(rate, generator=generator)  # Gamma–Poisson = NB(mean, r = 2)


def main() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = make_data(4000, g)
    x_test, y_test = make_data(4000, g)
    print(f"train counts: mean {y.mean():.2f}, variance {y.var():.2f} (a Poisson has them equal)")
    for lik in (Poisson(), NegativeBinomial()):
        torch.manual_seed(0)
        model = nn.Linear(1, lik.num_outputs)  # a GLM: log-mean linear in x
        loss_fn = LikelihoodLoss(lik)
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        for _ in range(600):
            opt.zero_grad()
            raw = model(x)
            loss = loss_fn(raw if lik.num_outputs == 2 else raw[:, 0], y)
            loss.backward()
            opt.step()
        with torch.no_grad():
            raw_t = model(x_test)
            raw_t = raw_t if lik.num_outputs == 2 else raw_t[:, 0]
            test_nll = lik.nll(raw_t, y_test).item()
            w, b = model.weight[0, 0].item(), model.bias[0].item()
        extra = ""
        if isinstance(lik, NegativeBinomial):
            extra = f", dispersion r = {lik.params(raw_t).total_count.mean():.2f} (true 2)"
        print(
            f"{type(lik).__name__:16s} log-mean = {b:.3f} + {w:.3f}·x (true 0.5 + 0.8·x)"
            f", test NLL {test_nll:.4f}{extra}"
        )


if __name__ == "__main__":
    main()
