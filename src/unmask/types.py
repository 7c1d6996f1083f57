"""Typed values that cross stage boundaries: media facts, frames, faces, analyzer results.

Every class is frozen and checks its shapes on creation, so a stage that
hands the next one a malformed value fails where the mistake is made,
saying what was expected and what it got.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from unmask.config import SamplingConfig

MediaKind = Literal["video", "animation", "image"]


class Label(StrEnum):
    """The verdict vocabulary: one spelling, used by fusion, rules, reports, bench and the service.

    ``declared_synthetic`` never comes from the fusion: only a valid credential declaring AI (``unmask.rules``).
    A ``StrEnum``, so a label compares equal to (and serialises as) its stored string.
    """

    LIKELY_REAL = "likely_real"
    INCONCLUSIVE = "inconclusive"
    LIKELY_FAKE = "likely_fake"
    NO_FACE = "no_face"
    CANNOT_ASSESS = "cannot_assess"
    DECLARED_SYNTHETIC = "declared_synthetic"


#: the labels that carry a fusion score, least to most suspicious
SCORED_LABELS: tuple[Label, ...] = (Label.LIKELY_REAL, Label.INCONCLUSIVE, Label.LIKELY_FAKE)
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in frame pixels (display orientation)

N_LANDMARKS = 478  # mediapipe face mesh with refined iris


def _check(cond: bool, cls: str, msg: str) -> None:
    if not cond:
        raise ValueError(f"{cls}: {msg}")


@dataclass(frozen=True)
class MediaInfo:
    """What the container says about the input, before any decoding.

    ``width``/``height`` are the displayed size, after ``rotation`` is applied.
    """

    path: str
    sha256: str
    size_bytes: int
    container: str
    kind: MediaKind
    video_codec: str | None
    duration_s: float
    fps: float
    width: int
    height: int
    rotation: int = 0
    has_audio: bool = False
    audio_codec: str | None = None
    n_frames: int | None = None

    def __post_init__(self) -> None:
        _check(
            self.width > 0 and self.height > 0, "MediaInfo", f"size must be positive, got {self.width}x{self.height}"
        )
        _check(self.rotation in (0, 90, 180, 270), "MediaInfo", f"rotation must be 0/90/180/270, got {self.rotation}")
        _check(self.duration_s >= 0 and math.isfinite(self.duration_s), "MediaInfo", f"bad duration {self.duration_s}")


@dataclass(frozen=True)
class DecodeCoverage:
    """How much of what the reader set out to decode it could decode, and whether the stream was damaged.

    ``planned_s`` is the stretch of video the reader meant to read (the whole stated duration, or
    the bursts of a long video; 0 for a still), ``decoded_s`` the part of it covered by decoded
    pictures. ``damaged``: some of the stream could not be decoded (damaged packets, a cut-off file,
    a stretch with no picture), said in ``problems``. A damaged file never gets a confident verdict.
    """

    planned_s: float
    decoded_s: float
    damaged: bool = False
    problems: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(self.planned_s >= 0 and self.decoded_s >= 0, "DecodeCoverage",
               f"seconds must be >= 0, got {self.planned_s}/{self.decoded_s}")

    @property
    def fraction(self) -> float:
        """Share of the planned video that could be decoded (1.0 for a still or an unknown length)."""
        if self.planned_s <= 0:
            return 1.0
        return min(1.0, self.decoded_s / self.planned_s)


@dataclass(frozen=True)
class Frame:
    """One sampled frame, upright (rotation applied), RGB uint8, with its presentation time."""

    index: int  # index among all decoded frames
    t: float  # seconds from the start, from timestamps (not index/fps)
    rgb: NDArray[Any]
    segment: int = 0  # contiguous decode segment (long videos are read in bursts)
    scale: float = 1.0  # rgb pixels per original display pixel (<1 when downscaled for analysis)

    def __post_init__(self) -> None:
        a = self.rgb
        _check(
            a.ndim == 3 and a.shape[2] == 3 and a.dtype == np.uint8,
            "Frame",
            f"rgb must be HxWx3 uint8, got {a.shape} {a.dtype}",
        )


@dataclass(frozen=True)
class FrameStat:
    """Cheap facts about every decoded frame (not only sampled ones), for glitch cues."""

    index: int
    t: float
    diff: float  # mean |thumbnail(t) - thumbnail(prev)| in 0..255 grey levels; nan for a segment's first frame
    segment: int = 0


@dataclass(frozen=True)
class SampledFrame:
    """A sampled frame's metadata, kept after its pixels are dropped."""

    index: int
    t: float
    segment: int
    n_faces: int


