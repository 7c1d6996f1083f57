"""One worker: claim a queued enrolment or scan, run it with progress and heartbeats, commit the result atomically.

A worker is a process (default) or a thread. It never holds work the store does
not say is its own: progress writes double as the check, so a scan or enrolment
deleted (or recovered as abandoned) mid-way is dropped at the next progress call.
Enrolments go first: they are few, and the person who asked for one is waiting
for it.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from unmask.errors import InputError, ReferenceModeError, UnknownPerson, UnmaskError
from unmask.report.build import Report
from unmask.report.html import render_html
from unmask.service.settings import ServiceSettings
from unmask.store import EnrolmentRecord, ScanRecord, Store
from unmask.store.queue import QueueRepo
from unmask.workers.child import die_with_parent, load_engine
from unmask.workers.engine import EngineFactory, ScanEngine

log = logging.getLogger("unmask.service")

PROGRESS_EVERY_S = 0.5  # progress writes at most this often (stage changes are written at once)
_INSTANCE = secrets.token_hex(4)  # tells this process apart from an earlier one that had the same pid


class Flag(Protocol):
    def is_set(self) -> bool: ...
    def set(self) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...
    def clear(self) -> None: ...


class ScanStopped(Exception):
    """Raised inside the scan's progress callback: the scan was lost, or the worker is stopping."""


def worker_id(n: int | None = None) -> str:
    """``host:pid:instance[:tN]``: enough to tell whether the worker that holds a scan still lives."""
    base = f"{socket.gethostname()}:{os.getpid()}:{_INSTANCE}"
    return base if n is None else f"{base}:t{n}"


def worker_pid(worker: str) -> tuple[str, int] | None:
    parts = worker.split(":")
    if len(parts) < 3:
        return None
    try:
        return parts[0], int(parts[1])
    except ValueError:
        return None


def local_worker_dead(worker: str) -> bool:
    """True when ``worker`` ran on this host and its process is gone (or was an earlier process with our pid)."""
    hp = worker_pid(worker)
    if hp is None or hp[0] != socket.gethostname():
        return False
    host, pid = hp
    if pid == os.getpid():
        return worker.split(":")[2] != _INSTANCE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


class _Tracker:
    """The progress callback of a scan or enrolment: throttled writes, heartbeats, and the stop/lost checks."""

    def __init__(self, repo: QueueRepo[Any], row_id: str, worker: str, stop: Flag) -> None:
        self.repo, self.row_id, self.worker, self.stop = repo, row_id, worker, stop
        self.lost = False
        self._last = 0.0
        self._stage = ""
        self._fraction = 0.0
        self._lock = threading.Lock()

    def __call__(self, stage: str, fraction: float) -> None:
        if self.stop.is_set() or self.lost:
            raise ScanStopped()
        now = time.monotonic()
        if stage != self._stage or now - self._last >= PROGRESS_EVERY_S:
            self._write(stage, fraction)
        else:
            self._stage, self._fraction = stage, fraction
        if self.lost:
            raise ScanStopped()

    def _write(self, stage: str, fraction: float) -> None:
        with self._lock:
            self._stage, self._fraction, self._last = stage, fraction, time.monotonic()
            try:
                if not self.repo.progress(self.row_id, self.worker, fraction, stage):
                    self.lost = True
            except UnmaskError as e:  # a busy database must not kill the work; the next write retries
                log.warning("%s: progress not recorded (%s)", self.row_id, e)

    def beat(self) -> None:
        self._write(self._stage or "starting", self._fraction)


def _public_report(report: Report, rec: ScanRecord) -> dict[str, Any]:
    """The report as clients see it: the file is named as the client named it, never by its server path."""
    data = dict(report.data)
    data["input"] = {**data["input"], "path": rec.source_name}
    return data


def _one_line(e: BaseException) -> str:
    if isinstance(e, InputError):
        return e.problem  # the server-side path means nothing to the client
    return " ".join(str(e).split()) or type(e).__name__


def _heartbeat(tracker: _Tracker, done: threading.Event, every_s: float) -> threading.Thread:
    def beat() -> None:
        while not done.wait(every_s):
            tracker.beat()

    hb = threading.Thread(target=beat, name=f"heartbeat-{tracker.row_id[:8]}", daemon=True)
    hb.start()
    return hb


def claimed_profile(store: Store, rec: ScanRecord) -> Any:
    """The person profile a scan is checked against (``None`` without a claim); ``UnmaskError`` when it is gone."""
    if not rec.claims:
        return None
    from unmask.reference.people import People

    try:
        return People(store).get(rec.claims, rec.claims_version)
    except UnknownPerson:
        what = f"{rec.claims!r}" + (f" version {rec.claims_version}" if rec.claims_version is not None else "")
        raise ReferenceModeError(f"the claimed person {what} is no longer enrolled (removed after this scan was "
                                 "queued)") from None


