"""Enrolment requests as a persistent queue, like scans: queued → running → done | failed.

The service stores uploaded footage, queues a row here, and a worker builds the
profile. A done enrolment writes the person's new version and marks itself done
in one transaction, so a crash can neither lose a finished profile nor enrol
the same footage twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from unmask.errors import StoreError, UnknownEnrolment
from unmask.store.engine import changed
from unmask.store.models import EnrolmentRow, PersonRow
from unmask.store.people import check_name
from unmask.store.queue import QueueRepo
from unmask.store.records import SCAN_STATUSES, EnrolmentFile, EnrolmentRecord, PersonRecord, utc


def _record(row: EnrolmentRow) -> EnrolmentRecord:
    created = utc(row.created_at)
    assert created is not None
    return EnrolmentRecord(
        id=row.id, status=row.status, stage=row.stage, progress=float(row.progress or 0.0),  # type: ignore[arg-type]
        name=row.name, files=tuple(EnrolmentFile(str(f["name"]), str(f["path"]), int(f["size_bytes"]))
                                   for f in (row.files or [])),
        person_version=row.person_version, summary=dict(row.summary) if row.summary is not None else None,
        lines=tuple(str(x) for x in (row.lines or [])), error=row.error, attempts=int(row.attempts or 0),
        worker=row.worker, created_at=created, started_at=utc(row.started_at), finished_at=utc(row.finished_at),
        heartbeat_at=utc(row.heartbeat_at))


def new_enrolment_id() -> str:
    return uuid.uuid4().hex


class EnrolmentRepo(QueueRepo[EnrolmentRecord]):
    """``store.enrolments``: create, claim, progress, finish (with the person's new version), fail, list, delete."""

    Row = EnrolmentRow
    _record = staticmethod(_record)

    def create(self, name: str, files: Sequence[EnrolmentFile], enrolment_id: str | None = None) -> EnrolmentRecord:
        """Queue the enrolment of ``name`` from ``files`` (already stored by the caller)."""
        row = EnrolmentRow(id=enrolment_id or new_enrolment_id(), status="queued", stage=None, progress=0.0,
                           name=check_name(name), attempts=0, created_at=self._store.now(),
                           files=[{"name": f.name, "path": f.path, "size_bytes": int(f.size_bytes)} for f in files])
        with self._store.write() as s:
            s.add(row)
            s.flush()
            return _record(row)

    def get(self, enrolment_id: str) -> EnrolmentRecord:
        with self._store.read() as s:
            row = s.get(EnrolmentRow, enrolment_id)
            if row is None:
                raise UnknownEnrolment(enrolment_id)
            return _record(row)

    def recent(self, limit: int = 50, status: str | None = None) -> list[EnrolmentRecord]:
        """Newest first."""
        if status is not None and status not in SCAN_STATUSES:
            raise StoreError(f"unknown enrolment status {status!r}; known: {list(SCAN_STATUSES)}")
        q = select(EnrolmentRow)
        if status is not None:
            q = q.where(EnrolmentRow.status == status)
        q = q.order_by(EnrolmentRow.created_at.desc(), EnrolmentRow.id).limit(max(1, min(int(limit), 500)))
        with self._store.read() as s:
            return [_record(r) for r in s.scalars(q)]

    def delete(self, enrolment_id: str) -> EnrolmentRecord:
        """Remove the request (a running one is abandoned); returns it (the caller deletes its files)."""
        with self._store.write() as s:
            row = s.get(EnrolmentRow, enrolment_id)
            if row is None:
                raise UnknownEnrolment(enrolment_id)
            rec = _record(row)
            s.execute(delete(EnrolmentRow).where(EnrolmentRow.id == enrolment_id))
            return rec

    def finish(self, enrolment_id: str, worker: str, profile: bytes, summary: Mapping[str, Any],
               lines: Sequence[str], name: str | None = None) -> PersonRecord | None:
        """Store the profile as the person's next version and mark the enrolment done, in one transaction.

        ``name`` is the profile's own spelling (default: the request's). ``None`` when the
        enrolment is no longer this worker's (deleted meanwhile): nothing is stored then.
        """
        from unmask.store.people import person_record

        for _ in range(5):  # a concurrent enrolment of the same name took our version number: retry
            try:
                with self._store.write() as s:
                    row = s.get(EnrolmentRow, enrolment_id)
                    if row is None or row.status != "running" or row.worker != worker:
                        return None
                    who = check_name(name or row.name)
                    latest = s.scalar(select(func.max(PersonRow.version)).where(PersonRow.name == who)) or 0
                    now = self._store.now()
                    person = PersonRow(name=who, version=latest + 1, created_at=now, profile=bytes(profile),
                                       summary=dict(summary))
                    s.add(person)
                    s.flush()
                    n = changed(s.execute(update(EnrolmentRow).where(
                        EnrolmentRow.id == enrolment_id, EnrolmentRow.status == "running", EnrolmentRow.worker == worker
                    ).values(status="done", progress=1.0, stage="done", finished_at=now, heartbeat_at=now, error=None,
                             person_version=person.version, summary=dict(summary), lines=list(lines))))
                    if not n:
                        s.rollback()
                        return None
                    return person_record(person)
            except IntegrityError:
                continue
        raise StoreError(f"could not store a new version of {name!r}: too many concurrent enrolments")
