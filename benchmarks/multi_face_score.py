"""Look 18: a video's score when it has several faces, out of fold (benchmark-notes.md, "A video's score when
it has several faces").

Refits ``fit-fusion``'s model per fold (main-track rows, as shipped), scores *every* assessable track of each
test-fold video, and compares two aggregations: the shipped one (the most suspicious track) and the candidate
(per person, the observation-weighted mean logit of its tracks; across persons, the most suspicious person's
score with Šidák's correction for the number of persons under a normal model of the real videos' out-of-fold
logit scores, estimated on the other folds). Every run scores the development fakes: log it.

    PYTHONPATH=src python benchmarks/multi_face_score.py bench bench-crf30
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from unmask.fusion import TrackVerdict, person_scores, several_faces
from unmask_training.fusion_fit import (
    _fitter,
    _load_rows,
    feature_signs,
    n_folds,
    oof_summary,
    oof_thresholds,
    video_arrays,
    video_features,
)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)))


def candidate(tracks: list[dict[str, Any]], probs: np.ndarray, real_logit: tuple[float, float]) -> float:
    """The video's score as ``fusion.verdict_of`` gives it (persons pooled, corrected for their number)."""
    tvs = [TrackVerdict(t["id"], True, None, float(p), {}, person_id=t["person"], n_observations=max(1, t["n"]))
           for t, p in zip(tracks, probs)]
    people = person_scores(tvs)
    return several_faces(max(v[0] for v in people.values()), len(people), real_logit)


def summary(y: np.ndarray, s: np.ndarray, pert: np.ndarray, manip: np.ndarray, multi: np.ndarray) -> dict[str, Any]:
    out = oof_summary(y, s, pert, manip)
    _, lf = oof_thresholds(s, y, pert)
    out["multi_face_real_at_likely_fake"] = int(((y == 0) & multi & (s >= lf)).sum())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bench_dirs", nargs="+", type=Path)
    a = ap.parse_args()
    rows = [r for d in a.bench_dirs for r in _load_rows(d)]
    tracks = [r["tracks"] for r in rows]  # every assessable track, read with the row's report
    names = video_features(rows)
    X, y, groups, pert, manip = video_arrays(rows, names)
    fit, predict = _fitter(feature_signs(names))
    folds = list(GroupKFold(n_splits=n_folds(groups)).split(X, y, groups))
    main_oof = np.full(len(rows), np.nan)
    track_probs: list[np.ndarray] = [np.array([])] * len(rows)
    for tr, te in folds:
        model = fit(X[tr], y[tr])
        main_oof[te] = predict(model, X[te])
        for i in te:
            Xt = np.array([[t["features"].get(n, np.nan) for n in names] for t in tracks[i]], dtype=float)
            track_probs[i] = predict(model, Xt)
    shipped = np.array([float(p.max()) for p in track_probs])
    cand = np.full(len(rows), np.nan)
    for _, te in folds:
        others = np.setdiff1d(np.arange(len(rows)), te)
        real_lg = _logit(main_oof[others][y[others] == 0])
        mu, sd = float(real_lg.mean()), float(real_lg.std())
        for i in te:
            cand[i] = candidate(tracks[i], track_probs[i], (mu, sd))
    multi = np.array([len(t) > 1 for t in tracks])
    real_lg = _logit(main_oof[y == 0])
    print(json.dumps({
        "videos": len(rows), "with_several_tracks": {"real": int((multi & (y == 0)).sum()),
                                                     "fake": int((multi & (y == 1)).sum())},
        "real_logit_mu_sd_all_folds": [round(float(real_lg.mean()), 4), round(float(real_lg.std()), 4)],
        "main_track_as_fit_fusion_reports": summary(y, main_oof, pert, manip, multi),
        "a_shipped_max_over_tracks": summary(y, shipped, pert, manip, multi),
        "b_persons_pooled_sidak": summary(y, cand, pert, manip, multi),
    }, indent=1))


if __name__ == "__main__":
    main()
