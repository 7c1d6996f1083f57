"""Scans as a persistent queue: queued → running → done | failed, claimed atomically by workers.

Every state change is one conditional UPDATE (``WHERE status = ... AND worker = ...``),
so two workers never run the same scan, a worker that lost its scan (deleted, or
given up on as stale) learns it from the row count, and a finished report is
written in the same transaction that marks the scan done.
"""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable, Mapping

from sqlalchemy import delete, func, select, update

from unmask.errors import StoreError, UnknownScan
from unmask.store.models import ReportRow, ScanRow
from unmask.store.records import SCAN_STATUSES, ScanPage, ScanRecord, utc

if TYPE_CHECKING:
    from unmask.store import Store

MAX_ERROR = 2000


def _record(row: ScanRow) -> ScanRecord:
    created = utc(row.created_at)
    assert created is not None
    return ScanRecord(
        id=row.id, status=row.status, stage=row.stage, progress=float(row.progress or 0.0),  # type: ignore[arg-type]
        source_name=row.source_name, media_path=row.media_path, owns_media=bool(row.owns_media),
        overrides=dict(row.overrides or {}), sha256=row.sha256, size_bytes=row.size_bytes, label=row.label,
        score=row.score, error=row.error, attempts=int(row.attempts or 0), worker=row.worker, created_at=created,
        started_at=utc(row.started_at), finished_at=utc(row.finished_at), heartbeat_at=utc(row.heartbeat_at),
    )


def new_scan_id() -> str:
    return uuid.uuid4().hex


