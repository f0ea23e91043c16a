"""Data for ``nllkit compare``: embedded data sets (no network), CSV loading, task and split.

* :func:`load_dataset` (``"breast_cancer"``, the default; ``"digits"``; ``"shapes"``),
* :func:`load_csv` for the user's own table,
* :func:`infer_task` (binary / multiclass / multi-label, through the likelihoods),
* :func:`stratified_split`, the one split every loss of a comparison shares.
"""

from .csvfile import load_csv
from .datasets import (
    DATASETS,
    DataError,
    Dataset,
    load_breast_cancer,
    load_dataset,
    load_digits,
    make_shapes,
)
from .split import Split, stratified_split
from .task import TaskInfo, infer_task

__all__ = [
    "DATASETS",
    "DataError",
    "Dataset",
    "Split",
    "TaskInfo",
    "infer_task",
    "load_breast_cancer",
    "load_csv",
    "load_dataset",
    "load_digits",
    "make_shapes",
    "stratified_split",
]
