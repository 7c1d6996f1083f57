"""One worker: claim a queued scan, run it with progress and heartbeats, commit the report atomically.

A worker is a process (default) or a thread. It never holds a scan the store
does not say is its own: progress writes double as the check, so a scan deleted
(or recovered as abandoned) mid-way is dropped at the next progress call.
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

from unmask.errors import InputError, UnmaskError
from unmask.report.build import Report
from unmask.report.html import render_html
from unmask.service.engine import EngineFactory, ScanEngine
from unmask.service.settings import ServiceSettings
from unmask.store import ScanRecord, Store

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
    """The scan's progress callback: throttled writes, heartbeats, and the stop/lost checks."""

    def __init__(self, store: Store, scan_id: str, worker: str, stop: Flag) -> None:
        self.store, self.scan_id, self.worker, self.stop = store, scan_id, worker, stop
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
                if not self.store.scans.progress(self.scan_id, self.worker, fraction, stage):
                    self.lost = True
            except UnmaskError as e:  # a busy database must not kill the scan; the next write retries
                log.warning("scan %s: progress not recorded (%s)", self.scan_id, e)

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


def run_scan(store: Store, engine: ScanEngine, rec: ScanRecord, worker: str, stop: Flag,
             heartbeat_s: float = 5.0) -> str:
    """Run one claimed scan to its end. Returns ``done``, ``failed``, ``lost`` (deleted meanwhile) or ``stopped``."""
    tracker = _Tracker(store, rec.id, worker, stop)
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(heartbeat_s):
            tracker.beat()

    hb = threading.Thread(target=heartbeat, name=f"heartbeat-{rec.id[:8]}", daemon=True)
    hb.start()
    try:
        report = engine.scan(Path(rec.media_path), rec.overrides, tracker)
        if tracker.lost:
            return "lost"
        data = _public_report(report, rec)
        settings_for = getattr(engine, "settings_for", None)
        facts = [("scan id", rec.id), ("scanned", rec.started_at.strftime("%Y-%m-%d %H:%M:%S UTC") if rec.started_at else "")]
        html = render_html(Report(data, report.attachments), facts=facts,
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


def work(store: Store, engine: ScanEngine, worker: str, stop: Flag, wake: Flag, settings: ServiceSettings) -> None:
    """Claim and run scans until ``stop`` is set; sleep on ``wake`` (or ``poll_s``) when the queue is empty."""
    while not stop.is_set():
        try:
            rec = store.scans.claim(worker) if store.scans.has_queued() else None
        except UnmaskError as e:
            log.warning("worker %s: cannot read the queue (%s)", worker, e)
            rec = None
        if rec is None:
            if wake.wait(settings.poll_s):
                wake.clear()
            continue
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


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the server process dies, even by SIGKILL."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def process_main(settings: ServiceSettings, factory: EngineFactory, stop: Flag, wake: Flag, parent_pid: int) -> None:
    """Entry point of a worker process (spawned by :class:`~unmask.service.pool.WorkerPool`)."""
    _die_with_parent()
    if os.getppid() != parent_pid:  # the server died before we could ask to die with it
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the server stops us
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        os.nice(settings.worker_nice)
    except OSError:
        pass
    from unmask.cli import silence_native_logs

    silence_native_logs()  # mediapipe's C++ log lines; our own logging still reaches stderr
    log_to_stderr("worker")
    store = Store.open(settings.url)
    engine = factory(settings.scan_config)
    load = getattr(engine, "load", None)
    if callable(load):
        load()
    work(store, engine, worker_id(), stop, wake, settings)
    store.close()
