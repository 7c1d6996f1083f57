"""The faces API: frames in, face tracks (boxes, square crops, 478-point meshes) out.

Coordinates: every box and landmark is in pixels of the frame as given
(``Frame.rgb``), i.e. of the analysed, possibly downscaled frame; divide by
``Frame.scale`` for original display pixels. Crops are axis-aligned (no
rotation to level the eyes), so ``FaceObs.crop_box`` describes exactly what a
crop shows and ``FaceObs.landmarks_in_crop()`` is exact; the part of a crop
outside the frame is black.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import cv2
import numpy as np
import numpy.typing as npt

from unmask.config import FaceConfig
from unmask.faces.detect import Detection, FaceDetector
from unmask.faces.mesh import FaceMesher, cut_square, square_box
from unmask.faces.track import FaceTracker, appearance
from unmask.types import Box, FaceObs, FaceTrack, Frame


def face_crop(rgb: npt.NDArray[np.uint8], box: Box, margin: float, size: int) -> tuple[npt.NDArray[np.uint8], Box]:
    """Square ``size`` x ``size`` crop around ``box`` enlarged by ``margin`` per side, and the frame box it shows."""
    x0, y0, side = square_box(box, margin)
    patch = cut_square(rgb, x0, y0, side)
    if side != size:
        interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        patch = np.asarray(cv2.resize(patch, (size, size), interpolation=interp), dtype=np.uint8)
    return np.ascontiguousarray(patch), (float(x0), float(y0), float(x0 + side), float(y0 + side))


class FaceFinder:
    """Detects, meshes, crops and tracks faces frame by frame.

    Feed frames in time order with :meth:`process`; read :meth:`tracks` at any
    point. It keeps track state: call :meth:`reset` before the next video to
    reuse the loaded models. Not thread-safe (mediapipe graphs): one per worker,
    with one exception: :meth:`detect` may run on one other thread, ahead of
    :meth:`process` (which is then given its detections), since the two use
    different graphs; the pipeline detects ahead so both cores work.
    Each observation keeps its crop (``crop_size``² x 3 bytes: 192 KiB at 256).
    """

    def __init__(self, config: FaceConfig | None = None) -> None:
        self.config = config or FaceConfig()
        self.detector = FaceDetector(self.config)
        self.mesher = FaceMesher(self.config)
        self.tracker = FaceTracker(self.config)
        self._obs: dict[int, list[FaceObs]] = {}
        self._last_ids: tuple[int, ...] = ()
        #: wall seconds per sub-stage since the last :meth:`reset` (detect, track, mesh, crop), for profiles
        self.seconds: dict[str, float] = {}

    def load(self) -> None:
        """Load the mediapipe models (once; ``process`` calls it if you did not)."""
        self.detector.load()
        self.mesher.load()

    def close(self) -> None:
        """Release the models; the tracks gathered so far stay readable."""
        self.detector.close()
        self.mesher.close()

    def __enter__(self) -> FaceFinder:
        self.load()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reset(self) -> None:
        """Drop all tracks (start a new video with the loaded models)."""
        self.tracker.reset()
        self._obs = {}
        self._last_ids = ()
        self.seconds = {}

    def _lap(self, stage: str, t0: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - t0
        return now

    @property
    def last_track_ids(self) -> tuple[int, ...]:
        """Track id of each observation the last :meth:`process` call returned, same order."""
        return self._last_ids

    def detect(self, frame: Frame) -> list[Detection]:
        """The faces ``process`` would find in ``frame``, before meshing and tracking; safe to call on one other
        thread, ahead of ``process`` (its time goes to ``seconds["detect"]``, which only it writes)."""
        self.load()
        t0 = time.perf_counter()
        dets = self.detector.detect(frame.rgb)
        self._lap("detect", t0)
        return dets

    def process(self, frame: Frame, detections: list[Detection] | None = None) -> list[FaceObs]:
        """Faces in ``frame`` (largest first), added to their tracks; ``detections``: ``detect(frame)``'s, if
        it was called already (on another thread, ahead)."""
        dets = self.detect(frame) if detections is None else detections
        rgb = frame.rgb
        t0 = time.perf_counter()
        looks = [appearance(rgb, d.box) for d in dets]
        ids = self.tracker.update(frame.t, [d.box for d in dets], segment=frame.segment, looks=looks)
        t0 = self._lap("track", t0)
        out: list[FaceObs] = []
        for det, tid in zip(dets, ids):
            lm = self.mesher.mesh(rgb, det.box)
            t0 = self._lap("mesh", t0)
            crop, crop_box = face_crop(rgb, det.box, self.config.crop_margin, self.config.crop_size)
            t0 = self._lap("crop", t0)
            obs = FaceObs(
                frame_index=frame.index, t=frame.t, box=det.box, score=det.score,
                crop=crop, crop_box=crop_box, landmarks=lm, segment=frame.segment,
            )
            self._obs.setdefault(tid, []).append(obs)
            out.append(obs)
        self._last_ids = tuple(ids)
        return out

    def tracks(self) -> tuple[FaceTrack, ...]:
        """Every track so far (finished and open), by id, observations in time order."""
        return tuple(
            FaceTrack(tid, tuple(sorted(obs, key=lambda o: (o.t, o.frame_index))))
            for tid, obs in sorted(self._obs.items())
        )


def find_tracks(frames: Iterable[Frame], config: FaceConfig | None = None) -> tuple[FaceTrack, ...]:
    """Face tracks in ``frames`` (in time order) with a fresh :class:`FaceFinder`."""
    with FaceFinder(config) as finder:
        for f in frames:
            finder.process(f)
        return finder.tracks()
