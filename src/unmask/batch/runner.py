"""Scan many files with a local pool of worker processes, each loading the models once.

The driver (the calling process) hashes each input, skips those whose report the
output folder already holds for the same content, fusion model and configuration,
and hands the rest out one at a time to ``workers`` processes. A worker builds one
engine (the service's seam: :class:`~unmask.service.engine.ScannerEngine` by default)
and reuses it; it writes the file's JSON (and HTML) report itself, atomically, and
answers with a one-line summary that the driver appends to the index.

Isolation: a task that runs past ``timeout_s`` or whose worker's resident memory
passes ``max_memory_mb`` has its worker killed; a worker that dies (a decoder that
crashes, the kernel's OOM killer, someone's ``kill``) is replaced. Its file is
tried ``retries`` more times, then recorded as an error saying why; the other files
go on. A file the scanner refuses (an ``UnmaskError``) fails at once: that answer
does not change on a retry.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import signal
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from unmask.batch.index import ContentKey, ResultIndex, content_key, write_parquet
from unmask.config import ScanConfig
from unmask.errors import BatchError, ConfigError, UnmaskError
from unmask.service.engine import EngineFactory

if TYPE_CHECKING:
    from unmask.batch.ray_pool import RayOptions

POLL_S = 0.2  # how often the driver checks deadlines and memory
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class BatchLimits:
    """What one file may cost before its worker is killed, and how often it is tried again after that."""

    timeout_s: float = 1800.0  # wall seconds per file (models load before the clock starts)
    max_memory_mb: int = 4096  # resident memory of the worker scanning it, models included
    retries: int = 1  # further tries after a worker died on the file
    # CPU threads a worker's libraries may start (onnxruntime, OpenCV, OpenMP); None: the cores divided among the
    # workers (local; the libraries' defaults with one worker) or the actor's CPUs (Ray); 0: the libraries' defaults
    threads: int | None = None

    def validate(self) -> "BatchLimits":
        if self.timeout_s <= 0 or self.max_memory_mb < 256 or self.retries < 0 or (self.threads or 0) < 0:
            raise ConfigError("batch limits: timeout positive, memory at least 256 MB, retries and threads >= 0")
        return self


@dataclass(frozen=True)
class BatchProgress:
    """Where a batch stands, given to the progress callback after each file (scanned, skipped or failed)."""

    done: int
    total: int
    errors: int
    resumed: int  # files skipped because their report was already there
    path: Path | None = None


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did; ``to_dict`` is ``summary.json``."""

    out: str
    files: int
    scanned: int
    resumed: int
    errors: int
    workers: int
    wall_s: float
    files_per_s: float | None  # files scanned (not resumed) per wall second, model loading included
    verdicts: dict[str, int]
    fusion_version: str
    config_digest: str
    limits: dict[str, Any]
    index: str
    parquet: str | None
    failed: list[dict[str, str]] = field(default_factory=list)  # path and error of each file that failed
    worker_restarts: int = 0
    backend: str = "local"  # "local" (this machine's processes) or "ray <address>"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Task:
    path: Path
    sha256: str
    size: int
    mtime_ns: int
    report: str  # relative to the output folder
    html: str | None
    followers: list[Path] = field(default_factory=list)  # other paths with the same content
    attempts: int = 0


@dataclass
class _Slot:
    proc: Any
    conn: Connection
    task: _Task | None = None
    started: float = 0.0
    ready: bool = False
    kill_reason: str | None = None


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def fusion_version() -> str:
    """The shipped fusion model's version: part of what makes a report reusable."""
    from unmask.fusion import FusionModel

    return FusionModel.load().version


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def report_stem(path: Path, sha256: str) -> str:
    """``<sha256 prefix>-<file name>``: unique per content, readable, and the same wherever the file sat."""
    name = "".join(c if c.isprintable() and c not in '\\/:*?"<>|' else "_" for c in path.stem)[:80] or "file"
    return f"{sha256[:16]}-{name}"


