"""Named groups of mediapipe face-mesh points, and masks built from them.

The analyzers compare parts of the face with each other (inner face vs its
border, central features vs outline), so the index sets live in one place.
Indices follow mediapipe's 468/478-point face mesh topology.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from unmask.errors import ModelError
from unmask.types import FaceObs

#: the face outline, as a closed loop (forehead top, temple, cheek, jaw, chin, and back)
FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
LEFT_EYE: tuple[int, ...] = (33, 133, 159, 145, 160, 144, 158, 153, 157, 154)
RIGHT_EYE: tuple[int, ...] = (263, 362, 386, 374, 387, 373, 385, 380, 384, 381)
LEFT_BROW: tuple[int, ...] = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)
RIGHT_BROW: tuple[int, ...] = (300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
NOSE: tuple[int, ...] = (1, 2, 4, 5, 6, 168, 195, 197, 98, 327, 129, 358, 48, 278)
MOUTH: tuple[int, ...] = (61, 291, 0, 17, 13, 14, 78, 308, 39, 269, 181, 405, 37, 267, 84, 314)
#: the outline across the top of the forehead, from one temple to the other
FOREHEAD_TOP: tuple[int, ...] = (54, 103, 67, 109, 10, 338, 297, 332, 284)
#: brow tops, ordered to close a loop with FOREHEAD_TOP (from the 284 side back to the 54 side)
BROWS_LOOP: tuple[int, ...] = (300, 293, 334, 296, 336, 107, 66, 105, 63, 70)
#: eyes, brows, nose and mouth: the part a face swap replaces (Yang, Li & Lyu 2019)
CENTRAL: tuple[int, ...] = LEFT_EYE + RIGHT_EYE + LEFT_BROW + RIGHT_BROW + NOSE + MOUTH

CANONICAL_FACE_FILE = Path(__file__).resolve().parent.parent / "models" / "canonical_face.npy"


def load_canonical_face(path: Path = CANONICAL_FACE_FILE) -> npt.NDArray[np.float64]:
    """mediapipe's canonical 3D face (468 x 3, centimetres, x right, y up, z toward the viewer)."""
    try:
        pts = np.load(path)
    except (OSError, ValueError) as e:
        raise ModelError(f"{path}: cannot read the canonical face model ({e})") from None
    if pts.shape != (468, 3) or not np.all(np.isfinite(pts)):
        raise ModelError(f"{path}: canonical face model must be 468x3 finite values, got {pts.shape}")
    return np.asarray(pts, dtype=np.float64)


def oval_polygon(xy: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    """The face outline as an (N, 2) float polygon, from landmarks in any pixel frame."""
    return np.asarray(xy[list(FACE_OVAL), :2], dtype=np.float64)


def forehead_polygon(xy: npt.NDArray[np.floating[Any]], reach: float = 0.6) -> npt.NDArray[np.float64]:
    """The lower forehead: from the brows up ``reach`` of the way to the outline.

    Stopping short of the outline keeps out the hairline and most fringes. Face
    swaps usually replace the face from the brows down, so this patch of skin
    is often the original's.
    """
    top = np.asarray(xy[list(FOREHEAD_TOP), :2], dtype=np.float64)
    brow = np.asarray(xy[list(BROWS_LOOP), :2], dtype=np.float64)
    near = brow[np.argmin(np.linalg.norm(top[:, None, :] - brow[None, :, :], axis=2), axis=1)]
    return np.concatenate([near + reach * (top - near), brow])


def scale_polygon(poly: npt.NDArray[np.float64], factor: float,
                  centre: npt.NDArray[np.float64] | None = None) -> npt.NDArray[np.float64]:
    """The polygon shrunk (<1) or grown (>1) about ``centre`` (default: its vertex mean)."""
    c = poly.mean(axis=0) if centre is None else centre
    out: npt.NDArray[np.float64] = c + (poly - c) * factor
    return out


def polygon_mask(poly: npt.NDArray[np.float64], shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
    """Boolean HxW mask of the filled polygon (clipped to the image)."""
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(poly).astype(np.int32)], (1,))
    return m.astype(bool)


def band_mask(poly: npt.NDArray[np.float64], inner: float, outer: float,
              shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
    """Pixels between the polygon scaled by ``inner`` and by ``outer`` about its centre."""
    c = poly.mean(axis=0)
    return polygon_mask(scale_polygon(poly, outer, c), shape) & ~polygon_mask(scale_polygon(poly, inner, c), shape)


def in_frame_mask(obs: FaceObs, frame_size: tuple[int, int]) -> npt.NDArray[np.bool_]:
    """Crop pixels that show the frame (a crop's part beyond the frame edge is black padding, not image)."""
    n = obs.crop.shape[0]
    k = obs.crop_scale
    x0, y0 = obs.crop_box[0], obs.crop_box[1]
    cols = (np.arange(n) + 0.5) / k + x0
    rows = (np.arange(n) + 0.5) / k + y0
    in_rows, in_cols = (rows >= 0) & (rows < frame_size[1]), (cols >= 0) & (cols < frame_size[0])
    inside: npt.NDArray[np.bool_] = in_rows[:, None] & in_cols[None, :]
    return inside
