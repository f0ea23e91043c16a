"""Compare losses on the embedded breast-cancer table and read the results back.

Runs the same job as ``nllkit compare`` (here from Python, with a short budget), then picks the
loss with the lowest calibrated test NLL from ``metrics.json``. Usage::

    python examples/compare_losses.py [OUT_DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nllkit.cli import main


def run(out: Path) -> dict:
    code = main(
        [
            "compare",
            "--losses",
            "bce, bce:pos_weight=2, focal:gamma=2",
            "--epochs",
            "30",
            "--out",
            str(out),
        ]
    )
    if code != 0:
        raise SystemExit(code)
    return json.loads((out / "metrics.json").read_text())


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "nllkit-report-example")
    metrics = run(out)
    best = min(metrics["results"], key=lambda r: r["test"]["nll_calibrated"])
    t = best["test"]
    print(
        f"lowest calibrated test NLL: {best['loss']} ({t['nll_calibrated']:.4f}; threshold "
        f"{t['threshold']:.3f} gives F1 {t['f1_tuned']:.3f}); report: {out / 'report.html'}"
    )
