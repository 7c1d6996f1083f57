"""Piecewise-affine warps of a face image onto other landmarks, and the landmark geometry they need.

The animation cues (:mod:`unmask.learned.animation_cues`) undo a face's motion by warping each frame
back onto a reference frame's landmarks; the one-photo animation pseudo-fakes of training
(``unmask_training.learned.animate``) warp a still forward along a driver's motion. Both need the
same triangulation (a landmark subset plus a ring of anchors around the face), the same similarity
fits and the same eye and mouth measures, so they live here, below both.
Landmarks are ``(478, 2)`` pixel coordinates of the image they belong to (mediapipe's mesh).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from unmask.errors import UnmaskError
from unmask.faces.regions import FACE_OVAL, LEFT_BROW, NOSE, RIGHT_BROW
from unmask.types import N_LANDMARKS


class BadWarpInput(UnmaskError, ValueError):
    """An image or landmark array that cannot be warped (wrong shape, not finite, a face without extent)."""


# --- landmark index sets (mediapipe 478-point mesh) -------------------------------------------------

#: eye lids as (upper, lower) point pairs, from the outer to the inner corner; subject's right eye first
RIGHT_LIDS: tuple[tuple[int, int], ...] = ((246, 7), (161, 163), (160, 144), (159, 145), (158, 153), (157, 154),
                                           (173, 155))
LEFT_LIDS: tuple[tuple[int, int], ...] = ((466, 249), (388, 390), (387, 373), (386, 374), (385, 380), (384, 381),
                                          (398, 382))
RIGHT_CORNERS, LEFT_CORNERS = (33, 133), (263, 362)
#: the three central lid pairs of each eye: what the eye aspect ratio is measured on
EAR_PAIRS = (RIGHT_LIDS[2:5], LEFT_LIDS[2:5])
RIGHT_IRIS = tuple(range(468, 473))
LEFT_IRIS = tuple(range(473, 478))
#: the inner lip contour as a closed loop (upper lip from corner to corner, then the lower lip back)
INNER_LIPS: tuple[int, ...] = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178,
                               88, 95)
OUTER_LIPS: tuple[int, ...] = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181,
                               91, 146)
#: the inner lips' middle points (upper, lower): the mouth opening is their distance
LIP_GAP = (13, 14)
MOUTH_CORNERS = (78, 308)
#: points that move with the skull, not with an expression: upper face outline, nose, eye corners
RIGID_POINTS: tuple[int, ...] = (454, 356, 389, 251, 284, 332, 297, 338, 10, 109, 67, 103, 54, 21, 162, 127, 234) \
    + NOSE + RIGHT_CORNERS + LEFT_CORNERS
#: cheek and forehead points that keep the triangles between features small
FILL_POINTS: tuple[int, ...] = (50, 280, 205, 425, 187, 411, 147, 376, 123, 352, 118, 347, 101, 330, 36, 266,
                                151, 9, 108, 337, 69, 299, 200, 199, 175, 32, 262, 140, 369, 211, 431)
EYE_POINTS = tuple(sorted({i for pair in RIGHT_LIDS + LEFT_LIDS for i in pair} | set(RIGHT_CORNERS + LEFT_CORNERS)))
#: the landmarks the warp's triangulation is built on (irises excluded: they would fold in a blink)
WARP_POINTS: tuple[int, ...] = tuple(sorted(set(FACE_OVAL) | set(LEFT_BROW + RIGHT_BROW) | set(NOSE) | set(EYE_POINTS)
                                            | set(INNER_LIPS) | set(OUTER_LIPS) | set(FILL_POINTS)))
#: how far the anchor ring lies outside the face outline, as a multiple of the outline about its centre
RING_SCALE = 1.45


def check_image(image: NDArray[Any], landmarks: NDArray[Any]) -> NDArray[Any]:
    """The landmarks' (478, 2) float64 points, after checking the image is HxWx3 uint8 of at least 8x8."""
    if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
            and min(image.shape[:2]) >= 8):
        raise BadWarpInput(f"still must be an HxWx3 uint8 image of at least 8x8, got "
                           f"{getattr(image, 'shape', None)} {getattr(image, 'dtype', None)}")
    return check_points(landmarks, "still landmarks")


