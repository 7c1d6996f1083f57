"""One analyzer's part of a report, and the findings it lists (``analyzers[]`` and ``evidence[]`` in the JSON).

Fields are declared in the order the JSON lists its keys (:mod:`unmask.report.codec`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from unmask.types import AnalyzerStatus


@dataclass(frozen=True)
class Finding:
    """One piece of evidence as the report states it, with the face named as its person."""

    analyzer: str
    cue: str
    detail: str
    strength: float | None
    t_start: float | None
    t_end: float | None
    track_id: int | None = None
    frame_start: int | None = None
    frame_end: int | None = None
    person_id: int | None = None


@dataclass(frozen=True)
class TrackSection:
    """An analyzer's score and fusion features for one face track (features rounded, None where not finite)."""

    track_id: int
    score: float | None
    features: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class AnalyzerSection:
    """What one analyzer checked and found, as the report records it."""

    name: str
    version: str
    checks: str
    status: AnalyzerStatus
    score: float | None
    reason: str | None
    explanation: str
    evidence: tuple[Finding, ...] = ()
    tracks: tuple[TrackSection, ...] = ()
    video_features: Mapping[str, float | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def track(self, track_id: int) -> TrackSection | None:
        return next((t for t in self.tracks if t.track_id == track_id), None)
