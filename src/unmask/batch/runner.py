"""Scan many files with a local pool of worker processes, each loading the models once.

The driver (the calling process) hashes each input, skips those whose report the
output folder already holds for the same content, fusion model and configuration
(:mod:`~unmask.batch.plan`), and hands the rest out one at a time to ``workers``
processes (:class:`~unmask.batch.local_pool.LocalPool`, or Ray actors with
:mod:`~unmask.batch.ray_pool`). A worker (:mod:`~unmask.batch.process`) builds one
engine (:class:`~unmask.workers.engine.ScannerEngine` by default) and reuses it; it
writes the file's JSON (and HTML) report itself, atomically, and answers with a
one-line summary that the driver appends to the index (:mod:`~unmask.batch.record`).

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
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from unmask.batch.index import ResultIndex
from unmask.batch.limits import DEFAULT_LIMITS, BatchLimits, BatchProgress, default_workers
from unmask.batch.local_pool import LocalPool
from unmask.batch.plan import fusion_version, plan
from unmask.batch.record import BatchState, Recorder
from unmask.batch.remote import RemoteFile, Source, is_url, pyarrow_fs
from unmask.batch.summary import BatchSummary, tally
from unmask.config import ScanConfig
from unmask.errors import BatchError, ConfigError
from unmask.workers.engine import EngineFactory

if TYPE_CHECKING:
    from unmask.batch.ray_pool import RayOptions

__all__ = ["BatchLimits", "BatchProgress", "BatchSummary", "default_workers", "fusion_version", "run_batch"]


def run_batch(paths: Sequence[Path | RemoteFile | str], out: Path, config: ScanConfig | None = None, *,
              workers: int | None = None,
              html: bool = False, limits: BatchLimits = DEFAULT_LIMITS, factory: EngineFactory | None = None,
              progress: Callable[[BatchProgress], None] | None = None, model_version: str | None = None,
              ray: RayOptions | None = None) -> BatchSummary:
    """Scan ``paths`` into ``out`` (reports, ``index.jsonl``, ``index.parquet``, ``summary.json``); resumable.

    A path may be a URL (a ``str`` or :class:`~unmask.batch.remote.RemoteFile`, as :func:`expand_inputs` gives):
    its worker downloads it (docs/scale-out.md, "Object stores").
    With ``ray`` the files are scanned by actors on a Ray cluster (:mod:`unmask.batch.ray_pool`) instead of
    local processes; planning, the index, resume and the summary stay here, in the calling process.
    """
    config = (config or ScanConfig()).validate()
    limits = limits.validate()
    sources: list[Source] = [p if isinstance(p, RemoteFile) else RemoteFile(p) if isinstance(p, str) and is_url(p)
                             else Path(p) for p in paths]
    if any(isinstance(p, RemoteFile) for p in sources):
        pyarrow_fs()  # the batch extra: say so now, not once per file
    if workers is not None and workers < 0:
        raise ConfigError("batch: at least one worker")
    workers = workers or None  # 0, as before: the default (the cores here, the cluster's CPUs on Ray)
    if ray is not None:
        from unmask.batch.ray_pool import import_ray

        ray.validate()
        import_ray()  # before hashing a million files: say now that the extra is missing
    if factory is None:
        from unmask.workers.engine import ScannerEngine

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
    state = BatchState(len(sources), progress)
    if limits.threads is None:  # one scan keeps ~1.5 cores busy: several on few cores must not each start 2+ threads
        if ray is not None:
            limits = replace(limits, threads=max(1, round(ray.cpus_per_worker)))
        else:
            n = workers or default_workers()
            limits = replace(limits, threads=max(1, default_workers() // n) if n > 1 else 0)
    backend = "local"
    with index:
        tasks = plan(sources, out, version, digest, run_dir, html, index, state)
        recorder = Recorder(index, version, digest, state, limits)
        if ray is not None:
            from unmask.batch.ray_pool import RayPool

            pool = RayPool(ray, factory, config, workers, limits, out, recorder,
                           check_version=None if model_version else version)
            restarts = pool.run(tasks)
            workers, backend = pool.workers, pool.backend
        else:
            workers = workers or default_workers()
            restarts = LocalPool(factory, config, workers, limits, out, recorder).run(tasks)
    counts = tally(index, sources, out, version, digest)
    wall = time.perf_counter() - t_start
    summary = BatchSummary(
        out=str(out), files=len(sources), scanned=state.scanned, resumed=state.resumed, errors=state.errors,
        workers=workers, wall_s=round(wall, 3), files_per_s=round(state.scanned / wall, 4) if state.scanned else None,
        verdicts=counts.verdicts, fusion_version=version, config_digest=digest,
        limits=asdict(limits), index=str(out / "index.jsonl"), parquet=str(counts.parquet) if counts.parquet else None,
        failed=counts.failed,
        worker_restarts=restarts, backend=backend)
    from unmask.process_io import write_atomic

    write_atomic(out / "summary.json", json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary
