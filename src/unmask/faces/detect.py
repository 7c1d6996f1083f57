"""Face detection: mediapipe's full-range detector, whole frame plus square tiles.

The short-range model (and the one face mesh runs on a whole frame) misses
small faces and, measured on FF++ frames, fires on non-faces, so detection uses
the full-range model (``model_selection=1``). That model sees a 192-px input
whatever it is given, and measured on the shared data:

* it finds *more* faces when we downscale the frame ourselves with area
  averaging (320 px: 6/6 faces in a group photo, 4/6 when handed the full
  1200-px photo, whose internal resize aliases);
* a wide frame is letterboxed, so faces in it shrink to a few model pixels:
  one pass over a 1080p street scene finds 1-2 of 5 clearly visible faces
  (and once one box over two heads); square tiles find all 5.

Dark or washed-out frames (a DFDC clip shot in a dim room: 1st-99th
percentile 5..83) lose a third of their detections; stretching the levels
to 0..255 before detecting finds them all, so low-contrast frames are
stretched (for detection only: crops and meshes see the original pixels).

So: one whole-frame pass at :data:`DETECT_SIDE` for big faces, plus overlapping
square tiles (side = the frame's short side) for small faces when the frame is
not square, merged by non-maximum suppression that prefers the tile box for
small faces and the whole-frame box for big ones. The frame is area-downscaled
once (to the tiles' resolution); each pass then costs ~3-4 ms, 10-13 ms a
16:9 frame in all on one busy core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from unmask.config import FaceConfig
from unmask.errors import ModelError
from unmask.types import Box

#: Side (longer side) each pass is downscaled to before the detector sees it.
DETECT_SIDE = 320
#: Frames whose long/short side ratio exceeds this also get the tile passes.
TILE_MIN_ASPECT = 1.15
#: A face smaller than this fraction of the frame's short side is "small": its tile box wins.
SMALL_FACE_FRAC = 0.25
#: Two boxes are the same face when IoU exceeds this, or one lies mostly inside the other.
NMS_IOU = 0.3
NMS_INSIDE = 0.6

#: Frames whose 99th-percentile level is below this, or 1st above LEVEL_HIGH_LO, get stretched.
LEVEL_LOW_HI = 180.0
LEVEL_HIGH_LO = 60.0

#: Keypoint order as mediapipe gives them.
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear", "left_ear")


@dataclass(frozen=True)
class Detection:
    """One detected face in frame pixels.

    ``keypoints`` are six (x, y) points in :data:`KEYPOINT_NAMES` order; "right"
    is the subject's right eye, which appears on the left of the image.
    """

    box: Box
    score: float
    keypoints: tuple[tuple[float, float], ...]

    @property
    def size(self) -> float:
        """Geometric mean of the box sides, as :attr:`unmask.types.FaceObs.size`."""
        x0, y0, x1, y1 = self.box
        return math.sqrt(max(x1 - x0, 0.0) * max(y1 - y0, 0.0))


def tile_origins(w: int, h: int) -> list[tuple[int, int, int]]:
    """Overlapping square tiles (x0, y0, side) covering a non-square frame; [] for near-square ones."""
    short, long = min(w, h), max(w, h)
    if long <= short * TILE_MIN_ASPECT:
        return []
    n = math.ceil(long / short)
    if (n * short - long) < 0.2 * short:  # keep at least 20% overlap so faces on a seam are whole in one tile
        n += 1
    offs = [round(i * (long - short) / (n - 1)) for i in range(n)]
    return [(o, 0, short) if w >= h else (0, o, short) for o in offs]


def level_lut(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8] | None:
    """A 256-entry LUT stretching a dark or washed-out frame's levels to 0..255, or None if it needs none."""
    h, w = rgb.shape[:2]
    step = max(1, int(math.sqrt(h * w / 20000)))  # ~20k sampled pixels
    lo, hi = np.percentile(rgb[::step, ::step], [1.0, 99.0])
    if hi >= LEVEL_LOW_HI and lo <= LEVEL_HIGH_LO or hi - lo < 8:
        return None
    ramp = (np.arange(256, dtype=np.float32) - lo) * (255.0 / (hi - lo))
    return np.asarray(np.clip(np.round(ramp), 0, 255), dtype=np.uint8)


