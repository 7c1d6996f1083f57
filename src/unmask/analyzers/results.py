"""Results particular to one analyzer, which the rules and the report read besides the common fields."""

from __future__ import annotations

from dataclasses import dataclass

from unmask.reference.conclusion import VoiceWords
from unmask.types import AnalyzerResult


@dataclass(frozen=True)
class LipSyncMismatch:
    """A speaking face whose mouth fails to follow the voice: the correlation, and its upper bound allowing for
    chance."""

    track_id: int
    corr: float
    upper: float


@dataclass(frozen=True)
class LipSyncResult(AnalyzerResult):
    """The lip-sync analyzer's result: besides the fusion features, the faces the lip-sync rule may fire on.

    ``mismatches`` are the speaking faces whose correlation stays below ``max_corr`` even one standard
    error up, most out of sync first; ``dev_false_positives`` says how rare that is on real clips, in words.
    """

    mismatches: tuple[LipSyncMismatch, ...] = ()
    max_corr: float = 0.0
    dev_false_positives: str = ""


@dataclass(frozen=True)
class ClaimCheck:
    """The claimed-person check's conclusion and what it was checked against (the report's ``reference``)."""

    claimed: str
    profile_version: int | None
    profile_created_at: str | None
    profile_sha256: str
    calibration_sha256: str
    conclusion: str
    statement: str
    track_id: int | None
    #: the calibration's mannerism threshold below which the foreign-mannerisms rule fires
    foreign_mannerisms: float
    #: the claimed face's voice check (None when the profile has no voice or no face was compared), which the
    #: voice rule reads
    voice: VoiceWords | None = None


@dataclass(frozen=True)
class ClaimResult(AnalyzerResult):
    """The reference analyzer's result: its per-face features plus the conclusion about the claimed person."""

    claim: ClaimCheck | None = None
