"""Blend-boundary cue: is the inner face rendered differently from the skin around it?

A face swap renders the inner face elsewhere (at 128-512 px, through a
network that smooths sensor noise) and pastes it back with a soft mask and a
colour transfer. The pasted part then differs from the rest of the head in
noise level, sharpness and colour, and the mask edge can leave a seam. This
analyzer measures those differences on every face crop with landmarks,
training-free: inner face (the face outline shrunk toward its centre) vs a
ring straddling the outline (forehead top, cheeks to ears, jaw), and vs the
lower forehead, skin that most swaps leave alone because their mask stops
at the brows. On the small development set (FF++ c23, DFDC) the forehead
comparison separates swaps best; noise is mostly erased by compression.

Every feature is a log-ratio or a normalised distance, so it does not depend
on face size, brightness or contrast. The score is a heuristic squash of the
strongest mismatch; fusion calibrates it later.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from unmask.analyzers.base import Analyzer, flagged_spans
from unmask.faces.regions import (
    band_mask,
    forehead_polygon,
    in_frame_mask,
    oval_polygon,
    polygon_mask,
    scale_polygon,
)
from unmask.types import AnalyzerResult, Evidence, FaceObs, FaceTrack, MediaContext, Need, TrackScore

#: inner face: the outline shrunk to this fraction about its centre (cheeks, nose, eyes, mouth)
INNER_SCALE = 0.70
#: ring: from this fraction of the outline ...
RING_INNER = 0.88
#: ... to this one (straddles the outline: forehead top, temples, jaw edge, a little background)
RING_OUTER = 1.12
#: lower forehead: from the brows this far up toward the outline (keeps the hairline out)
FOREHEAD_REACH = 0.6
#: floors that keep log-ratios finite on flat, noise-free regions (grey levels, squared grey levels)
NOISE_FLOOR = 0.5
ENERGY_FLOOR = 1.0
#: fewest pixels a region needs for its statistics to mean anything
MIN_REGION_PX = 150
#: radial profiles for the seam measure: rays from the face centre, and samples along each ray
N_RAYS = 72
SEAM_RADII = np.linspace(0.55, 1.10, 23)
SEAM_TREND_SAMPLES = 7  # moving average removed from each ray's steps (local-step detector)
#: mismatches smaller than these are ordinary (skin vs hair/background differ a little in any photo)
NOISE_NORMAL = math.log(2.0)  # inner face up to 2x smoother/noisier than the ring
SHARP_NORMAL = math.log(2.0)
COLOUR_NORMAL = 1.0  # chroma (a*b*) median distance in units of the pooled chroma spread
SEAM_NORMAL = 0.35  # radial-gradient coherence (0 random .. 1 the same step on every ray)
#: the inner face (eyes, nostrils, lips) should be sharper than bare forehead; at or below equal it is suspect
FH_SHARP_NORMAL = 0.0
FH_SHARP_SCALE = 0.5 * math.log(2.0)  # one e-fold per halving of the high-frequency energy
FEATURE_KEYS = ("noise_ratio", "sharp_ratio", "color_dist", "seam", "fh_noise_ratio", "fh_sharp_ratio", "fh_color_dist")
LOW_IS_SUSPECT = ("noise_ratio", "sharp_ratio", "fh_noise_ratio", "fh_sharp_ratio")
#: a per-frame score above this marks the frame as evidence
EVIDENCE_LEVEL = 0.5
#: frames closer than this (seconds) join one evidence span
SPAN_GAP_S = 1.0
MAX_EVIDENCE_PER_TRACK = 3
EPS = 1e-6


def _squash(excess: float) -> float:
    """0 at no excess, 0.63 at one unit over normal, -> 1: ``1 - exp(-excess)``."""
    return float(1.0 - math.exp(-max(0.0, excess)))


#: Immerkaer's noise-estimation mask: blind to flat areas and linear ramps, sees pixel noise
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
#: pixels whose gradient is above this quantile of their region are edges, not noise
EDGE_QUANTILE = 0.6


def _noise_sigma(resid: NDArray[Any], grad: NDArray[Any], region: NDArray[Any]) -> float:
    """Noise level in a region (Immerkaer 1996), on its flattest pixels so edges do not count."""
    g = grad[region]
    flat = g <= np.quantile(g, EDGE_QUANTILE)
    return float(math.sqrt(math.pi / 2.0) / 6.0 * np.mean(np.abs(resid[region][flat])))


def _region_stats(g: NDArray[Any], lab: NDArray[Any], resid: NDArray[Any], grad: NDArray[Any], lap: NDArray[Any],
                  region: NDArray[Any]) -> tuple[float, float, NDArray[Any]]:
    """(noise level, mean squared Laplacian, chroma pixels) of one region."""
    return _noise_sigma(resid, grad, region), float(np.mean(lap[region] ** 2)), lab[region][:, 1:]


def _chroma_dist(a: NDArray[Any], b: NDArray[Any]) -> float:
    """Distance between the median chromas (Lab a*, b*) of two pixel sets, in units of their pooled spread."""
    spread = np.sqrt(0.5 * (a.var(axis=0) + b.var(axis=0)).sum()) + 1.0
    return float(np.linalg.norm(np.median(a, axis=0) - np.median(b, axis=0)) / spread)


def frame_features(obs: FaceObs, frame_size: tuple[int, int] | None = None) -> dict[str, float] | None:
    """Inner-face-vs-surroundings features for one face crop, or None when the regions are too small.

    Against the ring straddling the outline:
    noise_ratio: log(noise inside / noise in the ring); a pasted face is usually smoother (<0).
    sharp_ratio: log(high-frequency energy inside / in the ring), as an amplitude ratio.
    color_dist: chroma (Lab a*b*) median difference inside vs ring, in units of their pooled spread.
    seam: how consistently a brightness step appears at the same place along the outline (0..1).
    Against the lower forehead (skin vs skin; swaps usually stop at the brows), when visible:
    fh_noise_ratio, fh_sharp_ratio, fh_color_dist: the same measures. The inner face holds eyes,
    nostrils and lips, so on a real face it is sharper than bare forehead (fh_sharp_ratio > 0).
    ``frame_size`` (width, height of the analysed frame) keeps crop padding out of the statistics.
    """
    xy = obs.landmarks_in_crop()
    if xy is None:
        return None
    crop = obs.crop
    shape = (crop.shape[0], crop.shape[1])
    poly = oval_polygon(xy)
    centre = poly.mean(axis=0)
    inner = polygon_mask(scale_polygon(poly, INNER_SCALE, centre), shape)
    ring = band_mask(poly, RING_INNER, RING_OUTER, shape)
    forehead = polygon_mask(forehead_polygon(xy, FOREHEAD_REACH), shape) & ~inner
    if frame_size is not None:  # leave out the black padding of faces at the frame edge
        valid = in_frame_mask(obs, frame_size)
        inner, ring, forehead = inner & valid, ring & valid, forehead & valid
    if inner.sum() < MIN_REGION_PX or ring.sum() < MIN_REGION_PX:
        return None

    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    g = grey.astype(np.float32)
    resid = cv2.filter2D(g, cv2.CV_32F, _NOISE_KERNEL)
    grad = np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1))
    lap = cv2.Laplacian(cv2.GaussianBlur(g, (3, 3), 0), cv2.CV_32F, ksize=3)
    # chroma only (a*, b*): lighting changes brightness across a head, rarely its hue
    lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)
    n_in, e_in, c_in = _region_stats(g, lab, resid, grad, lap, inner)
    n_ring, e_ring, c_ring = _region_stats(g, lab, resid, grad, lap, ring)
    out = {
        "noise_ratio": math.log((n_in + NOISE_FLOOR) / (n_ring + NOISE_FLOOR)),
        "sharp_ratio": 0.5 * math.log((e_in + ENERGY_FLOOR) / (e_ring + ENERGY_FLOOR)),
        "color_dist": _chroma_dist(c_in, c_ring),
        "seam": _seam(g, poly, centre),
    }
    if forehead.sum() >= MIN_REGION_PX:
        n_fh, e_fh, c_fh = _region_stats(g, lab, resid, grad, lap, forehead)
        out["fh_noise_ratio"] = math.log((n_in + NOISE_FLOOR) / (n_fh + NOISE_FLOOR))
        out["fh_sharp_ratio"] = 0.5 * math.log((e_in + ENERGY_FLOOR) / (e_fh + ENERGY_FLOOR))
        out["fh_color_dist"] = _chroma_dist(c_in, c_fh)
    return out


def _seam(g: NDArray[Any], poly: NDArray[Any], centre: NDArray[Any]) -> float:
    """Coherence of the radial brightness step along the outline.

    Samples brightness along rays from the face centre through the outline
    (radius as a fraction of the outline's). Ordinary edges (eyes, hair) fall
    at different radii on different rays; a pasted face's mask edge puts a
    step at about the same fraction on every ray. The score is the largest,
    over radii, of |mean signed step| / mean |step| across rays, after each
    ray's own trend is normalised: 0 for random edges, 1 for a perfect seam.
    """
    # outline radius as a function of angle, by interpolating the polygon in polar form
    d = poly - centre
    ang = np.arctan2(d[:, 1], d[:, 0])
    rad = np.hypot(d[:, 0], d[:, 1])
    order = np.argsort(ang)
    ang, rad = ang[order], rad[order]
    ang_ext = np.concatenate([ang - 2 * np.pi, ang, ang + 2 * np.pi])
    rad_ext = np.concatenate([rad, rad, rad])
    theta = np.linspace(-np.pi, np.pi, N_RAYS, endpoint=False)
    r_theta = np.interp(theta, ang_ext, rad_ext)
    rr = r_theta[:, None] * SEAM_RADII[None, :]
    mx = (centre[0] + rr * np.cos(theta)[:, None]).astype(np.float32)
    my = (centre[1] + rr * np.sin(theta)[:, None]).astype(np.float32)
    smooth = cv2.GaussianBlur(g, (0, 0), 1.5)
    prof = cv2.remap(smooth, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    step = np.diff(prof, axis=1)
    # high-pass along each ray: shading darkens every ray toward the edge; a seam is a local step
    trend = cv2.blur(step, (SEAM_TREND_SAMPLES, 1), borderType=cv2.BORDER_REPLICATE)
    step = step - trend
    step = step / (np.abs(step).mean(axis=1, keepdims=True) + EPS)
    # ignore the outline itself (face vs background is a natural edge): only steps inside it
    inside = SEAM_RADII[1:] <= 0.97
    s = step[:, inside]
    coh = np.abs(s.mean(axis=0)) / (np.abs(s).mean(axis=0) + EPS)
    return float(coh.max())


def _excess(f: dict[str, float]) -> dict[str, float]:
    """How far each mismatch goes beyond what is ordinary, in units of its own scale (<= 0: ordinary).

    The keys are stored: evidence cues are ``blend_`` + key (``blend_color``, ``blend_fh_color``).
    """
    out = {
        "noise": (abs(f["noise_ratio"]) - NOISE_NORMAL) / NOISE_NORMAL,
        "sharp": (abs(f["sharp_ratio"]) - SHARP_NORMAL) / SHARP_NORMAL,
        "color": (f["color_dist"] - COLOUR_NORMAL) / COLOUR_NORMAL,
        "seam": (f["seam"] - SEAM_NORMAL) / (1.0 - SEAM_NORMAL),
    }
    if "fh_sharp_ratio" in f:
        out["fh_sharp"] = (FH_SHARP_NORMAL - f["fh_sharp_ratio"]) / FH_SHARP_SCALE
        out["fh_color"] = (f["fh_color_dist"] - COLOUR_NORMAL) / COLOUR_NORMAL
    return out


def frame_score(f: dict[str, float]) -> float:
    """Per-frame suspicion: ``1 - exp(-excess)`` of the strongest mismatch beyond what is ordinary."""
    return _squash(max(_excess(f).values()))


def _dominant_cue(f: dict[str, float]) -> str:
    ex = _excess(f)
    return max(ex, key=lambda k: ex[k])


def _describe(cue: str, f: dict[str, float]) -> str:
    if cue == "noise":
        if f["noise_ratio"] < 0:
            return ("the inner face is noticeably smoother and less noisy than the skin and hair around it, "
                    "as when a face is pasted in")
        return "the inner face carries more grain than the skin and hair around it, as when a face is pasted in"
    if cue == "sharp":
        if f["sharp_ratio"] < 0:
            return ("the inner face is blurrier than the edge of the head around it, "
                    "as when a lower-resolution face is pasted in")
        return "the inner face is sharper than the edge of the head around it, as when a face is pasted in"
    if cue == "color":
        return "the colour of the inner face does not match the skin around its edge, as when a face is pasted in"
    if cue == "fh_sharp":
        return ("the eyes, nose and mouth area is no sharper than the plain skin of the forehead above it, "
                "as when a smoother, lower-resolution face is pasted in below the brows")
    if cue == "fh_color":
        return (
            "the skin tone of the inner face does not match the forehead above the brows, as when a face is pasted in"
        )
    return (
        "a faint edge runs around the face at a constant distance from its outline, like the border of a pasted patch"
    )


def _fmt_t(t: float) -> str:
    return f"{t:.1f}"


class BlendBoundaryAnalyzer(Analyzer):
    """Inner face vs its border: noise, sharpness, colour and seam mismatch (face swaps)."""

    name = "blend_boundary"
    version = "1.0"
    needs = frozenset({Need.FACES, Need.LANDMARKS})
    checks = (
        "whether the inner face differs in noise, sharpness or colour from the skin around it, or shows a pasting seam"
    )
    feature_words: ClassVar[dict[str, str]] = {
        "noise_ratio": "noise inside the face relative to the skin around its edge",
        "sharp_ratio": "sharpness inside the face relative to the skin around its edge",
        "color_dist": "colour difference between the inner face and the skin around its edge",
        "seam": "strength of a brightness step along the face outline",
        "fh_noise_ratio": "noise inside the face relative to the forehead",
        "fh_sharp_ratio": "sharpness inside the face relative to the forehead",
        "fh_color_dist": "colour difference between the inner face and the forehead",
        "frame_score": "per-frame blend-boundary suspicion",
        "frac_frames_flagged": "share of frames with a suspicious blend boundary",
    }
    #: noise_ratio and sharp_ratio are suspect either way (a pasted face can be noisier or cleaner)
    suspect_when: ClassVar[dict[str, int]] = {
        "color_dist": 1, "seam": 1, "fh_color_dist": 1, "fh_noise_ratio": -1, "fh_sharp_ratio": -1,
        "frame_score": 1, "frac_frames_flagged": 1,
    }

    def analyze(self, ctx: MediaContext) -> AnalyzerResult:
        scores: list[TrackScore] = []
        evidence: list[Evidence] = []
        for track in ctx.tracks:
            res = self._track(track, ctx.analysed_size)
            if res is not None:
                scores.append(res[0])
                evidence.extend(res[1])
        if not scores:
            return self.skipped("no face had usable landmarks for the blend-boundary check")
        worst = max(scores, key=lambda s: s.score)
        if worst.score >= EVIDENCE_LEVEL:
            med = {k: worst.features[f"{k}_med"] for k in FEATURE_KEYS}
            if worst.features["forehead_frac"] < 0.5:
                med = {k: v for k, v in med.items() if not k.startswith("fh_")}
            cue = _dominant_cue(med)
            expl = (f"Face {worst.track_id}: {_describe(cue, med)}. This is the classic trace of a face swap, "
                    "but heavy compression, beauty filters or make-up can cause it too.")
        elif evidence:  # most frames match, a few do not: say so, never "nothing found" above findings
            spans = len(evidence)
            faces = sorted({e.track_id for e in evidence if e.track_id is not None})
            who = f"face {faces[0]}" if len(faces) == 1 else "the faces"
            expl = (f"On most frames the inner face matches the skin around it in noise, sharpness and colour, but "
                    f"{spans} stretch{'es' if spans > 1 else ''} of {who} show{'s' if spans == 1 else ''} the traces "
                    "listed as findings (as a pasted face would, or heavy compression and filters); too few frames "
                    "to count as a pasting boundary over the whole track.")
        else:
            expl = ("The inner face matches the skin around it in noise, sharpness and colour; "
                    "no pasting boundary was found.")
        return self.ok(scores, evidence, expl)

    def _track(self, track: FaceTrack, frame_size: tuple[int, int]) -> tuple[TrackScore, list[Evidence]] | None:
        rows: list[tuple[FaceObs, dict[str, float], float]] = []
        for obs in track.with_landmarks:
            f = frame_features(obs, frame_size)
            if f is not None and all(math.isfinite(v) for v in f.values()):
                rows.append((obs, f, frame_score(f)))
        if not rows:
            return None
        feats: dict[str, float] = {}
        for key in FEATURE_KEYS:
            vals = np.array([r[1][key] for r in rows if key in r[1]])
            if vals.size == 0:  # forehead never visible (fringe, hat, profile): 0, flagged by forehead_frac
                vals = np.zeros(1)
            feats[f"{key}_med"] = float(np.median(vals))
            # the extreme on the side that matters: smoother/blurrier inside is the swap direction
            if key in LOW_IS_SUSPECT:
                feats[f"{key}_p10"] = float(np.percentile(vals, 10))
            else:
                feats[f"{key}_p90"] = float(np.percentile(vals, 90))
        feats["forehead_frac"] = float(np.mean(["fh_sharp_ratio" in r[1] for r in rows]))
        per = np.array([r[2] for r in rows])
        feats["frame_score_med"] = float(np.median(per))
        feats["frac_frames_flagged"] = float(np.mean(per >= EVIDENCE_LEVEL))
        # the track's suspicion: the median frame's, nudged toward the worst tenth (a swap may flicker)
        score = float(np.clip(0.5 * np.median(per) + 0.5 * np.percentile(per, 90), 0.0, 1.0))
        ts = TrackScore(track.id, score, feats, tuple((r[0].t, r[2]) for r in rows))
        return ts, self._evidence(track.id, rows)

    def _evidence(self, track_id: int, rows: list[tuple[FaceObs, dict[str, float], float]]) -> list[Evidence]:
        spans = flagged_spans(rows, lambda r: r[0].t, lambda r: r[2], EVIDENCE_LEVEL, SPAN_GAP_S)
        out: list[Evidence] = []
        for span in sorted(spans, key=lambda s: -max(r[2] for r in s))[:MAX_EVIDENCE_PER_TRACK]:
            keys = set.intersection(*(set(r[1]) for r in span))
            med = {k: float(np.median([r[1][k] for r in span])) for k in keys}
            cue = _dominant_cue(med)
            t0, t1 = span[0][0].t, span[-1][0].t
            when = f"{_fmt_t(t0)} s" if t1 - t0 < 0.05 else f"{_fmt_t(t0)}–{_fmt_t(t1)} s"
            out.append(Evidence(
                cue=f"blend_{cue}",
                detail=f"Face {track_id}, {when}: {_describe(cue, med)}.",
                strength=float(np.clip(np.median([r[2] for r in span]), 0.0, 1.0)),
                t_start=t0, t_end=t1, track_id=track_id,
                frame_start=span[0][0].frame_index, frame_end=span[-1][0].frame_index,
            ))
        return out