def _overlap(a: Box, b: Box) -> tuple[float, float]:
    """(IoU, intersection / smaller area)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    aa = (a[2] - a[0]) * (a[3] - a[1])
    ab = (b[2] - b[0]) * (b[3] - b[1])
    union = aa + ab - inter
    return (inter / union if union > 0 else 0.0, inter / min(aa, ab) if min(aa, ab) > 0 else 0.0)


class FaceDetector:
    """Finds faces in RGB frames. Not thread-safe: one instance per worker."""

    def __init__(self, config: FaceConfig, side: int = DETECT_SIDE, tiles: bool = True) -> None:
        self.config = config
        self.side = side
        self.tiles = tiles
        self._model: Any = None

    def load(self) -> None:
        """Build the mediapipe graph (once; later calls do nothing)."""
        if self._model is not None:
            return
        try:
            from mediapipe.python.solutions import face_detection

            self._model = face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=float(self.config.min_confidence)
            )
        except Exception as e:  # mediapipe raises RuntimeError/FileNotFoundError/ImportError
            raise ModelError(f"cannot load the mediapipe face detector: {e}") from e

    def close(self) -> None:
        """Release the mediapipe graph; ``load`` builds a fresh one."""
        if self._model is not None:
            self._model.close()
            self._model = None

    def _pass(self, img: npt.NDArray[np.uint8], ox: int, oy: int, k: float) -> list[Detection]:
        """Detect in ``img``, a view at ``k`` frame scale whose origin is (ox, oy) there; boxes in frame pixels."""
        h, w = img.shape[:2]
        m = min(1.0, self.side / max(h, w))
        if m < 1.0:
            size = (max(1, round(w * m)), max(1, round(h * m)))
            img = np.asarray(cv2.resize(img, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        res = self._model.process(np.ascontiguousarray(img))
        out = []
        for d in res.detections or ():
            rb = d.location_data.relative_bounding_box
            box = ((ox + rb.xmin * w) / k, (oy + rb.ymin * h) / k,
                   (ox + (rb.xmin + rb.width) * w) / k, (oy + (rb.ymin + rb.height) * h) / k)
            kps = tuple((float((ox + p.x * w) / k), float((oy + p.y * h) / k))
                        for p in d.location_data.relative_keypoints)
            out.append(Detection(tuple(float(v) for v in box), float(d.score[0]), kps))  # type: ignore[arg-type]
        return out

    def detect(self, rgb: npt.NDArray[np.uint8]) -> list[Detection]:
        """Faces in ``rgb`` (HxWx3 uint8): the ``max_faces`` largest, largest first."""
        self.load()
        h, w = rgb.shape[:2]
        small_face = SMALL_FACE_FRAC * min(h, w)
        tiled = self.tiles and bool(tile_origins(w, h))
        # one area downscale to the tiles' resolution; the whole-frame pass shrinks that further
        k = min(1.0, self.side / (min(h, w) if tiled else max(h, w)))
        base = rgb if k >= 1.0 else np.asarray(
            cv2.resize(rgb, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA), dtype=np.uint8)
        k = base.shape[1] / w
        lut = level_lut(base)
        if lut is not None:
            base = np.asarray(cv2.LUT(base, lut), dtype=np.uint8)
        cands: list[tuple[bool, Detection]] = [(d.size >= small_face, d) for d in self._pass(base, 0, 0, k)]
        if tiled:
            bh, bw = base.shape[:2]
            for x0, y0, s in tile_origins(bw, bh):
                cands += [(d.size < small_face, d) for d in self._pass(base[y0 : y0 + s, x0 : x0 + s], x0, y0, k)]
        cands.sort(key=lambda c: (not c[0], -c[1].score, c[1].box))
        kept: list[Detection] = []
        for _, d in cands:
            overlaps = (_overlap(d.box, other.box) for other in kept)
            if not any(iou >= NMS_IOU or inside >= NMS_INSIDE for iou, inside in overlaps):
                kept.append(d)
        out = []
        for d in kept:
            bx0, by0, bx1, by1 = d.box
            box = (min(max(bx0, 0.0), float(w)), min(max(by0, 0.0), float(h)),
                   min(max(bx1, 0.0), float(w)), min(max(by1, 0.0), float(h)))
            d = Detection(box, d.score, d.keypoints)
            if box[2] > box[0] and box[3] > box[1] and d.size >= self.config.min_face_px:
                out.append(d)
        # largest first; ties broken by position so the order never depends on mediapipe's
        out.sort(key=lambda d: (-d.size, d.box[0], d.box[1]))
        return out[: self.config.max_faces]
