"""Per-frame re-synthesis noise for animation pseudo-fakes: the face redrawn a little differently every frame.

:mod:`unmask_training.learned.animate` warps one still, so its fake side is *literally* frozen: the same
pixels, noise and codec blocks move with the face. Generators such as AniPortrait (a diffusion
model) and EDTalk redraw the face every frame, so their texture is only *nearly* frozen: the
identity, shading and lighting stay those of the photo, but fine detail, noise and sharpness flicker.
A head trained only on literally frozen fakes learns "the noise does not change", which those
generators do not show. :func:`resynthesize` adds that flicker inside the face only, with fresh
random draws per frame (blur or sharpening, band-limited noise, a JPEG round trip, a faint shading
field, a colour gain), around strengths drawn once per window by :func:`draw_resynthesis`, so the
head has to rely on what stays frozen (shading, exposure, structure) rather than on frozen noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from unmask.errors import UnmaskError
from unmask.faces.regions import FACE_OVAL, scale_polygon
from unmask.types import N_LANDMARKS


class BadResynthesisInput(UnmaskError, ValueError):
    """Frames, landmarks or options that cannot be re-synthesised."""


@dataclass(frozen=True)
class ResynthesisOptions:
    """Per-window strengths; each frame draws its own values up to (or around) them."""

    blur: float = 0.8  # max gaussian sigma (a frame blurs or sharpens with equal odds)
    sharpen: float = 0.6  # max unsharp-mask amount
    noise: float = 3.0  # max sigma (0-255) of fresh band-limited noise
    noise_scale: float = 0.8  # sigma of the blur that band-limits the noise (generator texture is not white)
    jpeg: float = 0.5  # probability of a JPEG round trip of the face per frame
    quality: tuple[int, int] = (55, 90)  # its quality range
    shading: float = 0.03  # max relative amplitude of a smooth multiplicative shading field
    colour: float = 0.02  # max relative per-channel gain change
    feather: float = 3.0  # sigma of the face mask's edge (px)

    def __post_init__(self) -> None:
        for name, v, hi in (("blur", self.blur, 5.0), ("sharpen", self.sharpen, 3.0), ("noise", self.noise, 30.0),
                            ("noise_scale", self.noise_scale, 5.0), ("jpeg", self.jpeg, 1.0),
                            ("shading", self.shading, 0.5), ("colour", self.colour, 0.5),
                            ("feather", self.feather, 20.0)):
            if not (np.isfinite(v) and 0.0 <= v <= hi):
                raise BadResynthesisInput(f"{name} must be in [0, {hi}], got {v}")
        lo, hi = self.quality
        if not (1 <= lo <= hi <= 100):
            raise BadResynthesisInput(f"quality must be 1 <= lo <= hi <= 100, got {self.quality}")


def draw_resynthesis(rng: np.random.Generator) -> ResynthesisOptions:
    """The strengths of one window: from barely visible to a soft, flickering redraw."""
    return ResynthesisOptions(
        blur=float(rng.uniform(0.3, 1.2)), sharpen=float(rng.uniform(0.0, 0.8)), noise=float(rng.uniform(1.0, 5.0)),
        noise_scale=float(rng.uniform(0.5, 1.5)), jpeg=float(rng.uniform(0.0, 0.8)),
        quality=(int(rng.integers(50, 71)), int(rng.integers(75, 96))), shading=float(rng.uniform(0.0, 0.05)),
        colour=float(rng.uniform(0.0, 0.03)),
    )


def face_mask(xy: np.ndarray, shape: tuple[int, int], feather: float) -> np.ndarray:
    """Float mask (H x W, 0-1) of the face outline grown by 5 %, edge feathered by ``feather`` px."""
    mask = np.zeros(shape, np.float32)
    poly = scale_polygon(np.asarray(xy, np.float64)[list(FACE_OVAL)], 1.05)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1.0)
    if feather > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), feather)
    return mask


def _one(frame: np.ndarray, mask: np.ndarray, o: ResynthesisOptions, rng: np.random.Generator) -> np.ndarray:
    f = frame.astype(np.float32)
    if rng.random() < 0.5:
        s = float(rng.uniform(0.0, o.blur))
        g = cv2.GaussianBlur(f, (0, 0), s) if s > 0.05 else f
    else:
        a = float(rng.uniform(0.0, o.sharpen))
        g = f + a * (f - cv2.GaussianBlur(f, (0, 0), 1.0))
    if o.noise > 0:
        n = rng.normal(0.0, 1.0, f.shape[:2]).astype(np.float32)
        if o.noise_scale > 0.05:
            n = cv2.GaussianBlur(n, (0, 0), o.noise_scale)
            n /= float(n.std()) + 1e-6
        g = g + float(rng.uniform(0.0, o.noise)) * n[..., None]
    h, w = f.shape[:2]
    if o.shading > 0:
        field = cv2.resize(rng.normal(0.0, 1.0, (4, 4)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        g = g * (1.0 + float(rng.uniform(0.0, o.shading)) * np.clip(field, -2, 2)[..., None])
    if o.colour > 0:
        g = g * (1.0 + rng.uniform(-o.colour, o.colour, 3).astype(np.float32))
    g = np.clip(g, 0, 255)
    if rng.random() < o.jpeg:
        q = int(rng.integers(o.quality[0], o.quality[1] + 1))
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(g.astype(np.uint8)[..., ::-1]),
                               [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            g = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32)
    m = mask[..., None]
    return np.clip(np.rint(m * g + (1.0 - m) * f), 0, 255).astype(np.uint8)


def resynthesize(frames: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator,
                 options: ResynthesisOptions | None = None) -> np.ndarray:
    """T frames (T x H x W x 3 uint8) with the face (``landmarks``, T x 478 x 2) redrawn with fresh per-frame noise.

    ``options`` None draws them from ``rng``. Pixels outside the feathered face outline are unchanged.
    """
    frames = np.asarray(frames)
    lm = np.asarray(landmarks, np.float64)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise BadResynthesisInput(f"frames must be T x H x W x 3 uint8, got {frames.shape} {frames.dtype}")
    if lm.ndim != 3 or lm.shape[0] != len(frames) or lm.shape[1] != N_LANDMARKS or lm.shape[2] < 2:
        raise BadResynthesisInput(f"landmarks must be {len(frames)} x {N_LANDMARKS} x 2, got {lm.shape}")
    if not np.all(np.isfinite(lm[..., :2])):
        raise BadResynthesisInput("landmarks must be finite")
    o = options if options is not None else draw_resynthesis(rng)
    out = np.empty_like(frames)
    for t in range(len(frames)):
        out[t] = _one(frames[t], face_mask(lm[t, :, :2], frames.shape[1:3], o.feather), o, rng)
    return out
