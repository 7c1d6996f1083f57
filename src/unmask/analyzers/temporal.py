"""Temporal coherence of a face track: jitter, flicker and identity drift.

Frame-by-frame generators (face swaps, reenactment) render each frame on its
own, so the pasted inner face wobbles and flickers against the head and
surroundings that come from the real video, and a swap can drift between
the source and the target identity. Three training-free cues:

* **jitter**: after removing head motion (similarity Procrustes to the track's
  mean shape), the second difference of landmark positions (their deviation
  from the straight path between neighbouring frames, with real timestamps)
  for the inner face (eyes, nose, mouth) versus the face outline;
* **flicker**: the same second difference of mean colour (Y, Cr, Cb) of the
  inner face versus a ring around the face; lighting changes hit both;
* **identity drift**: dlib embeddings of a few evenly spaced frames against
  the track's median embedding.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from unmask.analyzers.base import Analyzer
from unmask.config import IDENTITY_FRAMES
from unmask.faces.embed import SAME_PERSON_DISTANCE, FaceEmbedder, distances_to_median, evenly_spaced
from unmask.types import AnalyzerResult, Evidence, FaceObs, FaceTrack, MediaContext, Need, TrackScore

if TYPE_CHECKING:
    from typing import Self

    from unmask.config import ScanConfig

# mediapipe mesh indices (subject's left/right as in mediapipe's connection sets)
EYES = (7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246,
        249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466)
NOSE = (1, 2, 4, 5, 6, 19, 45, 48, 64, 94, 97, 98, 115, 168, 195, 197, 220, 275, 278, 294, 326, 327, 344, 440)
OUTER_LIPS = (0, 17, 37, 39, 40, 61, 84, 91, 146, 181, 185, 267, 269, 270, 291, 314, 321, 375, 405, 409)
INNER_FACE = EYES + NOSE + OUTER_LIPS
#: face outline, in order around the face (a polygon)
FACE_OVAL = (10, 109, 67, 103, 54, 21, 162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152,
             377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356, 389, 251, 284, 332, 297, 338)
#: points used to remove head motion: the whole mesh without the iris points
ALIGN_POINTS = np.arange(468)

#: a neighbour further away than this many median sample steps breaks the chain (a gap, not jitter)
MAX_GAP_STEPS = 2.5
MIN_TRIPLETS = 6  # second differences needed before jitter/flicker are reported
MIN_EMBEDDINGS = 3  # embeddings needed before identity drift is reported
#: dlib embeddings cost ~80 ms each: a video gets at most this many tracks' worth (longest tracks first),
#: so a long video read in 16 bursts (16+ tracks) does not spend seconds on identity alone
IDENTITY_TRACKS_PER_VIDEO = 4

# flicker regions, as scale factors of the face outline about its centroid
INNER_REGION_SCALE = 0.75
RING_INNER_SCALE = 1.05
RING_OUTER_SCALE = 1.3
MIN_REGION_PX = 50

# Typical values on real footage (the neutral value reported when a cue cannot be measured)
# and the spread used by the squashes. Rough, from 8 real clips (FF++, DFDC, HDTF, sampled at
# <= 8 fps: jitter ratio 0.55-0.78, flicker ratio 0.5-1.25, id drift max 0.21-0.38); fusion calibrates.
JITTER_RATIO_REAL = 0.7  # inner / outline jitter on real faces (the outline is the noisier one)
JITTER_RATIO_OCTAVES = 2.0  # a factor of 2**this away from typical in either direction -> score 1
FLICKER_RATIO_REAL = 0.8  # inner / ring colour flicker on real faces
FLICKER_RATIO_SPAN = 2.0  # ratio this far above typical -> score 1
ID_DRIFT_REAL = 0.25  # typical max distance to the median embedding on real tracks
ID_DRIFT_SPAN = 0.25  # distance above SAME_PERSON_DISTANCE - 0.1 at which the score reaches 1

#: values reported when a cue cannot be measured: typical of real tracks, so they push fusion nowhere
NEUTRAL_JITTER = {"jitter_inner": 0.02, "jitter_outer": 0.028, "jitter_ratio": JITTER_RATIO_REAL}
NEUTRAL_FLICKER = {"flicker_inner": 1.3, "flicker_ring": 1.6, "flicker_ratio": FLICKER_RATIO_REAL}
NEUTRAL_IDENTITY = {"id_drift_max": ID_DRIFT_REAL, "id_drift_mean": 0.2}

EVIDENCE_MIN = 0.5  # a cue's score must reach this before it becomes evidence


def _triplets(t: NDArray[Any], segments: NDArray[Any]) -> NDArray[Any]:
    """Middle indices of consecutive observation triplets without a gap or segment break."""
    if len(t) < 3:
        return np.zeros(0, dtype=int)
    dt = np.diff(t)
    pos = dt[dt > 0]
    if len(pos) == 0:
        return np.zeros(0, dtype=int)
    step = float(np.median(pos))
    good = (dt > 0) & (dt <= MAX_GAP_STEPS * step) & (segments[1:] == segments[:-1])
    mid = np.arange(1, len(t) - 1)
    kept: NDArray[Any] = mid[good[:-1] & good[1:]]
    return kept


def second_difference(t: NDArray[Any], x: NDArray[Any], mids: NDArray[Any]) -> NDArray[Any]:
    """Deviation of x[i] from the straight line through x[i-1] and x[i+1] at time t[i].

    Works with uneven timestamps, and stays in the units of ``x`` at any frame rate
    (white jitter of size s gives about 1.2 s, smooth motion gives ~0).
    """
    t0, t1, t2 = t[mids - 1], t[mids], t[mids + 1]
    w = ((t1 - t0) / (t2 - t0)).reshape((-1,) + (1,) * (x.ndim - 1))
    dev: NDArray[Any] = x[mids] - ((1 - w) * x[mids - 1] + w * x[mids + 1])
    return dev


def _similarity(src: NDArray[Any], dst: NDArray[Any]) -> tuple[float, NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Least-squares similarity (scale, rotation, src centroid, dst centroid) taking src (n,2) onto dst (n,2)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd(a.T @ b)
    corr = np.diag([1.0, float(np.sign(np.linalg.det(u @ vt))) or 1.0])
    r = u @ corr @ vt
    scale = float((s * np.diag(corr)).sum() / max(float((a**2).sum()), 1e-12))
    return scale, r, ms, md


def _unit(shape: NDArray[Any]) -> NDArray[Any]:
    c: NDArray[Any] = shape - shape.mean(0)
    return c / max(float(np.sqrt((c**2).sum(1).mean())), 1e-12)


def procrustes_shapes(shapes: NDArray[Any], iterations: int = 3) -> NDArray[Any]:
    """(n, 478, 2+) shapes aligned to their mean shape, in units of the mean shape's RMS radius.

    The transform is fitted on the mesh without iris points and applied to every point.
    """
    pts = shapes[:, ALIGN_POINTS, :2].astype(np.float64)
    mean = _unit(pts[len(pts) // 2])
    for _ in range(iterations):
        aligned = []
        for p in pts:
            sc, r, ms, md = _similarity(p, mean)
            aligned.append(sc * (p - ms) @ r + md)
        mean = _unit(np.mean(aligned, axis=0))
    out = np.empty(shapes.shape[:2] + (2,), dtype=np.float64)
    for i, p in enumerate(pts):
        sc, r, ms, md = _similarity(p, mean)
        out[i] = sc * (shapes[i, :, :2].astype(np.float64) - ms) @ r + md
    return out


def landmark_jitter(obs: list[FaceObs]) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]] | None:
    """Per-triplet (t, inner jitter, outline jitter) in face-size units, or None when too short."""
    t = np.array([o.t for o in obs])
    seg = np.array([o.segment for o in obs])
    mids = _triplets(t, seg)
    if len(mids) < MIN_TRIPLETS:
        return None
    shapes = np.stack([o.landmarks for o in obs])  # type: ignore[misc]
    aligned = procrustes_shapes(shapes)
    r = np.linalg.norm(second_difference(t, aligned, mids), axis=2)  # (m, 478)
    inner = np.median(r[:, INNER_FACE], axis=1)
    outer = np.median(r[:, FACE_OVAL], axis=1)
    return t[mids], inner, outer


def _scaled_polygon(pts: NDArray[Any], scale: float) -> NDArray[Any]:
    c: NDArray[Any] = pts.mean(0)
    poly: NDArray[np.int32] = np.round(c + scale * (pts - c)).astype(np.int32)
    return poly


def region_colours(o: FaceObs) -> tuple[NDArray[Any], NDArray[Any]] | None:
    """Mean (Y, Cr, Cb) of the inner face and of a ring around the face outline, from the crop."""
    lm = o.landmarks_in_crop()
    if lm is None:
        return None
    oval = lm[list(FACE_OVAL)]
    side = o.crop.shape[0]
    inner = np.zeros((side, side), np.uint8)
    cv2.fillPoly(inner, [_scaled_polygon(oval, INNER_REGION_SCALE)], (1,))
    outer = np.zeros((side, side), np.uint8)
    cv2.fillPoly(outer, [_scaled_polygon(oval, RING_OUTER_SCALE)], (1,))
    hole = np.zeros((side, side), np.uint8)
    cv2.fillPoly(hole, [_scaled_polygon(oval, RING_INNER_SCALE)], (1,))
    ring = outer & (1 - hole)
    if inner.sum() < MIN_REGION_PX or ring.sum() < MIN_REGION_PX:
        return None
    ycc = cv2.cvtColor(o.crop, cv2.COLOR_RGB2YCrCb).astype(np.float64)
    return ycc[inner > 0].mean(0), ycc[ring > 0].mean(0)


def colour_flicker(obs: list[FaceObs]) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]] | None:
    """Per-triplet (t, inner flicker, ring flicker) in grey levels, or None when too short."""
    pairs = [(o, region_colours(o)) for o in obs]
    rows = [(o, c) for o, c in pairs if c is not None]
    if len(rows) < MIN_TRIPLETS + 2:
        return None
    t = np.array([o.t for o, _ in rows])
    seg = np.array([o.segment for o, _ in rows])
    mids = _triplets(t, seg)
    if len(mids) < MIN_TRIPLETS:
        return None
    inner = np.stack([c[0] for _, c in rows])
    ring = np.stack([c[1] for _, c in rows])
    fi = np.linalg.norm(second_difference(t, inner, mids), axis=1)
    fr = np.linalg.norm(second_difference(t, ring, mids), axis=1)
    return t[mids], fi, fr


def _rms(x: NDArray[Any]) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def jitter_score(ratio: float) -> float:
    """0 at the typical real ratio, 1 when a factor 2**JITTER_RATIO_OCTAVES away in either direction."""
    return _clip01(abs(math.log2(max(ratio, 1e-6) / JITTER_RATIO_REAL)) / JITTER_RATIO_OCTAVES)


def flicker_score(ratio: float) -> float:
    """0 up to the typical ratio, 1 at FLICKER_RATIO_SPAN above it (only inner-only flicker counts)."""
    return _clip01((ratio - FLICKER_RATIO_REAL) / FLICKER_RATIO_SPAN)


def identity_score(max_dist: float) -> float:
    """0 well inside same-person distances, 1 when clearly another identity."""
    return _clip01((max_dist - (SAME_PERSON_DISTANCE - 0.1)) / ID_DRIFT_SPAN)


def _span(track_id: int, a: float, b: float) -> str:
    return f"Face {track_id}, {a:.1f}–{b:.1f} s"


class TemporalAnalyzer(Analyzer):
    """Jitter, flicker and identity drift of each face track over time."""

    name: ClassVar[str] = "temporal"
    version: ClassVar[str] = "1.0"
    needs: ClassVar[frozenset[Need]] = frozenset({Need.FACES, Need.TIME, Need.LANDMARKS})
    checks: ClassVar[str] = (
        "whether the inner face wobbles, flickers or changes identity over time while the rest of the head stays steady"
    )
    feature_words: ClassVar[dict[str, str]] = {
        "jitter_inner": "frame-to-frame wobble of the eyes, nose and mouth",
        "jitter_outer": "frame-to-frame wobble of the face outline",
        "jitter_ratio": "wobble of the inner face relative to the face outline",
        "flicker_inner": "frame-to-frame flicker of brightness and colour inside the face",
        "flicker_ring": "frame-to-frame flicker of brightness and colour around the face",
        "flicker_ratio": "flicker inside the face relative to around it",
        "id_drift_max": "largest identity change along the track",
        "id_drift_mean": "average identity change along the track",
    }
    suspect_when: ClassVar[dict[str, int]] = {
        "jitter_inner": 1,
        "jitter_ratio": 1,
        "flicker_inner": 1,
        "flicker_ratio": 1,
        "id_drift_max": 1,
        "id_drift_mean": 1,
    }

    def __init__(self, embedder: FaceEmbedder | None = None, identity_frames: int = IDENTITY_FRAMES) -> None:
        """``identity_frames``: dlib embeddings per track for identity drift (``ScanConfig.identity_frames``)."""
        self._embedder = embedder or FaceEmbedder()
        self.identity_frames = identity_frames

    @classmethod
    def from_config(cls, config: ScanConfig) -> Self:
        return cls(identity_frames=config.identity_frames)

    @property
    def embedder(self) -> FaceEmbedder:
        """The embedder this analyzer uses (the reference analyzer shares it: same faces, paid once)."""
        return self._embedder

    def load(self) -> None:
        self._embedder.load()

    def analyze(self, ctx: MediaContext) -> AnalyzerResult:
        if ctx.is_still or ctx.info.kind == "image":
            return self.skipped("a still image has no motion to check")
        if not ctx.tracks:
            return self.skipped("no face was found")
        scores: list[TrackScore] = []
        evidence: list[Evidence] = []
        notes: list[str] = []
        longest = sorted(ctx.tracks, key=lambda t: (-len(t.with_landmarks), t.id))[:IDENTITY_TRACKS_PER_VIDEO]
        budgeted = {t.id for t in longest}
        for track in ctx.tracks:
            ts, ev, note = self._track(track, self.identity_frames, in_identity_budget=track.id in budgeted)
            scores.append(ts)
            evidence.extend(ev)
            if note:
                notes.append(note)
        return self.ok(scores, evidence, self._explain(scores, evidence, notes))

    def _track(self, track: FaceTrack, identity_frames: int,
               in_identity_budget: bool = True) -> tuple[TrackScore, list[Evidence], str]:
        tid = track.id
        obs = list(track.with_landmarks)
        feats: dict[str, float] = {}
        ev: list[Evidence] = []
        missing: list[str] = []
        per_frame: tuple[tuple[float, float], ...] = ()

        # (a) landmark jitter, inner face vs outline
        s_jit = 0.0
        jit = landmark_jitter(obs) if len(obs) >= 3 else None
        if jit is None:
            feats.update(NEUTRAL_JITTER)
            missing.append("jitter")
        else:
            tm, inner, outer = jit
            ji, jo = _rms(inner), _rms(outer)
            ratio = ji / max(jo, 1e-9)
            s_jit = jitter_score(ratio)
            feats.update(jitter_inner=ji, jitter_outer=jo, jitter_ratio=float(ratio))
            ref = max(float(np.median(outer)), 1e-9)
            per_frame = tuple((float(t), jitter_score(float(i) / ref)) for t, i in zip(tm, inner))
            if s_jit >= EVIDENCE_MIN:
                more = ratio > JITTER_RATIO_REAL
                what = (
                    f"the eyes, nose and mouth wobble {ratio:.1f} times as much as the face outline "
                    "from frame to frame, "
                    "as if the inner face were pasted onto the head"
                    if more
                    else f"the face outline wobbles {1 / ratio:.1f} times as much as the eyes, nose and mouth, "
                    "as if the inner face were held still inside a moving head"
                )
                ev.append(Evidence("landmark_jitter", f"{_span(tid, track.start_t, track.end_t)}: {what}.",
                                   s_jit, float(tm[0]), float(tm[-1]), tid,
                                   obs[0].frame_index, obs[-1].frame_index))

        # (b) colour flicker, inner face vs ring around it
        s_fl = 0.0
        fl = colour_flicker(obs) if len(obs) >= 3 else None
        if fl is None:
            feats.update(NEUTRAL_FLICKER)
            missing.append("flicker")
        else:
            tm, fi, fr = fl
            fli, flr = _rms(fi), _rms(fr)
            fratio = fli / max(flr, 1e-6)
            s_fl = flicker_score(fratio)
            feats.update(flicker_inner=fli, flicker_ring=flr, flicker_ratio=float(fratio))
            if s_fl >= EVIDENCE_MIN:
                k = int(np.argmax(fi))
                ev.append(Evidence(
                    "inner_flicker",
                    f"{_span(tid, track.start_t, track.end_t)}: the brightness and colour of the inner face flicker "
                    f"{fratio:.1f} times as much as the area around the face (strongest at {tm[k]:.1f} s); "
                    "a change of light would affect both.",
                    s_fl, float(tm[0]), float(tm[-1]), tid, obs[0].frame_index, obs[-1].frame_index))

        # (c) identity drift along the track
        s_id = 0.0
        n_embed = identity_frames if in_identity_budget else 0
        embs = self._embedder.embed_many(evenly_spaced(track.observations, n_embed)) if n_embed > 0 else []
        if len(embs) < MIN_EMBEDDINGS:
            feats.update(NEUTRAL_IDENTITY)
            missing.append("identity drift")
        else:
            d = distances_to_median(np.stack([v for _, v in embs]))
            dmax, dmean = float(d.max()), float(d.mean())
            s_id = identity_score(dmax)
            feats.update(id_drift_max=dmax, id_drift_mean=dmean)
            if s_id >= EVIDENCE_MIN:
                o = embs[int(np.argmax(d))][0]
                ev.append(
                    Evidence(
                        "identity_drift",
                        f"Face {tid}, at {o.t:.1f} s: the face looks like a different person "
                        "from the rest of the track "
                        f"(identity distance {dmax:.2f}; frames of one person usually stay under "
                        f"{SAME_PERSON_DISTANCE:.1f}).",
                        s_id,
                        o.t,
                        o.t,
                        tid,
                        o.frame_index,
                        o.frame_index,
                    )
                )

        feats["n_landmark_frames"] = float(len(obs))
        score = max(s_jit, s_fl, s_id) if len(missing) < 3 else 0.5
        notes = []
        if not in_identity_budget and "identity drift" in missing:
            missing.remove("identity drift")
            notes.append(
                f"face {tid}: identity drift measured only on the {IDENTITY_TRACKS_PER_VIDEO} longest face tracks"
            )
        if missing:
            notes.append(f"face {tid}: too short or small to measure {', '.join(missing)}")
        note = "; ".join(notes)
        return TrackScore(tid, _clip01(score), feats, per_frame), ev, note

    @staticmethod
    def _explain(scores: list[TrackScore], evidence: list[Evidence], notes: list[str]) -> str:
        tail = f" ({'; '.join(notes)}; neutral values used)" if notes else ""
        if evidence:
            top = max(evidence, key=lambda e: e.strength)
            return f"Over time the face is not coherent: {top.detail}{tail}"
        return (
            "The inner face moves, keeps its colour and keeps its identity consistently with the rest of the head "
            f"over time{tail}."
        )
