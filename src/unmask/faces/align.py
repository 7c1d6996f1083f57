"""Aligned face crops: eyes level and at fixed positions, derived from a stored observation.

``FaceObs.crop`` is an axis-aligned square so that ``crop_box`` maps landmarks
exactly; models that compare faces (a CNN, an embedding) want the face upright
and at a fixed scale instead. :func:`align_face` derives that view from the
crop and its landmarks with one similarity warp, without touching the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

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

    image: np.ndarray
    matrix: np.ndarray  # crop (x, y, 1) -> aligned (x, y)
    roll_deg: float  # how far the eyes were from level, in the crop

    def map_points(self, xy: np.ndarray) -> np.ndarray:
        """Crop-pixel points into aligned-image pixels."""
        return (xy @ self.matrix[:, :2].T + self.matrix[:, 2]).astype(np.float32)


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
    image = cv2.warpAffine(obs.crop, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return AlignedFace(image, matrix, float(np.degrees(angle)))