@dataclass(frozen=True)
class FaceObs:
    """One face in one sampled frame.

    ``landmarks`` are mesh points in frame pixel coordinates of the analysed frame
    (x, y, z; z on the same scale as x) or ``None`` when the mesh failed.
    ``crop`` is a square RGB patch covering ``crop_box`` of the frame, resized
    to ``crop.shape[0]`` pixels, so ``(lm[:, :2] - crop_box[:2]) * crop_scale``
    maps landmarks into the crop.
    """

    frame_index: int
    t: float
    box: Box
    score: float
    crop: NDArray[Any]
    crop_box: Box
    landmarks: NDArray[Any] | None = None
    segment: int = 0

    def __post_init__(self) -> None:
        c = self.crop
        _check(c.ndim == 3 and c.shape[0] == c.shape[1] and c.shape[2] == 3 and c.dtype == np.uint8,
               "FaceObs", f"crop must be SxSx3 uint8, got {c.shape} {c.dtype}")
        x0, y0, x1, y1 = self.box
        _check(x1 > x0 and y1 > y0, "FaceObs", f"box must have positive size, got {self.box}")
        if self.landmarks is not None:
            lm = self.landmarks
            _check(lm.shape == (N_LANDMARKS, 3), "FaceObs", f"landmarks must be ({N_LANDMARKS}, 3), got {lm.shape}")

    @property
    def size(self) -> float:
        """Face size in pixels: the geometric mean of the box sides."""
        x0, y0, x1, y1 = self.box
        return float(math.sqrt((x1 - x0) * (y1 - y0)))

    @property
    def crop_scale(self) -> float:
        """Crop pixels per frame pixel."""
        return self.crop.shape[0] / (self.crop_box[2] - self.crop_box[0])

    def landmarks_in_crop(self) -> NDArray[Any] | None:
        """Landmarks (x, y) mapped into crop pixel coordinates."""
        if self.landmarks is None:
            return None
        xy: NDArray[Any] = self.landmarks[:, :2] - np.array(self.crop_box[:2], dtype=np.float32)
        out: NDArray[np.float32] = (xy * self.crop_scale).astype(np.float32)
        return out


@dataclass(frozen=True)
class FaceTrack:
    """One face followed over time, with a stable id."""

    id: int
    observations: tuple[FaceObs, ...]

    def __post_init__(self) -> None:
        _check(len(self.observations) > 0, "FaceTrack", "needs at least one observation")
        ts = [o.t for o in self.observations]
        _check(all(b >= a for a, b in zip(ts, ts[1:])), "FaceTrack", "observations must be in time order")

    @property
    def start_t(self) -> float:
        return self.observations[0].t

    @property
    def end_t(self) -> float:
        return self.observations[-1].t

    @property
    def median_size(self) -> float:
        return float(np.median([o.size for o in self.observations]))

    @property
    def with_landmarks(self) -> tuple[FaceObs, ...]:
        return tuple(o for o in self.observations if o.landmarks is not None)

    def __len__(self) -> int:
        return len(self.observations)


@dataclass(frozen=True)
class Person:
    """One person across the whole video: the face tracks (continuous stretches) that show them.

    Tracks stay what analyzers measure and fusion scores; a person only groups them, so the
    report can say "face 1" once for someone seen in many stretches. ``id`` counts from 1.
    """

    id: int
    track_ids: tuple[int, ...]

    def __post_init__(self) -> None:
        _check(self.id >= 1, "Person", f"id must count from 1, got {self.id}")
        _check(len(self.track_ids) > 0 and list(self.track_ids) == sorted(set(self.track_ids)), "Person",
               f"track_ids must be non-empty, sorted and distinct, got {self.track_ids}")


class Need(StrEnum):
    """What an analyzer needs from the input; the pipeline skips it (with the reason) when missing."""

    FACES = "faces"  # at least one face track
    TIME = "time"  # more than one frame (not a still image)
    LANDMARKS = "landmarks"  # face mesh points


@dataclass(frozen=True)
class MediaContext:
    """Everything an analyzer may read. Frames' pixels are gone by now; faces keep crops."""

    info: MediaInfo
    frame_stats: tuple[FrameStat, ...]
    sampled: tuple[SampledFrame, ...]
    tracks: tuple[FaceTrack, ...]
    #: how much of the file could be decoded (None: not recorded, taken as whole and undamaged)
    decoding: DecodeCoverage | None = None
    #: the tracks grouped by person (empty: not linked, each track is its own person)
    persons: tuple[Person, ...] = ()
    #: (width, height) of the analysed frames, in whose pixels landmarks are (None: as stored, not downscaled)
    frame_size: tuple[int, int] | None = None
    #: frames sampled per second of decoded video (what the sampling plan aimed at)
    sampled_fps: float = SamplingConfig.fps

    @property
    def analysed_size(self) -> tuple[int, int]:
        """(width, height) of the analysed frames."""
        return self.frame_size or (self.info.width, self.info.height)

    @property
    def is_still(self) -> bool:
        return len(self.sampled) <= 1

    def person_ids(self) -> dict[int, int]:
        """Track id -> person id (a track no person lists is a person of its own, numbered as the track)."""
        out = {t.id: t.id for t in self.tracks}
        for p in self.persons:
            out.update({tid: p.id for tid in p.track_ids})
        return out

    def person_tracks(self, track_id: int) -> tuple[FaceTrack, ...]:
        """Every track of the person that ``track_id`` belongs to, in time order (empty for an unknown track)."""
        ids = self.person_ids()
        if track_id not in ids:
            return ()
        return tuple(sorted((t for t in self.tracks if ids[t.id] == ids[track_id]), key=lambda t: (t.start_t, t.id)))


