"""``nllkit compare``: train one model per loss, tune, calibrate, score, and write a report.

Every input is checked (data, losses, output folder) before anything is written. Each loss's
results are written as soon as it finishes (``metrics.json``, its figure, ``report.html``, each
through a temporary name and a rename), so an interrupted run keeps every finished loss, and
``--resume`` trains only the missing ones.
"""

from __future__ import annotations

import json
import platform
import re
import sys
import tempfile
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..data import DataError, Dataset, load_csv, load_dataset, stratified_split
from ..errors import ConfigurationError
from .evaluate import evaluate
from .figures import loss_figure
from .losses import LossSpec, default_specs, parse_losses
from .report import atomic_write, fmt, present_columns, render_html, write_metrics
from .train import Settings, prepare, train

__all__ = ["DEFAULTS", "run_compare"]

#: training defaults by data kind (a flag overrides them)
DEFAULTS: dict[str, dict[str, Any]] = {
    "table": {
        "epochs": 60,
        "batch_size": 32,
        "lr": 3e-3,
        "patience": 10,
        "weight_decay": 1e-2,
        "select_by": "nll",
    },
    "image": {
        "epochs": 12,
        "batch_size": 16,
        "lr": 3e-3,
        "patience": 4,
        "weight_decay": 1e-4,
        "select_by": "calibrated-nll",
    },
}
MODEL_TEXT = {
    "table": "MLP (standardised features → 64 → 64 → outputs, ReLU)",
    "image": "CNN (4 conv layers, 16 channels, dilations 1-2-4, per-pixel logits)",
}


class Interrupted(Exception):
    """Ctrl-C during a run; carries how many losses had finished."""

    def __init__(self, done: int, total: int, out: Path) -> None:
        super().__init__(f"{done} of {total}")
        self.done, self.total, self.out = done, total, out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "loss"


def _versions() -> dict[str, str]:
    import matplotlib

    return {
        "nllkit": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
    }


def _load(args: Namespace) -> Dataset:
    if args.csv is not None:
        if args.dataset is not None:
            raise ConfigurationError(
                argument="--csv",
                expected="either --csv or --dataset",
                found="both",
                fix="drop one of them",
            )
        if not args.target:
            raise DataError(
                argument="--target",
                expected="the label column of the CSV",
                found="no --target",
                fix="pass --target COLUMN (or --target a,b,c for multi-label)",
            )
        return load_csv(args.csv, args.target)
    if args.target:
        raise ConfigurationError(
            argument="--target",
            expected="--target only with --csv",
            found=f"--target {args.target!r} without --csv",
            fix="add --csv PATH, or drop --target",
        )
    return load_dataset(args.dataset or "breast_cancer")


def _check_positive(name: str, value: float | int | None) -> None:
    if value is not None and not value > 0:
        raise ConfigurationError(
            argument=name, expected="a positive number", found=repr(value), fix=f"pass {name} 1"
        )


def _prepare_out(path: Path) -> None:
    """Create the output folder and prove it is writable (nothing else is written)."""
    if path.exists() and not path.is_dir():
        raise ConfigurationError(
            argument="--out",
            expected="a folder",
            found=f"{str(path)!r} is a file",
            fix="pass another --out",
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / "figures").mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".nllkit-write-test-"):
            pass
    except OSError as e:
        raise ConfigurationError(
            argument="--out",
            expected="a folder nllkit can write to",
            found=f"{str(path)!r}: {e.strerror or e}",
            fix="pass --out to a writable folder",
        ) from None


