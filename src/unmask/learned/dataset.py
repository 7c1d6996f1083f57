"""Aligned faces from a media manifest, cached as one .npz, for training on self-blends.

Decoding and meshing dominate the cost of training data, and they do not
change between training runs, so faces are extracted once (aligned, with their
478 landmarks) and reused. Each face keeps its source group (the repository it
came from) so train/validation splits never put the same person or source on
both sides.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from unmask.config import FaceConfig, SamplingConfig
from unmask.errors import ManifestError, UnmaskError
from unmask.faces.align import align_face
from unmask.faces.finder import FaceFinder
from unmask.media.decode import FrameReader
from unmask.media.probe import probe
from unmask.types import N_LANDMARKS, FaceObs, Frame


@dataclass(frozen=True)
class FaceSet:
    """Aligned faces with landmarks, labels and where each came from."""

    images: np.ndarray  # N x S x S x 3 uint8
    landmarks: np.ndarray  # N x 478 x 2 float32, aligned-image pixels
    labels: np.ndarray  # N int8: 0 real, 1 fake (fakes are for validation only)
    groups: np.ndarray  # N str: manifest source_repo
    sources: np.ndarray  # N str: manifest path
    skipped: tuple[str, ...] = ()  # "path: reason" for files that could not be read
    #: N float32: source-frame pixels per aligned pixel (below 1: the face was upscaled to fill the crop)
    native: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.images)
        if not (len(self.landmarks) == len(self.labels) == len(self.groups) == len(self.sources) == n):
            raise UnmaskError("FaceSet: images, landmarks, labels, groups and sources must have the same length")
        if self.native is None:
            object.__setattr__(self, "native", np.ones(n, np.float32))
        elif len(self.native) != n:
            raise UnmaskError("FaceSet: native must have one value per face")

    def __len__(self) -> int:
        return len(self.images)

    def save(self, path: Path) -> None:
        """Write an uncompressed .npz (faces compress poorly; loading stays fast)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            path, images=self.images, landmarks=self.landmarks, labels=self.labels,
            groups=self.groups.astype(str), sources=self.sources.astype(str), skipped=np.array(self.skipped, dtype=str),
            native=np.asarray(self.native, np.float32),
        )

    @classmethod
    def load(cls, path: Path) -> "FaceSet":
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                return cls(
                    images=z["images"], landmarks=z["landmarks"].astype(np.float32), labels=z["labels"].astype(np.int8),
                    groups=z["groups"], sources=z["sources"],
                    skipped=tuple(str(s) for s in z["skipped"]) if "skipped" in z else (),
                    native=z["native"].astype(np.float32) if "native" in z else None,
                )
        except (OSError, KeyError, ValueError) as e:
            raise UnmaskError(f"{path}: not a FaceSet file ({e})") from None


def _empty(size: int, skipped: list[str]) -> FaceSet:
    return FaceSet(
        np.zeros((0, size, size, 3), np.uint8), np.zeros((0, N_LANDMARKS, 2), np.float32),
        np.zeros(0, np.int8), np.zeros(0, dtype=str), np.zeros(0, dtype=str), tuple(skipped),
    )


