"""Loading the user's own table for ``nllkit compare --csv PATH --target COLUMN``.

The file needs a header row; the delimiter (comma, semicolon, tab) is sniffed. The target is one
column (binary or multiclass: any labels, numbers or strings) or several comma-separated 0/1
columns (multi-label). Every other column is a numeric feature. Problems (missing file, undecodable
bytes, ragged rows, a missing or constant target, non-numeric features, missing values) raise a
:class:`~nllkit.data.DataError` whose one-line message says what and where.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from .datasets import DataError, Dataset
from .task import TaskInfo, infer_task

__all__ = ["load_csv"]

_MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"0", "0.0", "false", "no"}


def _to_float(value: str) -> float | None:
    try:
        x = float(value)
    except ValueError:
        return None
    return x


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.exists():
        raise DataError(
            argument="--csv",
            expected="an existing file",
            found=f"no file at {str(path)!r}",
            fix="check the path",
        )
    if not path.is_file():
        raise DataError(
            argument="--csv",
            expected="a CSV file",
            found=f"{str(path)!r} is not a regular file",
            fix="give the path of the .csv file itself",
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(
            argument="--csv",
            expected="a UTF-8 text file with a header row",
            found=f"undecodable bytes at offset {e.start} of {str(path)!r}",
            fix="save the table as UTF-8 CSV",
        ) from None
    except OSError as e:
        raise DataError(
            argument="--csv",
            expected="a readable file",
            found=f"{type(e).__name__}: {e.strerror or e}",
            fix="check the file's permissions",
        ) from None
    if "\x00" in text:
        raise DataError(
            argument="--csv",
            expected="a text CSV file",
            found=f"binary content (NUL bytes) in {str(path)!r}",
            fix="export the table as CSV",
        )
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise DataError(
            argument="--csv",
            expected="a header row and data rows",
            found=f"an empty file {str(path)!r}",
            fix="export the table with its header",
        )
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            "\n".join(lines[:20]), delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    try:
        rows = [r for r in csv.reader(lines, dialect) if any(c.strip() for c in r)]
    except csv.Error as e:
        raise DataError(
            argument="--csv",
            expected="a well-formed CSV file",
            found=str(e),
            fix="check the quoting and delimiters",
        ) from None
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise DataError(
            argument="--csv",
            expected="distinct column names in the header",
            found=f"duplicated {', '.join(map(repr, dup))}",
            fix="rename the duplicated columns",
        )
    body = rows[1:]
    for i, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise DataError(
                argument="--csv",
                expected=f"{len(header)} fields per row, like the header",
                found=f"{len(r)} fields on data row {i - 1} (line {i})",
                fix="check the delimiters and quoting of that row",
            )
    return header, body


def _encode_single(values: list[str], column: str) -> tuple[np.ndarray, list[str], TaskInfo]:
    """Labels as int64 0..K-1, their names, and the task (through the likelihoods)."""
    uniq = sorted(set(values))
    if len(uniq) < 2:
        raise DataError(
            argument="--target",
            expected="a column with at least two distinct labels",
            found=f"column {column!r} is constant ({uniq[0]!r} in every row)",
            fix="pick the column that holds the labels",
        )
    numbers = [_to_float(u) for u in uniq]
    if len(uniq) > 2 and all(x is not None for x in numbers):
        # numbers: likelihood_for reads them as they are (labels 0..K-1, counts, reals, ...)
        raw = np.array([float(v) for v in values])
        info = infer_task(raw)
        y = raw.astype(np.int64)
        return y, [str(k) for k in range(int(y.max()) + 1)], info
    if all(x is not None for x in numbers):  # two numbers: order them numerically
        uniq = sorted(uniq, key=lambda u: float(u))
    index = {u: k for k, u in enumerate(uniq)}
    y = np.array([index[v] for v in values], dtype=np.int64)
    # any two values, or string labels: classes by construction
    return y, list(uniq), infer_task(y, max_classes=max(len(uniq), 2))


def _encode_multilabel(cols: list[list[str]], names: list[str]) -> np.ndarray:
    out = np.zeros((len(cols[0]), len(cols)), dtype=np.int64)
    for j, (col, name) in enumerate(zip(cols, names)):
        for i, v in enumerate(col):
            low = v.lower()
            if low in _TRUE:
                out[i, j] = 1
            elif low not in _FALSE:
                raise DataError(
                    argument="--target",
                    expected="0/1 (or true/false) in every multi-label target column",
                    found=f"{v!r} in column {name!r}, data row {i + 1}",
                    fix="encode each label as its own 0/1 column",
                )
        if out[:, j].min() == out[:, j].max():
            raise DataError(
                argument="--target",
                expected="label columns with both 0s and 1s",
                found=f"column {name!r} is constant ({int(out[0, j])} in every row)",
                fix="drop that label from --target",
            )
    return out


def load_csv(path: str | Path, target: str) -> Dataset:
    """Load a table: ``target`` names the label column (or several 0/1 columns, comma-separated).

    Args:
        path: the CSV file (header row required; delimiter sniffed among ``, ; \\t``).
        target: the label column, or ``"a,b,c"`` for a multi-label target.

    Returns:
        A :class:`~nllkit.data.Dataset` whose task comes from the target through the likelihoods
        (:func:`~nllkit.data.infer_task`).

    Raises:
        DataError: with a one-line message for each problem listed in the module docstring.
    """
    path = Path(path)
    header, body = _read_rows(path)
    wanted = [t.strip() for t in target.split(",") if t.strip()]
    if not wanted:
        raise DataError(
            argument="--target",
            expected="a column name",
            found=repr(target),
            fix="pass --target COLUMN (one of: " + ", ".join(header[:20]) + ")",
        )
    missing = [t for t in wanted if t not in header]
    if missing:
        shown = ", ".join(map(repr, header[:20])) + (" ..." if len(header) > 20 else "")
        raise DataError(
            argument="--target",
            expected="a column of the CSV header",
            found=f"no column {missing[0]!r}",
            fix=f"pick one of {shown}",
        )
    if not body:
        raise DataError(
            argument="--csv",
            expected="data rows after the header",
            found="a header only",
            fix="export the table with its rows",
        )
    t_idx = [header.index(t) for t in wanted]
    f_idx = [j for j in range(len(header)) if j not in t_idx]
    if not f_idx:
        raise DataError(
            argument="--csv",
            expected="at least one feature column besides the target",
            found="only the target column(s)",
            fix="add the feature columns to the file",
        )

    # missing values, anywhere
    missing_cells: dict[str, int] = {}
    for r in body:
        for j, v in enumerate(r):
            if v.strip().lower() in _MISSING:
                missing_cells[header[j]] = missing_cells.get(header[j], 0) + 1
    if missing_cells:
        total = sum(missing_cells.values())
        where = ", ".join(f"{k!r} ({n})" for k, n in list(missing_cells.items())[:5])
        raise DataError(
            argument="--csv",
            expected="no missing values (empty, NA, NaN)",
            found=f"{total} missing value(s) in column(s) {where}",
            fix="drop or impute those rows before comparing losses; nllkit does not guess",
        )

    X = np.empty((len(body), len(f_idx)), dtype=np.float64)
    bad: dict[str, str] = {}
    for i, r in enumerate(body):
        for c, j in enumerate(f_idx):
            x = _to_float(r[j].strip())
            if x is None or not math.isfinite(x):
                bad.setdefault(header[j], r[j])
                x = 0.0
            X[i, c] = x
    if bad:
        where = ", ".join(f"{k!r} (e.g. {v!r})" for k, v in list(bad.items())[:5])
        raise DataError(
            argument="--csv",
            expected="numeric feature columns",
            found=f"non-numeric values in {where}",
            fix="one-hot encode categorical columns (or drop them) before comparing losses",
        )

    if len(wanted) == 1:
        y, class_names, info = _encode_single([r[t_idx[0]].strip() for r in body], wanted[0])
    else:
        y = _encode_multilabel([[r[j].strip() for r in body] for j in t_idx], wanted)
        class_names, info = wanted, infer_task(y)
    return Dataset(
        name=path.stem,
        task=info.task,
        X=X.astype(np.float32),
        y=y,
        class_names=class_names,
        feature_names=[header[j] for j in f_idx],
        description=f"{path.name}: {len(body)} rows, {len(f_idx)} features, target "
        f"{', '.join(wanted)}",
        reason=info.reason,
    )
