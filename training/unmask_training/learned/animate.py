"""One-photo animation pseudo-fakes: a real still driven by another real clip's motion.

Talking-head generators (SadTalker, AniPortrait, LivePortrait, ...) make a whole video from one
photo: the identity's texture is frozen while the geometry moves, the mouth interior is invented,
the eyes close by warping and the background is either held still or moved with the head. SBI
(:mod:`unmask_training.learned.sbi`) makes swap-like fakes from real faces alone; this module does the same
for animation, so a clip-level detector can be trained without any generator's output:

* **motion transfer, relative**: the driver's landmarks are mapped onto the still by one
  similarity (scale, pose), then split per frame into a rigid head motion and a non-rigid
  expression residual, both re-applied to the *still's* shape (FOMM's "relative" mode), so the
  output keeps the still's face shape and only borrows the driver's movement;
* **warp**: piecewise-affine over a Delaunay triangulation of a landmark subset plus a ring of
  anchors around the face; outside the ring the background is either static or moved rigidly
  with the head;
* **eyes**: the lids close by warping, following the driver's eye aspect ratio, a blink inserted
  at random, or never (eyes frozen open, an old trace of animated photos);
* **mouth**: when the driver opens the mouth wider than the still, the inner-lip polygon is filled
  from a stretched copy of the still's mouth interior, or, for a closed-mouth still, a dark
  interior with teeth coloured from the still's own eye whites.

Every random choice comes from the ``np.random.Generator`` passed in, so a seed reproduces a sample
bit for bit. Landmarks are ``(478, 2)`` pixel coordinates of the image they belong to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from unmask.errors import UnmaskError
from unmask.faces.warp import (
    EYE_POINTS,
    INNER_LIPS,
    LEFT_IRIS,
    LEFT_LIDS,
    OUTER_LIPS,
    RIGHT_IRIS,
    RIGHT_LIDS,
    RIGID_POINTS,
    BadWarpInput,
    apply_similarity,
    build_mesh,
    check_image,
    check_points,
    eye_aspect_ratio,
    inverse_similarity,
    mouth_opening,
    similarity,
    warp_mesh,
)
from unmask.types import N_LANDMARKS
from unmask_training.learned.dataset import FaceSet


class BadAnimationInput(BadWarpInput):
    """A driving sequence, option or face set that cannot be animated (bad stills and landmarks: BadWarpInput)."""


BACKGROUNDS = ("static", "rigid")
BLINKS = ("driver", "inserted", "frozen")
BLINK_P = (0.6, 0.25, 0.15)
#: relative opening (gap / mouth width) above which a still's own mouth interior is worth copying
OPEN_STILL = 0.08
#: the output mouth is filled when its opening exceeds the still's by this fraction of the mouth width
FILL_MARGIN = 0.03


@dataclass(frozen=True)
class AnimationOptions:
    """What one pseudo-fake does; :func:`draw_options` draws it from a generator."""

    background: str = "static"  # "static": held still; "rigid": moved with the head
    blink: str = "driver"  # "driver": lids follow the driver's eye aspect ratio; "inserted": one random blink; "frozen"
    expression_gain: float = 1.0  # scales the driver's expression residual
    teeth: bool = True  # a closed-mouth still's rendered interior shows a band of upper teeth
    teeth_height: float = 0.35  # of the interior's height
    interior_dark: float = 0.3  # brightness of the rendered interior, as a fraction of the lips'

    def __post_init__(self) -> None:
        if self.background not in BACKGROUNDS:
            raise BadAnimationInput(f"background must be one of {', '.join(BACKGROUNDS)}, got {self.background!r}")
        if self.blink not in BLINKS:
            raise BadAnimationInput(f"blink must be one of {', '.join(BLINKS)}, got {self.blink!r}")
        for name, v, lo, hi in (("expression_gain", self.expression_gain, 0.0, 3.0),
                                ("teeth_height", self.teeth_height, 0.0, 1.0),
                                ("interior_dark", self.interior_dark, 0.0, 1.0)):
            if not (np.isfinite(v) and lo <= v <= hi):
                raise BadAnimationInput(f"{name} must be in [{lo}, {hi}], got {v}")


def draw_options(rng: np.random.Generator) -> AnimationOptions:
    """The options of one sample: background, eye mode, expression strength, mouth rendering."""
    background = BACKGROUNDS[int(rng.integers(0, len(BACKGROUNDS)))]
    blink = BLINKS[int(rng.choice(len(BLINKS), p=BLINK_P))]
    return AnimationOptions(
        background=background, blink=blink, expression_gain=float(rng.uniform(0.8, 1.2)),
        teeth=bool(rng.random() < 0.7), teeth_height=float(rng.uniform(0.25, 0.45)),
        interior_dark=float(rng.uniform(0.15, 0.4)),
    )


@dataclass(frozen=True)
class Animation:
    """T animated frames of one still and what was done to each."""

    frames: np.ndarray  # T x H x W x 3 uint8
    landmarks: np.ndarray  # T x 478 x 2 float32: where the still's landmarks went (irises follow the eyes rigidly)
    openness: np.ndarray  # T float32: lid opening imposed, 1 = the still's own, 0 = closed
    mouth_filled: np.ndarray  # T bool: the mouth interior was re-rendered in that frame
    options: AnimationOptions

    def __post_init__(self) -> None:
        t = len(self.frames)
        if not (self.frames.ndim == 4 and self.frames.shape[3] == 3 and self.frames.dtype == np.uint8):
            raise BadAnimationInput(f"Animation: frames must be TxHxWx3 uint8, got {self.frames.shape}")
        if (self.landmarks.shape != (t, N_LANDMARKS, 2) or self.openness.shape != (t,)
                or self.mouth_filled.shape != (t,)):
            raise BadAnimationInput("Animation: landmarks, openness and mouth_filled need one entry per frame")


# --- checks and motion ----------------------------------------------------------------------------

def _check_driver(driving: np.ndarray) -> np.ndarray:
    d = np.asarray(driving, dtype=np.float64)
    if d.ndim != 3 or d.shape[0] < 1 or d.shape[1] != N_LANDMARKS or d.shape[2] < 2:
        raise BadAnimationInput(f"driving landmarks must be (T >= 1, {N_LANDMARKS}, 2), got {d.shape}")
    return np.stack([check_points(f, f"driving frame {i}") for i, f in enumerate(d)])


def retarget(still_xy: np.ndarray, driving: np.ndarray, expression_gain: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The still's landmarks moved as the driver moves, relative to the driver's first frame.

    Returns ``(T x 478 x 2 landmarks, T head motions)``; each head motion is the complex pair
    ``(a, b)`` of the still-frame similarity ``z -> a z + b`` (frame 0: the identity). Eye lids keep
    the still's shape (the lids are set by :func:`set_lids`); irises follow the eye corners.
    """
    still = check_points(still_xy, "still landmarks")
    drv = _check_driver(driving)
    rig = list(RIGID_POINTS)
    a0, b0 = similarity(drv[0][rig], still[rig])  # the driver's first frame onto the still: scale, pose
    drv_s = apply_similarity(a0, b0, drv)
    out = np.empty_like(drv_s)
    motions = np.empty((len(drv_s), 2), np.complex128)
    frozen_eyes = list(EYE_POINTS + RIGHT_IRIS + LEFT_IRIS)
    for t, d in enumerate(drv_s):
        a, b = similarity(drv_s[0][rig], d[rig])  # the head's motion since frame 0
        ai, bi = inverse_similarity(a, b)
        residual = apply_similarity(ai, bi, d) - drv_s[0]  # expression, in the first frame's pose
        residual[frozen_eyes] = 0.0
        out[t] = apply_similarity(a, b, still + expression_gain * residual)
        motions[t] = (a, b)
    return out.astype(np.float32), motions


