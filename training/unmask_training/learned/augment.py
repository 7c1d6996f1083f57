"""Training batches for the blend detector: self-blended pseudo-fakes, social-media damage, crops and patches.

Everything here is numpy/OpenCV (no torch), so batch workers and the CPU experiments import it alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from unmask.errors import UnmaskError

if TYPE_CHECKING:
    from unmask_training.learned.dataset import FaceSet
    from unmask_training.learned.sbi import PseudoFake

SampleFn = Callable[[np.ndarray, np.ndarray, np.random.Generator, float], "PseudoFake"]


def degrade(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Social-media style damage at the face's native size: colour, rescale, blur, noise, JPEG.

    ``strength`` scales how often each kind of damage is applied (the curriculum); at 1 the random
    draws are the same as ever, so seeded runs reproduce.
    """
    import cv2

    out = img
    k = float(strength)
    if rng.random() < 0.5 * k:  # small colour jitter: contrast, brightness, saturation
        f = out.astype(np.float32)
        f = (f - 128.0) * rng.uniform(0.85, 1.15) + 128.0 + rng.uniform(-15, 15)
        grey = f.mean(axis=2, keepdims=True)
        f = grey + (f - grey) * rng.uniform(0.8, 1.2)
        out = np.clip(f, 0, 255).astype(np.uint8)
    h, w = out.shape[:2]
    if rng.random() < 0.3 * k:  # down-then-up scale
        s = rng.uniform(0.5, 1.0)
        small = cv2.resize(out, (max(8, int(w * s)), max(8, int(h * s))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.2 * k:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.2))
    if rng.random() < 0.2 * k:
        noise = rng.normal(0.0, rng.uniform(1.0, 6.0), out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.7 * k:
        q = int(rng.integers(30, 96))
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(out)


def crop_resize(
    img: np.ndarray, boundary: np.ndarray, size: int, rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray]:
    """Random-resized-crop jitter plus flip (both maps alike), then the network size; rng None = centre."""
    import cv2

    h, w = img.shape[:2]
    if rng is not None:
        side = rng.uniform(0.85, 1.0) * min(h, w)
        x0 = rng.uniform(0, w - side)
        y0 = rng.uniform(0, h - side)
        x, y, s = int(round(x0)), int(round(y0)), max(8, int(round(side)))
        img, boundary = img[y : y + s, x : x + s], boundary[y : y + s, x : x + s]
        if rng.random() < 0.5:
            img, boundary = img[:, ::-1], boundary[:, ::-1]
    interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_LINEAR
    img = cv2.resize(np.ascontiguousarray(img), (size, size), interpolation=interp)
    q = max(1, size // 4)
    bmap = cv2.resize(np.ascontiguousarray(boundary, dtype=np.float32), (q, q), interpolation=cv2.INTER_AREA)
    return img, np.clip(bmap, 0.0, 1.0)


#: a self-blended patch counts as fake when its strongest boundary value reaches this (it shows the seam)
PATCH_SEAM_MIN = 0.3


def random_patch(
    img: np.ndarray, boundary: np.ndarray, patch: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, bool]:
    """A random patch x patch crop (both maps alike) plus flip, at full resolution; also whether it holds the seam."""
    import cv2

    h, w = img.shape[:2]
    if h < patch or w < patch:
        raise UnmaskError(f"patch {patch} is larger than the face crop ({w}x{h})")
    y, x = int(rng.integers(0, h - patch + 1)), int(rng.integers(0, w - patch + 1))
    img, boundary = img[y : y + patch, x : x + patch], boundary[y : y + patch, x : x + patch]
    if rng.random() < 0.5:
        img, boundary = img[:, ::-1], boundary[:, ::-1]
    q = max(1, patch // 4)
    bmap = cv2.resize(np.ascontiguousarray(boundary, dtype=np.float32), (q, q), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img), np.clip(bmap, 0.0, 1.0), bool(boundary.max() >= PATCH_SEAM_MIN)


ARCHES = ("blendnet", "polar")


def default_sampler(p_real_transformed: float = 0.0) -> SampleFn:
    from unmask_training.learned.sbi import make_sample

    if p_real_transformed > 0.0:
        import functools

        return functools.partial(make_sample, p_real_transformed=p_real_transformed)
    return make_sample


def at_native_scale(
    face: np.ndarray, landmarks: np.ndarray, native: float, rng: np.random.Generator, sample: SampleFn, p_fake: float,
    augment: bool, strength: float = 1.0,
) -> tuple[np.ndarray, int, np.ndarray]:
    """A training sample made at the resolution the frame had, then upscaled as the face crop was.

    A small face fills the 256 px crop only after upscaling, which leaves it no fine detail: a
    resolution drop made on the crop would remove nothing, and the network would learn
    pseudo-fakes it cannot see. So the face goes back to its native size (``native`` < 1),
    is blended and degraded there, and comes back up with the crop's own interpolation.
    """
    import cv2

    side = face.shape[0]
    f = float(min(1.0, native))
    if f < 0.9:
        n = max(48, int(round(side * f)))
        small = cv2.resize(face, (n, n), interpolation=cv2.INTER_AREA)
        s = sample(small, landmarks * (n / side), rng, p_fake)
        img = degrade(s.image, rng, strength) if augment else s.image
        img = cv2.resize(img, (side, side), interpolation=cv2.INTER_LINEAR)
        bmap = cv2.resize(s.boundary, (side, side), interpolation=cv2.INTER_LINEAR)
        return img, s.label, bmap
    s = sample(face, landmarks, rng, p_fake)
    return (degrade(s.image, rng, strength) if augment else s.image), s.label, s.boundary


def make_batch(
    faces: FaceSet, idx: np.ndarray, size: int, rng: np.random.Generator, sample: SampleFn, p_fake: float,
    augment: bool, strength: float = 1.0, patch: int = 0, arch: str = "blendnet",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images N×size×size×3 uint8, labels N float32, boundary N×size/4×size/4 float32) for faces[idx].

    With ``patch`` and ``augment``, images are patch-sized full-resolution crops labelled by whether they
    show the seam; validation (``augment`` False) always sees the whole face at ``size``. With ``arch``
    "polar", images are outline strips (``learned.polar``) and the maps their coarse seam maps.
    """
    imgs, labels, maps = [], [], []
    native = np.asarray(faces.native)
    for i in idx:
        img, label, boundary = at_native_scale(faces.images[i], faces.landmarks[i], float(native[i]), rng, sample,
                                               p_fake, augment, strength)
        if arch == "polar":
            img, bmap = polar_sample(img, boundary, faces.landmarks[i], rng if augment else None)
        elif patch and augment:
            img, bmap, seam = random_patch(img, boundary, patch, rng)
            label = int(label and seam)
        else:
            img, bmap = crop_resize(img, boundary, size, rng if augment else None)
        imgs.append(img)
        labels.append(float(label))
        maps.append(bmap)
    return np.stack(imgs), np.array(labels, np.float32), np.stack(maps)


def polar_sample(img: np.ndarray, boundary: np.ndarray, landmarks: np.ndarray,
                 rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    """A face and its boundary map as an outline strip and a coarse seam map; with ``rng``, mirrored and jittered."""
    import cv2

    from unmask.learned.polar import MAP_SHAPE, mirror, unwrap

    scale, shift = 1.0, (0.0, 0.0)
    if rng is not None:
        if rng.random() < 0.5:
            img, landmarks = mirror(img, landmarks)
            boundary = np.ascontiguousarray(boundary[:, ::-1])
        scale = float(rng.uniform(0.95, 1.05))
        shift = (float(rng.uniform(-0.03, 0.03)), float(rng.uniform(-0.03, 0.03)))
    strip = unwrap(img, landmarks, scale, shift)
    seam = unwrap(np.ascontiguousarray(boundary, dtype=np.float32), landmarks, scale, shift)
    bmap = cv2.resize(seam, (MAP_SHAPE[1], MAP_SHAPE[0]), interpolation=cv2.INTER_AREA)
    return strip, np.clip(bmap, 0.0, 1.0)


def damage_strength(epoch: int, planned_epochs: int, curriculum: float) -> float:
    """How much social-media damage epoch ``epoch`` gets: a linear ramp over the first ``curriculum`` of the run."""
    if curriculum <= 0.0:
        return 1.0
    return float(min(1.0, (epoch / max(1, planned_epochs)) / curriculum))
