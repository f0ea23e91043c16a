"""The files of a ``nllkit compare`` report, each written to a temporary name and renamed.

``metrics.json`` (machine-readable: command line, versions, seed, data, settings, and per loss
its test metrics and training curves) and ``report.html`` (one self-contained page: the results
table, then per loss its four-panel figure embedded as base64 PNG). Writing to ``NAME.tmp`` and
``os.replace``-ing it means a reader (or an interrupted run) only ever sees a complete file.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["TABLE_COLUMNS", "atomic_write", "render_html", "round_floats", "write_metrics"]

_SELECT_TEXT = {"calibrated-nll": "after temperature scaling ", "nll": "(raw) "}

#: (metrics key, column title, higher is better) of the results table, in order
TABLE_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("nll", "NLL", False),
    ("nll_calibrated", "NLL cal", False),
    ("accuracy", "acc", True),
    ("f1_at_0.5", "F1@0.5", True),
    ("f1_tuned", "F1 tuned", True),
    ("f1_macro", "F1 macro", True),
    ("threshold", "thr", True),
    ("auroc", "AUROC", True),
    ("brier", "Brier", False),
    ("ece", "ECE", False),
    ("ece_calibrated", "ECE cal", False),
    ("dice_tuned", "Dice", True),
    ("iou_tuned", "IoU", True),
)


def round_floats(obj: Any, digits: int = 6) -> Any:
    """Round every float in a JSON-like tree to ``digits`` significant digits (NaN → None)."""
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return None
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_floats(v, digits) for v in obj]
    return obj


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through ``path.tmp`` and an atomic rename."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_metrics(path: Path, state: dict[str, Any]) -> None:
    """Write ``metrics.json`` (sorted keys, rounded floats: the same run gives the same bytes)."""
    text = json.dumps(round_floats(state), indent=2, sort_keys=True, allow_nan=False)
    atomic_write(path, (text + "\n").encode())


def present_columns(results: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """The table columns that at least one result has a value for."""
    return [
        c
        for c in TABLE_COLUMNS
        if any(r["test"].get(c[0]) is not None for r in results)
        and not (
            c[0] == "threshold" and any(isinstance(r["test"].get(c[0]), list) for r in results)
        )
    ]


def fmt(value: Any) -> str:
    """A metric for a table cell."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(f"{v:.3f}" for v in value)
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{padding:.3em .7em;border-bottom:1px solid #eee;
text-align:right}th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}
td.best{font-weight:bold;background:#eaf6ea}code,pre{background:#f6f6f6;padding:.1em .3em}
pre{padding:.6em;overflow-x:auto}img{max-width:100%}.meta td{text-align:left}
"""


def _table(results: list[dict[str, Any]]) -> str:
    cols = present_columns(results)
    head = "<tr><th>loss</th>" + "".join(f"<th>{html.escape(t)}</th>" for _, t, _ in cols)
    head += "<th>epochs</th></tr>"
    best: dict[str, float] = {}
    for key, _, higher in cols:
        vals = [r["test"].get(key) for r in results]
        nums = [v for v in vals if isinstance(v, (int, float))]
        if nums and key != "threshold" and len(results) > 1:
            best[key] = max(nums) if higher else min(nums)
    rows = []
    for r in results:
        cells = [f"<td><code>{html.escape(r['loss'])}</code></td>"]
        for key, _, _ in cols:
            v = r["test"].get(key)
            cls = ' class="best"' if key in best and v == best[key] else ""
            cells.append(f"<td{cls}>{html.escape(fmt(v))}</td>")
        cells.append(f"<td>{r['best_epoch']}/{r['epochs_run']}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def render_html(state: dict[str, Any], folder: Path) -> str:
    """The self-contained report page for ``state`` (figures read from ``folder``, inlined)."""
    data, cfg, results = state["data"], state["config"], state["results"]
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>nllkit compare: {esc(data['name'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>nllkit compare: {esc(data['name'])}</h1>",
        "<table class='meta'>",
        f"<tr><td>data</td><td>{esc(data['description'])}</td></tr>",
        f"<tr><td>task</td><td>{esc(data['task'])}: likelihood {esc(data['likelihood'])} "
        f"({esc(data['reason'])})</td></tr>",
        f"<tr><td>split</td><td>train {data['split']['train']}, validation "
        f"{data['split']['val']}, test {data['split']['test']} (stratified, seed "
        f"{state['seed']})</td></tr>",
        f"<tr><td>training</td><td>{esc(cfg['model'])}; Adam lr {cfg['lr']}, weight decay "
        f"{cfg.get('weight_decay', 0)}, batch "
        f"{cfg['batch_size']}, up to {cfg['epochs']} epochs, early stopping on validation NLL "
        f"{_SELECT_TEXT.get(cfg.get('select_by', 'nll'), '')}(patience {cfg['patience']})"
        "</td></tr>",
        f"<tr><td>decision</td><td>threshold tuned on validation for <code>{esc(cfg['metric'])}"
        "</code>; temperature scaling fitted on validation; all metrics on test</td></tr>",
        f"<tr><td>command</td><td><code>{esc(' '.join(state['command']))}</code></td></tr>",
        "</table>",
        "<h2>Results (test set)</h2>",
    ]
    if results:
        parts.append(_table(results))
    else:
        parts.append("<p>No loss has finished yet.</p>")
    if not state.get("complete", False):
        parts.append(
            "<p><b>Incomplete run</b>: finished losses only; continue with "
            "<code>--resume</code>.</p>"
        )
    parts.append(
        "<p>NLL: the test negative log-likelihood of the task's likelihood (lower is better), "
        "before and after temperature scaling. F1 tuned / thr: at the threshold tuned on "
        "validation. ECE: expected calibration error (15 equal-width bins). Epochs: best / run."
        " Bold: the best value of the column.</p>"
    )
    for r in results:
        parts.append(f"<h2 id='{esc(r['slug'])}'><code>{esc(r['loss'])}</code></h2>")
        parts.append(
            f"<p>module: <code>{esc(r['module'])}</code>; temperature {r['temperature']:.3f}"
            + (f" ({esc(r['calibration_note'])})" if r.get("calibration_note") else "")
            + f"; best epoch {r['best_epoch']} of {r['epochs_run']}</p>"
        )
        png = folder / r["figure"]
        if png.is_file():
            b64 = base64.b64encode(png.read_bytes()).decode("ascii")
            parts.append(
                f"<img alt='figures of {esc(r['loss'])}' src='data:image/png;base64,{b64}'>"
            )
    v = state["versions"]
    parts.append(
        "<p style='color:#777;font-size:.8em'>"
        + esc(", ".join(f"{k} {val}" for k, val in sorted(v.items())))
        + "</p></body></html>"
    )
    return "\n".join(parts)
