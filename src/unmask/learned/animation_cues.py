"""Texture rigidity: does the skin change when the face moves? Cues against one-photo animation.

A talking-head generator (SadTalker, AniPortrait, EDTalk, ...) makes every frame from one photo:
the geometry moves, the texture does not. Undo the geometry (warp every frame of a short window
back onto a reference frame's landmarks, piecewise affine, :func:`unmask.faces.warp.warp_to`)
and an animated face is left nearly identical to its reference, while real skin changes with
lighting, micro-expression, sensor and codec noise. The cues measure that change per face region
and frequency band, next to how far the geometry moved, so a small learned head can ask for "too
little texture change for this much motion".

Everything here is cheap numpy/OpenCV on aligned face views (``unmask.faces.align.face_view``
crops with their 478 landmarks); there is no randomness and no model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from unmask.errors import UnmaskError
from unmask.faces.regions import FACE_OVAL, forehead_polygon, scale_polygon
from unmask.faces.warp import (
    LEFT_LIDS,
    OUTER_LIPS,
    RIGHT_LIDS,
    RIGID_POINTS,
    WARP_POINTS,
    BadWarpInput,
    apply_similarity,
    eye_aspect_ratio,
    mouth_opening,
    similarity,
    warp_to,
)
from unmask.types import N_LANDMARKS


class BadCueInput(UnmaskError, ValueError):
    """A window of views or landmarks the cues cannot be measured on."""


#: skin regions the texture change is measured in; the eyes' and mouth's interiors are never skin
REGIONS = ("forehead", "cheeks", "eyes", "mouth")
#: frequency bands: low = shading (blurred by LOW_SIGMA), mid (between), high = pores, noise, codec (above HIGH_SIGMA)
BANDS = ("low", "mid", "high")
HIGH_SIGMA = 1.0
LOW_SIGMA = 4.0
#: relative changes and motions are floored here before the log, so a perfectly frozen face stays finite
FLOOR = 1e-3
MIN_PIXELS = 30


@dataclass(frozen=True)
class CueConfig:
    """How a window is measured."""

    min_window: int = 4  # fewer views cannot tell motion from jitter
    reference: str = "middle"  # "middle" halves the largest motion to undo; "first"

    def __post_init__(self) -> None:
        if self.min_window < 2:
            raise BadCueInput(f"min_window must be at least 2, got {self.min_window}")
        if self.reference not in ("middle", "first"):
            raise BadCueInput(f"reference must be 'middle' or 'first', got {self.reference!r}")


@dataclass(frozen=True)
class WindowCues:
    """The cues of one window; :meth:`vector` is what a head is trained on (all logs or bounded)."""

    change: NDArray[Any]  # R x B: median over frames of the unwarped band's RMS change / the reference band's RMS
    coherence: NDArray[Any]  # R: mean correlation of the high band between consecutive unwarped frames
    exposure: float  # median |mean brightness change| of the face after unwarping, / its mean brightness
    rigid_motion: float  # median RMS landmark shift explained by a similarity (head motion), / eye distance
    expression_motion: float  # median RMS landmark shift left after the similarity (expression), / eye distance
    eye_range: float  # max - min eye aspect ratio over the window (blinks)
    mouth_std: float  # std of the mouth opening over the window (speech)

    def vector(self) -> NDArray[Any]:
        logs = np.log(np.maximum(np.concatenate([self.change.ravel(), [self.exposure, self.rigid_motion,
                                                                       self.expression_motion]]), FLOOR))
        out: NDArray[np.float64] = np.concatenate([logs, np.clip(self.coherence, -1.0, 1.0),
                                                   [self.eye_range, self.mouth_std]]).astype(np.float64)
        return out


def feature_names() -> tuple[str, ...]:
    """Names of :meth:`WindowCues.vector`'s entries, in order."""
    return (tuple(f"log_change_{r}_{b}" for r in REGIONS for b in BANDS)
            + ("log_exposure", "log_rigid_motion", "log_expression_motion")
            + tuple(f"coherence_{r}" for r in REGIONS) + ("eye_range", "mouth_std"))


