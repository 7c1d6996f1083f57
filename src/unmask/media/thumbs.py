"""A small grey thumbnail of every decoded frame: what consecutive-frame differences are measured on."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

THUMB_SIZE = (64, 36)  # grey thumbnail (w, h) compared between consecutive decoded frames
# 8-bit pixel formats whose first plane is luma, one byte per pixel
_LUMA_FIRST = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p",
     "yuv411p", "yuv410p", "yuva420p", "nv12", "nv21", "gray"}
)


def grey_thumb(frame: Any) -> npt.NDArray[np.uint8]:
    """Grey THUMB_SIZE thumbnail; straight from the luma plane when there is one (5-10x cheaper than swscale)."""
    if frame.format.name in _LUMA_FIRST:
        plane = frame.planes[0]
        w, h = frame.width, frame.height
        y = np.frombuffer(plane, np.uint8).reshape(h, plane.line_size)[:, :w]
        step = max(1, min(w // (4 * THUMB_SIZE[0]), h // (4 * THUMB_SIZE[1])))
        return np.asarray(cv2.resize(y[::step, ::step], THUMB_SIZE, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return np.asarray(frame.reformat(width=THUMB_SIZE[0], height=THUMB_SIZE[1], format="gray").to_ndarray(),
                      dtype=np.uint8)
