"""The start of a worker process, the same for a service worker and a batch worker."""

from __future__ import annotations

import os
import signal

from unmask.config import ScanConfig
from unmask.workers.engine import EngineFactory, ScanEngine


def die_with_parent() -> None:
    """Linux: the kernel kills this worker when the process that started it dies, even by SIGKILL."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def limit_threads(n: int) -> None:
    """At most ``n`` compute threads per library in this process (set before the engine loads its models)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    import cv2

    cv2.setNumThreads(n)
    from unmask.learned import runtime

    runtime.THREADS = min(runtime.THREADS, n)  # onnxruntime's intra-op threads, read when a session is created


def load_engine(factory: EngineFactory, config: ScanConfig) -> ScanEngine:
    """Build the worker's engine and load its models now, before the first file arrives (a stub may have no
    ``load``)."""
    engine = factory(config)
    load = getattr(engine, "load", None)
    if callable(load):
        load()
    return engine
