"""The report as typed, frozen values: built once by :func:`unmask.report.build.build_report`, read by every
renderer (text, HTML), the benchmark and the service, and turned into JSON only at the edge.

Every class declares its fields in the order the JSON document (docs/report-schema.md, ``schema.json``
version 1.4) lists its keys, so ``Report.from_json(s).to_json() == s`` for any report this version wrote.
Fields that older schema versions lacked have defaults, so older saved reports still load.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from unmask.report.attachments import Attachment
from unmask.report.codec import NOT_IN_JSON, from_dict, to_dict
from unmask.report.section import AnalyzerSection, Finding, TrackSection
from unmask.types import Label

__all__ = ["AnalyzerSection", "Driver", "Finding", "InputFacts", "ModelFacts", "PersonEntry", "Reference", "Report",
           "ReportVerdict", "RuleRecord", "Sampling", "Thresholds", "TimelinePoint", "TrackSection", "FaceEntry"]


@dataclass(frozen=True)
class InputFacts:
    """What the container said about the scanned file."""

    path: str
    sha256: str
    size_bytes: int
    container: str
    kind: str
    video_codec: str | None
    duration_s: float | None
    fps: float | None
    width: int
    height: int
    rotation: int = 0
    has_audio: bool = False
    audio_codec: str | None = None


@dataclass(frozen=True)
class Thresholds:
    likely_real: float
    likely_fake: float


@dataclass(frozen=True)
class Driver:
    """A fusion input that moved the score, in plain words."""

    analyzer: str
    feature: str
    value: float | None
    typical_real: float | None
    contribution: float | None
    detail: str


@dataclass(frozen=True)
class RuleRecord:
    """A combination rule that fired (:class:`unmask.rules.RuleHit` as the report states it)."""

    rule: str
    analyzer: str
    track_id: int | None
    from_label: Label
    to_label: Label
    detail: str


@dataclass(frozen=True)
class ReportVerdict:
    """The verdict: label, calibrated score, thresholds, the face it rests on and why, in words."""

    label: Label
    score: float | None
    thresholds: Thresholds
    track_id: int | None
    person_id: int | None = None
    summary: str = ""
    drivers: tuple[Driver, ...] = ()
    reasons: tuple[str, ...] = ()
    contributions: Mapping[str, float | None] = field(default_factory=dict)
    fusion_label: Label | None = None
    rules: tuple[RuleRecord, ...] = ()

    @property
    def label_before_rules(self) -> Label:
        """The fusion's own label, before any rule (reports before schema 1.3 did not record it)."""
        return self.fusion_label or self.label


@dataclass(frozen=True)
class IdentityCheck:
    score: float | None
    distance: float | None
    embeddings: int


@dataclass(frozen=True)
class MannerismCheck:
    checked: bool
    score: float | None
    llr: float | None
    windows: int


@dataclass(frozen=True)
class VoiceCheck:
    """The voice part of the claimed-person check (``checked`` false with ``skipped_because`` when not compared)."""

    checked: bool
    skipped_because: str | None
    score: float | None
    similarity: float | None
    own_range: tuple[float | None, float | None] | None
    others_below: float | None
    segments: int
    speech_s: float
    speakers: int


@dataclass(frozen=True)
class Reference:
    """The claimed-person check's conclusion, in plain words and numbers."""

    claimed: str
    profile_version: int | None
    profile_created_at: str | None
    profile_sha256: str
    calibration_sha256: str
    conclusion: str
    statement: str
    track_id: int | None
    identity: IdentityCheck
    mannerisms: MannerismCheck
    voice: VoiceCheck | None = None  # absent before schema 1.4


@dataclass(frozen=True)
class FaceEntry:
    """One face track: when it was seen, whether it could be judged, and its scores."""

    id: int
    person_id: int | None
    t_start: float | None
    t_end: float | None
    frame_start: int
    frame_end: int
    n_observations: int
    median_size_px: float | None
    assessable: bool
    gate_reason: str | None
    score: float | None
    analyzer_scores: Mapping[str, float | None] = field(default_factory=dict)
    contributions: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Span:
    track_id: int
    t_start: float | None
    t_end: float | None
    n_observations: int


@dataclass(frozen=True)
class PersonEntry:
    """One person: the linked tracks that show them, with their scores pooled (``fusion.pooled_score``)."""

    id: int
    track_ids: tuple[int, ...]
    spans: tuple[Span, ...]
    n_observations: int
    seen_s: float | None
    assessable: bool
    score: float | None


@dataclass(frozen=True)
class TimelinePoint:
    t: float | None
    score: float | None


@dataclass(frozen=True)
class Sampling:
    """How much was decoded and examined."""

    frames_decoded: int
    frames_analyzed: int
    segments: int
    warnings: tuple[str, ...] = ()
    planned_s: float | None = None
    decoded_s: float | None = None
    damaged: bool = False
    examined_s: float | None = None
    coverage: float | None = None


@dataclass(frozen=True)
class ModelFacts:
    """Which fusion model and which trained weights made the report."""

    fusion_version: str
    fusion_sha256: str
    weights: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """A finished scan.

    ``attachments`` are the pictures the HTML report shows (face thumbnails, suspicious moments,
    heatmap overlays), small JPEGs kept beside the JSON, never inside it. ``provenance`` is
    :meth:`unmask.provenance.Provenance.to_dict`, kept in the provenance module's own words.
    """

    schema_version: str
    unmask_version: str
    input: InputFacts
    verdict: ReportVerdict
    reference: Reference | None
    provenance: Mapping[str, Any] | None
    evidence: tuple[Finding, ...]
    faces: tuple[FaceEntry, ...]
    persons: tuple[PersonEntry, ...]
    analyzers: tuple[AnalyzerSection, ...]
    timeline: tuple[TimelinePoint, ...]
    sampling: Sampling
    model: ModelFacts
    config_digest: str
    timings: Mapping[str, float | None] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = field(default=(), compare=False, repr=False, metadata={NOT_IN_JSON: True})

    @property
    def label(self) -> Label:
        return self.verdict.label

    @property
    def score(self) -> float | None:
        return self.verdict.score

    @property
    def summary(self) -> str:
        return self.verdict.summary

    def analyzer(self, name: str) -> AnalyzerSection | None:
        return next((a for a in self.analyzers if a.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (a fresh copy each call)."""
        out: dict[str, Any] = to_dict(self)
        return out

    @cached_property
    def data(self) -> Mapping[str, Any]:
        """The JSON document, built once; for callers that hand the document on as it is (read-only)."""
        return self.to_dict()

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], attachments: tuple[Attachment, ...] = ()) -> Report:
        """The report a JSON document describes (any schema version this package wrote)."""
        report = from_dict(cls, data)
        return report if not attachments else _with_attachments(report, attachments)

    @classmethod
    def from_json(cls, text: str | bytes) -> Report:
        return cls.from_dict(json.loads(text))


def _with_attachments(report: Report, attachments: tuple[Attachment, ...]) -> Report:
    from dataclasses import replace

    return replace(report, attachments=attachments)
