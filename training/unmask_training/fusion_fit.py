"""``unmask-train fit-fusion``: refit the fusion model from a bench directory's reports.

Training rows: one per labeled video or animation (stills excluded: they lack
the temporal cues, and ~150 photos would swamp ~90 videos), using the longest
assessable face track's features; the out-of-fold scores that set the thresholds
score every assessable track and combine them as ``fusion.verdict_of`` does. Cross-validation is grouped by source
repository (people and processing are shared within one), never by frame.
Each weight is held to the sign its analyzer's reasoning gives
(``Analyzer.suspect_when``). The verdict thresholds come from the out-of-fold scores: ``likely_fake`` is
the lowest score at which at most ``TARGET_FPR`` of the real originals and at most ``TARGET_FPR_COPIES``
of the real degraded copies (each set on its own) are flagged, and never below 0.5; ``likely_real`` the
highest score below which at most ``TARGET_MISS`` of fakes fall.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from unmask.errors import ManifestError, UnmaskError
from unmask.fusion import Z_CLIP
from unmask.metrics import roc_metrics
from unmask.report.rescore import report_track_features

REG_C = 0.1  # strong L2: ~90 training videos, a few dozen features
#: real videos a fusion may flag ``likely_fake`` out of fold: originals, and re-encoded or otherwise degraded
#: copies (issue 12's targets). Calling a real video fake is the worst error, and in-the-wild footage is
#: mostly re-encoded: before 2026-12-07 one 5 % budget over both sets together let the copies reach 7 %.
TARGET_FPR = 0.02
TARGET_FPR_COPIES = 0.05
TARGET_MISS = 0.10
MIN_PRESENT = 0.5  # drop features missing in more than half the rows
#: Features that describe the footage (how long a face was seen, how much moved, whether the forehead
#: showed), not the face's integrity. They stay in reports as context but never enter the fusion:
#: on the development set they let the model learn clip lengths (cross-validated AUC 0.70 with them,
#: 0.67 without), which would not carry over to other footage.
CONTEXT_FEATURES = ("n_landmark_frames", "track_s", "assessed", "n_blinks", "forehead_frac", "static_scene",
                    "median_diff", "step_spread")
#: analyzers whose features must never enter the fusion: ``reference`` only runs with a claimed person
#: (``scan --claims``), so a fusion using it would score claim-less scans differently from claimed ones
EXCLUDED_ANALYZERS = ("reference",)
VERSION_PREFIX = "1"


def main_track(report: Mapping[str, Any]) -> int | None:
    """The longest assessable face track: the clip's main subject."""
    faces = [f for f in report["faces"] if f["assessable"]]
    if not faces:
        return None
    return max(faces, key=lambda f: (f["n_observations"], f["median_size_px"], -f["id"]))["id"]


def _load_rows(bench_dir: Path, stills: bool = False) -> list[dict[str, Any]]:
    """One row per labeled video (or, with ``stills``, per labeled still image) with an assessable face."""
    scores = bench_dir / "scores.csv"
    if not scores.exists():
        raise ManifestError(f"{bench_dir}: no scores.csv; run `unmask bench` first")
    summary = bench_dir / "summary.json"
    perturb = json.loads(summary.read_text()).get("perturbation") if summary.exists() else None
    from unmask.bench import ManifestRow, report_name

    rows = []
    with scores.open(newline="") as fh:
        for r in csv.DictReader(fh):
            if (r["kind"] == "image") != stills:
                continue
            mrow = ManifestRow(Path(r["path"]), r["label"], r["kind"], r["origin"], r["manipulation"], r["group"])
            rp = bench_dir / "reports" / report_name(mrow, perturb)
            if not rp.exists():
                continue
            rep = json.loads(rp.read_text())
            tid = main_track(rep)
            if tid is None:
                continue
            feats = report_track_features(rep)
            tracks = [{"id": f["id"], "person": f.get("person_id"), "n": int(f.get("n_observations", 1)),
                       "features": feats[f["id"]]} for f in rep["faces"] if f["assessable"]]
            rows.append({"label": 1 if r["label"] == "fake" else 0, "group": r["group"], "path": r["path"],
                         "perturbation": perturb or "none", "manipulation": r.get("manipulation", ""),
                         "origin": r["origin"], "features": feats[tid], "tracks": tracks})
    return rows


