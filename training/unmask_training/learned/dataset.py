"""Aligned faces from a media manifest, cached as one .npz, for training on self-blends.

Decoding and meshing dominate the cost of training data, and they do not
change between training runs, so faces are extracted once (aligned, with their
478 landmarks) and reused. Each face keeps its source group (the repository it
came from) so train/validation splits never put the same person or source on
both sides.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from unmask.config import FaceConfig, SamplingConfig
from unmask.errors import ManifestError, UnmaskError
from unmask.faces.align import align_face
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

    def save(self, path: Path, jpeg_quality: int | None = None) -> None:
        """Write an .npz: raw pixels (fast to load), or with ``jpeg_quality`` JPEG-coded faces.

        The JPEG form is ~10x smaller: it is what travels to a GPU machine, whose upload is
        capped (64 MiB); training re-encodes every sample anyway, so one more JPEG pass costs little.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        if jpeg_quality is None:
            arrays["images"] = self.images
        else:
            if not 50 <= jpeg_quality <= 100:
                raise UnmaskError(f"jpeg_quality must be in 50..100, got {jpeg_quality}")
            coded = [_encode_jpeg(im, jpeg_quality) for im in self.images]
            arrays["jpeg"] = np.concatenate(coded) if coded else np.zeros(0, np.uint8)
            arrays["jpeg_ends"] = np.cumsum([len(c) for c in coded]).astype(np.int64)
            arrays["image_size"] = np.array(self.images.shape[1:3], np.int64)
        np.savez(
            path, landmarks=self.landmarks, labels=self.labels,
            groups=self.groups.astype(str), sources=self.sources.astype(str), skipped=np.array(self.skipped, dtype=str),
            native=np.asarray(self.native, np.float32), **arrays,
        )

    @classmethod
    def load(cls, path: Path) -> FaceSet:
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                images = z["images"] if "images" in z else _decode_jpegs(z["jpeg"], z["jpeg_ends"], z["image_size"])
                return cls(
                    images=images, landmarks=z["landmarks"].astype(np.float32), labels=z["labels"].astype(np.int8),
                    groups=z["groups"], sources=z["sources"],
                    skipped=tuple(str(s) for s in z["skipped"]) if "skipped" in z else (),
                    native=z["native"].astype(np.float32) if "native" in z else None,
                )
        except (OSError, KeyError, ValueError) as e:
            raise UnmaskError(f"{path}: not a FaceSet file ({e})") from None


def _encode_jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise UnmaskError("could not JPEG-encode a face")
    return np.asarray(buf, np.uint8).ravel()


def _decode_jpegs(data: np.ndarray, ends: np.ndarray, size: np.ndarray) -> np.ndarray:
    h, w = (int(v) for v in size)
    out = np.zeros((len(ends), h, w, 3), np.uint8)
    start = 0
    for i, end in enumerate(ends):
        bgr = cv2.imdecode(data[start:int(end)], cv2.IMREAD_COLOR)
        if bgr is None or bgr.shape[:2] != (h, w):
            raise ValueError(f"face {i} is not a {h}x{w} JPEG")
        out[i] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        start = int(end)
    return out


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


def select_rows(rows: list[dict[str, str]], max_per_origin: int | None, seed: int = 0) -> list[dict[str, str]]:
    """At most ``max_per_origin`` rows of each ``origin`` (a seeded random pick), in manifest order.

    The real-face pool has 23,318 UTKFace crops next to 1,662 web photos: a cap keeps one source from
    drowning the others, and the seed makes the pick part of the training command.
    """
    if max_per_origin is None:
        return rows
    rng = np.random.default_rng(seed)
    by_origin: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_origin.setdefault((r.get("origin") or "").strip(), []).append(i)
    keep: set[int] = set()
    for idx in by_origin.values():
        if len(idx) > max_per_origin:
            idx = sorted(rng.choice(idx, size=max_per_origin, replace=False).tolist())
        keep.update(idx)
    return [r for i, r in enumerate(rows) if i in keep]


def row_group(row: dict[str, str], rel: str) -> str:
    """The group a file belongs to for splits: its person (``identity``) where known, else its source repository."""
    return ((row.get("identity") or "").strip() or (row.get("source_repo") or "").strip()
            or str(Path(rel).parent))


@dataclass(frozen=True)
class _Extraction:
    """What extracting faces from some manifest rows settles on; picklable, so worker processes return it."""

    size: int
    per_video: int
    fps: float
    min_face_px: float
    view_zoom: float | None


