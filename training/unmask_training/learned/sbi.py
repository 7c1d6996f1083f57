"""Self-blended pseudo-fakes from real faces (SBI, Shiohara & Yamasaki 2022; Face X-ray, Li et al. 2020).

A detector trained only on real faces needs fakes to contrast with; instead of
a generator's output we paste a face onto itself: the SOURCE is the face with
its colour, sharpness and geometry slightly changed, the TARGET is the face
untouched, and a soft landmark mask decides where the source shows. What is
left is exactly the trace of pasting (a colour/frequency seam along the mask
edge), not any one generator's fingerprint, which is why it generalises.

Every random choice comes from the ``np.random.Generator`` passed in, so a
seed reproduces a sample bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from unmask.errors import UnmaskError
from unmask.faces.regions import FACE_OVAL, LEFT_BROW, MOUTH, RIGHT_BROW
from unmask.types import N_LANDMARKS

#: blend ratios (SBI): most blends paste the source fully, some only partly
BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
#: mask shapes: whole oval, oval without the chin, oval without the forehead (probabilities)
MASK_SHAPES = ("oval", "no_chin", "no_forehead")
MASK_SHAPE_P = (0.5, 0.25, 0.25)
#: partial pastes of lip-sync tools: the lower face from the nose down (Wav2Lip regenerates the lower half of
#: the face box) and the mouth with its surroundings (LatentSync and other mouth-mask inpainters)
PARTIAL_SHAPES = ("lower_face", "mouth")
#: nose tip and the nose's lower edge (mediapipe mesh): where a lower-face paste starts
NOSE_LINE: tuple[int, ...] = (1, 2, 98, 327, 129, 358)
#: mask values below this are set to exactly 0, so pixels far from the face stay bit-identical
MASK_FLOOR = 1e-3


class BadFace(UnmaskError, ValueError):
    """A face image or landmark array of the wrong shape or type."""


@dataclass(frozen=True)
class PseudoFake:
    """One training sample: an image, its label and where it was blended."""

    image: np.ndarray  # SxSx3 uint8
    label: int  # 1 = self-blended (pseudo-fake), 0 = untouched real
    boundary: np.ndarray  # SxS float32 in [0, 1]: 4*m*(1-m) of the blend mask, normalised; zeros when label 0


def _check(face: np.ndarray, landmarks_xy: np.ndarray) -> None:
    if not (isinstance(face, np.ndarray) and face.ndim == 3 and face.shape[2] == 3 and face.dtype == np.uint8):
        raise BadFace(f"face must be an HxWx3 uint8 array, "
                      f"got {getattr(face, 'shape', None)} {getattr(face, 'dtype', None)}")
    lm = np.asarray(landmarks_xy)
    if lm.ndim != 2 or lm.shape[0] != N_LANDMARKS or lm.shape[1] < 2 or not np.all(np.isfinite(lm[:, :2])):
        raise BadFace(f"landmarks must be ({N_LANDMARKS}, 2) finite points, got {lm.shape}")


# --- source: the face slightly changed -------------------------------------------------------------

def _colour_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Hue/saturation/value, brightness/contrast and per-channel shifts (img float32 RGB 0..255)."""
    hsv = cv2.cvtColor(img / 255.0, cv2.COLOR_RGB2HSV)  # H in degrees, S and V in 0..1
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-6.0, 6.0)) % 360.0
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.85, 1.15), 0.0, 1.0)
    hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(0.9, 1.1), 0.0, 1.0)
    out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
    contrast, brightness = rng.uniform(0.9, 1.1), rng.uniform(-10.0, 10.0)
    out = (out - 128.0) * contrast + 128.0 + brightness
    out = out + rng.uniform(-8.0, 8.0, size=3).astype(np.float32)
    return np.clip(out, 0.0, 255.0).astype(np.float32)


def _frequency_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A resolution drop (x2 or x4, as a face rendered at 64-128 px and upscaled) or a sharpening (as a face
    enhancer leaves), always one of them, as in SBI: a swapped face rarely has its frame's own detail."""
    s, w = img.shape[:2]
    if rng.random() < 0.5:  # downscale/upscale
        f = 1.0 / float(rng.choice((2.0, 4.0)))
        small = cv2.resize(img, (max(8, int(w * f)), max(8, int(s * f))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, s), interpolation=cv2.INTER_LINEAR)
    soft = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 1.6))  # unsharp mask
    return np.clip(img + rng.uniform(0.3, 1.0) * (img - soft), 0.0, 255.0)