def _poly_mask(poly: NDArray[Any], shape: tuple[int, int]) -> NDArray[Any]:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(np.asarray(poly) * 16).astype(np.int32)], (1,), lineType=cv2.LINE_8, shift=4)
    return m.astype(bool)


def region_masks(xy: NDArray[Any], shape: tuple[int, int]) -> dict[str, NDArray[Any]]:
    """Boolean masks of :data:`REGIONS` from one frame's landmarks (pixels of an image of ``shape``).

    ``eyes`` is the skin around the eyes (lids and below), without the eyeballs; ``mouth`` the lips and
    what lies between them; ``cheeks`` the rest of the inner face below the brows (nose included).
    """
    xy = np.asarray(xy, np.float64)[:, :2]
    inner = _poly_mask(scale_polygon(xy[list(FACE_OVAL)], 0.9), shape)
    balls = np.zeros(shape, bool)
    around = np.zeros(shape, bool)
    for lids in (RIGHT_LIDS, LEFT_LIDS):
        eye = np.vstack([xy[[u for u, _ in lids]], xy[[lo for _, lo in lids]][::-1]])
        balls |= _poly_mask(scale_polygon(eye, 1.15), shape)
        around |= _poly_mask(scale_polygon(eye, 2.2), shape)
    mouth = _poly_mask(scale_polygon(xy[list(OUTER_LIPS)], 1.25), shape)
    forehead = _poly_mask(forehead_polygon(xy), shape) & ~around
    eyes = around & ~balls & inner
    cheeks = inner & ~around & ~mouth & ~forehead
    return {"forehead": forehead, "cheeks": cheeks, "eyes": eyes, "mouth": mouth & inner}