def _extract_rows(job: _Extraction, base: Path, rows: list[dict[str, str]], finder: Any,
                  progress: Callable[[int], None] | None = None) -> FaceSet:
    """The faces of ``rows`` (paths relative to ``base``) with one loaded :class:`FaceFinder`."""
    from unmask.faces.align import face_view
    from unmask.media.decode import FrameReader
    from unmask.media.probe import probe

    sampling = SamplingConfig(fps=job.fps, max_frames=job.per_video)
    images: list[np.ndarray] = []
    lms: list[np.ndarray] = []
    labs: list[int] = []
    groups: list[str] = []
    sources: list[str] = []
    native: list[float] = []
    skipped: list[str] = []
    for r in rows:
        rel = r["path"]
        label = 1 if r["label"].strip().lower() == "fake" else 0
        group = row_group(r, rel)
        try:
            info = probe(base / rel, sampling)
            finder.reset()
            for frame in FrameReader(info, sampling):
                faces = [o for o in finder.process(frame) if o.landmarks is not None and o.size >= job.min_face_px]
                if not faces and info.kind == "image":
                    # tight face crops (the face fills the picture) defeat the detector: give it a margin
                    finder.reset()
                    faces = [o for o in finder.process(_padded(frame)) if o.landmarks is not None
                             and o.size >= job.min_face_px]
                if not faces:
                    continue
                obs = max(faces, key=lambda o: o.size)
                aligned = (align_face(obs, job.size) if job.view_zoom is None
                           else face_view(obs, job.size, job.view_zoom))
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
            progress(1)
    if not images:
        return _empty(job.size, skipped)
    return FaceSet(
        np.stack(images).astype(np.uint8), np.stack(lms).astype(np.float32), np.array(labs, np.int8),
        np.array(groups, dtype=str), np.array(sources, dtype=str), tuple(skipped), np.array(native, np.float32),
    )


_EXTRACTOR: dict[str, Any] = {}  # one FaceFinder per extraction worker process, set by _init_extractor


def _init_extractor(size: int) -> None:
    import cv2

    from unmask.faces.finder import FaceFinder

    cv2.setNumThreads(1)
    _EXTRACTOR["finder"] = FaceFinder(FaceConfig(crop_size=size))


def _extract_chunk(args: tuple[_Extraction, str, list[dict[str, str]]]) -> FaceSet:
    job, base, rows = args
    return _extract_rows(job, Path(base), rows, _EXTRACTOR["finder"])


def concat(parts: list[FaceSet], size: int) -> FaceSet:
    """One FaceSet from several, in order (the skipped lists too)."""
    skipped = [s for p in parts for s in p.skipped]
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty(size, skipped)
    return FaceSet(
        np.concatenate([p.images for p in parts]), np.concatenate([p.landmarks for p in parts]),
        np.concatenate([p.labels for p in parts]), np.concatenate([np.asarray(p.groups, str) for p in parts]),
        np.concatenate([np.asarray(p.sources, str) for p in parts]), tuple(skipped),
        np.concatenate([np.asarray(p.native, np.float32) for p in parts]),
    )