def set_lids(xy: np.ndarray, still_xy: np.ndarray, openness: float) -> np.ndarray:
    """``xy`` with each upper lid lowered toward its lower lid: ``openness`` 1 keeps the still's opening, 0 closes.

    The lids of ``xy`` are assumed to have the still's shape (as :func:`retarget` leaves them); the
    upper lid moves most, the lower lid rises a little, as in a real blink.
    """
    out = np.array(xy, np.float32, copy=True)
    o = float(np.clip(openness, 0.0, 1.0))
    for pairs in (RIGHT_LIDS, LEFT_LIDS):
        for u, lo in pairs:
            gap = out[lo] - out[u]
            out[u] = out[u] + (1.0 - o) * 0.85 * gap
            out[lo] = out[lo] - (1.0 - o) * 0.15 * gap
    return out


def _openness(options: AnimationOptions, drv: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    t = len(drv)
    if options.blink == "frozen":
        return np.ones(t, np.float32)
    if options.blink == "driver":
        ear = np.array([eye_aspect_ratio(f) for f in drv])
        top = float(ear.max())
        return np.clip(ear / top, 0.0, 1.0).astype(np.float32) if top > 1e-6 else np.ones(t, np.float32)
    # inserted: close over 1-2 frames, hold 0-2, open over 2-3 (at 25 fps a blink lasts 100-300 ms)
    close, hold, reopen = int(rng.integers(1, 3)), int(rng.integers(0, 3)), int(rng.integers(2, 4))
    depth = float(rng.uniform(0.0, 0.15))
    profile = np.concatenate([np.linspace(1.0, depth, close + 1)[1:], np.full(hold, depth),
                              np.linspace(depth, 1.0, reopen + 1)[1:]])
    start = int(rng.integers(0, max(1, t)))
    o = np.ones(t, np.float32)
    for k, v in enumerate(profile):
        if start + k < t:
            o[start + k] = v
    return o


# --- the mouth interior -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _MouthSource:
    """What an opened mouth is filled from: the still's own interior, or colours to render one."""

    patch: np.ndarray | None  # the still's inner-mouth box (float32), when its mouth is open enough
    dark: np.ndarray  # RGB of the rendered interior
    teeth: np.ndarray  # RGB of the rendered teeth


def _mouth_source(still: np.ndarray, xy: np.ndarray, options: AnimationOptions) -> _MouthSource:
    img = still.astype(np.float32)
    h, w = still.shape[:2]
    lips = np.zeros((h, w), np.uint8)
    cv2.fillPoly(lips, [np.round(xy[list(OUTER_LIPS)]).astype(np.int32)], 1)
    lip_rgb = img[lips > 0].mean(axis=0) if lips.any() else np.full(3, 120.0, np.float32)
    whites = []
    for pairs in (RIGHT_LIDS, LEFT_LIDS):
        eye = np.zeros((h, w), np.uint8)
        cv2.fillPoly(eye, [np.round(np.vstack([xy[[u for u, _ in pairs]], xy[[lo for _, lo in pairs]][::-1]]))
                           .astype(np.int32)], 1)
        px = img[eye > 0]
        if len(px) >= 4:
            lum = px.mean(axis=1)
            whites.append(px[lum >= np.quantile(lum, 0.7)])
    sclera = np.concatenate(whites).mean(axis=0) if whites else np.array([225.0, 220.0, 210.0])
    teeth = np.clip(0.5 * sclera + 0.5 * sclera.mean() * 0.95, 0.0, 255.0)  # the eye whites, less saturated
    dark = lip_rgb * options.interior_dark
    patch = None
    if mouth_opening(xy) >= OPEN_STILL:
        inner = xy[list(INNER_LIPS)]
        x0, y0 = np.floor(inner.min(axis=0)).astype(int)
        x1, y1 = np.ceil(inner.max(axis=0)).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1 + 1, w), min(y1 + 1, h)
        if x1 - x0 >= 3 and y1 - y0 >= 3:
            patch = img[y0:y1, x0:x1].copy()
    return _MouthSource(patch, dark.astype(np.float32), teeth.astype(np.float32))


