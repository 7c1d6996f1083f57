"""The state machine shared by the store's two work queues (scans, enrolments).

queued → running → done | failed. Every change is one conditional UPDATE on
``(id, status, worker)``, so two workers never hold the same row, and a worker
whose row was deleted or taken back learns it from the row count at its next
progress write. A repository names its table (``Row``) and how a row becomes a
record (``_record``); the claiming, progress, failing and recovery are here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from sqlalchemy import func, select, update

from unmask.store.engine import changed
from unmask.store.records import utc

if TYPE_CHECKING:
    from unmask.store import Store

MAX_ERROR = 2000
R = TypeVar("R")


class QueueRepo(Generic[R]):
    """Claim, progress, fail, recover and requeue for one table of queued work."""

    Row: ClassVar[Any]

    def __init__(self, store: Store) -> None:
        self._store = store

    @staticmethod
    def _record(row: Any) -> R:
        raise NotImplementedError

    def count(self, status: str) -> int:
        Row = self.Row
        with self._store.read() as s:
            return int(s.scalar(select(func.count()).select_from(Row).where(Row.status == status)) or 0)

    def claim(self, worker: str) -> R | None:
        """Take the oldest queued row for ``worker`` (``host:pid:...``), or ``None`` when the queue is empty."""
        Row = self.Row
        for _ in range(5):
            with self._store.write() as s:
                row_id = s.scalar(select(Row.id).where(Row.status == "queued")
                                  .order_by(Row.created_at, Row.id).limit(1))
                if row_id is None:
                    return None
                now = self._store.now()
                n = changed(s.execute(update(Row).where(Row.id == row_id, Row.status == "queued").values(
                    status="running", worker=worker, started_at=now, heartbeat_at=now, progress=0.0,
                    stage="starting", attempts=Row.attempts + 1)))
                if n:
                    row = s.get(Row, row_id, populate_existing=True)
                    assert row is not None
                    return self._record(row)
        return None  # lost every race; the caller polls again

    def progress(self, row_id: str, worker: str, fraction: float, stage: str) -> bool:
        """Record progress (also a heartbeat). ``False``: the row is no longer this worker's (deleted, or recovered)."""
        Row = self.Row
        with self._store.write() as s:
            n = changed(s.execute(update(Row).where(Row.id == row_id, Row.status == "running", Row.worker == worker)
                          .values(progress=max(0.0, min(1.0, float(fraction))), stage=stage[:64],
                                  heartbeat_at=self._store.now())))
        return bool(n)

    def fail(self, row_id: str, reason: str, worker: str | None = None) -> bool:
        """Mark failed with a one-line reason (only if still running by ``worker``, when given)."""
        Row = self.Row
        q = update(Row).where(Row.id == row_id, Row.status.in_(("queued", "running")))
        if worker is not None:
            q = q.where(Row.worker == worker)
        with self._store.write() as s:
            n = changed(s.execute(q.values(status="failed", error=reason[:MAX_ERROR], finished_at=self._store.now(),
                                   stage="failed")))
        return bool(n)

    def recover(self, worker_dead: Callable[[str], bool], stale_after_s: float, max_attempts: int,
                why: str = "the server stopped while working on this") -> list[R]:
        """Rows left ``running`` by a process that died: re-queue them, or fail them after ``max_attempts``.

        A row counts as abandoned when ``worker_dead(worker)`` says so (a process on this host that
        no longer exists) or its heartbeat is older than ``stale_after_s`` (any host). Returns the
        rows as they are now.
        """
        Row = self.Row
        finite = math.isfinite(stale_after_s)
        cutoff = self._store.now() - timedelta(seconds=stale_after_s if finite else 0)
        out: list[R] = []
        with self._store.write() as s:
            rows = s.scalars(select(Row).where(Row.status == "running")).all()
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
                s.execute(update(Row).where(Row.id == row.id, Row.status == "running",
                                            Row.worker == row.worker).values(**vals))
                s.flush()
                fresh = s.get(Row, row.id, populate_existing=True)
                if fresh is not None:
                    out.append(self._record(fresh))
        return out

    def requeue(self, row_id: str, worker: str) -> bool:
        """Put a running row back in the queue without counting the attempt (the server is stopping, not the
        input's fault)."""
        Row = self.Row
        with self._store.write() as s:
            n = changed(s.execute(update(Row).where(Row.id == row_id, Row.status == "running", Row.worker == worker)
                          .values(status="queued", stage="requeued: the server stopped", worker=None, progress=0.0,
                                  heartbeat_at=None, attempts=func.max(Row.attempts - 1, 0)
                                  if self._store.is_sqlite else func.greatest(Row.attempts - 1, 0))))
        return bool(n)

    def has_queued(self) -> bool:
        """A cheap read, so idle workers poll without taking the write lock."""
        Row = self.Row
        with self._store.read() as s:
            return s.scalar(select(Row.id).where(Row.status == "queued").limit(1)) is not None

    def running(self) -> list[R]:
        Row = self.Row
        with self._store.read() as s:
            return [self._record(r) for r in s.scalars(select(Row).where(Row.status == "running"))]
