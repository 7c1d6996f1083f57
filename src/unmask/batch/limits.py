"""What a batch may cost per file and how it reports where it stands: shared by the local pool and Ray."""

from __future__ import annotations

import os
from dataclasses import dataclass

from unmask.batch.remote import Source
from unmask.errors import ConfigError

POLL_S = 0.2  # how often the driver checks deadlines and memory


@dataclass(frozen=True)
class BatchLimits:
    """What one file may cost before its worker is killed, and how often it is tried again after that."""

    timeout_s: float = 1800.0  # wall seconds per file (models load before the clock starts)
    max_memory_mb: int = 4096  # resident memory of the worker scanning it, models included
    retries: int = 1  # further tries after a worker died on the file
    # CPU threads a worker's libraries may start (onnxruntime, OpenCV, OpenMP); None: the cores divided among the
    # workers (local; the libraries' defaults with one worker) or the actor's CPUs (Ray); 0: the libraries' defaults
    threads: int | None = None
    max_download_mb: int = 16384  # an object read from a URL is copied to the worker's scratch folder up to this size

    def validate(self) -> BatchLimits:
        if (self.timeout_s <= 0 or self.max_memory_mb < 256 or self.retries < 0 or (self.threads or 0) < 0
                or self.max_download_mb < 1):
            raise ConfigError("batch limits: timeout positive, memory at least 256 MB, retries and threads >= 0, "
                              "download cap at least 1 MB")
        return self


DEFAULT_LIMITS = BatchLimits()


@dataclass(frozen=True)
class BatchProgress:
    """Where a batch stands, given to the progress callback after each file (scanned, skipped or failed)."""

    done: int
    total: int
    errors: int
    resumed: int  # files skipped because their report was already there
    path: Source | None = None  # the file just finished


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
