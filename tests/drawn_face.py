"""A face drawn from mediapipe's canonical mesh, and drivers that move it: test inputs for the animation
pseudo-fakes (tests/training) and the animation cues and analyzer (tests/unit), without models or data."""

from __future__ import annotations

import cv2
import numpy as np

from unmask.faces.regions import FACE_OVAL, LEFT_BROW, RIGHT_BROW, load_canonical_face
from unmask.faces.warp import INNER_LIPS, LEFT_CORNERS, LEFT_LIDS, OUTER_LIPS, RIGHT_CORNERS, RIGHT_LIDS

S = 256
LOWER_LIP = (95, 88, 178, 87, 14, 317, 402, 318, 324, 146, 91, 181, 84, 17, 314, 405, 321, 375)
JAW = (152, 148, 176, 149, 150, 136, 172, 58, 377, 400, 378, 379, 365, 397, 288, 175, 199, 200)
WHITE = (235, 235, 230)


def face_landmarks(size: int = S) -> np.ndarray:
    """mediapipe's canonical face seen from the front, in pixels, with iris points at the eye centres."""
    p = load_canonical_face()
    xy = np.stack([p[:, 0], -p[:, 1]], axis=1)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    xy = (xy - (lo + hi) / 2) * (0.62 * size / float((hi - lo).max())) + size / 2
    irises = []
    for c0, c1 in (RIGHT_CORNERS, LEFT_CORNERS):
        c = xy[[c0, c1]].mean(axis=0)
        r = 0.18 * float(np.linalg.norm(xy[c0] - xy[c1]))
        irises.append(np.vstack([c, c + [r, 0], c + [0, -r], c + [-r, 0], c + [0, r]]))
    return np.vstack([xy, *irises]).astype(np.float32)


def closed_mouth(xy: np.ndarray) -> np.ndarray:
    out = xy.copy()
    gap = out[14] - out[13]
    out[list(LOWER_LIP)] -= gap * 0.97
    return out


def face_image(xy: np.ndarray, seed: int = 0, size: int = S) -> np.ndarray:
    """A drawn face with a smooth random texture (so a warp has something to move)."""
    rng = np.random.default_rng(seed)
    tex = cv2.resize(rng.uniform(0, 1, (32, 32, 3)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    img = np.array([90, 120, 160], np.float32) + 50 * tex
    pts = lambda idx: np.round(xy[list(idx)]).astype(np.int32)  # noqa: E731
    inside = np.zeros((size, size), np.uint8)
    cv2.fillPoly(inside, [pts(FACE_OVAL)], 1)
    skin = np.array([200, 160, 130], np.float32) + 60 * (tex[::-1] - 0.5)
    img[inside > 0] = skin[inside > 0]
    img = np.clip(img, 0, 255).astype(np.uint8)
    for lids in (RIGHT_LIDS, LEFT_LIDS):
        eye = np.vstack([xy[[u for u, _ in lids]], xy[[lo for _, lo in lids]][::-1]])
        cv2.fillPoly(img, [np.round(eye).astype(np.int32)], WHITE)
    for c in (xy[468], xy[473]):
        cv2.circle(img, (int(round(c[0])), int(round(c[1]))), 4, (60, 40, 30), -1)
    cv2.fillPoly(img, [pts(OUTER_LIPS)], (170, 70, 70))
    cv2.fillPoly(img, [pts(INNER_LIPS)], (40, 10, 10))
    for brow in (LEFT_BROW, RIGHT_BROW):
        cv2.polylines(img, [pts(brow[:5])], False, (70, 50, 40), 3)
    return img


def similar(xy: np.ndarray, scale: float, deg: float, shift: tuple[float, float], centre=None) -> np.ndarray:
    c = xy.mean(axis=0) if centre is None else np.asarray(centre)
    a = np.deg2rad(deg)
    rot = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return ((xy - c) @ rot.T + c + np.asarray(shift)).astype(np.float32)


def driver(xy: np.ndarray, t: int = 6, turn: float = 2.0, mouth: float = 0.0, blink_at: int | None = None) -> np.ndarray:
    """Another face (smaller, tilted, elsewhere) turning ``turn`` degrees a frame and opening its mouth."""
    other = similar(xy, 0.7, 10.0, (-20.0, 15.0))
    frames = []
    for k in range(t):
        f = other.copy()
        f[list(LOWER_LIP) + list(JAW)] += np.array([0.0, mouth * k])
        if blink_at == k:
            for u, lo in RIGHT_LIDS + LEFT_LIDS:
                f[u] = f[lo]
        frames.append(similar(f, 1.0, turn * k, (1.5 * k, 0.5 * k), centre=other.mean(axis=0)))
    return np.stack(frames)

