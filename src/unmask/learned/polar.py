"""Unwrap the band around a face's outline into a polar strip, so a small network sees only the seam.

A swapped face is pasted through a mask that follows the face outline; what
differs is the band where the mask fades (Face X-ray's "blending boundary").
Sampled along rays from the face centre, at radii relative to the outline
(0.5 to 1.25 of it), that band becomes a horizontal strip: the seam runs along
the strip, at about the same row on every column, whatever the head's size or
shape. The strip keeps every pixel of radial resolution (across the seam) and
thins out along the seam, where nothing changes, so a network a tenth of the
size of a whole-face CNN learns it in minutes on one CPU core.

Rows are radii (top: inside the face), columns are angles in the aligned image,
starting at the left of the picture and running clockwise through the top.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from unmask.errors import UnmaskError
from unmask.faces.regions import FACE_OVAL

N_RADII = 48
N_ANGLES = 128
R_MIN, R_MAX = 0.5, 1.25
#: the network's coarse seam map: (rows, columns) of the strip / (8, 16)
MAP_SHAPE = (N_RADII // 8, N_ANGLES // 16)
_OVAL = list(FACE_OVAL)
_THETA = np.linspace(-np.pi, np.pi, N_ANGLES, endpoint=False)
_RADII = np.linspace(R_MIN, R_MAX, N_RADII)


def sample_grid(landmarks_xy: NDArray[Any], radius_scale: float = 1.0,
                shift: tuple[float, float] = (0.0, 0.0)) -> tuple[NDArray[Any], NDArray[Any]]:
    """(map_x, map_y), each N_RADII x N_ANGLES float32: where each strip pixel is read in the image.

    ``radius_scale`` and ``shift`` (a fraction of the mean outline radius) jitter the band in training.
    """
    xy = np.asarray(landmarks_xy, np.float32)
    if xy.ndim != 2 or xy.shape[0] <= max(_OVAL) or xy.shape[1] < 2:
        raise UnmaskError(f"polar unwrap needs face-mesh landmarks (478 x 2), got shape {xy.shape}")
    poly = xy[_OVAL, :2]
    centre = poly.mean(axis=0)
    d = poly - centre
    ang, rad = np.arctan2(d[:, 1], d[:, 0]), np.hypot(d[:, 0], d[:, 1])
    order = np.argsort(ang)
    ang, rad = ang[order], rad[order]
    r = np.interp(_THETA, np.concatenate([ang - 2 * np.pi, ang, ang + 2 * np.pi]), np.tile(rad, 3))
    centre = centre + np.asarray(shift, np.float32) * float(rad.mean())
    rr = r[None, :] * _RADII[:, None] * float(radius_scale)
    map_x = (centre[0] + rr * np.cos(_THETA)[None, :]).astype(np.float32)
    map_y = (centre[1] + rr * np.sin(_THETA)[None, :]).astype(np.float32)
    return map_x, map_y


def unwrap(image: NDArray[Any], landmarks_xy: NDArray[Any], radius_scale: float = 1.0,
           shift: tuple[float, float] = (0.0, 0.0)) -> NDArray[Any]:
    """The outline band of ``image`` (H x W x C or H x W) as an N_RADII x N_ANGLES strip of the same dtype."""
    map_x, map_y = sample_grid(landmarks_xy, radius_scale, shift)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def unwrap_all(images: NDArray[Any], landmarks: NDArray[Any]) -> NDArray[Any]:
    """N aligned faces and their landmarks -> N x N_RADII x N_ANGLES x 3 strips."""
    if not len(images):
        return np.zeros((0, N_RADII, N_ANGLES, 3), np.uint8)
    return np.stack([unwrap(im, lm) for im, lm in zip(images, landmarks)])


def mirror(image: NDArray[Any], landmarks_xy: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """The face and its landmarks flipped left-right (a training augmentation)."""
    w = image.shape[1]
    lm = np.array(landmarks_xy, np.float32, copy=True)
    lm[:, 0] = (w - 1) - lm[:, 0]
    return np.ascontiguousarray(image[:, ::-1]), lm


def sector_name(column: int, n_columns: int = MAP_SHAPE[1]) -> str:
    """Where along the outline column ``column`` of a strip (or its map) lies, in words for a reader."""
    theta = -np.pi + 2 * np.pi * (column + 0.5) / n_columns  # image coordinates: y grows downward
    deg = float(np.degrees(theta)) % 360.0
    # every 30 degrees from the picture's right, clockwise on screen (y grows downward); "as seen" = in the picture
    names = ["the right cheek", "the right jaw", "the chin, right", "the chin", "the chin, left", "the left jaw",
             "the left cheek", "the left temple", "the forehead, left", "the forehead", "the forehead, right",
             "the right temple"]
    return names[int(round(deg / 30.0)) % 12] + " (as seen)"


def heat_on_face(strip_map: NDArray[Any], landmarks_xy: NDArray[Any], shape_hw: tuple[int, int]) -> NDArray[Any]:
    """A 0..1 map over the aligned face from a map over the strip (any size, values 0..1): for the report."""
    h, w = shape_hw
    full = cv2.resize(np.asarray(strip_map, np.float32), (N_ANGLES, N_RADII), interpolation=cv2.INTER_LINEAR)
    map_x, map_y = sample_grid(landmarks_xy)
    xi, yi = np.rint(map_x).astype(int), np.rint(map_y).astype(int)
    ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    heat = np.zeros((h, w), np.float32)
    np.maximum.at(heat, (yi[ok], xi[ok]), full[ok])
    # the strip samples the band sparsely: spread each sample over its neighbours, then renormalise
    spread = cv2.dilate(heat, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    spread = cv2.GaussianBlur(spread, (0, 0), 3.0)
    peak = float(spread.max())
    if peak > 0:
        spread = spread * (float(full.max()) / peak)
    return np.clip(spread, 0.0, 1.0).astype(np.float32)