@dataclass(frozen=True)
class Evidence:
    """One finding, located in time and space, said in words a journalist can quote."""

    cue: str  # short machine name, e.g. "frozen_frames"
    detail: str  # plain words
    strength: float  # 0..1, how suspicious this finding is on its own
    t_start: float
    t_end: float
    track_id: int | None = None
    frame_start: int | None = None
    frame_end: int | None = None

    def __post_init__(self) -> None:
        _check(0.0 <= self.strength <= 1.0, "Evidence", f"strength must be in [0, 1], got {self.strength}")
        _check(self.t_end >= self.t_start, "Evidence", f"t_end {self.t_end} before t_start {self.t_start}")


@dataclass(frozen=True)
class TrackScore:
    """An analyzer's view of one face track.

    ``score`` is the analyzer's own 0..1 suspicion (heuristic, uncalibrated);
    ``features`` are the numbers fusion learns from (finite floats, named
    without the analyzer prefix); ``per_frame`` is (t, 0..1 suspicion) pairs.
    """

    track_id: int
    score: float
    features: dict[str, float] = field(default_factory=dict)
    per_frame: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        _check(0.0 <= self.score <= 1.0, "TrackScore", f"score must be in [0, 1], got {self.score}")
        for k, v in self.features.items():
            _check(
                isinstance(v, float) and math.isfinite(v),
                "TrackScore",
                f"feature {k!r} must be a finite float, got {v!r}",
            )


@dataclass(frozen=True)
class Heatmap:
    """Where on one face an analyzer saw its cue: a 0..1 map over the face image it looked at.

    ``image`` is the RGB face as the analyzer saw it (e.g. an aligned crop) and ``heat`` the map
    over it, same height and width, so a report can draw the overlay without knowing the analyzer.
    """

    track_id: int
    frame_index: int
    t: float
    image: NDArray[Any]  # uint8 H x W x 3
    heat: NDArray[Any]  # float32 H x W in [0, 1]
    score: float  # the analyzer's 0..1 suspicion for this face in this frame
    caption: str = ""  # plain words: what the bright areas mean

    def __post_init__(self) -> None:
        im, h = self.image, self.heat
        _check(im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] == 3, "Heatmap",
               f"image must be uint8 HxWx3, got {im.dtype} {im.shape}")
        _check(h.ndim == 2 and h.shape == im.shape[:2], "Heatmap", f"heat must be {im.shape[:2]}, got {h.shape}")
        _check(bool(np.all(np.isfinite(h))) and float(h.min(initial=0.0)) >= 0.0 and float(h.max(initial=0.0)) <= 1.0,
               "Heatmap", "heat must be finite and in [0, 1]")
        _check(0.0 <= self.score <= 1.0, "Heatmap", f"score must be in [0, 1], got {self.score}")


AnalyzerStatus = Literal["ok", "skipped", "error"]


@dataclass(frozen=True)
class AnalyzerResult:
    """What one analyzer found. ``score`` is its most suspicious track's score."""

    name: str
    version: str
    status: AnalyzerStatus
    explanation: str
    tracks: tuple[TrackScore, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    video_features: dict[str, float] = field(default_factory=dict)  # per-video features (not per track)
    reason: str | None = None  # why skipped / the error message
    heatmaps: tuple[Heatmap, ...] = ()  # the most telling frames, for reports (not in the JSON)
    #: what the analyzer checks, in one sentence (the report states it beside the findings)
    checks: str = ""
    #: plain words for each feature's base name (without ``_med``/``_p90``/``_p10``), for the verdict's drivers
    feature_words: Mapping[str, str] = field(default_factory=dict)
    #: sha256 of the trained weights the analyzer read (None: it reads none), recorded in the report
    weights_sha256: str | None = None

    @property
    def score(self) -> float | None:
        if self.status != "ok" or not self.tracks:
            return None
        return max(t.score for t in self.tracks)

    def for_track(self, track_id: int) -> TrackScore | None:
        for t in self.tracks:
            if t.track_id == track_id:
                return t
        return None

    def describe_feature(self, feature: str) -> tuple[str, str]:
        """Plain words for one feature and how it was aggregated over frames.

        ``sharp_ratio_p10`` → ("sharpness inside the face relative to ...", "at its lowest").
        """
        base, how = split_feature(feature)
        return self.feature_words.get(base, base.replace("_", " ")), how


def split_feature(feature: str) -> tuple[str, str]:
    """(base name, how it was aggregated over frames in words): ``x_p90`` → ("x", "at its highest")."""
    for sfx, how in (("_med", ""), ("_p90", "at its highest"), ("_p10", "at its lowest")):
        if feature.endswith(sfx):
            return feature[: -len(sfx)], how
    return feature, ""
