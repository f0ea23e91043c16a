"""Embedded data sets for ``nllkit compare``: nothing here touches the network.

* ``breast_cancer`` (the default): the Wisconsin diagnostic breast-cancer table that scikit-learn
  ships inside its package; 569 rows, 30 numeric features, binary (1 = malignant, 212 rows).
* ``digits``: scikit-learn's 8×8 hand-written digits; 1,797 rows, 64 features, 10 classes.
* ``shapes``: a synthetic binary segmentation set generated on the fly: filled discs, squares and
  triangles on a noisy 32×32 image, one mask per image. The foreground covers ~10% of the pixels,
  which is where overlap losses (Dice, Tversky, Jaccard) matter.

The two tables are read straight from the CSV files in scikit-learn's package folder (found
without importing scikit-learn, which is slow to import); if that layout ever changes, the
loaders fall back to :mod:`sklearn.datasets`.
"""

from __future__ import annotations

import gzip
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputValueError

__all__ = [
    "DATASETS",
    "DataError",
    "Dataset",
    "load_breast_cancer",
    "load_dataset",
    "load_digits",
    "make_shapes",
]


class DataError(InputValueError):
    """A data set cannot be used: missing file, bad column, NaN, too few rows, ..."""


@dataclass
class Dataset:
    """A data set ready for ``nllkit compare``.

    Attributes:
        name: a short name (``"breast_cancer"``, a CSV's file name, ...).
        task: ``"binary"``, ``"multiclass"``, ``"multilabel"`` or ``"segmentation"``.
        X: features, float32: ``(N, F)`` for a table, ``(N, 1, H, W)`` for images.
        y: targets: ``(N,)`` int64 labels for binary/multiclass, ``(N, L)`` 0/1 for multi-label,
            ``(N, 1, H, W)`` 0/1 masks for segmentation.
        class_names: the label of each class (binary: ``[negative, positive]``) or each label.
        feature_names: one name per feature column (empty for images).
        description: one line for the report.
        reason: why this task was chosen (from :func:`nllkit.data.infer_task` for a CSV).
    """

    name: str
    task: str
    X: np.ndarray
    y: np.ndarray
    class_names: list[str]
    feature_names: list[str] = field(default_factory=list)
    description: str = ""
    reason: str = ""

    @property
    def kind(self) -> str:
        """``"image"`` for segmentation, else ``"table"``."""
        return "image" if self.task == "segmentation" else "table"

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def stratify_labels(self) -> np.ndarray:
        """One int per row to stratify the split on (the class; for multi-label the label set)."""
        if self.task in ("binary", "multiclass"):
            return self.y.astype(np.int64)
        if self.task == "multilabel":
            weights = 1 << np.arange(self.y.shape[1], dtype=np.int64)
            return (self.y.astype(np.int64) * weights).sum(axis=1)
        # segmentation: stratify on the foreground fraction's tercile
        frac = self.y.reshape(len(self.y), -1).mean(axis=1)
        return np.digitize(frac, np.quantile(frac, [1 / 3, 2 / 3])).astype(np.int64)


def _reason(y: np.ndarray) -> str:
    from .task import infer_task  # task.py imports DataError from here

    return infer_task(y).reason


def _sklearn_data_dir() -> Path | None:
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "datasets" / "data"
    return path if path.is_dir() else None


def _missing_sklearn() -> DataError:
    return DataError(
        argument="--dataset",
        expected="scikit-learn installed (it ships the embedded tables)",
        found="no scikit-learn",
        fix='pip install "nllkit[cli]"',
    )


_BC_BASE = (
    "radius",
    "texture",
    "perimeter",
    "area",
    "smoothness",
    "compactness",
    "concavity",
    "concave points",
    "symmetry",
    "fractal dimension",
)
BREAST_CANCER_FEATURES = (
    [f"mean {b}" for b in _BC_BASE]
    + [f"{b} error" for b in _BC_BASE]
    + [f"worst {b}" for b in _BC_BASE]
)


def load_breast_cancer() -> Dataset:
    """The breast-cancer table: 569 rows, 30 features, binary with 1 = malignant."""
    folder = _sklearn_data_dir()
    file = folder / "breast_cancer.csv" if folder else None
    if file is not None and file.is_file():
        raw = np.loadtxt(file, delimiter=",", skiprows=1)
        X, target = raw[:, :-1], raw[:, -1].astype(np.int64)
    else:  # pragma: no cover - only if scikit-learn changes its layout
        try:
            from sklearn.datasets import load_breast_cancer as _load
        except ImportError as e:
            raise _missing_sklearn() from e
        bunch = _load()
        X, target = bunch.data, bunch.target.astype(np.int64)
    # scikit-learn codes 0 = malignant, 1 = benign; the class of interest is the positive one.
    y = (target == 0).astype(np.int64)
    return Dataset(
        name="breast_cancer",
        task="binary",
        X=X.astype(np.float32),
        y=y,
        class_names=["benign", "malignant"],
        feature_names=list(BREAST_CANCER_FEATURES),
        description="Wisconsin diagnostic breast cancer (scikit-learn): 569 rows, 30 features, "
        "binary, 1 = malignant (212 rows)",
        reason=_reason(y),
    )