def feature_signs(names: list[str]) -> np.ndarray:
    """Each ``analyzer.feature``'s allowed weight sign (+1, -1, 0: free), from its analyzer's ``suspect_when``."""
    from unmask.analyzers.registry import analyzer_class
    from unmask.config import ALL_ANALYZERS

    signs = []
    for name in names:
        analyzer, feature = name.split(".", 1)
        signs.append(analyzer_class(analyzer).direction(feature) if analyzer in ALL_ANALYZERS else 0)
    return np.array(signs, dtype=int)


def fit_logistic(Z: np.ndarray, y: np.ndarray, C: float, signs: np.ndarray) -> tuple[np.ndarray, float]:
    """L2 logistic regression with balanced class weights, each weight held to its sign (0: free).

    The objective is scikit-learn's (``0.5 |w|^2 + C * sum of weighted log-losses``), so with no
    constraint it gives the same weights; with constraints, a cue the development set would teach
    backwards gets weight 0 instead.
    """
    from scipy.optimize import minimize

    y = y.astype(float)
    n, d = Z.shape
    n_pos = max(float(y.sum()), 1.0)
    n_neg = max(n - float(y.sum()), 1.0)
    sw = np.where(y == 1, n / (2 * n_pos), n / (2 * n_neg))

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = p[:d], p[d]
        m = Z @ w + b
        ll = y * np.logaddexp(0.0, -m) + (1 - y) * np.logaddexp(0.0, m)
        g = sw * (1.0 / (1.0 + np.exp(-m)) - y)
        return float(0.5 * w @ w + C * np.sum(sw * ll)), np.r_[w + C * (Z.T @ g), C * g.sum()]

    bounds = [(0.0, None) if s > 0 else (None, 0.0) if s < 0 else (None, None) for s in signs] + [(None, None)]
    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 5000, "gtol": 1e-8})
    return res.x[:d], float(res.x[d])


#: the analyzers a still-image model may read: only a detector validated on photos. The training-free cues
#: were below chance on the development photos (blend boundary 0.43, head pose 0.46)
STILL_ANALYZERS = ("blend_cnn",)
#: a still-image model ships only when, out of fold, it ranks the development photos at least this well
STILL_MIN_AUC = 0.80


def _version() -> str:
    """``1.2026-12-07.1512``: the fit's UTC minute, so two fits on one day differ (a batch reuses a report only
    under the same fusion version)."""
    return f"{VERSION_PREFIX}.{_dt.datetime.now(_dt.UTC):%Y-%m-%d.%H%M}"


def _fake_threshold(real: np.ndarray, target: float) -> float:
    """The lowest score (never below 0.5) at which at most ``target`` of ``real`` is at or above it."""
    real = np.sort(real)
    k = int(np.floor(target * len(real)))
    return float(max(0.5, real[len(real) - 1 - k] + 1e-3)) if len(real) else 0.5


def _threshold_pair(real: np.ndarray, fake: np.ndarray, *real_copies: np.ndarray) -> tuple[float, float]:
    """(likely_real, likely_fake) from out-of-fold scores: at most TARGET_FPR of real originals and
    TARGET_FPR_COPIES of each set of real copies (one per perturbation) at or above likely_fake (never below
    0.5), at most TARGET_MISS of fakes below likely_real."""
    fake = np.sort(fake)
    likely_fake = _fake_threshold(real, TARGET_FPR)
    for copies in real_copies:
        if len(copies):
            likely_fake = max(likely_fake, _fake_threshold(copies, TARGET_FPR_COPIES))
    likely_fake = min(likely_fake, 0.99)
    m = int(np.floor(TARGET_MISS * len(fake)))
    likely_real = float(min(0.5, fake[m] if len(fake) else 0.5, likely_fake))
    return likely_real, likely_fake