def extract_faces(
    manifest: Path,
    labels: tuple[str, ...] = ("real",),
    per_video: int = 16,
    size: int = 256,
    fps: float = 2.0,
    min_face_px: float = 64.0,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    view_zoom: float | None = None,
    max_per_origin: int | None = None,
    workers: int = 1,
    seed: int = 0,
    kinds: tuple[str, ...] | None = None,
) -> FaceSet:
    """The largest meshed face of up to ``per_video`` frames (at most ``fps`` a second) of each wanted file.

    Faces are eye-aligned (:func:`align_face`), or with ``view_zoom`` whole-face views
    (:func:`~unmask.faces.align.face_view`, what the learned swap detector reads). Each face's group is
    its person where the manifest has an ``identity`` column, else its source repository.
    Files that cannot be decoded are skipped and listed in ``FaceSet.skipped``.
    ``progress(done, total)`` is called after each file; ``workers`` > 1 extracts in that many processes.
    ``kinds`` keeps only rows of those manifest kinds (``video``, ``gif``, ``image``).
    """
    manifest = Path(manifest)
    wanted = tuple(lbl.lower() for lbl in labels)
    rows = _rows(manifest, wanted)
    if kinds is not None:
        rows = [r for r in rows if (r.get("kind") or "video").strip().lower() in kinds]
    rows = select_rows(rows, max_per_origin, seed)
    if limit is not None:
        rows = rows[:limit]
    job = _Extraction(size, per_video, fps, min_face_px, view_zoom)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], len(rows))

    if workers <= 1 or len(rows) < 2:
        from unmask.faces.finder import FaceFinder  # mediapipe and PyAV: only for extraction, not for training

        with FaceFinder(FaceConfig(crop_size=size)) as finder:
            return _extract_rows(job, manifest.parent, rows, finder, tick)
    import multiprocessing as mp

    step = max(1, min(200, len(rows) // (4 * workers) or 1))
    chunks = [(job, str(manifest.parent), rows[k : k + step]) for k in range(0, len(rows), step)]
    parts: list[FaceSet] = []
    with mp.get_context("spawn").Pool(workers, initializer=_init_extractor, initargs=(size,)) as pool:
        for part, chunk in zip(pool.imap(_extract_chunk, chunks), chunks):
            parts.append(part)
            tick(len(chunk[2]))
    return concat(parts, size)


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



def cached_faces(path: Path, manifest: Path, labels: tuple[str, ...]) -> FaceSet:
    """The faces cached at ``path``; extracted from ``manifest`` (files with these labels) and cached if absent."""
    if path.is_file():
        return FaceSet.load(path)
    faces = extract_faces(manifest, labels)
    faces.save(path)
    return faces


def pack(manifest: Path, out_dir: Path, cache: Path, quality: int = 90) -> list[Path]:
    """JPEG-coded copies of the face caches (extracted first if missing) and the manifest, in ``out_dir``.

    This is what a training run on a GPU machine needs and all it needs: that machine has torch but
    neither the media nor mediapipe, and takes at most 64 MiB with it.
    """
    import shutil

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, labels in (("faces-real.npz", ("real",)), ("faces-fake.npz", ("fake",))):
        faces = cached_faces(Path(cache) / name, Path(manifest), labels)
        faces.save(out_dir / name, jpeg_quality=quality)
        written.append(out_dir / name)
    shutil.copyfile(manifest, out_dir / "manifest.csv")
    written.append(out_dir / "manifest.csv")
    return written


def main(argv: list[str] | None = None) -> int:
    """python -m unmask_training.learned.dataset pack|extract ... (errors are one line, exit 2)"""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m unmask_training.learned.dataset",
                                description="face caches for training")
    sub = p.add_subparsers(dest="command", required=True)
    k = sub.add_parser("pack", help="JPEG-coded face caches + manifest, to carry to a GPU machine")
    k.add_argument("out_dir", type=Path)
    k.add_argument("--manifest", type=Path, default=Path("../shared/data/manifest.csv"))
    k.add_argument("--cache", type=Path, default=Path("cache"))
    k.add_argument("--quality", type=int, default=90)
    e = sub.add_parser("extract", help="whole-face views (and landmarks) of a manifest's files, as one .npz")
    e.add_argument("manifest", type=Path)
    e.add_argument("out", type=Path, help="the .npz to write")
    e.add_argument("--labels", default="real", help="comma-separated manifest labels to take (default real)")
    e.add_argument("--kinds", default=None, help="comma-separated manifest kinds to take, e.g. video,gif (default all)")
    e.add_argument("--per-video", type=int, default=16, help="faces per video at most (default 16)")
    e.add_argument("--fps", type=float, default=2.0, help="sampled frames per second at most (default 2)")
    e.add_argument("--size", type=int, default=256, help="view side in pixels (default 256)")
    e.add_argument("--zoom", type=float, default=1.5,
                   help="view side as a multiple of the landmarks' extent (default 1.5; 0: eye-aligned faces)")
    e.add_argument("--max-per-origin", type=int, default=None, help="at most N files per manifest origin")
    e.add_argument("--seed", type=int, default=0, help="seed of the per-origin pick (default 0)")
    e.add_argument("--workers", type=int, default=1, help="extraction processes (default 1)")
    e.add_argument("--quality", type=int, default=95, help="JPEG quality of the stored faces (default 95)")
    a = p.parse_args(argv)
    try:
        if not a.manifest.is_file():
            raise UnmaskError(f"{a.manifest}: manifest not found")
        if a.command == "pack":
            for path in pack(a.manifest, a.out_dir, a.cache, a.quality):
                print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")
            return 0
        from tqdm import tqdm

        bar = tqdm(desc="extracting", unit="file", file=sys.stderr)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        faces = extract_faces(a.manifest, tuple(x.strip() for x in a.labels.split(",") if x.strip()),
                              per_video=a.per_video, size=a.size, fps=a.fps, view_zoom=a.zoom or None,
                              max_per_origin=a.max_per_origin, workers=a.workers, seed=a.seed, progress=progress,
                              kinds=tuple(k.strip() for k in a.kinds.split(",")) if a.kinds else None)
        bar.close()
        faces.save(a.out, jpeg_quality=a.quality)
        print(f"{a.out}: {len(faces)} faces from {len(set(faces.sources.tolist()))} files "
              f"({len(faces.skipped)} skipped), {a.out.stat().st_size / 1e6:.1f} MB")
    except UnmaskError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