def _load_previous(out: Path, config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    file = out / "metrics.json"
    if not file.is_file():
        raise ConfigurationError(
            argument="--resume",
            expected=f"a previous run's metrics.json in {str(out)!r}",
            found="none",
            fix="run without --resume first (or pass that run's --out)",
        )
    try:
        prev = json.loads(file.read_text())
        prev_cfg, prev_results = prev["config"], prev["results"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigurationError(
            argument="--resume",
            expected="a readable metrics.json written by nllkit compare",
            found=f"an unreadable {str(file)!r}",
            fix="run again without --resume",
        ) from None
    keys = [k for k in config if k != "losses"]
    diff = [k for k in keys if prev_cfg.get(k) != json.loads(json.dumps(config[k]))]
    if diff:
        k = diff[0]
        raise ConfigurationError(
            argument="--resume",
            expected=f"the settings of the run in {str(out)!r}",
            found=f"{k} = {config[k]!r} now, {prev_cfg.get(k)!r} then",
            fix="resume with the same options, or pass another --out",
        )
    return {
        r["loss"]: r
        for r in prev_results
        if isinstance(r, dict) and "loss" in r and (out / r.get("figure", "")).is_file()
    }


class _Progress:
    """A rich progress bar per loss on a terminal; one plain line per loss otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=20),
                MofNCompleteColumn(),
                TextColumn("epochs  {task.fields[info]}"),
                console=Console(stderr=True),
            )
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def add(self, name: str, total: int) -> Any:
        return self.bar.add_task(name, total=total, info="") if self.bar else None

    def update(self, task: Any, epoch: int, val_nll: float) -> None:
        if self.bar is not None:
            self.bar.update(task, completed=epoch, info=f"val NLL {val_nll:.4f}")

    def finish(self, task: Any, line: str) -> None:
        if self.bar is not None:
            info = line.split(": ", 1)[-1]  # the bar's description already names the loss
            self.bar.update(task, completed=self.bar.tasks[task].total, info=info)
        else:
            print(line, file=sys.stderr, flush=True)


# columns left out first when the terminal is too narrow for the whole table
_DROP_ORDER = (
    "threshold",
    "f1_at_0.5",
    "brier",
    "accuracy",
    "iou_tuned",
    "f1_macro",
    "nll_calibrated",
)


def _print_table(state: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    results = state["results"]
    console = Console(width=None if sys.stdout.isatty() else 200)
    cols = present_columns(results)
    dropped = False
    while True:
        table = Table(
            title=f"nllkit compare: {state['data']['name']} ({state['data']['task']}, test set)"
        )
        table.add_column("loss", no_wrap=True)
        for _, title, _ in cols:
            table.add_column(title, justify="right", no_wrap=True)
        table.add_column("epochs", justify="right", no_wrap=True)
        for r in results:
            cells = [fmt(r["test"].get(k)) for k, _, _ in cols]
            table.add_row(r["loss"], *cells, f"{r['best_epoch']}/{r['epochs_run']}")
        rows = [
            [r["loss"], *(fmt(r["test"].get(k)) for k, _, _ in cols), "000/000"] for r in results
        ]
        heads = ["loss", *(t for _, t, _ in cols), "epochs"]
        need = sum(3 + max(len(x) for x in col) for col in zip(heads, *rows)) + 1
        fits = need <= console.width
        droppable = [c for c in cols if c[0] in _DROP_ORDER]
        if fits or not droppable:
            break
        worst = min(droppable, key=lambda c: _DROP_ORDER.index(c[0]))
        cols = [c for c in cols if c is not worst]
        dropped = True
    console.print(table)
    if dropped:
        console.print("(a narrow terminal: some columns left out; all of them are in report.html)")


def run_compare(args: Namespace, argv: list[str]) -> int:
    """The ``compare`` command (arguments as parsed by :func:`nllkit.cli.build_parser`)."""
    # 1. check every input before writing anything
    for name in ("epochs", "batch_size", "lr", "patience"):
        _check_positive("--" + name.replace("_", "-"), getattr(args, name))
    if args.weight_decay is not None and not args.weight_decay >= 0:
        raise ConfigurationError(
            argument="--weight-decay",
            expected="a number >= 0",
            found=repr(args.weight_decay),
            fix="pass --weight-decay 0 for none",
        )
    ds = _load(args)
    specs: list[LossSpec] = (
        parse_losses(args.losses, ds.task) if args.losses is not None else default_specs(ds.task)
    )
    split = stratified_split(ds.stratify_labels, seed=args.seed)
    d = DEFAULTS[ds.kind]
    settings = Settings(
        epochs=args.epochs or int(d["epochs"]),
        batch_size=args.batch_size or int(d["batch_size"]),
        lr=args.lr or float(d["lr"]),
        patience=args.patience or int(d["patience"]),
        seed=args.seed,
        weight_decay=float(d["weight_decay"]) if args.weight_decay is None else args.weight_decay,
        select_by=str(args.select_by or d["select_by"]).replace("-", "_"),
    )
    out = Path(args.out)
    config = {
        "dataset": ds.name,
        "csv": str(Path(args.csv).resolve()) if args.csv else None,
        "target": args.target,
        "task": ds.task,
        "seed": args.seed,
        "epochs": settings.epochs,
        "batch_size": settings.batch_size,
        "lr": settings.lr,
        "patience": settings.patience,
        "select_by": settings.select_by.replace("_", "-"),
        "weight_decay": settings.weight_decay,
        "metric": args.metric,
        "model": MODEL_TEXT[ds.kind],
        "losses": [s.text for s in specs],
    }
    _prepare_out(out)
    previous = _load_previous(out, config) if args.resume else {}

    # 2. run
    torch.use_deterministic_algorithms(True, warn_only=True)
    state: dict[str, Any] = {
        "command": ["nllkit", *argv],
        "seed": args.seed,
        "versions": _versions(),
        "config": config,
        "data": {
            "name": ds.name,
            "description": ds.description,
            "task": ds.task,
            "likelihood": type(prepare_likelihood(ds)).__name__,
            "reason": ds.reason,
            "rows": ds.n_rows,
            "classes": ds.class_names,
            "split": {"train": len(split.train), "val": len(split.val), "test": len(split.test)},
        },
        "results": [],
        "complete": False,
    }
    quiet = args.quiet
    if not quiet:
        print(
            f"data: {ds.description}\ntask: {ds.task} -> {state['data']['likelihood']} "
            f"({ds.reason})\nsplit: train {len(split.train)} / val {len(split.val)} / test "
            f"{len(split.test)} (seed {args.seed})\nlosses: {', '.join(config['losses'])}",
            file=sys.stderr,
            flush=True,
        )
    prepared = prepare(ds, split)
    done = 0
    with _Progress(enabled=not quiet and sys.stderr.isatty()) as progress:
        for spec in specs:
            if spec.text in previous:
                state["results"].append(previous[spec.text])
                done += 1
                if not quiet:
                    print(f"{spec.text}: resumed from {out / 'metrics.json'}", file=sys.stderr)
                continue
            try:
                result = _run_one(spec, prepared, settings, args.metric, out, progress, quiet)
            except KeyboardInterrupt:
                raise Interrupted(done, len(specs), out) from None
            state["results"].append(result)
            done += 1
            state["complete"] = done == len(specs)
            _write(out, state)
    state["complete"] = True
    _write(out, state)
    if not quiet:
        _print_table(state)
        print(f"report: {out / 'report.html'}", file=sys.stderr)
    return 0


def prepare_likelihood(ds: Dataset) -> Any:
    from .train import likelihood_of

    return likelihood_of(ds)


def _write(out: Path, state: dict[str, Any]) -> None:
    write_metrics(out / "metrics.json", state)
    atomic_write(out / "report.html", render_html(state, out).encode("utf-8"))


def _run_one(
    spec: LossSpec,
    prepared: Any,
    settings: Settings,
    metric: str,
    out: Path,
    progress: _Progress,
    quiet: bool,
) -> dict[str, Any]:
    loss_fn = spec.build(prepared.task)
    task_id = progress.add(spec.text, settings.epochs)
    start = time.perf_counter()
    tr = train(
        prepared,
        loss_fn,
        settings,
        on_epoch=lambda e, _tl, v: progress.update(task_id, e, v),
    )
    ev = evaluate(
        prepared.task,
        prepared.likelihood,
        tr.logits["val"],
        prepared.y["val"],
        tr.logits["test"],
        prepared.y["test"],
        metric,
    )
    slug = _slug(spec.text)
    figure = f"figures/{slug}.png"
    tmp = out / f"figures/.{slug}.png.tmp"
    loss_figure(
        tmp,
        f"{spec.text}  (test NLL {ev.metrics['nll']:.4f})",
        prepared.task,
        metric,
        tr.train_loss,
        tr.val_nll,
        tr.val_nll_calibrated,
        tr.best_epoch,
        ev,
    )
    tmp.replace(out / figure)
    line = (
        f"{spec.text}: best epoch {tr.best_epoch}/{tr.epochs_run}, test NLL "
        f"{ev.metrics['nll']:.4f} ({time.perf_counter() - start:.1f} s)"
    )
    if not quiet:
        progress.finish(task_id, line)
    module = type(loss_fn).__name__
    return {
        "loss": spec.text,
        "slug": slug,
        "module": f"nllkit.nn.{module}",
        "figure": figure,
        "best_epoch": tr.best_epoch,
        "epochs_run": tr.epochs_run,
        "temperature": ev.temperature,
        "calibration_note": ev.note,
        "test": ev.metrics,
        "curves": {
            "train_loss": tr.train_loss,
            "val_nll": tr.val_nll,
            "val_nll_calibrated": tr.val_nll_calibrated,
        },
    }
