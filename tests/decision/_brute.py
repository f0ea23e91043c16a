"""A brute-force float64 reference for thresholds: one pass over the data per candidate."""

from __future__ import annotations

import math

import numpy as np


def counts(p: np.ndarray, y: np.ndarray, t: float, w: np.ndarray | None = None):
    w = np.ones_like(p, dtype=np.float64) if w is None else w.astype(np.float64)
    pos = p >= t
    yy = y.astype(bool)
    tp = float(w[pos & yy].sum())
    fp = float(w[pos & ~yy].sum())
    fn = float(w[~pos & yy].sum())
    tn = float(w[~pos & ~yy].sum())
    return tp, fp, fn, tn


def div(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0


def metric(name: str, tp, fp, fn, tn, beta=1.0, costs=None) -> float:
    prec, rec = div(tp, tp + fp), div(tp, tp + fn)
    spec = div(tn, tn + fp)
    if name == "f1":
        return div(2 * prec * rec, prec + rec)
    if name == "f_beta":
        b2 = beta * beta
        return div((1 + b2) * prec * rec, b2 * prec + rec)
    if name == "precision":
        return prec
    if name == "recall":
        return rec
    if name == "mcc":
        den = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return div(tp * tn - fp * fn, den)
    if name == "youden":
        return rec + spec - 1
    if name == "balanced_accuracy":
        return (rec + spec) / 2
    if name == "accuracy":
        return div(tp + tn, tp + fp + fn + tn)
    if name == "cost":
        return (costs["fp"] * fp + costs["fn"] * fn) / (tp + fp + fn + tn)
    raise KeyError(name)


def brute_tune(p, y, name, *, beta=1.0, costs=None, min_precision=None, min_recall=None, w=None):
    """(best threshold, best score, candidates, scores) by evaluating every candidate directly."""
    p64 = np.asarray(p)
    cands = sorted(set(p64.tolist()))
    cands.append(float(np.nextafter(p64.dtype.type(max(cands)), p64.dtype.type(np.inf))))
    scores = []
    for t in cands:
        c = counts(p64, y, t, w)
        s = metric(name, *c, beta=beta, costs=costs)
        ok = True
        if min_precision is not None and div(c[0], c[0] + c[1]) < min_precision:
            ok = False
        if min_recall is not None and div(c[0], c[0] + c[2]) < min_recall:
            ok = False
        if not ok:
            s = math.inf if name == "cost" else -math.inf
        scores.append(s)
    obj = [-s for s in scores] if name == "cost" else scores
    best = max(obj)
    tol = 1e-9 * max(1.0, abs(best))
    i = next(k for k, v in enumerate(obj) if v >= best - tol)
    return cands[i], scores[i], np.array(cands), np.array(scores)
