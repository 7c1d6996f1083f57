"""One validated configuration object, built once at the edge.

Precedence: defaults < a TOML/JSON file < ``UNMASK_*`` environment variables < explicit overrides
(CLI flags, HTTP fields). Keys are dotted: ``sampling.fps``, ``faces.min_confidence``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from unmask.errors import ConfigError


@dataclass(frozen=True)
class SamplingConfig:
    """Which frames get analysed. Chosen for accuracy per CPU second (see docs/architecture.md)."""

    fps: float = 8.0  # analysed frames per second of video, at most
    max_frames: int = 160  # analysed frames per video, at most (time budget)
    max_side: int = 1280  # longer side of analysed frames; bigger frames are downscaled
    full_decode_max_s: float = 40.0  # longer videos are read as evenly spaced bursts
    burst_s: float = 2.5  # length of each burst for long videos
    max_pixels: int = 7680 * 4320  # refuse frames larger than 8K UHD
    # Long videos only (over full_decode_max_s): bursts spread over the whole duration.
    burst_every_s: float = 10.0  # at least one burst starts every this many seconds (minimum density)...
    max_bursts: int = 120  # ...up to this many bursts (keeps a one-hour file bounded in time)
    long_max_frames: int = 960  # analysed frames of a long video, at most (or max_frames if more; crops are kept)
    probe_frames: int = 2  # a burst whose first this many analysed frames show no face is cut short

    def validate(self) -> None:
        _positive(self, "fps", "max_frames", "max_side", "full_decode_max_s", "burst_s", "max_pixels",
                  "burst_every_s", "max_bursts", "long_max_frames", "probe_frames")
        if self.max_frames < 1:
            raise ConfigError("sampling.max_frames must be at least 1")


@dataclass(frozen=True)
class FaceConfig:
    min_confidence: float = 0.5  # mediapipe full-range detector threshold
    min_face_px: int = 24  # smaller detections are ignored entirely
    max_faces: int = 4  # faces meshed per frame (largest first)
    crop_size: int = 256  # side of the aligned square face crop kept per observation
    crop_margin: float = 0.45  # crop covers the box enlarged by this fraction on each side
    track_iou: float = 0.3  # minimum IoU to link a detection to a track
    track_max_gap_s: float = 1.0  # a track ends after this long unseen
    # Linking tracks into persons (across gaps, bursts and cuts); it changes naming, never scores.
    link_max_distance: float = 0.6  # mean dlib embeddings closer than this are one person (dlib's convention)
    link_embeddings: int = 3  # embeddings per track for linking (more when few tracks: shared with temporal)
    link_max_embeddings: int = 240  # per video (about 80 ms each); tracks beyond it link by geometry only

    def validate(self) -> None:
        if not 0.0 < self.min_confidence < 1.0:
            raise ConfigError("faces.min_confidence must be in (0, 1)")
        if not 0.0 < self.track_iou < 1.0:
            raise ConfigError("faces.track_iou must be in (0, 1)")
        _positive(self, "min_face_px", "max_faces", "crop_size", "track_max_gap_s", "link_max_distance")
        if self.link_embeddings < 0 or self.link_max_embeddings < 0:
            raise ConfigError("faces.link_embeddings and faces.link_max_embeddings must be >= 0")


@dataclass(frozen=True)
class GateConfig:
    """When the input cannot support a judgement, say so instead of guessing."""

    min_face_px: float = 64.0  # median face size a track needs to be assessed
    min_track_frames: int = 6  # sampled frames a video track needs to be assessed
    min_track_s: float = 1.0  # seconds a video track needs to be assessed

    def validate(self) -> None:
        _positive(self, "min_face_px", "min_track_frames")


#: every analyzer, by name: the one list (``unmask.analyzers.registry`` builds analyzer NAME from module
#: ``unmask.analyzers.NAME``). The reference check is not listed: a claim adds it (--claims).
ALL_ANALYZERS = ("blend_boundary", "head_pose", "temporal", "glitches", "blinks", "blend_cnn", "av_sync", "animation")
#: run by default (blend_cnn: the learned swap detector, whose weights ship in unmask/models).
#: av_sync's features are not read by the shipped fusion; it reaches the verdict only through the explicit
#: lip-sync rule (unmask.rules). The reference check is added by a claim (--claims), not by this list.
DEFAULT_ANALYZERS = ALL_ANALYZERS
IDENTITY_FRAMES = 6  # default dlib embeddings per track


@dataclass(frozen=True)
class ScanConfig:
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    faces: FaceConfig = field(default_factory=FaceConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    analyzers: tuple[str, ...] = DEFAULT_ANALYZERS
    identity_frames: int = IDENTITY_FRAMES  # dlib embeddings per track (they cost ~80 ms each)

    def validate(self) -> ScanConfig:
        self.sampling.validate()
        self.faces.validate()
        self.gate.validate()
        unknown = sorted(set(self.analyzers) - set(ALL_ANALYZERS))
        if unknown:
            raise ConfigError(f"unknown analyzers {unknown}; known: {list(ALL_ANALYZERS)}")
        if self.identity_frames < 0:
            raise ConfigError("identity_frames must be >= 0")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["analyzers"] = list(self.analyzers)
        return d

    def digest(self) -> str:
        """sha256 of the canonical JSON of every setting: same digest, same analysis."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> ScanConfig:
        """Build and validate the config from a file, ``UNMASK_*`` variables and overrides."""
        values: dict[str, Any] = {}
        if path is not None:
            values.update(_flatten(_read_file(Path(path))))
        env = os.environ if env is None else env
        for key, raw in env.items():
            if key.startswith("UNMASK_") and key not in _NOT_CONFIG_ENV:
                dotted = key[len("UNMASK_"):].lower().replace("__", ".")
                values[dotted] = raw
        if overrides:
            values.update(_flatten(dict(overrides)))
        return cls.from_flat(values)

    def with_overrides(self, overrides: Mapping[str, Any]) -> ScanConfig:
        """This configuration with dotted overrides (``{"sampling.fps": 4}``) on top, validated (``ConfigError``)."""
        if not overrides:
            return self
        flat = _flatten(self.to_dict())
        flat.update(overrides)
        return ScanConfig.from_flat(flat)

    @classmethod
    def from_dict(cls, nested: Mapping[str, Any]) -> ScanConfig:
        """From the nested form ``to_dict`` returns (or a parsed settings file)."""
        return cls.from_flat(_flatten(nested))

    @classmethod
    def from_flat(cls, values: Mapping[str, Any]) -> ScanConfig:
        sections: dict[str, dict[str, Any]] = {"sampling": {}, "faces": {}, "gate": {}}
        top: dict[str, Any] = {}
        for key, raw in values.items():
            parts = key.split(".")
            if len(parts) == 2 and parts[0] in sections:
                sections[parts[0]][parts[1]] = raw
            elif len(parts) == 1:
                top[parts[0]] = raw
            else:
                raise ConfigError(f"unknown setting {key!r}")
        kwargs: dict[str, Any] = {}
        for name, sub_cls in (("sampling", SamplingConfig), ("faces", FaceConfig), ("gate", GateConfig)):
            kwargs[name] = sub_cls(**_coerce(sub_cls, sections[name], prefix=name + "."))
        kwargs.update(_coerce(cls, top, prefix=""))
        return cls(**kwargs).validate()