def run_batch(paths: Sequence[Path], out: Path, config: ScanConfig | None = None, *, workers: int | None = None,
              html: bool = False, limits: BatchLimits = BatchLimits(), factory: EngineFactory | None = None,
              progress: Callable[[BatchProgress], None] | None = None, model_version: str | None = None,
              ray: "RayOptions | None" = None) -> BatchSummary:
    """Scan ``paths`` into ``out`` (reports, ``index.jsonl``, ``index.parquet``, ``summary.json``); resumable.

    With ``ray`` the files are scanned by actors on a Ray cluster (:mod:`unmask.batch.ray_pool`) instead of
    local processes; planning, the index, resume and the summary stay here, in the calling process.
    """
    config = (config or ScanConfig()).validate()
    limits = limits.validate()
    if workers is not None and workers < 0:
        raise ConfigError("batch: at least one worker")
    workers = workers or None  # 0, as before: the default (the cores here, the cluster's CPUs on Ray)
    if ray is not None:
        from unmask.batch.ray_pool import import_ray

        ray.validate()
        import_ray()  # before hashing a million files: say now that the extra is missing
    if factory is None:
        from unmask.service.engine import ScannerEngine

        factory = ScannerEngine
    t_start = time.perf_counter()
    version = model_version or fusion_version()
    digest = config.digest()
    run_dir = "reports/" + hashlib.sha256(f"{version}\n{digest}".encode()).hexdigest()[:12]
    try:
        (out / run_dir).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BatchError(f"{out}: cannot create the output folder ({e.strerror})") from None
    index = ResultIndex(out / "index.jsonl")
    state = _State(len(paths), progress)
    if limits.threads is None:  # one scan keeps ~1.5 cores busy: several on few cores must not each start 2+ threads
        if ray is not None:
            limits = replace(limits, threads=max(1, round(ray.cpus_per_worker)))
        else:
            n = workers or default_workers()
            limits = replace(limits, threads=max(1, default_workers() // n) if n > 1 else 0)
    backend = "local"
    with index:
        tasks = _plan(paths, out, version, digest, run_dir, html, index, state)
        recorder = _Recorder(index, version, digest, state, limits)
        if ray is not None:
            from unmask.batch.ray_pool import RayPool

            pool = RayPool(ray, factory, config, workers, limits, out, recorder,
                           check_version=None if model_version else version)
            restarts = pool.run(tasks)
            workers, backend = pool.workers, pool.backend
        else:
            workers = workers or default_workers()
            restarts = _Pool(factory, config, workers, limits, out, recorder).run(tasks)
    # the batch's rows, one at a time from the index (a million rows are never all in memory)
    wanted = {os.path.abspath(p) for p in paths}
    offsets, names, stages = index.latest(lambda r: r["path"] in wanted and r["fusion_version"] == version
                                          and r["config_digest"] == digest)
    del wanted
    verdicts: dict[str, int] = {}
    failed: list[dict[str, str]] = []

    def counted() -> Iterator[dict[str, Any]]:
        for r in index.rows_at(offsets):
            label = r["verdict"] if r["status"] == "done" else "error"
            verdicts[label] = verdicts.get(label, 0) + 1
            if r["status"] != "done":
                failed.append({"path": str(r["path"]), "error": str(r["error"])})
            yield r

    parquet = out / "index.parquet"
    rows = counted()
    wrote = write_parquet(rows, parquet, names=names, stages=stages)
    for _ in rows:  # without pyarrow nothing was read: count here
        pass
    wall = time.perf_counter() - t_start
    summary = BatchSummary(
        out=str(out), files=len(paths), scanned=state.scanned, resumed=state.resumed, errors=state.errors,
        workers=workers, wall_s=round(wall, 3), files_per_s=round(state.scanned / wall, 4) if state.scanned else None,
        verdicts=dict(sorted(verdicts.items())), fusion_version=version, config_digest=digest,
        limits=asdict(limits), index=str(out / "index.jsonl"), parquet=str(parquet) if wrote else None,
        failed=failed,
        worker_restarts=restarts, backend=backend)
    from unmask.process_io import write_atomic

    write_atomic(out / "summary.json", json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary


class _State:
    def __init__(self, total: int, progress: Callable[[BatchProgress], None] | None) -> None:
        self.total, self.progress = total, progress
        self.done = self.errors = self.resumed = self.scanned = 0

    def tick(self, path: Path, *, error: bool = False, resumed: bool = False) -> None:
        self.done += 1
        self.errors += error
        self.resumed += resumed
        self.scanned += not resumed
        if self.progress is not None:
            self.progress(BatchProgress(self.done, self.total, self.errors, self.resumed, path))


def _row(path: Path, task: _Task, version: str, digest: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "path": str(path), "sha256": task.sha256, "size_bytes": task.size, "mtime_ns": task.mtime_ns,
        "fusion_version": version, "config_digest": digest, "status": "error", "verdict": None, "score": None,
        "analyzers": {}, "timings": {}, "wall_s": None, "attempts": task.attempts, "error": None,
        "report": None, "html": None, "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    base.update(fields)
    return base


def _plan(paths: Sequence[Path], out: Path, version: str, digest: str, run_dir: str, html: bool,
          index: ResultIndex, state: _State) -> list[_Task]:
    """The tasks still to run: one per distinct content; files already reported are recorded and skipped.

    Reads the index once, a line at a time, keeping per (path, content key) only its last row's offset,
    size, modification time and whether its report is usable: a resumed million-file batch does not
    hold a million rows.
    """
    intern = sys.intern  # a run's version and digest strings repeat on every row
    last: dict[tuple[str, str, str, str], tuple[int, Any, Any, bool]] = {}
    for off, r in index.scan():
        key4 = (r["path"], intern(str(r["sha256"])), intern(str(r["fusion_version"])), intern(str(r["config_digest"])))
        usable = (r["status"] == "done" and bool(r.get("report")) and (out / r["report"]).is_file()
                  and (not html or bool(r.get("html") and (out / r["html"]).is_file())))
        last[key4] = (off, r.get("size_bytes"), r.get("mtime_ns"), usable)
    by_path = {(k[0], size, mtime): k[1] for k, (_, size, mtime, _) in last.items()}
    finished: dict[ContentKey, int] = {}  # content key -> offset of a usable row
    own: set[tuple[str, ContentKey]] = set()
    for k, (off, _, _, usable) in last.items():
        if usable:
            finished[k[1:]] = off
            own.add((k[0], k[1:]))
    del last
    tasks: dict[ContentKey, _Task] = {}
    for p in paths:
        p = Path(os.path.abspath(p))
        try:
            st = p.stat()
            sha = by_path.get((str(p), st.st_size, st.st_mtime_ns)) or file_sha256(p)
        except OSError:
            sha, st = "", None  # the scan says why (missing, unreadable, a folder)
        key = (sha, version, digest)
        size, mtime = (st.st_size, st.st_mtime_ns) if st is not None else (0, 0)
        if sha and key in finished:
            if (str(p), key) not in own:  # same content under another name: its row points at the same report
                done = next(index.rows_at([finished[key]]))
                index.append({**done, "path": str(p), "size_bytes": size, "mtime_ns": mtime, "attempts": 0,
                              "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
            state.tick(p, resumed=True)
            continue
        if sha and key in tasks:
            tasks[key].followers.append(p)
            continue
        stem = report_stem(p, sha or hashlib.sha256(str(p).encode("utf-8", "surrogateescape")).hexdigest())
        tasks[key if sha else ("", str(p), "")] = _Task(p, sha, size, mtime, f"{run_dir}/{stem}.json",
                                                        f"{run_dir}/{stem}.html" if html else None)
    return list(tasks.values())


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


class _Recorder:
    """What happens to a task's outcome, whichever pool ran it: a row in the index, or another try."""

    def __init__(self, index: ResultIndex, version: str, digest: str, state: _State, limits: BatchLimits) -> None:
        self.index, self.version, self.digest, self.state, self.limits = index, version, digest, state, limits

    def finished(self, task: _Task, fields: Mapping[str, Any]) -> None:
        """The worker answered (a report, or the scanner's own refusal): one row per path with this content."""
        row = _row(task.path, task, self.version, self.digest, **dict(fields))
        self._record(task, row)

    def died(self, task: _Task, why: str, pending: deque[_Task]) -> None:
        """The worker died on ``task`` (``why``): back to the front of ``pending``, or an error row after the last try."""
        if task.attempts <= self.limits.retries:
            pending.appendleft(task)
            return
        tries = f"{task.attempts} tries" if task.attempts > 1 else "1 try"
        self._record(task, _row(task.path, task, self.version, self.digest, error=f"{why} ({tries})"))

    def _record(self, task: _Task, row: dict[str, Any]) -> None:
        self.index.append(row)
        self.state.tick(task.path, error=row["status"] != "done")
        for p in task.followers:
            self.index.append({**row, "path": str(p)})
            self.state.tick(p, error=row["status"] != "done")


def _spawn_worker(ctx: Any, factory: EngineFactory, config: ScanConfig, out: Path, threads: int | None) -> _Slot:
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=worker_main, name="unmask-batch-worker", daemon=True,
                       args=(child, factory, config, str(out), os.getpid(), threads or 0))
    proc.start()
    child.close()
    return _Slot(proc, parent)


def _over_limits(s: _Slot, limits: BatchLimits) -> str | None:
    """Why the worker of ``s`` must be killed now (its file's time or memory), or None."""
    if time.monotonic() - s.started > limits.timeout_s:
        return f"took longer than the {limits.timeout_s:g} s a file may take"
    if _rss_mb(s.proc.pid) > limits.max_memory_mb:
        return f"needed more than the {limits.max_memory_mb} MB of memory a file may use"
    return None


def _death_reason(s: _Slot) -> str:
    s.proc.join(1)
    code = s.proc.exitcode
    return s.kill_reason or (f"the worker process was killed by signal {signal.Signals(-code).name}"
                             if code is not None and code < 0 else f"the worker process exited with status {code}")


def _stop_slots(slots: Sequence[_Slot]) -> None:
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
        s.conn.close()


class _Pool:
    """The driver's side of the worker processes: hand out tasks, watch limits, replace the dead."""

    def __init__(self, factory: EngineFactory, config: ScanConfig, workers: int, limits: BatchLimits, out: Path,
                 recorder: _Recorder) -> None:
        self.factory, self.config, self.workers, self.limits = factory, config, workers, limits
        self.out, self.recorder = out, recorder
        self.ctx = mp.get_context("spawn")
        self.slots: list[_Slot] = []
        self.restarts = 0

    def _spawn(self) -> _Slot:
        return _spawn_worker(self.ctx, self.factory, self.config, self.out, self.limits.threads)

    def run(self, tasks: list[_Task]) -> int:
        pending = deque(tasks)
        if not pending:
            return 0
        self.slots = [self._spawn() for _ in range(min(self.workers, len(pending)))]
        try:
            while pending or any(s.task is not None for s in self.slots):
                for s in self.slots:
                    if s.ready and s.task is None and pending:
                        s.task = pending.popleft()
                        s.task.attempts += 1
                        s.started = time.monotonic()
                        try:
                            s.conn.send((str(s.task.path), s.task.report, s.task.html))
                        except OSError:  # it just died: seen below, and the task is tried again
                            pass
                wait([s.conn for s in self.slots] + [s.proc.sentinel for s in self.slots], timeout=POLL_S)
                alive: list[_Slot] = []
                for s in self.slots:
                    self._read(s)
                    if s.proc.is_alive():
                        if s.task is not None:
                            self._watch(s)
                        alive.append(s)
                        continue
                    self._died(s, pending)
                    s.conn.close()
                    if pending:  # a replacement, while there is work for it
                        alive.append(self._spawn())
                        self.restarts += 1
                self.slots = alive
        finally:
            _stop_slots(self.slots)
        return self.restarts

    def _read(self, s: _Slot) -> None:
        while True:
            try:
                if not s.conn.poll():
                    return
                msg = s.conn.recv()
            except (EOFError, OSError):
                return
            kind = msg[0]
            if kind == "ready":
                s.ready = True
            elif kind in ("done", "error") and s.task is not None:
                task, s.task = s.task, None
                self.recorder.finished(task, msg[1])

    def _watch(self, s: _Slot) -> None:
        s.kill_reason = _over_limits(s, self.limits)
        if s.kill_reason:
            s.proc.kill()

    def _died(self, s: _Slot, pending: deque[_Task]) -> None:
        why = _death_reason(s)
        if not s.ready and s.task is None:
            raise BatchError(f"a batch worker could not start ({why}); run `unmask scan` on one file to see why")
        task, s.task = s.task, None
        if task is not None:
            self.recorder.died(task, why, pending)


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
        self.slot: _Slot | None = None
        self.restarts = 0

    def start(self) -> None:
        """Spawn the worker (if none is alive) and wait for its models; ``BatchError`` when it cannot start."""
        if self.slot is not None and self.slot.proc.is_alive():
            return
        if self.slot is not None:
            self.slot.conn.close()
            self.restarts += 1
        s = self.slot = _spawn_worker(self.ctx, self.factory, self.config, self.out, self.limits.threads)
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
                s.conn.close()
                raise BatchError(f"a batch worker could not start ({_death_reason(s)}); "
                                 "run `unmask scan` on one file to see why")

    def scan(self, path: str, report: str, html: str | None) -> tuple[dict[str, Any] | None, str | None]:
        """``(fields, None)`` with the worker's answer, or ``(None, why)`` when the worker died on this file."""
        self.start()
        s = self.slot
        assert s is not None
        s.kill_reason, s.started = None, time.monotonic()
        try:
            s.conn.send((path, report, html))
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
                why = _death_reason(s)
                return None, why
            s.kill_reason = _over_limits(s, self.limits)
            if s.kill_reason:
                s.proc.kill()

    def stop(self) -> None:
        if self.slot is not None:
            _stop_slots([self.slot])
            self.slot = None


# -- the worker process ------------------------------------------------------------------------------


def _summary(data: Mapping[str, Any]) -> dict[str, Any]:
    verdict = data.get("verdict") or {}
    return {"status": "done", "verdict": verdict.get("label"), "score": verdict.get("score"),
            "analyzers": {str(a["name"]): a.get("score") for a in data.get("analyzers") or []},
            "timings": {k: v for k, v in (data.get("timings") or {}).items() if isinstance(v, (int, float))}}


def _limit_threads(n: int) -> None:
    """At most ``n`` compute threads per library in this process (set before the engine loads its models)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    import cv2

    cv2.setNumThreads(n)
    from unmask.learned import runtime

    runtime.THREADS = min(runtime.THREADS, n)  # onnxruntime's intra-op threads, read when a session is created


def worker_main(conn: Connection, factory: EngineFactory, config: ScanConfig, out: str, parent_pid: int,
                threads: int = 0) -> None:
    """Entry point of a batch worker: build one engine, then scan what the driver sends until it sends ``None``."""
    from unmask.service.worker import _die_with_parent

    _die_with_parent()
    if os.getppid() != parent_pid:
        return
    if threads:
        _limit_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the driver stops us
    from unmask.process_io import silence_native_logs, write_atomic

    silence_native_logs()
    engine = factory(config)
    load = getattr(engine, "load", None)
    if callable(load):
        load()
    conn.send(("ready",))
    root = Path(out)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        path, report_rel, html_rel = msg
        t0 = time.perf_counter()
        fields: dict[str, Any]
        try:
            report = engine.scan(Path(path), {}, lambda stage, done: None)
            write_atomic(root / report_rel, report.to_json())
            if html_rel:
                from unmask.report.html import render_html

                write_atomic(root / html_rel, render_html(report, settings=config.to_dict()))
            fields = {**_summary(report.data), "report": report_rel, "html": html_rel}
        except UnmaskError as e:
            fields = {"error": " ".join(str(getattr(e, "problem", e)).split()) or type(e).__name__}
        except Exception as e:  # noqa: BLE001 - one file's bug must not stop the batch
            fields = {"error": f"internal error ({type(e).__name__}: {' '.join(str(e).split())}); please report it"}
        fields["wall_s"] = round(time.perf_counter() - t0, 3)
        conn.send(("error" if "error" in fields else "done", fields))