def source_transform(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour then frequency change: what makes a pasted face differ from the frame it is pasted into."""
    return _frequency_jitter(_colour_jitter(img, rng), rng)


def _geometric_jitter(img: np.ndarray, centre: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A small scale/shift/rotation about the face centre: the paste is never perfectly registered."""
    s = img.shape[0]
    scale = rng.uniform(0.95, 1.05)
    angle = rng.uniform(-2.0, 2.0)
    shift = rng.uniform(-0.03, 0.03, size=2) * s
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
    m[:, 2] += shift
    return cv2.warpAffine(img, m, (img.shape[1], s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


# --- mask: where the source shows ------------------------------------------------------------------

def _mask_points(xy: np.ndarray, shape: str) -> np.ndarray:
    """Landmarks whose convex hull is the mask region for ``shape``."""
    oval = xy[list(FACE_OVAL)]
    if shape == "lower_face":
        cut = float(xy[list(NOSE_LINE), 1].mean())
        keep = oval[oval[:, 1] >= cut]
        return np.vstack([keep, xy[list(NOSE_LINE)]])
    if shape == "mouth":  # the mouth's hull grown by half its size around its centre: lips, philtrum, chin top
        mouth = xy[list(MOUTH)]
        centre = mouth.mean(axis=0)
        return centre + (mouth - centre) * np.array([1.5, 2.2], np.float32)
    if shape == "no_chin":  # stop just under the mouth
        cut = float(xy[list(MOUTH), 1].max())
        keep = oval[oval[:, 1] <= cut]
        return np.vstack([keep, xy[list(MOUTH)]])
    if shape == "no_forehead":  # stop at the brows
        cut = float(xy[list(LEFT_BROW + RIGHT_BROW), 1].min())
        keep = oval[oval[:, 1] >= cut]
        return np.vstack([keep, xy[list(LEFT_BROW + RIGHT_BROW)]])
    return oval


def _elastic(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Wobble the hull edge with a smooth random displacement field (a few pixels)."""
    s = mask.shape[0]
    amp = rng.uniform(0.0, 0.02) * s
    grid = 6
    d = rng.uniform(-1.0, 1.0, size=(2, grid, grid)).astype(np.float32)
    dx = cv2.resize(d[0], (mask.shape[1], s), interpolation=cv2.INTER_CUBIC) * amp
    dy = cv2.resize(d[1], (mask.shape[1], s), interpolation=cv2.INTER_CUBIC) * amp
    yy, xx = np.mgrid[0:s, 0:mask.shape[1]].astype(np.float32)
    return cv2.remap(mask, xx + dx, yy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def soft_mask(shape_hw: tuple[int, int], landmarks_xy: np.ndarray, rng: np.random.Generator,
              shape: str | None = None) -> np.ndarray:
    """A soft HxW float32 mask, 1 inside: a landmark hull, deformed, grown or shrunk, blurred.

    ``shape`` is one of MASK_SHAPES or PARTIAL_SHAPES; None draws one of MASK_SHAPES (SBI's).
    """
    h, w = shape_hw
    s = float(min(h, w))
    if shape is None:
        shape = MASK_SHAPES[int(rng.choice(len(MASK_SHAPES), p=MASK_SHAPE_P))]
    elif shape not in MASK_SHAPES + PARTIAL_SHAPES:
        raise BadFace(f"mask shape must be one of {', '.join(MASK_SHAPES + PARTIAL_SHAPES)}, got {shape!r}")
    pts = _mask_points(np.asarray(landmarks_xy, np.float32)[:, :2], shape)
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    mask = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0, lineType=cv2.LINE_AA)
    mask = _elastic(mask, rng)
    k = int(round(rng.uniform(0.0, 0.03) * s))  # dilate or erode by up to 3 % of the side
    if k > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        mask = cv2.dilate(mask, kernel) if rng.random() < 0.5 else cv2.erode(mask, kernel)
    # two blurs (SBI): a first soft edge, then a wider one, renormalised so the inside stays 1
    mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(0.005, 0.02) * s)
    mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(0.01, 0.035) * s)
    peak = float(mask.max())
    if peak > 0:
        mask = mask / peak
    mask[mask < MASK_FLOOR] = 0.0
    return np.clip(mask, 0.0, 1.0).astype(np.float32)


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """Face X-ray's target, 4*m*(1-m), normalised to peak 1 (zeros for an empty mask)."""
    b = 4.0 * mask * (1.0 - mask)
    peak = float(b.max())
    return (b / peak).astype(np.float32) if peak > 0 else np.zeros_like(mask, np.float32)


# --- samples ---------------------------------------------------------------------------------------

def self_blend(face: np.ndarray, landmarks_xy: np.ndarray, rng: np.random.Generator, side: str = "random",
               shape: str | None = None) -> PseudoFake:
    """The face pasted onto itself through a soft landmark mask; always label 1.

    ``side`` says which copy is changed: ``inner`` (the pasted source), ``outer`` (the frame it is pasted
    into; far pixels then change too) or ``random`` (either, evenly, as SBI does), so the network learns
    the *mismatch*, not "a blurrier/sharper face is fake". ``shape`` picks the mask (see :func:`soft_mask`).
    """
    _check(face, landmarks_xy)
    if side not in ("inner", "outer", "random"):
        raise BadFace(f"side must be inner, outer or random, got {side!r}")
    xy = np.asarray(landmarks_xy, np.float32)[:, :2]
    target = face.astype(np.float32)
    source = target.copy()
    if side == "inner" or (side == "random" and rng.random() < 0.5):
        source = source_transform(source, rng)
    else:
        target = source_transform(target, rng)
    source = _geometric_jitter(source, xy[list(FACE_OVAL)].mean(axis=0), rng)
    soft = soft_mask(face.shape[:2], xy, rng, shape)
    m = soft * float(BLEND_RATIOS[int(rng.integers(0, len(BLEND_RATIOS)))])
    out = m[..., None] * source + (1.0 - m[..., None]) * target
    image = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    # the boundary comes from the mask's shape, not its ratio: a partial blend is uniform inside
    # the hull, so the seam (what the model should find) is still only along the edge
    return PseudoFake(image, 1, boundary_map(soft))


def make_sample(face: np.ndarray, landmarks_xy: np.ndarray, rng: np.random.Generator, p_fake: float = 0.5,
                p_real_transformed: float = 0.0) -> PseudoFake:
    """A self-blend with probability ``p_fake``, else a real sample (label 0, zero boundary).

    A real sample is the face untouched, or with probability ``p_real_transformed`` the whole face
    changed like a source (colour, resolution, sharpening), so a uniformly soft or sharp face is real.
    """
    _check(face, landmarks_xy)
    if not 0.0 <= p_fake <= 1.0:
        raise BadFace(f"p_fake must be in [0, 1], got {p_fake}")
    if rng.random() < p_fake:
        return self_blend(face, landmarks_xy, rng)
    if p_real_transformed > 0.0 and rng.random() < p_real_transformed:
        image = np.clip(np.rint(source_transform(face.astype(np.float32), rng)), 0, 255).astype(np.uint8)
        return PseudoFake(image, 0, np.zeros(face.shape[:2], np.float32))
    return PseudoFake(face.copy(), 0, np.zeros(face.shape[:2], np.float32))


# --- a picture for people ---------------------------------------------------------------------------

def contact_sheet(
    faces_with_landmarks: Sequence[tuple[np.ndarray, np.ndarray]],
    rng: np.random.Generator,
    path: str | Path,
    n: int = 8,
    tile: int = 128,
) -> Path:
    """A PNG grid to eyeball the blends: originals, self-blends, boundary maps, |difference| x4.

    Columns cycle through ``faces_with_landmarks``; each column is a fresh blend.
    """
    if not faces_with_landmarks:
        raise BadFace("contact_sheet needs at least one face")
    cols = []
    for i in range(n):
        face, lm = faces_with_landmarks[i % len(faces_with_landmarks)]
        pf = self_blend(face, lm, rng, side="inner")
        diff = np.abs(pf.image.astype(np.int16) - face.astype(np.int16)).mean(axis=2) * 4.0
        rows = [
            face,
            pf.image,
            cv2.applyColorMap((pf.boundary * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1],
            np.repeat(np.clip(diff, 0, 255).astype(np.uint8)[..., None], 3, axis=2),
        ]
        rows = [cv2.resize(r, (tile, tile), interpolation=cv2.INTER_AREA) for r in rows]
        cols.append(np.vstack(rows))
    sheet = np.hstack(cols)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), np.ascontiguousarray(sheet[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise UnmaskError(f"{out}: could not write the contact sheet")
    return out