def run_scan(store: Store, engine: ScanEngine, rec: ScanRecord, worker: str, stop: Flag,
             heartbeat_s: float = 5.0) -> str:
    """Run one claimed scan to its end. Returns ``done``, ``failed``, ``lost`` (deleted meanwhile) or ``stopped``."""
    tracker = _Tracker(store.scans, rec.id, worker, stop)
    done = threading.Event()
    hb = _heartbeat(tracker, done, heartbeat_s)
    try:
        claims = claimed_profile(store, rec)
        report = engine.scan(Path(rec.media_path), rec.overrides, tracker, claims=claims)
        if tracker.lost:
            return "lost"
        data = _public_report(report, rec)
        settings_for = getattr(engine, "settings_for", None)
        scanned = rec.started_at.strftime("%Y-%m-%d %H:%M:%S UTC") if rec.started_at else ""
        facts = [("scan id", rec.id), ("scanned", scanned)]
        html = render_html(Report.from_dict(data, report.attachments), facts=facts,
                           settings=settings_for(rec.overrides) if settings_for else None).encode("utf-8")
    except ScanStopped:
        if tracker.lost:
            return "lost"
        store.scans.requeue(rec.id, worker)
        return "stopped"
    except UnmaskError as e:
        store.scans.fail(rec.id, _one_line(e), worker)
        return "failed"
    except Exception as e:  # noqa: BLE001 - one file's internal error must not stop the worker
        log.exception("scan %s: internal error", rec.id)
        store.scans.fail(rec.id, f"internal error ({type(e).__name__}: {_one_line(e)}); please report it", worker)
        return "failed"
    finally:
        done.set()
        hb.join(timeout=heartbeat_s + 1)
    return "done" if store.scans.finish(rec.id, worker, data, html) else "lost"


def remove_enrolment_files(rec: EnrolmentRecord) -> None:
    """An enrolment's uploaded footage goes once it has given its profile (or failed): the profile is what is kept."""
    dirs = set()
    for f in rec.files:
        p = Path(f.path)
        p.unlink(missing_ok=True)
        dirs.add(p.parent)
    for d in dirs:
        try:
            d.rmdir()
        except OSError:
            pass


def run_enrolment(store: Store, engine: ScanEngine, rec: EnrolmentRecord, worker: str, stop: Flag,
                  heartbeat_s: float = 5.0) -> str:
    """Run one claimed enrolment to its end: ``done``, ``failed``, ``lost`` (deleted meanwhile) or ``stopped``."""
    tracker = _Tracker(store.enrolments, rec.id, worker, stop)
    done = threading.Event()
    hb = _heartbeat(tracker, done, heartbeat_s)
    person = None
    try:
        result = engine.enroll(rec.name, [(Path(f.path), f.name) for f in rec.files], tracker)
        if tracker.lost:
            return "lost"
        prof = result.profile
        person = store.enrolments.finish(rec.id, worker, prof.to_bytes(), prof.summary(), result.lines, name=prof.name)
    except ScanStopped:
        if tracker.lost:
            return "lost"
        store.enrolments.requeue(rec.id, worker)
        return "stopped"
    except UnmaskError as e:
        store.enrolments.fail(rec.id, _one_line(e), worker)
        remove_enrolment_files(rec)
        return "failed"
    except Exception as e:  # noqa: BLE001 - one enrolment's internal error must not stop the worker
        log.exception("enrolment %s: internal error", rec.id)
        store.enrolments.fail(rec.id, f"internal error ({type(e).__name__}: {_one_line(e)}); please report it", worker)
        remove_enrolment_files(rec)
        return "failed"
    finally:
        done.set()
        hb.join(timeout=heartbeat_s + 1)
    if person is None:
        return "lost"
    remove_enrolment_files(rec)
    return "done"


def _claim(store: Store, worker: str) -> EnrolmentRecord | ScanRecord | None:
    """The next piece of work: the oldest queued enrolment, else the oldest queued scan."""
    if store.enrolments.has_queued():
        rec = store.enrolments.claim(worker)
        if rec is not None:
            return rec
    return store.scans.claim(worker) if store.scans.has_queued() else None


def work(store: Store, engine: ScanEngine, worker: str, stop: Flag, wake: Flag, settings: ServiceSettings) -> None:
    """Claim and run enrolments and scans until ``stop`` is set; sleep on ``wake`` (or ``poll_s``) when both
    queues are empty."""
    while not stop.is_set():
        try:
            rec = _claim(store, worker)
        except UnmaskError as e:
            log.warning("worker %s: cannot read the queue (%s)", worker, e)
            rec = None
        if rec is None:
            if wake.wait(settings.poll_s):
                wake.clear()
            continue
        if isinstance(rec, EnrolmentRecord):
            outcome = run_enrolment(store, engine, rec, worker, stop, settings.heartbeat_s)
            log.info("enrolment %s (%s, %d files): %s", rec.id, rec.name, len(rec.files), outcome)
        else:
            outcome = run_scan(store, engine, rec, worker, stop, settings.heartbeat_s)
            log.info("scan %s (%s): %s", rec.id, rec.source_name, outcome)


def log_to_stderr(who: str) -> None:
    """The service's own log lines on stderr (absl, imported by mediapipe, takes over the root logger)."""
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s unmask {who} %(process)d: %(levelname)s %(message)s",
                                           "%Y-%m-%d %H:%M:%S"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def process_main(settings: ServiceSettings, factory: EngineFactory, stop: Flag, wake: Flag, parent_pid: int) -> None:
    """Entry point of a worker process (spawned by :class:`~unmask.service.pool.WorkerPool`)."""
    die_with_parent()
    if os.getppid() != parent_pid:  # the server died before we could ask to die with it
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the server stops us
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        os.nice(settings.worker_nice)
    except OSError:
        pass
    from unmask.process_io import silence_native_logs

    silence_native_logs()  # mediapipe's C++ log lines; our own logging still reaches stderr
    log_to_stderr("worker")
    store = Store.open(settings.url)
    engine = load_engine(factory, settings.scan_config)
    work(store, engine, worker_id(), stop, wake, settings)
    store.close()
