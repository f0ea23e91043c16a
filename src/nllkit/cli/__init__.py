"""The ``nllkit`` command: ``nllkit compare`` (the main job), ``nllkit explain``, ``nllkit check``.

``nllkit compare`` trains the same small model with several losses on the same split, tunes a
threshold and a temperature on validation, scores each on test, and writes ``report.html``,
``metrics.json`` and the figures (see ``docs/cli.md``). ``nllkit explain NAME`` prints the recipe
of one likelihood or loss. ``nllkit check MODEL --loss LOSS`` says whether a model outputs what a
loss expects (logits, probabilities or log-probabilities); it exits 1 when it finds a problem.
Bad input ends with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from ..errors import NLLKitError

__all__ = ["build_parser", "main"]

_EPILOG_COMPARE = """\
loss spec language (--losses): comma-separated specs; NAME[:key=value...], WEIGHT*NAME, and sums
  "bce, bce:pos_weight=3, focal:gamma=2, bce+0.5*dice"
names: bce, ce, focal, dice, tversky, jaccard (those in this build); `nllkit explain NAME` for each.
"""


_EPILOG_CHECK = """\
example:
  nllkit check models.py:Net --loss BCEWithLogitsLoss --input-shape 8,3,32,32
exit status: 0 ok, 1 problems found (fails a CI job), 2 bad input.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line on stderr and exit status 2 (argparse's usage block is left out)."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``nllkit`` command."""
    from .evaluate import TUNABLE_METRICS

    parser = _Parser(prog="nllkit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(
        dest="command", metavar="{compare,explain,check}", parser_class=_Parser
    )
    c = sub.add_parser(
        "compare",
        help="compare losses on a data set and write a report",
        description="Train one model per loss (same model, seed and split), tune the threshold "
        "and a temperature on validation, score on test, and write report.html, metrics.json "
        "and figures.",
        epilog=_EPILOG_COMPARE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = c.add_argument_group("data (default: the embedded breast-cancer table)")
    data.add_argument(
        "--dataset", metavar="NAME", help="embedded data set: breast_cancer, digits, shapes"
    )
    data.add_argument("--csv", metavar="PATH", help="your own table (header row, numeric features)")
    data.add_argument(
        "--target", metavar="COLUMN", help="label column of --csv (a,b,c: multi-label 0/1 columns)"
    )
    c.add_argument("--losses", metavar="SPECS", help="losses to compare (default: a set per task)")
    c.add_argument(
        "--metric",
        default="f1",
        choices=TUNABLE_METRICS,
        help="metric the threshold is tuned for on validation (default: f1)",
    )
    c.add_argument("--epochs", type=int, help="maximum epochs (default: 60 tables, 12 images)")
    c.add_argument("--batch-size", type=int, help="mini-batch size (default: 32 tables, 16 images)")
    c.add_argument("--lr", type=float, help="Adam learning rate (default: 3e-3)")
    c.add_argument(
        "--weight-decay",
        type=float,
        help="Adam L2 weight decay (default: 1e-2 tables, 1e-4 images)",
    )
    c.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    c.add_argument(
        "--select-by",
        choices=["calibrated-nll", "nll"],
        help="validation score of early stopping: the NLL after temperature scaling "
        "(cross-fitted; fair to losses that are not likelihoods, such as Dice or focal) or the "
        "raw NLL (default: calibrated-nll for images, nll for tables)",
    )
    c.add_argument("--seed", type=int, default=0, help="seed of the split, init and batches")
    c.add_argument("--out", default="nllkit-report", help="output folder (default: nllkit-report)")
    c.add_argument(
        "--resume", action="store_true", help="keep the finished losses of --out, train the rest"
    )
    c.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")

    e = sub.add_parser(
        "explain",
        help="print the recipe of a likelihood or loss",
        description="Print the recipe of one likelihood or loss; with no NAME, list them.",
    )
    e.add_argument("name", nargs="?", metavar="NAME", help="e.g. bce, Bernoulli, FocalLoss")

    k = sub.add_parser(
        "check",
        help="check that a model outputs what its loss expects",
        description="Check a model/loss pairing: does the model output what the loss expects "
        "(logits, probabilities or log-probabilities)? Prints one 'problem: ' line per finding "
        "(exit 1) or one 'ok: ' line (exit 0); bad input exits 2.",
        epilog=_EPILOG_CHECK,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    k.add_argument(
        "model",
        metavar="MODEL",
        help="module.path:attr or path/to/file.py:attr: an nn.Module, an nn.Module class, or a "
        "function returning one (called with no arguments)",
    )
    k.add_argument(
        "--loss",
        required=True,
        metavar="LOSS",
        help="a loss class (BCELoss, torch.nn.BCELoss, mypkg.losses:MyLoss) or one spec of the "
        "--losses language (bce, focal:gamma=2, bce+0.5*dice)",
    )
    k.add_argument(
        "--task",
        choices=["binary", "multiclass", "multilabel", "segmentation"],
        help="task a spec is built for (default: binary, or multiclass for specs such as ce)",
    )
    k.add_argument(
        "--input-shape",
        metavar="N,C,...",
        help="also run the model on a seeded random batch of this shape and check its outputs",
    )
    k.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``nllkit`` command; returns the exit status.

    0 on success, 1 when ``nllkit check`` finds a problem, 2 for bad input, 130 on Ctrl-C.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as stop:  # --help (0) or a usage error (2, one line already printed)
        return int(stop.code or 0)
    try:
        if args.command == "compare":
            from .compare import Interrupted, run_compare

            try:
                return run_compare(args, args_list)
            except Interrupted as stop:
                print(
                    f"nllkit: interrupted: {stop.done} of {stop.total} losses finished; their "
                    f"results are in {stop.out}. Continue with the same command and --resume.",
                    file=sys.stderr,
                )
                return 130
        if args.command == "explain":
            from .explain import explain, list_names

            print(explain(args.name) if args.name else list_names())
            return 0
        if args.command == "check":
            from .check import run_check

            return run_check(args)
        parser.print_help()
        return 2
    except NLLKitError as err:
        print(f"nllkit: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # writing the report (disk full, folder removed mid-run)
        print(f"nllkit: error: {err.strerror or err}: {err.filename or ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nllkit: interrupted before any loss finished", file=sys.stderr)
        return 130