_NOT_CONFIG_ENV = {"UNMASK_DATABASE_URL", "UNMASK_API_TOKENS", "UNMASK_DATA_DIR", "UNMASK_TEST_PG_URL"}


def _positive(obj: Any, *names: str) -> None:
    for n in names:
        if not getattr(obj, n) > 0:
            raise ConfigError(f"{type(obj).__name__}.{n} must be positive, got {getattr(obj, n)!r}")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config ({e.strerror})") from None
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'} ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: config must be a table/object")
    return data


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _coerce(cls: type, raw: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    known = {f.name: f for f in fields(cls) if f.name not in ("sampling", "faces", "gate")}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"unknown setting {prefix}{key!r}; known: {sorted(prefix + k for k in known)}")
        default = getattr(cls(), key) if prefix == "" else known[key].default
        try:
            if isinstance(default, bool):
                out[key] = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int):
                out[key] = int(value)
            elif isinstance(default, float):
                out[key] = float(value)
            elif isinstance(default, tuple):
                items = value.split(",") if isinstance(value, str) else list(value)
                out[key] = tuple(str(i).strip() for i in items if str(i).strip())
            else:
                out[key] = value
        except (TypeError, ValueError):
            raise ConfigError(f"setting {prefix}{key} must be {type(default).__name__}, got {value!r}") from None
    return out
