"""Scans as a persistent queue: queued → running → done | failed, claimed atomically by workers.

Every state change is one conditional UPDATE (``WHERE status = ... AND worker = ...``,
:mod:`unmask.store.queue`), so two workers never run the same scan, a worker that lost
its scan (deleted, or given up on as stale) learns it from the row count, and a
finished report is written in the same transaction that marks the scan done.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, select, update

from unmask.errors import StoreError, UnknownScan
from unmask.store.engine import changed
from unmask.store.models import ReportRow, ScanRow
from unmask.store.queue import QueueRepo
from unmask.store.records import SCAN_STATUSES, ScanPage, ScanRecord, utc


def _record(row: ScanRow) -> ScanRecord:
    created = utc(row.created_at)
    assert created is not None
    return ScanRecord(
        id=row.id, status=row.status, stage=row.stage, progress=float(row.progress or 0.0),  # type: ignore[arg-type]
        source_name=row.source_name, media_path=row.media_path, owns_media=bool(row.owns_media),
        overrides=dict(row.overrides or {}), sha256=row.sha256, size_bytes=row.size_bytes, label=row.label,
        score=row.score, error=row.error, attempts=int(row.attempts or 0), worker=row.worker, created_at=created,
        started_at=utc(row.started_at), finished_at=utc(row.finished_at), heartbeat_at=utc(row.heartbeat_at),
        claims=row.claims, claims_version=row.claims_version, claim_conclusion=row.claim_conclusion,
    )


def new_scan_id() -> str:
    return uuid.uuid4().hex


class ScanRepo(QueueRepo[ScanRecord]):
    """``store.scans``: create, claim, report progress, finish, fail, list, delete."""

    Row = ScanRow
    _record = staticmethod(_record)

    # -- requests -------------------------------------------------------------------------
    def create(self, source_name: str, media_path: str, *, owns_media: bool = False,
               overrides: Mapping[str, Any] | None = None, sha256: str | None = None,
               size_bytes: int | None = None, scan_id: str | None = None, claims: str | None = None,
               claims_version: int | None = None) -> ScanRecord:
        """Queue a scan of ``media_path`` (``owns_media``: an upload, deleted with the scan).

        ``claims``/``claims_version``: the enrolled person (and profile version) the file is
        claimed to show; the caller has checked they exist.
        """
        row = ScanRow(id=scan_id or new_scan_id(), status="queued", stage=None, progress=0.0,
                      source_name=source_name[:512], media_path=str(media_path), owns_media=owns_media,
                      overrides=dict(overrides or {}), sha256=sha256, size_bytes=size_bytes, attempts=0,
                      created_at=self._store.now(), claims=claims, claims_version=claims_version)
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

    def page(self, limit: int = 50, offset: int = 0, status: str | None = None) -> ScanPage:
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

    # -- workers (claim, progress, fail, recover, requeue: QueueRepo) ---------------------
    def finish(self, scan_id: str, worker: str, report: Mapping[str, Any], html: bytes | None) -> bool:
        """Mark done and store the report and its HTML in one transaction. ``False`` if the scan was lost."""
        verdict = report.get("verdict", {}) if isinstance(report, Mapping) else {}
        with self._store.write() as s:
            now = self._store.now()
            n = changed(s.execute(update(ScanRow).where(ScanRow.id == scan_id, ScanRow.status == "running",
                                                ScanRow.worker == worker)
                          .values(status="done", progress=1.0, stage="done", finished_at=now, heartbeat_at=now,
                                  label=verdict.get("label"), score=verdict.get("score"), error=None,
                                  sha256=(report.get("input") or {}).get("sha256"),
                                  claim_conclusion=(report.get("reference") or {}).get("conclusion"))))
            if not n:
                return False
            s.add(ReportRow(scan_id=scan_id, report=dict(report), html=html, created_at=now))
        return True