def load_digits() -> Dataset:
    """The 8×8 digits table: 1,797 rows, 64 pixel features, 10 classes."""
    folder = _sklearn_data_dir()
    file = folder / "digits.csv.gz" if folder else None
    if file is not None and file.is_file():
        with gzip.open(file, "rt") as fh:
            raw = np.loadtxt(fh, delimiter=",")
        X, y = raw[:, :-1], raw[:, -1].astype(np.int64)
    else:  # pragma: no cover - only if scikit-learn changes its layout
        try:
            from sklearn.datasets import load_digits as _load
        except ImportError as e:
            raise _missing_sklearn() from e
        bunch = _load()
        X, y = bunch.data, bunch.target.astype(np.int64)
    return Dataset(
        name="digits",
        task="multiclass",
        X=X.astype(np.float32),
        y=y,
        class_names=[str(k) for k in range(10)],
        feature_names=[f"pixel_{i}_{j}" for i in range(8) for j in range(8)],
        description="hand-written digits (scikit-learn): 1,797 rows, 64 pixel features, 10 classes",
        reason=_reason(y),
    )


def make_shapes(n: int = 400, size: int = 32, *, noise: float = 0.35, seed: int = 0) -> Dataset:
    """A synthetic binary segmentation set: one to three shapes per noisy image, and their mask.

    Each image holds one to three filled shapes (disc, square or triangle) of random size and
    place; the mask marks their pixels. The image is the mask times a random contrast, blurred by a
    3×3 box, plus Gaussian noise of standard deviation ``noise``. Same ``seed``, same data.

    Args:
        n: number of images.
        size: height and width in pixels.
        noise: standard deviation of the additive Gaussian noise.
        seed: seed of the generator.

    Returns:
        A :class:`Dataset` with ``X`` of shape ``(n, 1, size, size)`` and ``y`` of the same shape.

    Example:
        >>> ds = make_shapes(4, 16, seed=1)
        >>> ds.X.shape, ds.y.shape, ds.task
        ((4, 1, 16, 16), (4, 1, 16, 16), 'segmentation')
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    masks = np.zeros((n, size, size), dtype=np.float32)
    for i in range(n):
        for _ in range(int(rng.integers(1, 4))):
            kind = int(rng.integers(0, 3))
            r = float(rng.uniform(size * 0.07, size * 0.16))
            cy, cx = rng.uniform(r, size - r, size=2)
            if kind == 0:  # disc
                shape = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
            elif kind == 1:  # axis-aligned square
                shape = (np.abs(yy - cy) <= r * 0.85) & (np.abs(xx - cx) <= r * 0.85)
            else:  # upward triangle: below the apex, inside the two slanted edges
                top, bottom = cy - r, cy + r
                half = (yy - top) / (2 * r) * r
                shape = (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half)
            masks[i][shape] = 1.0
    contrast = rng.uniform(0.6, 1.2, size=(n, 1, 1)).astype(np.float32)
    img = masks * contrast
    # 3×3 box blur (edge-padded) so boundaries are soft, as in real images
    pad = np.pad(img, ((0, 0), (1, 1), (1, 1)), mode="edge")
    img = np.mean([pad[:, dy : dy + size, dx : dx + size] for dy in range(3) for dx in range(3)], 0)
    img = img + rng.normal(0.0, noise, size=img.shape).astype(np.float32)
    return Dataset(
        name="shapes",
        task="segmentation",
        X=img[:, None].astype(np.float32),
        y=masks[:, None].astype(np.int64),
        class_names=["background", "shape"],
        description=f"synthetic segmentation: {n} noisy {size}×{size} images of discs, squares "
        f"and triangles, binary masks (~{100 * masks.mean():.0f}% foreground)",
        reason="per pixel: " + _reason(masks.reshape(-1)),
    )


DATASETS: dict[str, Callable[[], Dataset]] = {
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
    "shapes": make_shapes,
}


def load_dataset(name: str) -> Dataset:
    """One of the embedded data sets by name (see :data:`DATASETS`).

    Raises:
        DataError: for an unknown name; the message lists the known ones.
    """
    key = name.strip().lower().replace("-", "_")
    if key not in DATASETS:
        raise DataError(
            argument="--dataset",
            expected="one of " + ", ".join(DATASETS),
            found=repr(name),
            fix="pick one of those, or give your own table with --csv PATH --target COLUMN",
        )
    return DATASETS[key]()
