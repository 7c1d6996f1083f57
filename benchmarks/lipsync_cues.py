"""Do Wav2Lip-family fakes leave a visible trace in the lower face? Three training-free cues, measured.

A lip-sync generator regenerates the lower half of the face (Wav2Lip: a 96 px face, lower half
only) and pastes it back, so the mouth, chin and lower cheeks might differ from the untouched upper
face. docs/reference-benchmarks.md ("Lip sync") reports what this measured. Per face observation of
the scan's own sampling (8 fps, the longest track), on the face levelled and scaled to 80 px between
the eyes:

- ``detail``: log ratio of fine detail (grey minus its 1 px Gaussian blur) on the lower cheeks vs the
  upper cheeks. A pasted low-resolution lower face has less.
- ``lip_edges``: crispness of the lip outline (90th percentile gradient over the region's contrast)
  vs the same for the eye outlines. A generated mouth has softer edges.
- ``coherence``: whether fine skin texture persists from one sampled frame to the next (normalised
  correlation of the high-pass patch after a phase-correlation shift), lower cheeks and chin minus
  upper cheeks. A generator redraws texture every frame; skin carries it along.

Each is the median over the track; lower means "more like a pasted lower face". AUCs rank the
lip-sync fakes against real videos (all with a face, and those whose speech ``av_sync`` judged).

    python benchmarks/lipsync_cues.py ../shared/data/manifest.csv --out bench-lipsync

Writes ``bench-lipsync/cues.json`` (every file's cues) and prints the AUC table as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from unmask.analyzers.av_sync import AVSyncAnalyzer
from unmask.errors import UnmaskError
from unmask.faces.regions import LEFT_EYE, RIGHT_EYE
from unmask.pipeline import Scanner
from unmask.types import FaceObs

D = 80.0  # interocular distance of the levelled face, pixels
SIDE = int(4 * D)
EYE_Y = SIDE * 0.3
HALF = 0.2  # patch half-side, in interocular distances
#: patch centres (x right, y down) in interocular distances from the eyes' midpoint
UPPER = ((-0.55, 0.42), (0.55, 0.42))
LOWER = ((-0.6, 1.05), (0.6, 1.05), (0.0, 1.5))
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
EYE_L_OUTLINE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
EYE_R_OUTLINE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
CUES = ("detail", "lip_edges", "coherence")


def level(obs: FaceObs) -> tuple[np.ndarray, np.ndarray] | None:
    """(grey face, landmarks) rotated so the eyes are level and scaled to ``D`` between them."""
    lm = obs.landmarks_in_crop()
    if lm is None:
        return None
    el, er = lm[list(LEFT_EYE[:4])].mean(0), lm[list(RIGHT_EYE[:4])].mean(0)
    v = er - el
    d = float(np.hypot(*v))
    if d < 5:
        return None
    c = (el + er) / 2
    m = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), float(np.degrees(np.arctan2(v[1], v[0]))), D / d)
    m[:, 2] += np.array([SIDE / 2, EYE_Y]) - c
    grey = cv2.cvtColor(obs.crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    out = cv2.warpAffine(grey, m, (SIDE, SIDE), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return out, np.c_[lm, np.ones(len(lm))] @ m.T


def patch(img: np.ndarray, centre: tuple[float, float], pad: int = 0) -> np.ndarray | None:
    x, y, h = int(SIDE / 2 + centre[0] * D), int(EYE_Y + centre[1] * D), int(HALF * D) + pad
    if x - h < 0 or y - h < 0 or x + h > SIDE or y + h > SIDE:
        return None
    return img[y - h:y + h, x - h:x + h]


def highpass(p: np.ndarray, sigma: float) -> np.ndarray:
    return p - cv2.GaussianBlur(p, (0, 0), sigma)


def detail(img: np.ndarray) -> float | None:
    def energy(centres: tuple[tuple[float, float], ...]) -> float | None:
        ps = [patch(img, c) for c in centres]
        if any(p is None for p in ps):
            return None
        return float(np.mean([np.mean(highpass(p, 1.0)[2:-2, 2:-2] ** 2) for p in ps]))  # type: ignore[arg-type]

    up, lo = energy(UPPER), energy(LOWER[:2])  # cheeks against cheeks: the chin is not compared
    return None if up is None or lo is None else 0.5 * float(np.log((lo + 0.05) / (up + 0.05)))


def crispness(img: np.ndarray, gm: np.ndarray, lm: np.ndarray, idx: tuple[int, ...]) -> float | None:
    """90th-percentile gradient ``gm`` along an outline, over the contrast of the region it encloses."""
    poly = lm[list(idx)].astype(np.int32)
    band = np.zeros(img.shape, np.uint8)
    cv2.polylines(band, [poly], True, 1, thickness=7)
    region = np.zeros(img.shape, np.uint8)
    cv2.fillPoly(region, [cv2.convexHull(poly)], 1)
    vals = img[cv2.dilate(region, np.ones((9, 9), np.uint8)) > 0]
    if band.sum() < 20 or vals.size < 20:
        return None
    contrast = float(np.percentile(vals, 95) - np.percentile(vals, 5))
    return None if contrast < 8 else float(np.percentile(gm[band > 0], 90)) / contrast


def lip_edges(img: np.ndarray, lm: np.ndarray) -> float | None:
    gm = np.hypot(cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3))
    lips, a, b = (crispness(img, gm, lm, i) for i in (LIPS_OUTER, EYE_L_OUTLINE, EYE_R_OUTLINE))
    return None if lips is None or a is None or b is None else float(np.log(lips / ((a + b) / 2)))


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / den if den > 1e-6 else float("nan")


def coherence(g0: np.ndarray, g1: np.ndarray) -> float | None:
    def one(centre: tuple[float, float]) -> float | None:
        a, b = patch(g0, centre, 6), patch(g1, centre, 6)
        if a is None or b is None:
            return None
        win = cv2.createHanningWindow(a.shape[::-1], cv2.CV_32F)
        (dx, dy), _ = cv2.phaseCorrelate(cv2.GaussianBlur(a, (0, 0), 2), cv2.GaussianBlur(b, (0, 0), 2), win)
        shifted = cv2.warpAffine(b, np.float32([[1, 0, -dx], [0, 1, -dy]]), b.shape[::-1], flags=cv2.INTER_CUBIC,
                                 borderMode=cv2.BORDER_REFLECT)
        return ncc(highpass(a, 1.5)[8:-8, 8:-8], highpass(shifted, 1.5)[8:-8, 8:-8])

    up, lo = [one(c) for c in UPPER], [one(c) for c in LOWER]
    if any(v is None for v in up + lo):
        return None
    return float(np.nanmean(lo) - np.nanmean(up))  # type: ignore[arg-type]


def cues(track_obs: tuple[FaceObs, ...]) -> dict[str, float]:
    """Median of each cue over a track's observations (``coherence``: over consecutive pairs)."""
    rows: dict[str, list[float]] = {c: [] for c in CUES}
    prev: tuple[FaceObs, np.ndarray] | None = None
    for obs in track_obs:
        lv = level(obs)
        if lv is None:
            prev = None
            continue
        img, lm = lv
        for name, v in (("detail", detail(img)), ("lip_edges", lip_edges(img, lm))):
            if v is not None:
                rows[name].append(v)
        if prev is not None and prev[0].segment == obs.segment and obs.t - prev[0].t <= 0.2:
            v = coherence(prev[1], img)
            if v is not None and np.isfinite(v):
                rows["coherence"].append(v)
        prev = (obs, img)
    return {c: float(np.median(v)) for c, v in rows.items() if len(v) >= 3}


