"""One batch worker process: what the local pool runs several of and a Ray actor holds one of.

A worker builds one engine (:class:`~unmask.workers.engine.ScannerEngine` by default) and
reuses it; it writes each file's JSON (and HTML) report itself, atomically, and answers the
driver with a one-line summary. The driver kills a worker whose file runs past its time or
memory (:func:`over_limits`) and replaces a worker that died.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from unmask.batch.limits import POLL_S, BatchLimits
from unmask.batch.record import Job, Task
from unmask.config import ScanConfig
from unmask.errors import BatchError, UnmaskError
from unmask.workers.child import die_with_parent, limit_threads, load_engine
from unmask.workers.engine import EngineFactory


@dataclass
class Slot:
    proc: Any
    conn: Connection
    task: Task | None = None
    started: float = 0.0
    ready: bool = False
    kill_reason: str | None = None
    scratch: str = ""  # the worker's private folder for downloads: removed here when the worker is gone


def discard(s: Slot) -> None:
    """Close a finished worker's pipe and remove its scratch folder (a download it was killed in)."""
    s.conn.close()
    if s.scratch:
        shutil.rmtree(s.scratch, ignore_errors=True)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def spawn_worker(ctx: Any, factory: EngineFactory, config: ScanConfig, out: Path, threads: int | None) -> Slot:
    parent, child = ctx.Pipe()
    scratch = tempfile.mkdtemp(prefix="unmask-batch-")
    proc = ctx.Process(target=worker_main, name="unmask-batch-worker", daemon=True,
                       args=(child, factory, config, str(out), os.getpid(), threads or 0, scratch))
    proc.start()
    child.close()
    return Slot(proc, parent, scratch=scratch)


def over_limits(s: Slot, limits: BatchLimits) -> str | None:
    """Why the worker of ``s`` must be killed now (its file's time or memory), or None."""
    if time.monotonic() - s.started > limits.timeout_s:
        return f"took longer than the {limits.timeout_s:g} s a file may take"
    if rss_mb(s.proc.pid) > limits.max_memory_mb:
        return f"needed more than the {limits.max_memory_mb} MB of memory a file may use"
    return None


def death_reason(s: Slot) -> str:
    s.proc.join(1)
    code = s.proc.exitcode
    return s.kill_reason or (f"the worker process was killed by signal {signal.Signals(-code).name}"
                             if code is not None and code < 0 else f"the worker process exited with status {code}")


