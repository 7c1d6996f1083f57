"""Look 16: one fusion head against two specialist heads (swaps vs talking heads), out of fold.

Fits exactly what ``unmask-train fit-fusion`` fits (rows, features, sign constraints, C, real-median fill,
``GroupKFold(5)`` by source repository), then, on the same folds, a head on real videos and non-talking-head
fakes and a head on real videos and talking heads, scoring a video by the larger of the two. Prints both
variants' out-of-fold AUC, real videos at ``likely_fake`` and AUC per family of fakes. Every run scores the
development fakes: log it (benchmark-notes.md, "Two specialist heads").

    PYTHONPATH=src python benchmarks/fusion_heads.py bench bench-crf30
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from unmask.metrics import roc_metrics
from unmask_training.fusion_fit import (
    _fitter,
    _load_rows,
    _threshold_pair,
    feature_signs,
    grouped_oof,
    n_folds,
    video_features,
)


def _summary(y: np.ndarray, oof: np.ndarray, pert: np.ndarray, manip: np.ndarray) -> dict[str, object]:
    likely_real, likely_fake = _threshold_pair(oof[(y == 0) & (pert == "none")], oof[y == 1],
                                               *(oof[(y == 0) & (pert == p)] for p in sorted(set(pert.tolist()))
                                                 if p != "none"))
    out: dict[str, object] = {"auc": roc_metrics(y.tolist(), oof.tolist())["auc"], "likely_fake": round(likely_fake, 4),
                              "real_at_likely_fake": f"{int(((y == 0) & (oof >= likely_fake)).sum())} of {int((y == 0).sum())}",
                              "fakes_at_likely_fake": round(float(np.mean(oof[y == 1] >= likely_fake)), 3)}
    for p in sorted(set(pert.tolist())):
        sel = pert == p
        out[p] = {"auc": roc_metrics(y[sel].tolist(), oof[sel].tolist())["auc"],
                  "real_at_likely_fake": int(((y == 0) & sel & (oof >= likely_fake)).sum()),
                  "by_family": {m: roc_metrics(y[sel & ((y == 0) | (manip == m))].tolist(),
                                               oof[sel & ((y == 0) | (manip == m))].tolist())["auc"]
                                for m in sorted(set(manip[(y == 1) & sel].tolist()))}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bench_dirs", nargs="+", type=Path)
    a = ap.parse_args()
    rows = [r for d in a.bench_dirs for r in _load_rows(d)]
    y = np.array([r["label"] for r in rows])
    names = video_features(rows)
    X = np.array([[r["features"].get(n, np.nan) for n in names] for r in rows], dtype=float)
    groups = np.array([r["group"] for r in rows])
    pert = np.array([r["perturbation"] for r in rows])
    manip = np.array([r.get("manipulation", "") for r in rows])
    talking = np.array([m.endswith("talking_head") for m in manip])
    signs = feature_signs(names)
    fit, predict = _fitter(signs)
    one = grouped_oof(X, y, groups, signs)  # what fit-fusion fits
    two = np.full(len(rows), np.nan)
    for tr, te in GroupKFold(n_splits=n_folds(groups)).split(X, y, groups):
        heads = []
        for keep in (~talking, talking):  # swaps, lip sync, reenactment / talking heads; real videos in both
            sel = tr[(y[tr] == 0) | keep[tr]]
            heads.append(predict(fit(X[sel], y[sel]), X[te]) if len(set(y[sel].tolist())) == 2 else np.zeros(len(te)))
        two[te] = np.maximum(*heads)
    print(json.dumps({"features": len(names), "rows": len(rows), "one_head": _summary(y, one, pert, manip),
                      "two_heads_max": _summary(y, two, pert, manip)}, indent=1))


if __name__ == "__main__":
    main()
