"""The local back-end of ``unmask batch``: worker processes on this machine, fed one file at a time."""

from __future__ import annotations

import multiprocessing as mp
import time
from collections import deque
from multiprocessing.connection import wait
from pathlib import Path

from unmask.batch.limits import POLL_S, BatchLimits
from unmask.batch.process import Slot, death_reason, discard, over_limits, spawn_worker, stop_slots
from unmask.batch.record import Recorder, Task
from unmask.config import ScanConfig
from unmask.errors import BatchError
from unmask.workers.engine import EngineFactory


class LocalPool:
    """The driver's side of the worker processes: hand out tasks, watch limits, replace the dead."""

    def __init__(self, factory: EngineFactory, config: ScanConfig, workers: int, limits: BatchLimits, out: Path,
                 recorder: Recorder) -> None:
        self.factory, self.config, self.workers, self.limits = factory, config, workers, limits
        self.out, self.recorder = out, recorder
        self.ctx = mp.get_context("spawn")
        self.slots: list[Slot] = []
        self.restarts = 0

    def _spawn(self) -> Slot:
        return spawn_worker(self.ctx, self.factory, self.config, self.out, self.limits.threads)

    def run(self, tasks: list[Task]) -> int:
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
                            s.conn.send(s.task.job(self.limits))
                        except OSError:  # it just died: seen below, and the task is tried again
                            pass
                wait([s.conn for s in self.slots] + [s.proc.sentinel for s in self.slots], timeout=POLL_S)
                alive: list[Slot] = []
                for s in self.slots:
                    self._read(s)
                    if s.proc.is_alive():
                        if s.task is not None:
                            self._watch(s)
                        alive.append(s)
                        continue
                    self._died(s, pending)
                    discard(s)
                    if pending:  # a replacement, while there is work for it
                        alive.append(self._spawn())
                        self.restarts += 1
                self.slots = alive
        finally:
            stop_slots(self.slots)
        return self.restarts

    def _read(self, s: Slot) -> None:
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

    def _watch(self, s: Slot) -> None:
        s.kill_reason = over_limits(s, self.limits)
        if s.kill_reason:
            s.proc.kill()

    def _died(self, s: Slot, pending: deque[Task]) -> None:
        why = death_reason(s)
        if not s.ready and s.task is None:
            raise BatchError(f"a batch worker could not start ({why}); run `unmask scan` on one file to see why")
        task, s.task = s.task, None
        if task is not None:
            self.recorder.died(task, why, pending)
