"""The Ray back-end of ``unmask batch``: the same tasks, scanned by actors on a Ray cluster.

The driver (the calling process) still plans (hashing, resume), writes the index and
the summary; only the scanning moves. Each actor holds one
:class:`~unmask.batch.process.WorkerProcess`, the local pool's worker process with its
time and memory limits, so a file that crashes the decoder, hangs or blows its memory
kills that process only; the actor answers why and starts a fresh one. An actor that
dies itself (its process killed, its node lost) fails the call in flight; the driver
replaces the actor and tries the file again, counting the try, as the local pool does
for a dead worker.

Backpressure: the driver holds one call in flight per actor and the rest of the plan
in memory as small tasks; nothing goes through Ray's object store but a path out and
a one-line row back, so a million inputs cost the driver what their plan costs
(docs/scale-out.md, "Ray").

Ray is imported only here, and only when a batch runs with ``ray``: ``pip install 'unmask[ray]'``.
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unmask.batch.limits import POLL_S, BatchLimits
from unmask.batch.plan import fusion_version
from unmask.batch.process import WorkerProcess
from unmask.batch.record import Job, Recorder, Task
from unmask.config import ScanConfig
from unmask.errors import BatchError, ConfigError
from unmask.workers.engine import EngineFactory

RAY_MISSING = "unmask batch --ray needs the ray extra: pip install 'unmask[ray]'"
#: seconds an actor may overrun a file's own time limit (its worker is killed at the limit) before the driver kills it
ACTOR_GRACE_S = 60.0


@dataclass(frozen=True)
class RayOptions:
    """Where the actors run.

    ``address``: ``"auto"`` joins the cluster this machine belongs to (``RAY_ADDRESS``, else the one
    ``ray start`` left running here); ``"host:port"`` or ``"ray://host:10001"`` a given one; ``"local"``
    starts a private one-machine Ray in this process (CI, a laptop). ``object_store_mb`` sizes the
    object store of a ``"local"`` Ray (the batch passes only paths and rows through it); ``cpus_per_worker``
    is each actor's CPU reservation, which sets how many actors a node takes.
    """

    address: str = "auto"
    object_store_mb: int = 256
    cpus_per_worker: float = 1.0

    def validate(self) -> RayOptions:
        if not self.address or self.object_store_mb < 80 or self.cpus_per_worker <= 0:
            raise ConfigError("batch --ray: an address, an object store of at least 80 MB, cpus per worker > 0")
        return self


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BatchError(RAY_MISSING) from None
    return ray


class ScanActor:
    """A Ray actor: one worker process with the models loaded, scanning one file per call."""

    def __init__(self, factory: EngineFactory, config: ScanConfig, out: str, limits: BatchLimits) -> None:
        self.worker = WorkerProcess(factory, config, out, limits)
        self.worker.start()

    def ready(self) -> dict[str, Any]:
        """Where this actor runs and which fusion model its installation ships."""
        try:
            version: str | None = fusion_version()
        except Exception:  # noqa: BLE001 - reported to the driver, which decides
            version = None
        return {"node": socket.gethostname(), "pid": os.getpid(),
                "worker_pid": self.worker.slot.proc.pid if self.worker.slot else None, "fusion_version": version}

    def scan(self, job: Job) -> tuple[dict[str, Any] | None, str | None]:
        return self.worker.scan(job)

    def worker_pid(self) -> int | None:
        return self.worker.slot.proc.pid if self.worker.slot else None


@dataclass
class _Actor:
    handle: Any
    ready_ref: Any = None
    ready: bool = False
    task: Task | None = None
    ref: Any = None
    started: float = 0.0


class RayPool:
    """The driver's side of the actors: connect, hand out one file per actor, replace actors that die."""

    def __init__(self, options: RayOptions, factory: EngineFactory, config: ScanConfig, workers: int | None,
                 limits: BatchLimits, out: Path, recorder: Recorder, *, check_version: str | None) -> None:
        self.options = options.validate()
        self.factory, self.config, self.limits, self.out = factory, config, limits, out
        self.recorder, self.check_version = recorder, check_version
        self.wanted = workers
        self.workers = workers or 0
        self.backend = f"ray {options.address}"
        self.restarts = 0
        self._ray: Any = None
        self._cls: Any = None

    # -- connecting --------------------------------------------------------------------------------

    def _connect(self) -> bool:
        """``ray.init`` unless this process is already connected; True when we connected (and must disconnect)."""
        ray = self._ray = import_ray()
        if ray.is_initialized():
            return False
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR",
                                  "configure_logging": True}
        if self.options.address == "local":
            kwargs["object_store_memory"] = self.options.object_store_mb << 20
            if self.wanted:
                kwargs["num_cpus"] = max(1, int(round(self.wanted * self.options.cpus_per_worker)))
        else:
            kwargs["address"] = self.options.address
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as e:
            hint = " (start one with `ray start --head`, or use --ray local)" if self.options.address == "auto" else ""
            raise BatchError(f"batch --ray: cannot reach a Ray cluster at {self.options.address}{hint}: "
                             f"{' '.join(str(e).split())[:200]}") from None
        return True

    def _new_actor(self) -> _Actor:
        handle = self._cls.remote(self.factory, self.config, str(self.out), self.limits)
        return _Actor(handle, handle.ready.remote())

    # -- running -----------------------------------------------------------------------------------

    def run(self, tasks: list[Task]) -> int:
        pending = deque(tasks)
        if not pending:
            return 0
        connected = self._connect()
        ray = self._ray
        try:
            if not self.wanted:
                cpus = float(ray.cluster_resources().get("CPU", 1))
                self.workers = max(1, int(cpus // self.options.cpus_per_worker))
            self._cls = ray.remote(num_cpus=self.options.cpus_per_worker, max_restarts=0, max_task_retries=0,
                                   scheduling_strategy="SPREAD")(ScanActor)
            actors = [self._new_actor() for _ in range(min(self.workers, len(pending)))]
            try:
                self._loop(pending, actors)
            finally:
                for a in actors:
                    ray.kill(a.handle)
        finally:
            if connected:
                ray.shutdown()
        return self.restarts

    def _loop(self, pending: deque[Task], actors: list[_Actor]) -> None:
        ray = self._ray
        ever_ready = False
        failed_starts = 0
        while pending or any(a.task is not None for a in actors):
            for a in actors:
                if a.ready and a.task is None and pending:
                    a.task = pending.popleft()
                    a.task.attempts += 1
                    a.started = time.monotonic()
                    a.ref = a.handle.scan.remote(a.task.job(self.limits))
            refs = [a.ref for a in actors if a.task is not None] + [a.ready_ref for a in actors if not a.ready]
            if not refs:
                raise BatchError("batch --ray: no actor left to scan with")
            ray.wait(refs, num_returns=1, timeout=POLL_S * 5)  # wake on the first answer, then take all there are
            finished = set(ray.wait(refs, num_returns=len(refs), timeout=0)[0])
            for i, a in enumerate(actors):
                if not a.ready and a.ready_ref in finished:
                    try:
                        info = ray.get(a.ready_ref)
                    except ray.exceptions.RayError as e:
                        failed_starts += 1  # a node without unmask would otherwise be retried forever
                        # none ever started and each has failed once (a broken install everywhere), or too many tries
                        if (not ever_ready and failed_starts >= len(actors)) or failed_starts > 2 * len(actors) + 2:
                            raise BatchError(f"a batch worker could not start on Ray ({_why(e)}); "
                                             "run `unmask scan` on one file there to see why") from None
                        actors[i] = self._replace(a)
                        continue
                    self._check(info)
                    a.ready = ever_ready = True
                elif a.task is not None and a.ref in finished:
                    task, a.task = a.task, None
                    try:
                        fields, why = ray.get(a.ref)
                    except ray.exceptions.RayError as e:
                        fields, why = None, f"the Ray actor scanning it died ({_why(e)})"
                        actors[i] = self._replace(a)
                    else:
                        self.restarts += fields is None  # the actor starts a fresh worker on its next file
                    if fields is not None:
                        self.recorder.finished(task, fields)
                    else:
                        self.recorder.died(task, why or "no answer", pending)
                elif a.task is not None and time.monotonic() - a.started > self.limits.timeout_s + ACTOR_GRACE_S:
                    task, a.task = a.task, None  # the actor itself is stuck: its worker's own limit did not fire
                    actors[i] = self._replace(a)
                    self.recorder.died(task, f"took longer than the {self.limits.timeout_s:g} s a file may take",
                                       pending)

    def _replace(self, a: _Actor) -> _Actor:
        self._ray.kill(a.handle)
        self.restarts += 1
        return self._new_actor()

    def _check(self, info: dict[str, Any]) -> None:
        theirs = info.get("fusion_version")
        if self.check_version is not None and theirs != self.check_version:
            raise BatchError(f"batch --ray: the worker on {info.get('node')} has fusion model {theirs}, this machine "
                             f"{self.check_version}; install the same unmask on every node")


def _why(e: BaseException) -> str:
    """A Ray exception in one short line (its own messages run to many lines)."""
    first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")
    return f"{type(e).__name__}: {first[:160]}" if first else type(e).__name__