def check_points(landmarks: NDArray[Any], what: str) -> NDArray[Any]:
    """(478, 2) finite float64 points of a face with some extent; ``what`` names them in the error."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[0] != N_LANDMARKS or lm.shape[1] < 2 or not np.all(np.isfinite(lm[:, :2])):
        raise BadWarpInput(f"{what} must be ({N_LANDMARKS}, 2) finite points, got {lm.shape}")
    xy = lm[:, :2]
    if float(np.ptp(xy[list(RIGID_POINTS)], axis=0).min()) < 1e-3:
        raise BadWarpInput(f"{what}: the face has no extent (all points coincide)")
    return xy


def similarity(src: NDArray[Any], dst: NDArray[Any]) -> tuple[complex, complex]:
    """Least-squares similarity ``dst ≈ a * src + b`` in complex form (a: scale and rotation), no reflection."""
    p = src[:, 0] + 1j * src[:, 1]
    q = dst[:, 0] + 1j * dst[:, 1]
    pm, qm = p.mean(), q.mean()
    den = float(np.sum(np.abs(p - pm) ** 2))
    a = complex(np.sum(np.conj(p - pm) * (q - qm)) / den) if den > 1e-12 else 1.0 + 0j
    return a, complex(qm - a * pm)


def apply_similarity(a: complex, b: complex, xy: NDArray[Any]) -> NDArray[Any]:
    """Apply ``a * z + b`` to (..., 2) points (the inverse of :func:`similarity`'s fit is ``1/a, -b/a``)."""
    z = a * (xy[..., 0] + 1j * xy[..., 1]) + b
    return np.stack([z.real, z.imag], axis=-1)


def inverse_similarity(a: complex, b: complex) -> tuple[complex, complex]:
    """The similarity that undoes ``z -> a z + b``."""
    return 1.0 / a, -b / a


def eye_aspect_ratio(xy: NDArray[Any]) -> float:
    """Mean lid opening of both eyes over their widths (0 closed, about 0.25-0.35 open)."""
    xy = np.asarray(xy, np.float64)
    out = []
    for pairs, (c0, c1) in zip(EAR_PAIRS, (RIGHT_CORNERS, LEFT_CORNERS)):
        gap = np.mean([np.linalg.norm(xy[u, :2] - xy[lo, :2]) for u, lo in pairs])
        out.append(gap / max(float(np.linalg.norm(xy[c0, :2] - xy[c1, :2])), 1e-6))
    return float(np.mean(out))


def mouth_opening(xy: NDArray[Any]) -> float:
    """Inner-lip gap over the mouth's width (0 closed)."""
    xy = np.asarray(xy, np.float64)
    gap = float(np.linalg.norm(xy[LIP_GAP[0], :2] - xy[LIP_GAP[1], :2]))
    return gap / max(float(np.linalg.norm(xy[MOUTH_CORNERS[0], :2] - xy[MOUTH_CORNERS[1], :2])), 1e-6)


# --- the warp ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mesh:
    """A still's triangulation: source points (landmark subset + anchor ring) and triangles."""

    points: NDArray[Any]  # P x 2 float64, still pixels
    triangles: NDArray[Any]  # K x 3 int
    n_landmarks: int  # the first n points are WARP_POINTS, the rest the ring


def _ring(xy: NDArray[Any]) -> NDArray[Any]:
    oval = xy[list(FACE_OVAL)]
    hull = cv2.convexHull(oval.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    c = oval.mean(axis=0)
    return np.asarray(c + (hull - c) * RING_SCALE, np.float64)


def build_mesh(still_xy: NDArray[Any]) -> Mesh:
    """The triangulation of ``still_xy`` (checked points) that :func:`warp_mesh` moves; build it once per still."""
    pts = np.vstack([still_xy[list(WARP_POINTS)], _ring(still_xy)])
    # points that coincide (a closed mouth's inner lips) are nudged apart so every one is a vertex
    jitter = np.arange(len(pts))[:, None] * np.array([1e-4, 7e-5])
    from scipy.spatial import Delaunay  # ~0.5 s to import: paid by the first still warped, not at start-up

    try:
        tri = Delaunay(pts + jitter)
    except Exception as e:  # scipy.spatial.QhullError: points all on a line
        raise BadWarpInput(f"cannot triangulate the still's landmarks ({e.__class__.__name__})") from None
    return Mesh(pts, np.asarray(tri.simplices, np.int64), len(WARP_POINTS))


def _backward_map(mesh: Mesh, dst_pts: NDArray[Any], shape: tuple[int, int], outside: tuple[complex, complex]
                  ) -> tuple[NDArray[Any], NDArray[Any]]:
    """remap() maps: output pixel -> still pixel, piecewise affine inside the mesh, ``outside`` elsewhere."""
    h, w = shape
    label = np.full((h, w), -1, np.int32)
    d = dst_pts[mesh.triangles]  # K x 3 x 2, output triangles
    s = mesh.points[mesh.triangles]  # K x 3 x 2, still triangles
    area = ((d[:, 1, 0] - d[:, 0, 0]) * (d[:, 2, 1] - d[:, 0, 1])
            - (d[:, 2, 0] - d[:, 0, 0]) * (d[:, 1, 1] - d[:, 0, 1]))
    live = np.abs(area) >= 1e-6  # a collapsed output triangle covers no pixel
    mats = np.zeros((len(d), 2, 3), np.float64)
    dh = np.concatenate([d[live], np.ones((int(live.sum()), 3, 1))], axis=2)
    mats[live] = np.transpose(np.linalg.solve(dh, s[live]), (0, 2, 1))  # [x, y, 1] (output) -> still
    corners = np.round(np.clip(d, -1e5, 1e5) * 16).astype(np.int32)  # 4 fractional bits (shift=4)
    for k in np.flatnonzero(live):
        cv2.fillConvexPoly(label, corners[k], (int(k),), lineType=cv2.LINE_8, shift=4)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    ai, bi = inverse_similarity(*outside)
    bg = apply_similarity(ai, bi, np.stack([xx, yy], axis=-1))
    mx, my = bg[..., 0], bg[..., 1]
    inside = label >= 0
    m = mats[label[inside]]
    x, y = xx[inside], yy[inside]
    mx[inside] = m[:, 0, 0] * x + m[:, 0, 1] * y + m[:, 0, 2]
    my[inside] = m[:, 1, 0] * x + m[:, 1, 1] * y + m[:, 1, 2]
    return mx.astype(np.float32), my.astype(np.float32)


def warp_to(still: NDArray[Any], still_xy: NDArray[Any], target_xy: NDArray[Any],
            background: tuple[complex, complex] = (1.0 + 0j, 0j)) -> NDArray[Any]:
    """The still warped so its landmarks land on ``target_xy`` (piecewise affine; ``background``: how the
    area outside the anchor ring moves, a complex similarity, identity = static)."""
    sxy = check_image(still, still_xy)
    txy = check_points(target_xy, "target landmarks")
    return warp_mesh(still, build_mesh(sxy), txy, background)


def warp_mesh(still: NDArray[Any], mesh: Mesh, txy: NDArray[Any], background: tuple[complex, complex]) -> NDArray[Any]:
    """:func:`warp_to` with the still's :class:`Mesh` built once (``txy``: checked target points)."""
    ring = apply_similarity(*background, mesh.points[mesh.n_landmarks:])
    dst = np.vstack([txy[list(WARP_POINTS)], ring])
    mx, my = _backward_map(mesh, dst, (still.shape[0], still.shape[1]), background)
    return cv2.remap(still, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