def _fill_mouth(frame: np.ndarray, xy: np.ndarray, src: _MouthSource, options: AnimationOptions) -> np.ndarray:
    """``frame`` with its inner-lip polygon re-rendered from ``src``."""
    h, w = frame.shape[:2]
    poly = xy[list(INNER_LIPS)]
    x0, y0 = np.floor(poly.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return frame
    bw, bh = x1 - x0, y1 - y0
    mask = np.zeros((bh, bw), np.float32)
    cv2.fillPoly(mask, [np.round((poly - [x0, y0]) * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
    mask = cv2.GaussianBlur(mask, (3, 3), 0.8)
    if src.patch is not None:  # the still's own teeth and dark interior, stretched to the new opening
        fill = cv2.resize(src.patch, (bw, bh), interpolation=cv2.INTER_LINEAR)
    else:  # a closed-mouth still: a dark interior, darker at the back, with the upper teeth
        rows = np.linspace(0.0, 1.0, bh, dtype=np.float32)[:, None, None]
        shade = 1.0 - 0.5 * np.sin(np.pi * rows)
        fill = np.broadcast_to(src.dark * shade, (bh, bw, 3)).copy()
        top = float(poly[:, 1].min() - y0)
        bottom = float(poly[:, 1].max() - y0)
        if options.teeth:
            edge = top + options.teeth_height * (bottom - top)
            t = np.clip((edge - np.arange(bh, dtype=np.float32)) / 1.5 + 0.5, 0.0, 1.0)[:, None, None]
            cols = np.linspace(-1.0, 1.0, bw, dtype=np.float32)[None, :, None]
            teeth = src.teeth * (1.0 - 0.35 * cols ** 2)  # darker toward the mouth corners
            fill = t * teeth + (1.0 - t) * fill
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    out = frame.copy()
    out[y0:y1, x0:x1] = np.clip(np.rint(mask[..., None] * fill + (1.0 - mask[..., None]) * roi),
                                0, 255).astype(np.uint8)
    return out


# --- a sample -----------------------------------------------------------------------------------------

def animate(still: np.ndarray, still_landmarks: np.ndarray, driving: np.ndarray, rng: np.random.Generator,
            options: AnimationOptions | None = None) -> Animation:
    """T frames of ``still`` moving as the ``driving`` landmark sequence (T x 478 x 2) moves.

    ``options`` None draws them from ``rng`` (:func:`draw_options`). Frame t's landmarks are the
    still's retargeted by the driver's motion since its first frame, so a driver that does not move
    gives the still back (up to interpolation) on every frame.
    """
    sxy = check_image(still, still_landmarks)
    drv = _check_driver(driving)
    if options is None:
        options = draw_options(rng)
    targets, motions = retarget(sxy, drv, options.expression_gain)
    openness = _openness(options, drv, rng)
    mesh = build_mesh(sxy)
    mouth = _mouth_source(still, sxy, options)
    still_open = mouth_opening(sxy)
    frames = np.empty((len(drv),) + still.shape, np.uint8)
    marks = np.empty((len(drv), N_LANDMARKS, 2), np.float32)
    filled = np.zeros(len(drv), bool)
    identity = (1.0 + 0j, 0j)
    for t in range(len(drv)):
        xy = set_lids(targets[t], sxy, float(openness[t]))
        background = (complex(motions[t, 0]), complex(motions[t, 1])) if options.background == "rigid" else identity
        frame = warp_mesh(still, mesh, xy.astype(np.float64), background)
        if mouth_opening(xy) > still_open + FILL_MARGIN:
            frame = _fill_mouth(frame, xy.astype(np.float64), mouth, options)
            filled[t] = True
        frames[t] = frame
        marks[t] = xy
    return Animation(frames, marks, openness.astype(np.float32), filled, options)


def landmark_sequence(landmarks: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """A driving sequence (T x 478 x 2 float32) from per-frame landmark arrays (extra columns dropped)."""
    arr = [np.asarray(x, np.float32)[:, :2] for x in landmarks]
    if not arr:
        raise BadAnimationInput("a driving sequence needs at least one frame")
    return _check_driver(np.stack(arr)).astype(np.float32)


# --- pairs of real clips ------------------------------------------------------------------------------

class NoAnimationPairs(UnmaskError):
    """A face set without two clips of different people long enough for a window."""


@dataclass(frozen=True)
class AnimationPair:
    """A real window of one clip and a pseudo-fake of the same length animated from one of its frames."""

    real: np.ndarray  # W x S x S x 3 uint8: the still's clip, consecutive stored views
    real_landmarks: np.ndarray  # W x 478 x 2 float32
    fake: Animation  # W frames of the still driven by another person's clip
    still_index: int  # index of the still in the face set
    real_indices: tuple[int, ...]  # indices of the real window's views
    driver_indices: tuple[int, ...]  # indices of the driving views (another clip, another person)


class AnimationPairSampler:
    """(real window, animated window) pairs from a :class:`~unmask_training.learned.dataset.FaceSet`
    of real video views.

    Views are grouped into clips by ``sources`` (in stored order, which is time order for an
    extraction) and clips into people by ``persons`` (default: the face set's ``groups``, i.e. the
    manifest identity or, without one, the source repository: stricter than a person). A sample
    takes a window of ``window`` consecutive views of one clip as the real side, one view of that
    clip as the still, and ``window`` consecutive views of a clip of another person as the driver.
    Consecutive stored views are as far apart as the extraction's ``--fps`` made them.
    """

    def __init__(self, faces: FaceSet, window: int = 8, persons: Sequence[str] | np.ndarray | None = None) -> None:
        if not isinstance(faces, FaceSet):
            raise BadAnimationInput(f"faces must be a FaceSet, got {type(faces).__name__}")
        if np.any(np.asarray(faces.labels) != 0):
            raise BadAnimationInput("animation pairs are made from real faces only; the face set holds fakes")
        if window < 1:
            raise BadAnimationInput(f"window must be at least 1, got {window}")
        people = np.asarray(faces.groups if persons is None else persons).astype(str)
        if len(people) != len(faces):
            raise BadAnimationInput(f"persons needs one entry per face ({len(faces)}), got {len(people)}")
        images, landmarks, sources = faces.images, faces.landmarks, faces.sources
        self.faces = faces
        self.images = np.asarray(images)
        self.landmarks = np.asarray(landmarks, np.float32)[..., :2]
        self.window = int(window)
        clips: dict[str, list[int]] = {}
        for i, s in enumerate(np.asarray(sources).astype(str)):
            clips.setdefault(s, []).append(i)
        #: (clip name, view indices, person) of every clip with at least ``window`` views, in name order
        self.clips: tuple[tuple[str, tuple[int, ...], str], ...] = tuple(
            (name, tuple(idx), str(people[idx[0]])) for name, idx in sorted(clips.items()) if len(idx) >= window)
        if len({p for _, _, p in self.clips}) < 2:
            raise NoAnimationPairs(f"need clips of at least two people with {window}+ views each; "
                                   f"have {len(self.clips)} clip(s) of {len({p for _, _, p in self.clips})} person(s)")

    def sample(self, rng: np.random.Generator, options: AnimationOptions | None = None) -> AnimationPair:
        """One pair; every choice (clips, windows, still, options) from ``rng``."""
        w = self.window
        name, idx, person = self.clips[int(rng.integers(0, len(self.clips)))]
        start = int(rng.integers(0, len(idx) - w + 1))
        real_idx = idx[start:start + w]
        still = idx[int(rng.integers(0, len(idx)))]
        others = [c for c in self.clips if c[2] != person]
        _, didx, _ = others[int(rng.integers(0, len(others)))]
        dstart = int(rng.integers(0, len(didx) - w + 1))
        drv_idx = didx[dstart:dstart + w]
        fake = animate(self.images[still], self.landmarks[still], self.landmarks[list(drv_idx)], rng, options)
        return AnimationPair(self.images[list(real_idx)].copy(), self.landmarks[list(real_idx)].copy(), fake,
                             int(still), tuple(int(i) for i in real_idx), tuple(int(i) for i in drv_idx))

    def pairs(self, n: int, seed: int) -> list[AnimationPair]:
        """``n`` pairs from one seed (the same seed gives the same pairs, bit for bit)."""
        rng = np.random.default_rng(seed)
        return [self.sample(rng) for _ in range(n)]