def _bands(grey: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    b1 = cv2.GaussianBlur(grey, (0, 0), HIGH_SIGMA)
    b4 = cv2.GaussianBlur(grey, (0, 0), LOW_SIGMA)
    return b4, b1 - b4, grey - b1


def _check_window(frames: NDArray[Any], landmarks: NDArray[Any],
                  config: CueConfig) -> tuple[NDArray[Any], NDArray[Any]]:
    if not (isinstance(frames, np.ndarray) and frames.ndim == 4 and frames.shape[3] == 3 and frames.dtype == np.uint8
            and min(frames.shape[1:3]) >= 32):
        raise BadCueInput(f"frames must be T x H x W x 3 uint8 views of at least 32 px, got "
                          f"{getattr(frames, 'shape', None)} {getattr(frames, 'dtype', None)}")
    if len(frames) < config.min_window:
        raise BadCueInput(f"a window needs at least {config.min_window} views, got {len(frames)}")
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim != 3 or lm.shape[0] != len(frames) or lm.shape[1] != N_LANDMARKS or lm.shape[2] < 2:
        raise BadCueInput(f"landmarks must be ({len(frames)}, {N_LANDMARKS}, 2), got {lm.shape}")
    if not np.all(np.isfinite(lm[..., :2])):
        raise BadCueInput("landmarks must be finite")
    return frames, lm[..., :2]


def window_cues(frames: NDArray[Any], landmarks: NDArray[Any], config: CueConfig | None = None) -> WindowCues:
    """The texture-rigidity cues of T consecutive views of one face (T x S x S x 3 uint8, T x 478 x 2)."""
    config = config or CueConfig()
    frames, lm = _check_window(frames, landmarks, config)
    t_n = len(frames)
    ref = t_n // 2 if config.reference == "middle" else 0
    shape = (int(frames.shape[1]), int(frames.shape[2]))
    masks = region_masks(lm[ref], shape)
    face = np.zeros(shape, bool)
    for m in masks.values():
        face |= m
    if any(int(m.sum()) < MIN_PIXELS for m in masks.values()):
        sizes = {k: int(m.sum()) for k, m in masks.items()}
        raise BadCueInput(f"the face is too small in the reference view ({sizes} px)")
    iod = float(np.linalg.norm(lm[ref, 33] - lm[ref, 263]))
    if iod < 4.0:
        raise BadCueInput(f"the eyes are {iod:.1f} px apart in the reference view: too small a face")

    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in frames]
    ref_bands = _bands(grey[ref])
    ref_energy = np.array([[np.sqrt(np.mean(b[m] ** 2)) + 1e-3 for b in ref_bands] for m in masks.values()])
    ref_mean = float(grey[ref][face].mean()) + 1.0
    changes, exposures, highs = [], [], []
    for t in range(t_n):
        if t == ref:
            unwarped = grey[ref]
        else:
            try:
                back = warp_to(frames[t], lm[t], lm[ref])
            except BadWarpInput as e:
                raise BadCueInput(f"view {t} cannot be unwarped: {e}") from None
            unwarped = cv2.cvtColor(back, cv2.COLOR_RGB2GRAY).astype(np.float32)
        bands = _bands(unwarped)
        highs.append(bands[2])
        if t == ref:
            continue
        d_mean = float(unwarped[face].mean()) - float(grey[ref][face].mean())
        exposures.append(abs(d_mean) / ref_mean)
        row = []
        for m in masks.values():
            cells = []
            for k, (b, rb) in enumerate(zip(bands, ref_bands)):
                d = b[m] - rb[m]
                if k == 0:  # shading: the pattern's change, not the exposure's (that is ``exposure``)
                    d = d - d.mean()
                cells.append(np.sqrt(np.mean(d ** 2)))
            row.append(cells)
        changes.append(np.array(row) / ref_energy)
    coherence = []
    for m in masks.values():
        cs = []
        for a, b in zip(highs[:-1], highs[1:]):
            x, y = a[m] - a[m].mean(), b[m] - b[m].mean()
            cs.append(float(np.sum(x * y) / (np.sqrt(np.sum(x * x) * np.sum(y * y)) + 1e-6)))
        coherence.append(float(np.mean(cs)))
    rigid, expr = landmark_motion(lm, ref, iod)
    ears = np.array([eye_aspect_ratio(x) for x in lm])
    mouths = np.array([mouth_opening(x) for x in lm])
    return WindowCues(
        change=np.median(np.stack(changes), axis=0), coherence=np.array(coherence),
        exposure=float(np.median(exposures)), rigid_motion=rigid, expression_motion=expr,
        eye_range=float(np.ptp(ears)), mouth_std=float(np.std(mouths)),
    )


def landmark_motion(lm: NDArray[Any], ref: int, iod: float) -> tuple[float, float]:
    """Median over frames of the head's (similarity) and the expression's RMS landmark shift from the reference."""
    rig, pts = list(RIGID_POINTS), list(WARP_POINTS)
    rigid, expr = [], []
    for t in range(len(lm)):
        if t == ref:
            continue
        a, b = similarity(lm[ref][rig], lm[t][rig])
        moved = apply_similarity(a, b, lm[ref][pts])
        rigid.append(float(np.sqrt(np.mean(np.sum((moved - lm[ref][pts]) ** 2, axis=1)))) / iod)
        expr.append(float(np.sqrt(np.mean(np.sum((lm[t][pts] - moved) ** 2, axis=1)))) / iod)
    return float(np.median(rigid)), float(np.median(expr))


def windows(n: int, window: int, stride: int) -> list[tuple[int, int]]:
    """(start, stop) of every window of ``window`` consecutive items among ``n``, ``stride`` apart."""
    if window < 1 or stride < 1:
        raise BadCueInput(f"window and stride must be positive, got {window}, {stride}")
    return [(s, s + window) for s in range(0, n - window + 1, stride)]
