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

from unmask_training.fusion_fit import (
    _fitter,
    _load_rows,
    feature_signs,
    grouped_oof,
    n_folds,
    oof_summary,
    video_arrays,
    video_features,
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bench_dirs", nargs="+", type=Path)
    a = ap.parse_args()
    rows = [r for d in a.bench_dirs for r in _load_rows(d)]
    names = video_features(rows)
    X, y, groups, pert, manip = video_arrays(rows, names)
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
    print(json.dumps({"features": len(names), "rows": len(rows), "one_head": oof_summary(y, one, pert, manip),
                      "two_heads_max": oof_summary(y, two, pert, manip)}, indent=1))


if __name__ == "__main__":
    main()