def oof_thresholds(oof: np.ndarray, y: np.ndarray, pert: np.ndarray) -> tuple[float, float]:
    """:func:`_threshold_pair` on out-of-fold video scores: the originals (``pert`` "none") and each
    perturbation's real copies held to their own budgets."""
    return _threshold_pair(oof[(y == 0) & (pert == "none")], oof[y == 1],
                           *(oof[(y == 0) & (pert == p)] for p in sorted(set(pert.tolist())) if p != "none"))


def oof_summary(y: np.ndarray, oof: np.ndarray, pert: np.ndarray, manip: np.ndarray) -> dict[str, Any]:
    """Out-of-fold AUC, threshold and real/fake rates at it, and per perturbation the AUC by family of fakes:
    what the benchmark scripts that compare fusion variants print."""
    _, likely_fake = oof_thresholds(oof, y, pert)
    flagged = int(((y == 0) & (oof >= likely_fake)).sum())
    out: dict[str, Any] = {"auc": roc_metrics(y.tolist(), oof.tolist())["auc"], "likely_fake": round(likely_fake, 4),
                           "real_at_likely_fake": f"{flagged} of {int((y == 0).sum())}",
                           "fakes_at_likely_fake": round(float(np.mean(oof[y == 1] >= likely_fake)), 3)}
    for p in sorted(set(pert.tolist())):
        sel = pert == p
        out[p] = {"auc": roc_metrics(y[sel].tolist(), oof[sel].tolist())["auc"],
                  "real_at_likely_fake": int(((y == 0) & sel & (oof >= likely_fake)).sum()),
                  "by_family": {m: roc_metrics(y[sel & ((y == 0) | (manip == m))].tolist(),
                                               oof[sel & ((y == 0) | (manip == m))].tolist())["auc"]
                                for m in sorted(set(manip[(y == 1) & sel].tolist()))}}
    return out


