"""The embedded data sets, CSV loading, task inference and the stratified split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nllkit.data import (
    DataError,
    infer_task,
    load_csv,
    load_dataset,
    make_shapes,
    stratified_split,
)


def test_breast_cancer_matches_sklearn():
    sk = pytest.importorskip("sklearn.datasets")
    ds = load_dataset("breast_cancer")
    ref = sk.load_breast_cancer()
    assert ds.X.shape == (569, 30) and ds.task == "binary"
    np.testing.assert_allclose(ds.X, ref.data, rtol=1e-6)
    # positive class = malignant = sklearn's 0
    np.testing.assert_array_equal(ds.y, (ref.target == 0).astype(np.int64))
    assert int(ds.y.sum()) == 212
    assert ds.feature_names == list(ref.feature_names)
    assert "Bernoulli" in ds.reason


def test_digits_matches_sklearn():
    sk = pytest.importorskip("sklearn.datasets")
    ds = load_dataset("digits")
    ref = sk.load_digits()
    assert ds.task == "multiclass" and ds.X.shape == (1797, 64)
    np.testing.assert_array_equal(ds.X, ref.data.astype(np.float32))
    np.testing.assert_array_equal(ds.y, ref.target)
    assert "Categorical(10)" in ds.reason


def test_shapes_is_deterministic_and_sensible():
    a, b = make_shapes(50, seed=3), make_shapes(50, seed=3)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.y, make_shapes(50, seed=4).y)
    assert a.X.shape == a.y.shape == (50, 1, 32, 32)
    assert set(np.unique(a.y)) == {0, 1}
    frac = a.y.mean()
    assert 0.02 < frac < 0.3  # a minority foreground: where overlap losses matter
    # the image carries the mask: foreground pixels are brighter on average
    assert a.X[a.y == 1].mean() > a.X[a.y == 0].mean() + 0.3
    assert a.task == "segmentation" and a.kind == "image"


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DataError, match="breast_cancer, digits, shapes"):
        load_dataset("mnist")


def test_split_is_stratified_disjoint_and_seeded():
    y = np.array([0] * 70 + [1] * 30)
    s = stratified_split(y, seed=1)
    parts = [s.train, s.val, s.test]
    assert sum(len(p) for p in parts) == 100
    assert len(np.unique(np.concatenate(parts))) == 100
    for p in parts:
        assert abs(y[p].mean() - 0.3) < 0.05
    s2 = stratified_split(y, seed=1)
    np.testing.assert_array_equal(s.test, s2.test)
    assert not np.array_equal(s.test, stratified_split(y, seed=2).test)


def test_split_refuses_too_few_rows():
    with pytest.raises(DataError, match="rows of each class"):
        stratified_split(np.array([0] * 20 + [1] * 2))
    with pytest.raises(DataError, match="at least 10 rows"):
        stratified_split(np.array([0, 1] * 4))


def test_infer_task_goes_through_likelihood_for():
    assert infer_task(np.array([0, 1, 0, 1])).likelihood == "Bernoulli"
    assert infer_task(np.array([0, 1, 2, 1])).task == "multiclass"
    assert infer_task(np.array([[0, 1], [1, 1], [0, 0]])).task == "multilabel"
    with pytest.raises(DataError, match="Gamma"):
        infer_task(np.array([0.5, 1.7, 2.2, 3.1]))


def _write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_string_labels_multiclass(tmp_path):
    rows = "\n".join(f"{i},{i % 7 * 0.5},{['cat', 'dog', 'eel'][i % 3]}" for i in range(30))
    ds = load_csv(_write(tmp_path, "a,b,animal\n" + rows), "animal")
    assert ds.task == "multiclass" and ds.class_names == ["cat", "dog", "eel"]
    assert ds.X.shape == (30, 2) and ds.feature_names == ["a", "b"]
    assert ds.y[:3].tolist() == [0, 1, 2]


def test_csv_binary_any_two_values_semicolon(tmp_path):
    rows = "\n".join(f"{i};{2 if i % 2 else 1}" for i in range(12))
    ds = load_csv(_write(tmp_path, "x;y\n" + rows), "y")
    assert ds.task == "binary" and ds.class_names == ["1", "2"]
    assert ds.y.tolist() == [0, 1] * 6


def test_csv_multilabel(tmp_path):
    rows = "\n".join(f"{i},{i % 2},{(i // 2) % 2}" for i in range(12))
    ds = load_csv(_write(tmp_path, "x,l1,l2\n" + rows), "l1,l2")
    assert ds.task == "multilabel" and ds.y.shape == (12, 2)
    assert ds.class_names == ["l1", "l2"]


@pytest.mark.parametrize(
    ("text", "target", "match"),
    [
        ("a,b\n1,2\n", "c", "no column 'c'"),
        ("a,b\n1,x\n2,x\n", "b", "constant"),
        ("a,b,c\n1,z,0\n2,3,1\n", "c", "non-numeric values in 'b'"),
        ("a,b\n1,0\n,1\n", "b", "missing value"),
        ("a,b\n1,0\n2\n", "b", "2 fields per row"),
        ("a,b\n0.5,0.1\n1,0.7\n2,0.33\n", "b", "Beta"),
        ("a,b,b\n1,0,1\n", "b", "duplicated"),
        ("a\n", "a", "data rows"),
        ("", "a", "empty file"),
    ],
)
def test_csv_errors(tmp_path, text, target, match):
    with pytest.raises(DataError, match=match):
        load_csv(_write(tmp_path, text), target)


def test_csv_missing_and_binary_files(tmp_path):
    with pytest.raises(DataError, match="no file at"):
        load_csv(tmp_path / "nope.csv", "y")
    with pytest.raises(DataError, match="not a regular file"):
        load_csv(tmp_path, "y")
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    with pytest.raises(DataError, match=r"undecodable|binary"):
        load_csv(p, "y")