class ScanRepo:
    """``store.scans``: create, claim, report progress, finish, fail, list, delete."""

    def __init__(self, store: "Store") -> None:
        self._store = store

    # -- requests -------------------------------------------------------------------------
    def create(self, source_name: str, media_path: str, *, owns_media: bool = False,
               overrides: Mapping[str, Any] | None = None, sha256: str | None = None,
               size_bytes: int | None = None, scan_id: str | None = None) -> ScanRecord:
        """Queue a scan of ``media_path`` (``owns_media``: an upload, deleted with the scan)."""
        row = ScanRow(id=scan_id or new_scan_id(), status="queued", stage=None, progress=0.0,
                      source_name=source_name[:512], media_path=str(media_path), owns_media=owns_media,
                      overrides=dict(overrides or {}), sha256=sha256, size_bytes=size_bytes, attempts=0,
                      created_at=self._store.now())
        with self._store.write() as s:
            s.add(row)
            s.flush()
            return _record(row)

    def get(self, scan_id: str) -> ScanRecord:
        with self._store.read() as s:
            row = s.get(ScanRow, scan_id)
            if row is None:
                raise UnknownScan(scan_id)
            return _record(row)

    def list(self, limit: int = 50, offset: int = 0, status: str | None = None) -> ScanPage:
        """Newest first."""
        if status is not None and status not in SCAN_STATUSES:
            raise StoreError(f"unknown scan status {status!r}; known: {list(SCAN_STATUSES)}")
        limit = max(1, min(int(limit), 500))
        offset = max(0, int(offset))
        q = select(ScanRow)
        n = select(func.count()).select_from(ScanRow)
        if status is not None:
            q, n = q.where(ScanRow.status == status), n.where(ScanRow.status == status)
        with self._store.read() as s:
            total = int(s.scalar(n) or 0)
            rows = s.scalars(q.order_by(ScanRow.created_at.desc(), ScanRow.id).limit(limit).offset(offset)).all()
            return ScanPage(tuple(_record(r) for r in rows), total, limit, offset)

    def count(self, status: str) -> int:
        with self._store.read() as s:
            return int(s.scalar(select(func.count()).select_from(ScanRow).where(ScanRow.status == status)) or 0)

    def report(self, scan_id: str) -> dict[str, Any] | None:
        """The finished JSON report, or ``None`` while the scan is not done."""
        with self._store.read() as s:
            if s.get(ScanRow, scan_id) is None:
                raise UnknownScan(scan_id)
            row = s.get(ReportRow, scan_id)
            return None if row is None else dict(row.report)

    def report_html(self, scan_id: str) -> bytes | None:
        with self._store.read() as s:
            if s.get(ScanRow, scan_id) is None:
                raise UnknownScan(scan_id)
            html = s.scalar(select(ReportRow.html).where(ReportRow.scan_id == scan_id))
            return None if html is None else bytes(html)

    def delete(self, scan_id: str) -> ScanRecord:
        """Remove a scan and its report; returns what was removed (the caller deletes an owned upload)."""
        with self._store.write() as s:
            row = s.get(ScanRow, scan_id)
            if row is None:
                raise UnknownScan(scan_id)
            rec = _record(row)
            s.execute(delete(ReportRow).where(ReportRow.scan_id == scan_id))
            s.execute(delete(ScanRow).where(ScanRow.id == scan_id))
            return rec

    # -- workers --------------------------------------------------------------------------
    def claim(self, worker: str) -> ScanRecord | None:
        """Take the oldest queued scan for ``worker`` (``host:pid``), or ``None`` when the queue is empty."""
        for _ in range(5):
            with self._store.write() as s:
                scan_id = s.scalar(select(ScanRow.id).where(ScanRow.status == "queued")
                                   .order_by(ScanRow.created_at, ScanRow.id).limit(1))
                if scan_id is None:
                    return None
                now = self._store.now()
                n = s.execute(update(ScanRow).where(ScanRow.id == scan_id, ScanRow.status == "queued").values(
                    status="running", worker=worker, started_at=now, heartbeat_at=now, progress=0.0,
                    stage="starting", attempts=ScanRow.attempts + 1)).rowcount
                if n:
                    row = s.get(ScanRow, scan_id, populate_existing=True)
                    assert row is not None
                    return _record(row)
        return None  # lost every race; the caller polls again

    def progress(self, scan_id: str, worker: str, fraction: float, stage: str) -> bool:
        """Record progress (also a heartbeat). ``False``: the scan is no longer this worker's (deleted, or recovered)."""
        with self._store.write() as s:
            n = s.execute(update(ScanRow).where(ScanRow.id == scan_id, ScanRow.status == "running",
                                                ScanRow.worker == worker)
                          .values(progress=max(0.0, min(1.0, float(fraction))), stage=stage[:64],
                                  heartbeat_at=self._store.now())).rowcount
        return bool(n)

    def finish(self, scan_id: str, worker: str, report: Mapping[str, Any], html: bytes | None) -> bool:
        """Mark done and store the report and its HTML in one transaction. ``False`` if the scan was lost."""
        verdict = report.get("verdict", {}) if isinstance(report, Mapping) else {}
        with self._store.write() as s:
            now = self._store.now()
            n = s.execute(update(ScanRow).where(ScanRow.id == scan_id, ScanRow.status == "running",
                                                ScanRow.worker == worker)
                          .values(status="done", progress=1.0, stage="done", finished_at=now, heartbeat_at=now,
                                  label=verdict.get("label"), score=verdict.get("score"), error=None,
                                  sha256=(report.get("input") or {}).get("sha256"))).rowcount
            if not n:
                return False
            s.add(ReportRow(scan_id=scan_id, report=dict(report), html=html, created_at=now))
        return True

    def fail(self, scan_id: str, reason: str, worker: str | None = None) -> bool:
        """Mark failed with a one-line reason (only if still running by ``worker``, when given)."""
        q = update(ScanRow).where(ScanRow.id == scan_id, ScanRow.status.in_(("queued", "running")))
        if worker is not None:
            q = q.where(ScanRow.worker == worker)
        with self._store.write() as s:
            n = s.execute(q.values(status="failed", error=reason[:MAX_ERROR], finished_at=self._store.now(),
                                   stage="failed")).rowcount
        return bool(n)

    def recover(self, worker_dead: Callable[[str], bool], stale_after_s: float, max_attempts: int,
                why: str = "the server stopped while scanning this file") -> list[ScanRecord]:
        """Scans left ``running`` by a process that died: re-queue them, or fail them after ``max_attempts``.

        A scan counts as abandoned when ``worker_dead(worker)`` says so (a process on this host that
        no longer exists) or its heartbeat is older than ``stale_after_s`` (any host). Returns the
        scans as they are now.
        """
        finite = math.isfinite(stale_after_s)
        cutoff = self._store.now() - timedelta(seconds=stale_after_s if finite else 0)
        out: list[ScanRecord] = []
        with self._store.write() as s:
            rows = s.scalars(select(ScanRow).where(ScanRow.status == "running")).all()
            for row in rows:
                beat = utc(row.heartbeat_at) or utc(row.started_at)
                stale = finite and (beat is None or beat < cutoff)
                if not (stale or worker_dead(row.worker or "")):
                    continue
                if row.attempts >= max_attempts:
                    vals: dict[str, Any] = dict(
                        status="failed", stage="failed", finished_at=self._store.now(),
                        error=(f"interrupted {row.attempts} time{'s' if row.attempts != 1 else ''}: {why}; "
                               "not retried again"))
                else:
                    vals = dict(status="queued", stage="requeued after an interrupted attempt", worker=None,
                                progress=0.0, heartbeat_at=None)
                s.execute(update(ScanRow).where(ScanRow.id == row.id, ScanRow.status == "running",
                                                ScanRow.worker == row.worker).values(**vals))
                s.flush()
                fresh = s.get(ScanRow, row.id, populate_existing=True)
                if fresh is not None:
                    out.append(_record(fresh))
        return out

    def requeue(self, scan_id: str, worker: str) -> bool:
        """Put a running scan back in the queue without counting the attempt (the server is stopping, not the file's fault)."""
        with self._store.write() as s:
            n = s.execute(update(ScanRow).where(ScanRow.id == scan_id, ScanRow.status == "running", ScanRow.worker == worker)
                          .values(status="queued", stage="requeued: the server stopped", worker=None, progress=0.0,
                                  heartbeat_at=None, attempts=func.max(ScanRow.attempts - 1, 0)
                                  if self._store.is_sqlite else func.greatest(ScanRow.attempts - 1, 0))).rowcount
        return bool(n)

    def has_queued(self) -> bool:
        """A cheap read, so idle workers poll without taking the write lock."""
        with self._store.read() as s:
            return s.scalar(select(ScanRow.id).where(ScanRow.status == "queued").limit(1)) is not None

    def running(self) -> list[ScanRecord]:
        with self._store.read() as s:
            return [_record(r) for r in s.scalars(select(ScanRow).where(ScanRow.status == "running"))]