def stop_slots(slots: Sequence[Slot]) -> None:
    for s in slots:
        try:
            s.conn.send(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + 5
    for s in slots:
        s.proc.join(max(0.0, deadline - time.monotonic()))
        if s.proc.is_alive():
            s.proc.kill()
            s.proc.join(5)
        discard(s)


class WorkerProcess:
    """One batch worker process, driven one file at a time with the pool's limits: what a Ray actor holds.

    The same process, engine and limits as the local pool's: :meth:`start` spawns the worker
    and waits until its models are loaded; :meth:`scan` hands it one file and returns either the
    worker's answer or why the worker died on it (killed for time or memory, a crash); a dead
    worker is replaced on the next call. It never raises for a file's sake.
    """

    def __init__(self, factory: EngineFactory, config: ScanConfig, out: str | Path, limits: BatchLimits) -> None:
        self.factory, self.config, self.out, self.limits = factory, config, Path(out), limits
        self.ctx = mp.get_context("spawn")
        self.slot: Slot | None = None
        self.restarts = 0

    def start(self) -> None:
        """Spawn the worker (if none is alive) and wait for its models; ``BatchError`` when it cannot start."""
        if self.slot is not None and self.slot.proc.is_alive():
            return
        if self.slot is not None:
            discard(self.slot)
            self.restarts += 1
        s = self.slot = spawn_worker(self.ctx, self.factory, self.config, self.out, self.limits.threads)
        while not s.ready:
            wait([s.conn, s.proc.sentinel])
            try:
                if s.conn.poll() and s.conn.recv()[0] == "ready":
                    s.ready = True
                    continue
            except (EOFError, OSError):
                pass
            if not s.proc.is_alive():
                self.slot = None
                discard(s)
                raise BatchError(f"a batch worker could not start ({death_reason(s)}); "
                                 "run `unmask scan` on one file to see why")

    def scan(self, job: Job) -> tuple[dict[str, Any] | None, str | None]:
        """``(fields, None)`` with the worker's answer, or ``(None, why)`` when the worker died on this file."""
        self.start()
        s = self.slot
        assert s is not None
        s.kill_reason, s.started = None, time.monotonic()
        try:
            s.conn.send(job)
        except OSError:
            pass
        while True:
            wait([s.conn, s.proc.sentinel], timeout=POLL_S)
            try:
                if s.conn.poll():
                    msg = s.conn.recv()
                    if msg[0] in ("done", "error"):
                        return dict(msg[1]), None
                    continue
            except (EOFError, OSError):
                pass
            if not s.proc.is_alive():
                why = death_reason(s)
                return None, why
            s.kill_reason = over_limits(s, self.limits)
            if s.kill_reason:
                s.proc.kill()

    def stop(self) -> None:
        if self.slot is not None:
            stop_slots([self.slot])
            self.slot = None


# -- the worker process ------------------------------------------------------------------------------


def report_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    verdict = data.get("verdict") or {}
    return {"status": "done", "verdict": verdict.get("label"), "score": verdict.get("score"),
            "analyzers": {str(a["name"]): a.get("score") for a in data.get("analyzers") or []},
            "timings": {k: v for k, v in (data.get("timings") or {}).items() if isinstance(v, (int, float))}}


def worker_main(conn: Connection, factory: EngineFactory, config: ScanConfig, out: str, parent_pid: int,
                threads: int = 0, scratch: str = "") -> None:
    """Entry point of a batch worker: build one engine, then scan what the driver sends until it sends ``None``."""
    die_with_parent()
    if os.getppid() != parent_pid:
        return
    if threads:
        limit_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the driver stops us
    from unmask.process_io import silence_native_logs

    silence_native_logs()
    engine = load_engine(factory, config)
    conn.send(("ready",))
    root = Path(out)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        t0 = time.perf_counter()
        fields = scan_one(engine, config, root, job, Path(scratch or tempfile.gettempdir()))
        fields["wall_s"] = round(time.perf_counter() - t0, 3)
        conn.send(("error" if "error" in fields else "done", fields))


def scan_one(engine: Any, config: ScanConfig, root: Path, job: Job, scratch: Path) -> dict[str, Any]:
    """Scan one file (a URL first copied into ``scratch`` and hashed, the copy deleted after) and write its
    report; the row's fields, with ``error`` when the file could not be scanned."""
    from unmask.process_io import write_atomic

    fields: dict[str, Any] = {}
    copy: Path | None = None
    try:
        if job.max_download_bytes:
            from unmask.batch.plan import report_stem
            from unmask.batch.remote import RemoteFile, fetch

            got = fetch(job.source, scratch, job.max_download_bytes)
            copy, path = got.path, got.path
            fields = {"sha256": got.sha256, "size_bytes": got.size, "mtime_ns": got.mtime_ns}
            stem = report_stem(RemoteFile(job.source).stem, got.sha256)
        else:
            path, stem = Path(job.source), job.stem or "file"
        report_rel = f"{job.run_dir}/{stem}.json"
        html_rel = f"{job.run_dir}/{stem}.html" if job.html else None
        if copy is not None and (root / report_rel).is_file() and (not html_rel or (root / html_rel).is_file()):
            # a URL whose time changed but not its content (hashed above): the report written for it stands
            fields.update(report_fields(json.loads((root / report_rel).read_text())), report=report_rel, html=html_rel)
            return fields
        report = engine.scan(path, {}, lambda stage, done: None)
        write_atomic(root / report_rel, report.to_json())
        if html_rel:
            from unmask.report.html import render_html

            write_atomic(root / html_rel, render_html(report, settings=config.to_dict()))
        fields.update(report_fields(report.data), report=report_rel, html=html_rel)
    except UnmaskError as e:
        fields["error"] = " ".join(str(getattr(e, "problem", e)).split()) or type(e).__name__
    except Exception as e:  # noqa: BLE001 - one file's bug must not stop the batch
        fields["error"] = f"internal error ({type(e).__name__}: {' '.join(str(e).split())}); please report it"
    finally:
        if copy is not None:
            copy.unlink(missing_ok=True)
    return fields
