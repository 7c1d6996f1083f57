"""SQLAlchemy tables: scans (the persistent queue), their reports, enrolled people, enrolment requests.

Changing a table means a new Alembic revision in ``migrations/versions`` (the store
applies them on open); the models here must match the newest revision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


class ScanRow(Base):
    """One scan request; ``status`` is queued → running → done | failed."""

    __tablename__ = "scans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    stage: Mapped[str | None] = mapped_column(String(64))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    source_name: Mapped[str] = mapped_column(String(512))  # what the client called the file
    media_path: Mapped[str] = mapped_column(Text)  # where the server reads it
    owns_media: Mapped[bool] = mapped_column(default=False)  # an upload: deleted with the scan
    overrides: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # config overrides for this scan
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    label: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(128))  # host:pid of the process running it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claims: Mapped[str | None] = mapped_column(String(200))  # reference mode: the enrolled person it claims to show
    claims_version: Mapped[int | None] = mapped_column(Integer)  # that person's profile version, fixed when queued
    claim_conclusion: Mapped[str | None] = mapped_column(String(32))  # the report's reference.conclusion once done

    __table_args__ = (Index("ix_scans_created_at", "created_at"),)


class ReportRow(Base):
    """A finished scan's JSON report and its rendered HTML, written in the same transaction as ``done``."""

    __tablename__ = "reports"

    scan_id: Mapped[str] = mapped_column(String(32), ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True)
    report: Mapped[dict[str, Any]] = mapped_column(JSONType)
    html: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PersonRow(Base):
    """One version of one enrolled person's reference profile (reference mode)."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    profile: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    __table_args__ = (UniqueConstraint("name", "version", name="uq_people_name_version"),)


class EnrolmentRow(Base):
    """One enrolment request (reference mode): uploaded footage → a new version of a person; queued like a scan."""

    __tablename__ = "enrolments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    stage: Mapped[str | None] = mapped_column(String(64))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    name: Mapped[str] = mapped_column(String(200))  # the person to enrol
    files: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # [{name (client's), path (server's), size_bytes}]
    person_version: Mapped[int | None] = mapped_column(Integer)  # the version it made, once done
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # the profile's summary, once done
    lines: Mapped[list[Any] | None] = mapped_column(JSONType)  # what each file gave, once done
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_enrolments_created_at", "created_at"),)