def _padded(frame: Frame, margin: float = 0.3) -> Frame:
    """The frame with a replicated border of ``margin`` x its longer side on every side."""
    h, w = frame.rgb.shape[:2]
    pad = int(round(margin * max(h, w)))
    rgb = cv2.copyMakeBorder(frame.rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return Frame(frame.index, frame.t, np.ascontiguousarray(rgb), frame.segment, frame.scale)


def _rows(manifest: Path, labels: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with Path(manifest).open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as e:
        raise ManifestError(f"{manifest}: cannot read manifest ({e.strerror})") from None
    except csv.Error as e:
        raise ManifestError(f"{manifest}: not a CSV manifest ({e})") from None
    if rows and not {"path", "label"} <= set(rows[0]):
        raise ManifestError(f"{manifest}: needs a header with at least the columns path,label")
    return [r for r in rows if (r.get("label") or "").strip().lower() in labels]


def extract_faces(
    manifest: Path,
    labels: tuple[str, ...] = ("real",),
    per_video: int = 16,
    size: int = 256,
    fps: float = 2.0,
    min_face_px: float = 64.0,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FaceSet:
    """The largest meshed face of up to ``per_video`` frames (at most ``fps`` a second) of each wanted file, aligned.

    Files that cannot be decoded are skipped and listed in ``FaceSet.skipped``.
    ``progress(done, total)`` is called after each file.
    """
    manifest = Path(manifest)
    wanted = tuple(lbl.lower() for lbl in labels)
    rows = _rows(manifest, wanted)
    if limit is not None:
        rows = rows[:limit]
    sampling = SamplingConfig(fps=fps, max_frames=per_video)
    images: list[np.ndarray] = []
    lms: list[np.ndarray] = []
    labs: list[int] = []
    groups: list[str] = []
    sources: list[str] = []
    native: list[float] = []
    skipped: list[str] = []
    with FaceFinder(FaceConfig(crop_size=size)) as finder:
        for i, r in enumerate(rows):
            rel = r["path"]
            label = 1 if r["label"].strip().lower() == "fake" else 0
            group = (r.get("source_repo") or "").strip() or str(Path(rel).parent)
            try:
                info = probe(manifest.parent / rel, sampling)
                finder.reset()
                for frame in FrameReader(info, sampling):
                    faces = [o for o in finder.process(frame) if o.landmarks is not None and o.size >= min_face_px]
                    if not faces and info.kind == "image":
                        # tight face crops (the face fills the picture) defeat the detector: give it a margin
                        finder.reset()
                        faces = [o for o in finder.process(_padded(frame)) if o.landmarks is not None and o.size >= min_face_px]
                    if not faces:
                        continue
                    obs = max(faces, key=lambda o: o.size)
                    aligned = align_face(obs, size)
                    if aligned is None:
                        continue
                    xy = aligned.map_points(obs.landmarks_in_crop())
                    if not np.all(np.isfinite(xy)):
                        continue
                    images.append(aligned.image)
                    lms.append(xy)
                    labs.append(label)
                    groups.append(group)
                    sources.append(rel)
                    native.append(native_scale(obs, aligned.matrix))
            except UnmaskError as e:
                skipped.append(f"{rel}: {e}")
            if progress is not None:
                progress(i + 1, len(rows))
    if not images:
        return _empty(size, skipped)
    return FaceSet(
        np.stack(images).astype(np.uint8), np.stack(lms).astype(np.float32), np.array(labs, np.int8),
        np.array(groups, dtype=str), np.array(sources, dtype=str), tuple(skipped), np.array(native, np.float32),
    )


def native_scale(obs: FaceObs, matrix: np.ndarray) -> float:
    """Frame pixels per aligned-face pixel: below 1 when a small face was upscaled into the crop.

    Pseudo-fakes are made at this native scale, so a resolution drop removes detail the frame had.
    """
    crop_px = float(obs.crop_box[2] - obs.crop_box[0]) / float(obs.crop.shape[1])
    aligned_per_crop = float(np.sqrt(abs(np.linalg.det(np.asarray(matrix, np.float64)[:, :2]))))
    return crop_px / max(aligned_per_crop, 1e-6)


def split_by_group(groups: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation index arrays with no group on both sides.

    Whole groups go to validation (in a seeded random order) until it holds
    about ``val_fraction`` of the samples; at least one group stays on each
    side when there are two or more groups.
    """
    if not 0.0 < val_fraction < 1.0:
        raise UnmaskError(f"val_fraction must be in (0, 1), got {val_fraction}")
    groups = np.asarray(groups).astype(str)
    names, counts = np.unique(groups, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(names))
    target = val_fraction * len(groups)
    val: list[str] = []
    taken = 0
    for j in order:
        if len(val) >= len(names) - 1:
            break
        if taken > 0 and abs(taken + counts[j] - target) > abs(taken - target):
            continue
        val.append(str(names[j]))
        taken += int(counts[j])
        if taken >= target:
            break
    is_val = np.isin(groups, val)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)

