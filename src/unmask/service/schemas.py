"""The API's request and response models (they document the API at /docs), and the records → models mapping."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from unmask.store import EnrolmentRecord, PersonRecord, ScanRecord


class ScanLinks(BaseModel):
    self: str
    report_html: str
    page: str


class ClaimOut(BaseModel):
    name: str = Field(description="the enrolled person the file is claimed to show")
    version: int = Field(description="the profile version it is checked against (the newest when the scan was "
                                     "queued, unless asked)")
    conclusion: str | None = Field(None, description="once done, the reference check's conclusion: consistent, "
                                                     "impersonator, "
                                                     "voice_mismatch, mannerisms_unclear, mannerisms_not_checked, "
                                                     "not_this_person, cannot_assess")


class ScanOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    stage: str | None = Field(description="what the scan is doing now, e.g. faces, blinks")
    progress: float = Field(description="0..1")
    source_name: str = Field(description="the file's name as uploaded, or the server-side path")
    size_bytes: int | None
    sha256: str | None
    label: str | None = Field(description="the verdict once done: likely_real, inconclusive, likely_fake, no_face, "
                                          "cannot_assess, declared_synthetic")
    score: float | None
    error: str | None = Field(description="why the scan failed, one line")
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    claims: ClaimOut | None = Field(None, description="reference mode: who the file is claimed to show "
                                                      "(docs/report-schema.md, reference)")
    links: ScanLinks


class ScanDetail(ScanOut):
    report: dict[str, Any] | None = Field(None, description="the JSON report (docs/report-schema.md) once done")


class ScanPageOut(BaseModel):
    items: list[ScanOut]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class PathRequest(BaseModel):
    path: str = Field(description="absolute path of a file on the server, inside a directory the operator allowed")
    settings: dict[str, Any] = Field(default_factory=dict, description='scan settings, e.g. {"sampling.fps": 4}')
    claims: str | None = Field(None, description="an enrolled person the file is claimed to show (adds the reference "
                                                 "check)")
    claims_version: int | None = Field(None, description="that person's profile version (default: the newest)")


class PersonOut(BaseModel):
    name: str
    version: int
    created_at: datetime
    summary: dict[str, Any]
    profile_bytes: int


class EnrolledPerson(BaseModel):
    name: str
    version: int
    summary: dict[str, Any]


class EnrolmentFileOut(BaseModel):
    name: str = Field(description="the file's name as uploaded")
    size_bytes: int


class EnrolmentLinks(BaseModel):
    self: str
    person: str


class EnrolmentOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    stage: str | None = Field(description="what the enrolment is doing now, e.g. reading speech1.mp4")
    progress: float = Field(description="0..1")
    name: str = Field(description="the person being enrolled")
    files: list[EnrolmentFileOut]
    error: str | None = Field(description="why the enrolment failed, one line (e.g. too little usable footage)")
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    person: EnrolledPerson | None = Field(description="once done: the new version and its summary")
    lines: list[str] = Field(description="once done: what each file gave (seconds of face, face images, mannerism "
                                         "windows, seconds of speech; then the voice)")
    links: EnrolmentLinks


class Health(BaseModel):
    status: str
    version: str
    workers_alive: int
    queued: int
    running: int


def scan_out(rec: ScanRecord, cls: type[ScanOut] = ScanOut, **extra: Any) -> Any:
    return cls(
        id=rec.id, status=rec.status, stage=rec.stage, progress=round(rec.progress, 4), source_name=rec.source_name,
        size_bytes=rec.size_bytes, sha256=rec.sha256, label=rec.label, score=rec.score, error=rec.error,
        attempts=rec.attempts, created_at=rec.created_at, started_at=rec.started_at, finished_at=rec.finished_at,
        claims=ClaimOut(name=rec.claims, version=rec.claims_version or 0, conclusion=rec.claim_conclusion)
        if rec.claims else None,
        links=ScanLinks(self=f"/v1/scans/{rec.id}", report_html=f"/v1/scans/{rec.id}/report.html",
                        page=f"/scans/{rec.id}"),
        **extra)


def enrolment_out(rec: EnrolmentRecord) -> EnrolmentOut:
    person = (EnrolledPerson(name=rec.name, version=rec.person_version, summary=rec.summary or {})
              if rec.status == "done" and rec.person_version is not None else None)
    return EnrolmentOut(
        id=rec.id, status=rec.status, stage=rec.stage, progress=round(rec.progress, 4), name=rec.name,
        files=[EnrolmentFileOut(name=f.name, size_bytes=f.size_bytes) for f in rec.files], error=rec.error,
        attempts=rec.attempts, created_at=rec.created_at, started_at=rec.started_at, finished_at=rec.finished_at,
        person=person, lines=list(rec.lines),
        links=EnrolmentLinks(self=f"/v1/enrolments/{rec.id}", person=f"/v1/people/{quote(rec.name, safe='')}"))


def person_out(p: PersonRecord) -> PersonOut:
    return PersonOut(name=p.name, version=p.version, created_at=p.created_at, summary=p.summary,
                     profile_bytes=len(p.profile))
