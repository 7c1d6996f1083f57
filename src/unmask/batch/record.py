"""What happens to each file's outcome, whichever pool ran it: its row in the index and the progress count."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from unmask.batch.index import ResultIndex
from unmask.batch.limits import BatchLimits, BatchProgress
from unmask.batch.remote import RemoteFile, Source


@dataclass(frozen=True)
class Job:
    """What a worker is sent for one file: where to read it, and where its report goes (under the output folder).

    ``stem`` None (a URL): the worker names the report after the content it downloaded. ``max_download_bytes``
    > 0 marks ``source`` as a URL to copy into the worker's scratch folder first.
    """

    source: str
    run_dir: str
    stem: str | None
    html: bool
    max_download_bytes: int = 0


@dataclass
class Task:
    path: Source
    sha256: str  # "" for a URL not seen before: its worker hashes it while downloading
    size: int
    mtime_ns: int
    run_dir: str
    stem: str | None  # the report's name in run_dir; None: the worker names it after hashing
    html: bool
    followers: list[Source] = field(default_factory=list)  # other paths with the same content
    attempts: int = 0

    def job(self, limits: BatchLimits) -> Job:
        remote = isinstance(self.path, RemoteFile)
        return Job(str(self.path), self.run_dir, self.stem, self.html, limits.max_download_mb << 20 if remote else 0)


class BatchState:
    def __init__(self, total: int, progress: Callable[[BatchProgress], None] | None) -> None:
        self.total, self.progress = total, progress
        self.done = self.errors = self.resumed = self.scanned = 0

    def tick(self, path: Source, *, error: bool = False, resumed: bool = False) -> None:
        self.done += 1
        self.errors += error
        self.resumed += resumed
        self.scanned += not resumed
        if self.progress is not None:
            self.progress(BatchProgress(self.done, self.total, self.errors, self.resumed, path))


def index_row(path: Source, task: Task, version: str, digest: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "path": str(path), "sha256": task.sha256, "size_bytes": task.size, "mtime_ns": task.mtime_ns,
        "fusion_version": version, "config_digest": digest, "status": "error", "verdict": None, "score": None,
        "analyzers": {}, "timings": {}, "wall_s": None, "attempts": task.attempts, "error": None,
        "report": None, "html": None, "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
    base.update(fields)
    return base


class Recorder:
    """What happens to a task's outcome, whichever pool ran it: a row in the index, or another try."""

    def __init__(self, index: ResultIndex, version: str, digest: str, state: BatchState, limits: BatchLimits) -> None:
        self.index, self.version, self.digest, self.state, self.limits = index, version, digest, state, limits

    def finished(self, task: Task, fields: Mapping[str, Any]) -> None:
        """The worker answered (a report, or the scanner's own refusal): one row per path with this content."""
        row = index_row(task.path, task, self.version, self.digest, **dict(fields))
        self._record(task, row)

    def died(self, task: Task, why: str, pending: deque[Task]) -> None:
        """The worker died on ``task`` (``why``): back to the front of ``pending``, or an error row after the last
        try."""
        if task.attempts <= self.limits.retries:
            pending.appendleft(task)
            return
        tries = f"{task.attempts} tries" if task.attempts > 1 else "1 try"
        self._record(task, index_row(task.path, task, self.version, self.digest, error=f"{why} ({tries})"))

    def _record(self, task: Task, row: dict[str, Any]) -> None:
        self.index.append(row)
        self.state.tick(task.path, error=row["status"] != "done")
        for p in task.followers:
            self.index.append({**row, "path": str(p)})
            self.state.tick(p, error=row["status"] != "done")