def missing_fill(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """What a missing feature is read as: the real videos' median (the mean of all rows where no real one has it).

    A cue that could not be measured (a face too small, too short a run) is no sign of manipulation; filling it
    with the mean over a set that is a third fakes would read it as "average", and push real footage whose
    faces are hard to measure, the in-the-wild kind, towards a false positive.
    """
    real = X[y == 0]
    with np.errstate(all="ignore"):
        med = np.array([np.nanmedian(c) if np.isfinite(c).any() else np.nan for c in real.T]) if len(real) else \
            np.full(X.shape[1], np.nan)
    mean = np.array([np.nanmean(c) if np.isfinite(c).any() else 0.0 for c in X.T])
    return np.where(np.isfinite(med), med, mean)


def _fitter(signs: np.ndarray) -> tuple[Any, Any]:
    def fit(Xtr: np.ndarray, ytr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
        mu = np.nanmean(Xtr, axis=0)
        fill = missing_fill(Xtr, ytr)
        Xi = np.where(np.isnan(Xtr), fill, Xtr)
        sd = Xi.std(axis=0)
        sd[sd < 1e-9] = 1.0
        Z = np.clip((Xi - mu) / sd, -Z_CLIP, Z_CLIP)
        w, b = fit_logistic(Z, ytr, REG_C, signs)
        return mu, sd, w, b, fill

    def predict(model: tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray], Xte: np.ndarray) -> np.ndarray:
        mu, sd, w, b, fill = model
        Z = np.clip((np.where(np.isnan(Xte), fill, Xte) - mu) / sd, -Z_CLIP, Z_CLIP)
        return 1.0 / (1.0 + np.exp(-(Z @ w + b)))

    return fit, predict


def grouped_oof(X: np.ndarray, y: np.ndarray, groups: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Out-of-fold scores, ``GroupKFold`` by source repository (at most 5 folds); 0.5 where a fold's training
    part holds one label only."""
    from sklearn.model_selection import GroupKFold

    fit, predict = _fitter(signs)
    oof = np.full(len(y), np.nan)
    for tr, te in GroupKFold(n_splits=n_folds(groups)).split(X, y, groups):
        oof[te] = 0.5 if len(set(y[tr].tolist())) < 2 else predict(fit(X[tr], y[tr]), X[te])
    return oof


def video_oof(rows: list[dict[str, Any]], names: list[str], X: np.ndarray, y: np.ndarray, groups: np.ndarray,
              signs: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Out of fold, (main-track scores, video scores as ``fusion.verdict_of`` gives them, the real videos'
    logit mean and sd). Each fold's model is fitted on main tracks (as ``fit_fusion``) and scores every
    assessable track of its test videos; a video's score pools each person's tracks and corrects the most
    suspicious person's for the number of people with the real logits of the *other* folds."""
    from sklearn.model_selection import GroupKFold

    from unmask.fusion import TrackVerdict, person_scores, several_faces

    fit, predict = _fitter(signs)
    folds = list(GroupKFold(n_splits=n_folds(groups)).split(X, y, groups))
    main = np.full(len(rows), 0.5)
    per_track: dict[int, np.ndarray] = {}
    for tr, te in folds:
        if len(set(y[tr].tolist())) < 2:
            continue
        model = fit(X[tr], y[tr])
        main[te] = predict(model, X[te])
        for i in te:
            Xt = np.array([[t["features"].get(n, np.nan) for n in names] for t in rows[i]["tracks"]], dtype=float)
            per_track[int(i)] = predict(model, Xt) if len(Xt) else np.array([])
    lg = _logits(main)
    video = main.copy()
    for _, te in folds:
        rest = np.setdiff1d(np.arange(len(rows)), te)
        real = lg[rest][y[rest] == 0]
        mu_sd = (float(real.mean()), float(max(real.std(), 1e-3)))
        for i in te:
            probs = per_track.get(int(i))
            if probs is None or not len(probs):
                continue
            tvs = [TrackVerdict(t["id"], True, None, float(p), {}, person_id=t["person"], n_observations=max(1, t["n"]))
                   for t, p in zip(rows[i]["tracks"], probs)]
            people = person_scores(tvs)
            video[i] = several_faces(max(v[0] for v in people.values()), len(people), mu_sd)
    real = lg[y == 0]
    return main, video, (float(real.mean()), float(max(real.std(), 1e-3)))


def _logits(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(q / (1 - q)))


def n_folds(groups: np.ndarray) -> int:
    return min(5, len(set(groups.tolist())))


def video_arrays(rows: list[dict[str, Any]], names: list[str]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(features X by ``names``, labels, source groups, perturbations, manipulations) of :func:`_load_rows`' rows."""
    X = np.array([[r["features"].get(n, np.nan) for n in names] for r in rows], dtype=float)
    return (X, np.array([r["label"] for r in rows]), np.array([r["group"] for r in rows]),
            np.array([r["perturbation"] for r in rows]), np.array([r.get("manipulation", "") for r in rows]))


def video_features(rows: list[dict[str, Any]], exclude: tuple[str, ...] = ()) -> list[str]:
    """The features a video fusion reads: present in at least MIN_PRESENT of the rows, no context feature, no
    excluded analyzer's."""
    names = sorted({k for r in rows for k in r["features"]})
    return [n for n in names if sum(n in r["features"] for r in rows) >= MIN_PRESENT * len(rows)
            and n.split(".", 1)[1] not in CONTEXT_FEATURES
            and n.split(".", 1)[0] not in EXCLUDED_ANALYZERS + tuple(exclude)]


def _weights(names: list[str], mu: np.ndarray, sd: np.ndarray, coef: np.ndarray, intercept: float,
             fill: np.ndarray, likely_real: float, likely_fake: float) -> dict[str, Any]:
    """A fitted head as fusion.json spells it (``unmask.fusion.FusionModel`` reads these fields)."""
    return {
        "features": names,
        "mean": [round(float(v), 8) for v in mu],
        "scale": [round(float(v), 8) for v in sd],
        "coef": [round(float(v), 8) for v in coef],
        "intercept": round(float(intercept), 8),
        # what real development videos typically show, so a verdict can say "x here, about y in real videos";
        # also what a missing feature is read as (missing_fill)
        "real_median": [round(float(v), 6) for v in fill],
        "missing_fill": "real_median",
        "thresholds": {"likely_real": round(likely_real, 4), "likely_fake": round(likely_fake, 4)},
    }


def fit_still(bench_dirs: list[Path],
              analyzers: tuple[str, ...] = STILL_ANALYZERS) -> tuple[dict[str, Any] | None, str]:
    """The still-image model (``still`` in fusion.json) and why; None when photos cannot be judged yet.

    One row per labeled photo with an assessable face; only STILL_ANALYZERS' features; grouped 5-fold
    cross-validation by source repository; thresholds from the out-of-fold scores of the photos alone.
    """
    rows = [row for d in bench_dirs for row in _load_rows(d, stills=True)]
    y = np.array([r["label"] for r in rows])
    if len(rows) < 20 or (y == 1).sum() < 5 or (y == 0).sum() < 10:
        return None, f"too few assessable labeled photos ({int((y == 0).sum())} real, {int((y == 1).sum())} fake)"
    names = sorted({k for r in rows for k in r["features"] if k.split(".", 1)[0] in analyzers})
    names = [n for n in names if sum(n in r["features"] for r in rows) >= MIN_PRESENT * len(rows)]
    if not names:
        return None, f"no photo was scored by {', '.join(analyzers) or 'a detector validated on photos'}"
    X = np.array([[r["features"].get(n, np.nan) for n in names] for r in rows], dtype=float)
    groups = np.array([r["group"] for r in rows])
    signs = feature_signs(names)
    fit, _ = _fitter(signs)
    n_splits = n_folds(groups)
    oof = grouped_oof(X, y, groups, signs)
    cv = roc_metrics(y.tolist(), oof.tolist())
    likely_real, likely_fake = _threshold_pair(oof[y == 0], oof[y == 1])
    if cv["auc"] is None or cv["auc"] < STILL_MIN_AUC:
        return None, (f"out of fold the photo model ranks the development photos at AUC {cv['auc']}, "
                      f"below the {STILL_MIN_AUC} a verdict needs")
    mu, sd, coef, intercept, fill = fit(X, y)
    return {
        "version": f"{_version()}.still",
        "kinds": ["image"],
        **_weights(names, mu, sd, coef, intercept, fill, likely_real, likely_fake),
        "fitted_on": {"n_images": int(len(rows)), "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
                      "n_groups": int(len(set(groups.tolist())))},
        "cross_validation": {"scheme": f"GroupKFold({n_splits}) by source repository", **cv,
                             "fpr_at_likely_fake": round(float(np.mean(oof[y == 0] >= likely_fake)), 4),
                             "tpr_at_likely_fake": round(float(np.mean(oof[y == 1] >= likely_fake)), 4)},
    }, "validated"


def fit_fusion(bench_dirs: Path | list[Path], out: Path, manifest: Path | None = None,
               exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Fit on every labeled video of one or more bench runs.

    Runs of degraded copies (``unmask-train bench-perturbed crf30``) teach the fusion that compression is not
    manipulation: a copy keeps its original's source group, so cross-validation never splits the two.
    The thresholds are chosen out of fold, the originals and each perturbation's copies held to their own budgets.
    """
    dirs = [bench_dirs] if isinstance(bench_dirs, Path) else list(bench_dirs)
    rows = [row for d in dirs for row in _load_rows(d)]
    y = np.array([r["label"] for r in rows])
    if len(rows) < 10 or len(set(y.tolist())) < 2:
        raise UnmaskError(f"{', '.join(map(str, dirs))}: need at least 10 assessable videos of both labels "
                          f"to fit fusion (have {len(rows)})")
    names = video_features(rows, exclude)
    X, y, groups, pert, manip = video_arrays(rows, names)
    signs = feature_signs(names)
    fit, _ = _fitter(signs)
    n_splits = n_folds(groups)
    # the thresholds and the reported numbers are the videos' scores as a scan gives them (every face scored,
    # persons pooled, corrected for their number), not the main track's the model is fitted on
    main_oof, oof, real_logit = video_oof(rows, names, X, y, groups, signs)
    cv = roc_metrics(y.tolist(), oof.tolist())
    real_oof, fake_oof = np.sort(oof[y == 0]), np.sort(oof[y == 1])
    likely_real, likely_fake = oof_thresholds(oof, y, pert)
    cv_fpr = float(np.mean(real_oof >= likely_fake))
    cv_tpr = float(np.mean(fake_oof >= likely_fake))
    by_perturbation = {}
    for p in sorted(set(pert.tolist())):
        sel = pert == p
        yy, ss = y[sel], oof[sel]
        by_perturbation[p] = {
            "n": int(sel.sum()), **roc_metrics(yy.tolist(), ss.tolist()),
            "fpr_at_likely_fake": round(float(np.mean(ss[yy == 0] >= likely_fake)), 4),
            "tpr_at_likely_fake": round(float(np.mean(ss[yy == 1] >= likely_fake)), 4),
        }

    by_manipulation = {}
    for p in sorted(set(pert.tolist())):
        for m in sorted({m for m in manip[(y == 1) & (pert == p)].tolist()}):
            sel = (pert == p) & ((y == 0) | (manip == m))
            by_manipulation.setdefault(p, {})[m] = {
                "n_fake": int(((y == 1) & sel).sum()), **roc_metrics(y[sel].tolist(), oof[sel].tolist())}
    mu, sd, coef, intercept, fill = fit(X, y)
    still, still_why = fit_still(dirs, tuple(a for a in STILL_ANALYZERS if a not in exclude))
    single = {}
    for j, n in enumerate(names):
        col = np.where(np.isnan(X[:, j]), np.nanmean(X[:, j]), X[:, j])
        single[n] = roc_metrics(y.tolist(), col.tolist())["auc"]
    model = {
        "version": _version(),
        **_weights(names, mu, sd, coef, intercept, fill, likely_real, likely_fake),
        "threshold_rule": {"real_originals_at_likely_fake_max": TARGET_FPR,
                           "real_copies_at_likely_fake_max": TARGET_FPR_COPIES,  # each perturbation's own
                           "fakes_below_likely_real_max": TARGET_MISS},
        "kinds": ["video", "animation"],
        "fitted_on": {
            "bench_dirs": [d.name for d in dirs],
            "perturbations": sorted({r["perturbation"] for r in rows}),
            "manifest": str(manifest) if manifest else "../shared/data/manifest.csv",
            "n_videos": int(len(rows)), "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
            "n_groups": int(len(set(groups.tolist()))),
        },
        "real_logit": {"mean": round(real_logit[0], 6), "sd": round(real_logit[1], 6)},
        "cross_validation": {
            "scheme": f"GroupKFold({n_splits}) by source repository",
            "scored_as": "videos as a scan scores them: every assessable face, each person's faces pooled, the most "
                         "suspicious person's score corrected for the number of people (fusion.verdict_of)",
            "main_track_auc": roc_metrics(y.tolist(), main_oof.tolist())["auc"],
            **cv,
            "fpr_at_likely_fake": round(cv_fpr, 4),
            "tpr_at_likely_fake": round(cv_tpr, 4),
            "by_perturbation": by_perturbation,
            "by_manipulation": by_manipulation,
        },
        "single_feature_auc": single,
        "regularisation_C": REG_C,
        # weights held to the sign their analyzer's reasoning gives (Analyzer.suspect_when); the ones the
        # development set would have taught backwards sit at 0
        "sign_constraints": {n: int(sg) for n, sg in zip(names, signs) if sg},
        "held_at_zero": [n for n, sg, w in zip(names, signs, coef) if sg and abs(float(w)) < 1e-6],
        "excluded_context_features": list(CONTEXT_FEATURES),
        "excluded_analyzers": list(EXCLUDED_ANALYZERS + tuple(exclude)),
        "still": still,
        "still_status": still_why,
        "command": ("make bench bench-crf30 fit-fusion   (unmask bench ../shared/data/manifest.csv --out bench; "
                    "unmask-train bench-perturbed crf30 ../shared/data/manifest.csv --out bench-crf30; "
                    "unmask-train fit-fusion bench bench-crf30 --out src/unmask/models/fusion.json)"),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(model, indent=2) + "\n")
    return {"out": str(out), "features": len(names), **model["fitted_on"],
            "cross_validation": model["cross_validation"], "thresholds": model["thresholds"], "still": still_why}
