"""Aligned face crops: eyes level and at fixed positions, derived from a stored observation.

``FaceObs.crop`` is an axis-aligned square so that ``crop_box`` maps landmarks
exactly; models that compare faces (a CNN, an embedding) want the face upright
and at a fixed scale instead. :func:`align_face` derives that view from the
crop and its landmarks with one similarity warp, without touching the frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from unmask.types import FaceObs

#: mediapipe mesh: outer and inner corners of each eye (subject's right eye first)
RIGHT_EYE = (33, 133)
LEFT_EYE = (362, 263)
#: where the eye centres land in the aligned image, as fractions of its side
EYE_Y = 0.40
EYE_X_LEFT, EYE_X_RIGHT = 0.32, 0.68


@dataclass(frozen=True)
class AlignedFace:
    """An upright face image and the 2x3 matrix that maps crop pixels into it."""

    image: npt.NDArray[np.uint8]
    matrix: npt.NDArray[np.floating[Any]]  # crop (x, y, 1) -> aligned (x, y)
    roll_deg: float  # how far the eyes were from level, in the crop

    def map_points(self, xy: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        """Crop-pixel points into aligned-image pixels."""
        return np.asarray(xy @ self.matrix[:, :2].T + self.matrix[:, 2], dtype=np.float32)


def align_face(obs: FaceObs, size: int = 224) -> AlignedFace | None:
    """The face upright with its eyes at fixed positions; None without landmarks."""
    lm = obs.landmarks_in_crop()
    if lm is None:
        return None
    right = lm[list(RIGHT_EYE)].mean(axis=0)
    left = lm[list(LEFT_EYE)].mean(axis=0)
    # the image's left-hand eye is the subject's right eye
    src_a, src_b = (right, left) if right[0] <= left[0] else (left, right)
    dst_a = np.array([EYE_X_LEFT * size, EYE_Y * size], np.float32)
    dst_b = np.array([EYE_X_RIGHT * size, EYE_Y * size], np.float32)
    v_src, v_dst = src_b - src_a, dst_b - dst_a
    norm = float(np.linalg.norm(v_src))
    if norm < 1e-3:
        return None
    scale = float(np.linalg.norm(v_dst)) / norm
    angle = float(np.arctan2(v_src[1], v_src[0]))  # roll of the eye line in the crop
    c, s = scale * np.cos(-angle), scale * np.sin(-angle)
    rot = np.array([[c, -s], [s, c]], np.float32)
    t = dst_a - rot @ src_a
    matrix = np.hstack([rot, t[:, None]]).astype(np.float32)
    image = np.asarray(cv2.warpAffine(obs.crop, matrix, (size, size), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REFLECT101), dtype=np.uint8)
    return AlignedFace(image, matrix, float(np.degrees(angle)))


#: how much wider than the landmarks' box a detector view is (SBI crops faces at about 1.3x): the face
#: outline, the blend seam along it and some neck, hair and background must be in the picture
VIEW_ZOOM = 1.3


def view_matrix(landmarks_xy: npt.ArrayLike, size: int, zoom: float = VIEW_ZOOM) -> npt.NDArray[np.float64] | None:
    """2x3 matrix from the landmarks' pixel frame to an upright ``size`` px view of the whole face.

    The eyes are levelled, and the view is centred on the box of the rotated landmarks and ``zoom``
    times its longer side; None when the eyes coincide.
    """
    xy = np.asarray(landmarks_xy, np.float64)[:, :2]
    right = xy[list(RIGHT_EYE)].mean(axis=0)
    left = xy[list(LEFT_EYE)].mean(axis=0)
    a, b = (right, left) if right[0] <= left[0] else (left, right)
    v = b - a
    if float(np.linalg.norm(v)) < 1e-3 or not np.all(np.isfinite(xy)):
        return None
    angle = float(np.arctan2(v[1], v[0]))
    c, s = np.cos(-angle), np.sin(-angle)
    rot = np.array([[c, -s], [s, c]])
    turned = xy @ rot.T
    lo, hi = turned.min(axis=0), turned.max(axis=0)
    side = zoom * float(max(hi - lo))
    if side < 1e-3:
        return None
    scale = size / side
    centre = (lo + hi) / 2.0
    t = size / 2.0 - scale * centre
    return np.hstack([scale * rot, t[:, None]]).astype(np.float32)


def face_view(obs: FaceObs, size: int, zoom: float = VIEW_ZOOM) -> AlignedFace | None:
    """The whole face upright, centred and ``zoom`` x its landmarks' extent, from the stored crop.

    What the learned swap detector reads: unlike :func:`align_face` (eyes at fixed places, chin often
    cut off), the face outline, where a pasted face's seam runs, is always inside. None without landmarks.
    """
    lm = obs.landmarks_in_crop()
    if lm is None:
        return None
    matrix = view_matrix(lm, size, zoom)
    if matrix is None:
        return None
    image = np.asarray(cv2.warpAffine(obs.crop, matrix, (size, size), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REPLICATE), dtype=np.uint8)
    roll = float(np.degrees(np.arctan2(-matrix[1, 0], matrix[0, 0])))
    return AlignedFace(image, matrix, roll)