def auc_low(pos: list[float], neg: list[float]) -> float | None:
    """ROC AUC when a lower value is more suspicious (ties count half)."""
    if not pos or not neg:
        return None
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(np.mean((p < n) + 0.5 * (p == n)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lipsync_cues.py", description=__doc__.split("\n")[0])
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--out", type=Path, default=Path("bench-lipsync"))
    args = ap.parse_args(argv)
    if not args.manifest.is_file():
        ap.error(f"{args.manifest}: no such manifest (expected ../shared/data/manifest.csv)")
    base = args.manifest.parent
    with args.manifest.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"path", "label", "kind", "manipulation"} - set(reader.fieldnames or ())
        if missing:
            ap.error(f"{args.manifest}: not a media manifest (no column {', '.join(sorted(missing))})")
        rows = [r for r in reader if r["kind"] == "video" and (r["label"] == "real" or r["manipulation"] == "lip_sync")]
    scanner, sync = Scanner(), AVSyncAnalyzer()
    per_file: dict[str, dict[str, object]] = {}
    for i, r in enumerate(rows, 1):
        entry: dict[str, object] = {"label": r["label"], "manipulation": r["manipulation"]}
        try:
            ctx, _ = scanner.context(base / r["path"])
        except UnmaskError as e:  # an unreadable file is reported and skipped, not the end of the run
            entry["error"] = str(e)
            per_file[r["path"]] = entry
            print(f"[{i}/{len(rows)}] {r['path']}: {e}", file=sys.stderr, flush=True)
            continue
        if ctx.tracks:
            track = max(ctx.tracks, key=lambda t: len(t.observations))
            entry.update(cues(track.with_landmarks))
            entry["speech_judged"] = sync.analyze(ctx).status == "ok"
        per_file[r["path"]] = entry
        print(f"[{i}/{len(rows)}] {r['path']}", file=sys.stderr, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cues.json").write_text(json.dumps(per_file, indent=1, sort_keys=True))

    fakes = {p: e for p, e in per_file.items() if e["label"] == "fake"}
    table: dict[str, object] = {}
    for cue in CUES:
        for ref in ("all_real", "real_with_speech"):
            neg = [float(e[cue]) for e in per_file.values()  # type: ignore[arg-type]
                   if e["label"] == "real" and cue in e and (ref == "all_real" or e.get("speech_judged"))]
            pos = [float(e[cue]) for e in fakes.values() if cue in e]  # type: ignore[arg-type]
            table[f"{cue}/{ref}"] = {"n_fake": len(pos), "n_real": len(neg), "auc": auc_low(pos, neg),
                                     "fake_ranks": sorted(int(np.sum(np.asarray(neg) <= v)) for v in pos)}
    print(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
