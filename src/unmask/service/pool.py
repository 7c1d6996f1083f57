"""A bounded pool of workers beside the API, fed by the store's queues (enrolments, scans).

Process workers (the default) keep the API responsive (no shared GIL, lower CPU
priority) and contain crashes: a worker that dies is replaced and its scan or
enrolment re-queued, or failed after ``max_attempts``. On start the pool recovers
work a previous server left ``running``; on stop it re-queues what is unfinished
without counting the attempt.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import socket
import threading
import time
from typing import Any

from unmask.errors import UnmaskError
from unmask.service.settings import ServiceSettings
from unmask.service.worker import local_worker_dead, process_main, remove_enrolment_files, work, worker_id, worker_pid
from unmask.store import Store
from unmask.workers.engine import EngineFactory, ScannerEngine

log = logging.getLogger("unmask.service")

MONITOR_S = 1.0
STALE_CHECK_S = 15.0


class WorkerPool:
    def __init__(self, settings: ServiceSettings, store: Store, factory: EngineFactory = ScannerEngine) -> None:
        self.settings = settings
        self.store = store
        self.factory = factory
        self._ctx = mp.get_context("spawn")  # fork would copy the server's threads and sockets
        self._stop: Any = None
        self._wake: Any = None
        self._procs: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._monitor: threading.Thread | None = None
        self._stopping = threading.Event()
        self.restarts = 0

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.recover()
        if self.settings.worker_mode == "thread":
            self._stop, self._wake = threading.Event(), threading.Event()
            for n in range(self.settings.workers):  # one engine per worker: a Scanner is not shared between threads
                engine = self.factory(self.settings.scan_config)
                t = threading.Thread(target=work, name=f"unmask-worker-{n}", daemon=True,
                                     args=(self.store, engine, worker_id(n), self._stop, self._wake, self.settings))
                t.start()
                self._threads.append(t)
        else:
            self._stop, self._wake = self._ctx.Event(), self._ctx.Event()
            self._procs = [self._spawn() for _ in range(self.settings.workers)]
        self._monitor = threading.Thread(target=self._watch, name="unmask-pool-monitor", daemon=True)
        self._monitor.start()

    def _spawn(self) -> Any:
        import os

        p = self._ctx.Process(target=process_main, name="unmask-worker", daemon=True,
                              args=(self.settings, self.factory, self._stop, self._wake, os.getpid()))
        p.start()
        return p

    def notify(self) -> None:
        """A scan was queued: wake an idle worker now instead of at its next poll."""
        if self._wake is not None:
            self._wake.set()

    def alive(self) -> int:
        if self._threads:
            return sum(t.is_alive() for t in self._threads)
        return sum(p.is_alive() for p in self._procs)

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop the workers; scans they had not finished go back to the queue (not counted as attempts)."""
        self._stopping.set()
        if self._stop is None:
            return
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + grace_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for p in self._procs:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in self._procs:
            if p.is_alive():
                p.kill()
                p.join(5)
        if self._monitor is not None:
            self._monitor.join(MONITOR_S * 3)
        pids = {p.pid for p in self._procs}
        try:
            for repo in (self.store.enrolments, self.store.scans):
                for rec in repo.running():
                    hp = worker_pid(rec.worker or "")
                    mine = hp[1] in pids or (rec.worker or "").startswith(worker_id()) if hp else False
                    if hp and hp[0] == socket.gethostname() and mine:
                        repo.requeue(rec.id, rec.worker or "")
        except UnmaskError as e:
            log.warning("could not re-queue unfinished work (%s); it will be recovered at the next start", e)

    # -- recovery ---------------------------------------------------------------------------
    def recover(self, why: str = "the server stopped while scanning this file") -> None:
        """Re-queue (or fail, after ``max_attempts``) scans and enrolments whose worker is gone or silent."""
        try:
            for rec in self.store.scans.recover(local_worker_dead, self.settings.stale_after_s,
                                                self.settings.max_attempts, why=why):
                log.warning("scan %s (%s) was interrupted: now %s%s", rec.id, rec.source_name, rec.status,
                            f" ({rec.error})" if rec.error else "")
            self._recover_enrolments(local_worker_dead, self.settings.stale_after_s,
                                     "the server stopped while enrolling from this footage")
        except UnmaskError as e:
            log.warning("could not check for interrupted scans (%s)", e)

    def _recover_enrolments(self, dead: Any, stale_after_s: float, why: str) -> None:
        for rec in self.store.enrolments.recover(dead, stale_after_s, self.settings.max_attempts, why=why):
            log.warning("enrolment %s (%s) was interrupted: now %s%s", rec.id, rec.name, rec.status,
                        f" ({rec.error})" if rec.error else "")
            if rec.status == "failed":
                remove_enrolment_files(rec)

    def _watch(self) -> None:
        last_stale = time.monotonic()
        while not self._stopping.wait(MONITOR_S):
            for i, p in enumerate(self._procs):
                if p.is_alive() or self._stopping.is_set():
                    continue
                code = p.exitcode
                p.join(0)
                log.warning("worker process %s died (exit code %s); starting another", p.pid, code)
                # Replace first, then settle its work: whoever sees the work settled sees the pool whole.
                self._procs[i] = self._spawn()
                self.restarts += 1
                self._recover_dead(p.pid, code)
            if time.monotonic() - last_stale >= STALE_CHECK_S:
                last_stale = time.monotonic()
                self.recover()

    def _recover_dead(self, pid: int, code: int | None) -> None:
        host = socket.gethostname()

        def dead(worker: str) -> bool:
            return worker_pid(worker) == (host, pid)

        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        try:
            for rec in self.store.scans.recover(dead, float("inf"), self.settings.max_attempts,
                                                why=f"the scanning process died ({how})"):
                log.warning("scan %s (%s): now %s", rec.id, rec.source_name, rec.status)
            self._recover_enrolments(dead, float("inf"), f"the enrolling process died ({how})")
        except UnmaskError as e:
            log.warning("could not recover the work of worker %s (%s)", pid, e)
