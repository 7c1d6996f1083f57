"""Typed, immutable views of store rows, handed out by the repositories (never live ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

ScanStatus = Literal["queued", "running", "done", "failed"]
SCAN_STATUSES: tuple[ScanStatus, ...] = ("queued", "running", "done", "failed")


def utc(dt: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written in UTC."""
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


@dataclass(frozen=True)
class PersonRecord:
    """One version of an enrolled person. ``profile`` is the reference analyzer's own serialisation."""

    name: str
    version: int
    created_at: datetime
    profile: bytes
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScanRecord:
    """A scan request and where it stands. The report itself comes from ``ScanRepo.report``."""

    id: str
    status: ScanStatus
    stage: str | None
    progress: float
    source_name: str
    media_path: str
    owns_media: bool
    overrides: dict[str, Any]
    sha256: str | None
    size_bytes: int | None
    label: str | None
    score: float | None
    error: str | None
    attempts: int
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    claims: str | None = None  # reference mode: the enrolled person the file is claimed to show
    claims_version: int | None = None  # the profile version it is checked against (fixed when queued)
    claim_conclusion: str | None = None  # the report's reference.conclusion, once done

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


@dataclass(frozen=True)
class EnrolmentFile:
    """One uploaded file of an enrolment: the client's name (for display and the profile), the server's path."""

    name: str
    path: str
    size_bytes: int


@dataclass(frozen=True)
class EnrolmentRecord:
    """An enrolment request and where it stands; once done, the person version it made."""

    id: str
    status: ScanStatus
    stage: str | None
    progress: float
    name: str
    files: tuple[EnrolmentFile, ...]
    person_version: int | None
    summary: dict[str, Any] | None
    lines: tuple[str, ...]
    error: str | None
    attempts: int
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


@dataclass(frozen=True)
class ScanPage:
    """One page of :meth:`ScanRepo.list`, newest first."""

    items: tuple[ScanRecord, ...]
    total: int
    limit: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        nxt = self.offset + len(self.items)
        return nxt if nxt < self.total else None
