"""Issue 17, part 2 experiment: texture-rigidity cues + a logistic head trained on animation pseudo-fakes.

Three stages, each cached under ``--out`` (default ``out/animation-experiment``, ignored by git):

``train``  pseudo-fake pairs (real window, its animated twin; :class:`unmask_training.learned.animate.AnimationPairSampler`)
           from the *training* real groups (every group not in ``benchmarks/swap_val_groups.txt``) and from the
           held-out groups (validation only). Both windows of a pair get the same damage draw (colour, downscale,
           blur, JPEG quality; fresh noise and a fresh JPEG pass per frame), then both are re-meshed with mediapipe
           on the damaged views, so neither the codec nor the landmark source can become the label. A
           beauty-filtered copy of each training real window is added as an extra real. Fits the head, prints the
           pseudo AUC on held-out pairs and the held-out real windows' scores (no fake is scored).
``look``   scores the dev fakes (a LOOK: log it in docs/animation-pseudofakes.md) and all real videos,
           per video (mean and top-quarter of window scores), against held-out and all real videos.
``time``   ms per window on one thread.
``export`` writes look 1's head (all 21 cues, fitted on the training pairs only) as the shipped
           ``src/unmask/models/animation_head.json`` (the ``animation`` analyzer's); scores no fake.

Reproduce (2 busy cores, about 15 min for train, 3 min for look)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/animation_experiment.py train
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/animation_experiment.py look --features all
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/animation_experiment.py time
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/animation_experiment.py export
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from unmask.errors import UnmaskError
from unmask.faces.mesh import FaceMesher
from unmask.faces.regions import FACE_OVAL, scale_polygon
from unmask.learned.animation_cues import (
    BadCueInput,
    feature_names,
    region_masks,
    window_cues,
    windows,
)
from unmask_training.learned.animate import AnimationPairSampler
from unmask_training.learned.dataset import FaceSet

ROOT = Path(__file__).resolve().parent.parent
REAL = Path("/work/main/cache/views-shared-real-videos.npz")
FAKE = Path("/work/main/cache/views-shared-fake.npz")
MANIFEST = Path("/work/shared/data/manifest.csv")
VAL_GROUPS = ROOT / "benchmarks" / "swap_val_groups.txt"
WINDOW = 8
STRIDE = 4
GENERATORS = {"SadTalker": "SadTalker", "AniPortrait": "AniPortrait", "EDTalk": "EDTalk", "V-Express": "V-Express"}

#: feature subsets for ablations (names from animation_cues.feature_names)
SUBSETS = {
    "all": lambda n: True,
    "texture": lambda n: n.startswith(("log_change", "coherence", "log_exposure")),
    "geometry": lambda n: n.startswith(("log_rigid", "log_expression", "eye_range", "mouth_std")),
}


# --- damage, shared by both windows of a pair ----------------------------------------------------------

@dataclass(frozen=True)
class Damage:
    """One draw of upload damage, applied to every frame of both windows of a pair."""

    contrast: float
    brightness: float
    saturation: float
    scale: float  # 1 = none; below: downscaled and back up
    blur: float  # gaussian sigma, 0 = none
    noise: float  # sigma of fresh per-frame gaussian noise, 0 = none
    quality: int  # JPEG quality, 0 = no JPEG


def draw_damage(rng: np.random.Generator) -> Damage:
    colour = rng.random() < 0.5
    return Damage(
        contrast=float(rng.uniform(0.85, 1.15)) if colour else 1.0,
        brightness=float(rng.uniform(-15, 15)) if colour else 0.0,
        saturation=float(rng.uniform(0.8, 1.2)) if colour else 1.0,
        scale=float(rng.uniform(0.35, 1.0)) if rng.random() < 0.4 else 1.0,
        blur=float(rng.uniform(0.3, 1.5)) if rng.random() < 0.25 else 0.0,
        noise=float(rng.uniform(1.0, 5.0)) if rng.random() < 0.3 else 0.0,
        quality=int(rng.integers(30, 96)) if rng.random() < 0.85 else 0,
    )


def damage(img: np.ndarray, d: Damage, rng: np.random.Generator) -> np.ndarray:
    out = img
    if d.contrast != 1.0 or d.brightness != 0.0 or d.saturation != 1.0:
        f = (out.astype(np.float32) - 128.0) * d.contrast + 128.0 + d.brightness
        grey = f.mean(axis=2, keepdims=True)
        out = np.clip(grey + (f - grey) * d.saturation, 0, 255).astype(np.uint8)
    h, w = out.shape[:2]
    if d.scale < 1.0:
        small = cv2.resize(out, (max(16, int(w * d.scale)), max(16, int(h * d.scale))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if d.blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), d.blur)
    if d.noise > 0:
        out = np.clip(out.astype(np.float32) + rng.normal(0.0, d.noise, out.shape), 0, 255).astype(np.uint8)
    if d.quality:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, d.quality])
        out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(out)


def beauty(img: np.ndarray, xy: np.ndarray, rng: np.random.Generator, strength: float, d: int, sc: float,
           ) -> np.ndarray:
    """A phone beauty filter: skin inside the face smoothed (bilateral), blended in by ``strength``."""
    smooth = cv2.bilateralFilter(img, d, sc, 5.0)
    mask = np.zeros(img.shape[:2], np.float32)
    cv2.fillPoly(mask, [np.round(scale_polygon(np.asarray(xy, np.float64)[list(FACE_OVAL)], 1.05)).astype(np.int32)],
                 1.0)
    keep = np.zeros(img.shape[:2], bool)
    for m in (region_masks(xy, img.shape[:2])["mouth"],):
        keep |= m
    mask[keep] *= 0.3  # lips and teeth keep most detail
    mask = cv2.GaussianBlur(mask, (0, 0), 4.0)[..., None] * strength
    return np.clip(mask * smooth + (1 - mask) * img, 0, 255).astype(np.uint8)


# --- meshing ---------------------------------------------------------------------------------------------

def remesh(mesher: FaceMesher, frames: np.ndarray, hint: np.ndarray) -> np.ndarray | None:
    """Landmarks re-found by mediapipe on each (damaged) view; None when any view has no mesh."""
    out = []
    for f, lm in zip(frames, hint):
        box = (float(lm[:, 0].min()), float(lm[:, 1].min()), float(lm[:, 0].max()), float(lm[:, 1].max()))
        m = mesher.mesh(f, box)
        if m is None:
            return None
        out.append(m[:, :2])
    return np.stack(out).astype(np.float32)


def subset(faces: FaceSet, idx: np.ndarray) -> FaceSet:
    return FaceSet(faces.images[idx], faces.landmarks[idx], faces.labels[idx], faces.groups[idx], faces.sources[idx],
                   native=faces.native[idx])


def pair_features(sampler: AnimationPairSampler, n: int, seed: int, mesher: FaceMesher, with_beauty: bool,
                  log: str) -> dict[str, np.ndarray]:
    """Features of n pairs: X (k x F), y (1 fake), pair id, kind (0 real, 1 fake, 2 beauty real)."""
    rng = np.random.default_rng(seed)
    xs, ys, pid, kind = [], [], [], []
    t0 = time.time()
    skipped = 0
    for i in range(n):
        p = sampler.sample(rng)
        d = draw_damage(rng)
        real = np.stack([damage(f, d, rng) for f in p.real])
        fake = np.stack([damage(f, d, rng) for f in p.fake.frames])
        items = [(real, p.real_landmarks, 0), (fake, p.fake.landmarks, 1)]
        if with_beauty:
            strength, dd, sc = float(rng.uniform(0.5, 1.0)), int(rng.choice([5, 7, 9])), float(rng.uniform(25, 75))
            d2 = draw_damage(rng)
            pretty = np.stack([damage(beauty(f, lm, rng, strength, dd, sc), d2, rng)
                               for f, lm in zip(p.real, p.real_landmarks)])
            items.append((pretty, p.real_landmarks, 2))
        feats = []
        for frames, hint, k in items:
            lm = remesh(mesher, frames, hint)
            if lm is None:
                feats = None
                break
            try:
                feats.append((window_cues(frames, lm).vector(), k))
            except BadCueInput:
                feats = None
                break
        if feats is None:
            skipped += 1
            continue
        for v, k in feats:
            xs.append(v)
            ys.append(int(k == 1))
            pid.append(i)
            kind.append(k)
        if (i + 1) % 50 == 0:
            print(f"  {log}: {i + 1}/{n} pairs, {time.time() - t0:.0f} s, {skipped} skipped", flush=True)
    return {"X": np.array(xs), "y": np.array(ys), "pair": np.array(pid), "kind": np.array(kind)}


def video_windows(faces: FaceSet) -> dict[str, np.ndarray]:
    """Features of every window (WINDOW views, STRIDE apart) of every source, with the cached landmarks."""
    src = faces.sources.astype(str)
    xs, names, groups = [], [], []
    for s in dict.fromkeys(src):
        idx = np.flatnonzero(src == s)
        for a, b in windows(len(idx), WINDOW, STRIDE):
            j = idx[a:b]
            try:
                xs.append(window_cues(faces.images[j], faces.landmarks[j]).vector())
            except BadCueInput as e:
                print(f"  skip {s}[{a}:{b}]: {e}", file=sys.stderr)
                continue
            names.append(s)
            groups.append(str(faces.groups[j[0]]))
    return {"X": np.array(xs), "source": np.array(names), "group": np.array(groups)}


# --- the head --------------------------------------------------------------------------------------------

def fit_head(X: np.ndarray, y: np.ndarray, cols: np.ndarray, c: float = 1.0):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    head = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    head.fit(X[:, cols], y)
    return head


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    return float(roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]))


def val_groups() -> set[str]:
    return set(VAL_GROUPS.read_text().strip().split(","))


def columns(name: str) -> np.ndarray:
    keep = SUBSETS[name]
    return np.array([i for i, n in enumerate(feature_names()) if keep(n)])


def cmd_train(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    faces = FaceSet.load(REAL)
    held = np.isin(faces.groups.astype(str), list(val_groups()))
    mesher = FaceMesher()
    cache = out / "pairs.npz"
    if cache.exists() and not args.redo:
        z = dict(np.load(cache))
        tr = {k[3:]: v for k, v in z.items() if k.startswith("tr_")}
        va = {k[3:]: v for k, v in z.items() if k.startswith("va_")}
    else:
        tr = pair_features(AnimationPairSampler(subset(faces, np.flatnonzero(~held)), WINDOW), args.train_pairs,
                           args.seed, mesher, True, "train")
        va = pair_features(AnimationPairSampler(subset(faces, np.flatnonzero(held)), WINDOW), args.val_pairs,
                           args.seed + 1, mesher, True, "held-out")
        np.savez(cache, **{f"tr_{k}": v for k, v in tr.items()}, **{f"va_{k}": v for k, v in va.items()})
    rcache = out / "real_windows.npz"
    if not rcache.exists() or args.redo:
        np.savez(rcache, **video_windows(faces))
    rw = dict(np.load(rcache))
    rheld = np.isin(rw["group"], list(val_groups()))
    report = {}
    for name in SUBSETS:
        cols = columns(name)
        head = fit_head(tr["X"], tr["y"], cols, args.c)
        s = head.predict_proba(va["X"][:, cols])[:, 1]
        k = va["kind"]
        thr = float(np.median(s[k == 1]))  # flags half of the held-out pseudo-fakes
        rs = head.predict_proba(rw["X"][:, cols])[:, 1]
        per_video = {v: float(np.mean(rs[rheld & (rw["source"] == v)])) for v in np.unique(rw["source"][rheld])}
        pv = np.array(list(per_video.values()))
        report[name] = {
            "pseudo_auc": auc(s[k == 1], s[k == 0]), "pseudo_auc_vs_beauty": auc(s[k == 1], s[k == 2]),
            "train_auc": auc(*(lambda t: (t[tr["kind"] == 1], t[tr["kind"] == 0]))(
                head.predict_proba(tr["X"][:, cols])[:, 1])),
            "threshold_half_pseudo": thr,
            "heldout_real_windows_above": float(np.mean(rs[rheld] > thr)),
            "heldout_real_videos_mean_above": float(np.mean(pv > thr)),
            "heldout_real_windows": int(rheld.sum()), "heldout_real_videos": len(pv),
            "n_train": int(len(tr["y"])), "n_val": int(len(va["y"])),
        }
        if name == "all":
            lr = head[-1]
            report[name]["coef"] = {n: round(float(c), 3) for n, c in zip(np.array(feature_names())[cols], lr.coef_[0])}
    print(json.dumps(report, indent=1))
    (out / "train_report.json").write_text(json.dumps(report, indent=1))
    return 0


def generator_of(origin: str, manipulation: str) -> str:
    for key, name in GENERATORS.items():
        if origin.startswith(key):
            return name
    return manipulation


def cmd_look(args: argparse.Namespace) -> int:
    out = Path(args.out)
    z = dict(np.load(out / "pairs.npz"))
    tr = {k[3:]: v for k, v in z.items() if k.startswith("tr_")}
    va = {k[3:]: v for k, v in z.items() if k.startswith("va_")}
    rw = dict(np.load(out / "real_windows.npz"))
    fcache = out / "fake_windows.npz"
    if not fcache.exists():
        np.savez(fcache, **video_windows(FaceSet.load(FAKE)))
    fw = dict(np.load(fcache))
    man = {r["path"]: r for r in csv.DictReader(MANIFEST.open(newline=""))}
    cols = columns(args.features)
    head = fit_head(tr["X"], tr["y"], cols, args.c)
    thr = float(np.median(head.predict_proba(va["X"][:, cols])[:, 1][va["kind"] == 1]))

    def per_video(w: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
        s = head.predict_proba(w["X"][:, cols])[:, 1]
        res = {}
        for v in np.unique(w["source"]):
            x = np.sort(s[w["source"] == v])[::-1]
            res[str(v)] = (float(x.mean()), float(x[:max(1, len(x) // 4)].mean()))
        return res

    real = per_video(rw)
    held = {str(v) for v, g in zip(rw["source"], rw["group"]) if g in val_groups()}
    fake = per_video(fw)
    kinds = {v: generator_of(man[v]["origin"], man[v]["manipulation"]) for v in fake}
    res: dict[str, dict] = {"features": args.features, "threshold_half_pseudo": thr}
    for agg, j in (("mean", 0), ("top_quarter", 1)):
        rh = np.array([real[v][j] for v in real if v in held])
        ra = np.array([real[v][j] for v in real])
        th = [v for v in fake if kinds[v] in GENERATORS.values()]
        row = {"talking_heads_vs_heldout": auc(np.array([fake[v][j] for v in th]), rh),
               "talking_heads_vs_all_real": auc(np.array([fake[v][j] for v in th]), ra),
               "n_talking_heads": len(th), "n_heldout_real": len(rh), "n_all_real": len(ra)}
        for g in sorted(set(kinds.values())):
            vs = [v for v in fake if kinds[v] == g]
            row[f"{g} (n={len(vs)}) vs heldout"] = auc(np.array([fake[v][j] for v in vs]), rh)
        row["heldout_real_videos_above_thr"] = float(np.mean(rh > thr))
        row["all_real_videos_above_thr"] = float(np.mean(ra > thr))
        row["talking_heads_above_thr"] = float(np.mean([fake[v][j] > thr for v in th]))
        res[agg] = row
    print(json.dumps(res, indent=1))
    with (out / "looks.jsonl").open("a") as fh:
        fh.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M"), **res}) + "\n")
    return 0


def cmd_time(args: argparse.Namespace) -> int:
    faces = FaceSet.load(REAL)
    src = faces.sources.astype(str)
    idx = np.flatnonzero(src == src[0])[:WINDOW]
    frames, lm = faces.images[idx], faces.landmarks[idx]
    window_cues(frames, lm)
    ts = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        window_cues(frames, lm)
        ts.append(time.perf_counter() - t0)
    print(f"window_cues: {1000 * np.median(ts):.1f} ms per window of {WINDOW} views "
          f"({frames.shape[1]} px; median of {args.repeat}, min {1000 * min(ts):.1f})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write the head of look 1 (all 21 cues, pseudo-fakes only) as the shipped ``models/animation_head.json``."""
    from unmask.learned.animation_head import AnimationHead

    z = dict(np.load(Path(args.out) / "pairs.npz"))
    tr = {k[3:]: v for k, v in z.items() if k.startswith("tr_")}
    va = {k[3:]: v for k, v in z.items() if k.startswith("va_")}
    cols = columns("all")
    head = fit_head(tr["X"], tr["y"], cols, args.c)
    sc, lr = head[0], head[-1]
    s = head.predict_proba(va["X"][:, cols])[:, 1]
    k = va["kind"]
    meta = {
        "what": "issue 17: logistic head on unmask.learned.animation_cues (21 texture-rigidity cues) of windows of "
                "8 whole-face views (256 px, zoom 1.5) at 4 fps; a track's score is the mean over its windows",
        "trained_on": f"{int(np.sum(tr['kind'] == 1))} pseudo-fake windows (animate.py) against "
                      f"{int(np.sum(tr['kind'] != 1))} real and beauty-filtered real windows of the training "
                      "real-video groups (not benchmarks/swap_val_groups.txt); no generator output, no dev fake",
        "heldout_pseudo_auc": round(auc(s[k == 1], s[k == 0]), 4),
        "heldout_pseudo_auc_vs_beauty": round(auc(s[k == 1], s[k == 2]), 4),
        "threshold_rule": "the median held-out pseudo-fake window probability (flags half of them)",
        "C": args.c, "seed": args.seed, "train_pairs": args.train_pairs, "val_pairs": args.val_pairs,
        "command": "OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/animation_experiment.py train && "
                   "OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/animation_experiment.py export",
    }
    model = AnimationHead(tuple(feature_names()), sc.mean_.astype(np.float64), sc.scale_.astype(np.float64),
                          lr.coef_[0].astype(np.float64), float(lr.intercept_[0]), float(np.median(s[k == 1])), meta)
    Path(args.to).write_text(json.dumps(model.to_dict(), indent=1) + "\n")
    print(f"wrote {args.to}: held-out pseudo AUC {meta['heldout_pseudo_auc']}, threshold {model.threshold:.3f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=("train", "look", "time", "export"))
    ap.add_argument("--to", default=str(ROOT / "src" / "unmask" / "models" / "animation_head.json"),
                    help="export: where the shipped head is written")
    ap.add_argument("--out", default=str(ROOT / "out" / "animation-experiment"))
    ap.add_argument("--train-pairs", type=int, default=400)
    ap.add_argument("--val-pairs", type=int, default=160)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the logistic head")
    ap.add_argument("--features", choices=tuple(SUBSETS), default="all")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--redo", action="store_true", help="recompute cached features")
    args = ap.parse_args(argv)
    try:
        return {"train": cmd_train, "look": cmd_look, "time": cmd_time, "export": cmd_export}[args.stage](args)
    except UnmaskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
