"""What the routes share, made once per app: settings, the store, the worker pool, the probe slots.

:class:`Service` is the app's state (``app.state.service``) and its lifecycle: ``open``
at startup (store, uploads directory, workers), ``close`` at shutdown.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from unmask.errors import UnknownEnrolment, UnknownScan
from unmask.media.probe import probe
from unmask.media.sandbox import probe_isolated
from unmask.service.pool import WorkerPool
from unmask.service.settings import ServiceSettings
from unmask.store import Store
from unmask.types import MediaInfo
from unmask.workers.engine import EngineFactory

MAX_ENROL_FILES = 20  # files in one enrolment request
ENROL_WAIT_S = 600.0  # POST /v1/people?wait=true waits at most this long for the enrolment to finish
ENROL_DIR = "enrolments"  # under the uploads directory: one folder per enrolment, files 0, 1, ...


class Service:
    """What the routes share: settings, the store, the worker pool."""

    def __init__(self, settings: ServiceSettings, factory: EngineFactory, start_workers: bool) -> None:
        self.settings = settings
        self.factory = factory
        self.start_workers = start_workers
        self.store: Store | None = None
        self.pool: WorkerPool | None = None
        self._probe_slots: asyncio.Semaphore | None = None  # made on first use, inside the server's event loop

    async def probe(self, path: Path) -> MediaInfo:
        """Sniff an upload without decoding it here: in a child process under the probe limits,
        at most ``max_probes`` at once (later uploads wait their turn, holding no thread)."""
        if self._probe_slots is None:
            self._probe_slots = asyncio.Semaphore(self.settings.max_probes)
        sampling = self.settings.scan_config.sampling
        async with self._probe_slots:
            if self.settings.probe_mode == "inline":
                return await run_in_threadpool(probe, path, sampling)
            return await run_in_threadpool(probe_isolated, path, sampling, self.settings.probe_limits)

    def open(self) -> None:
        self.settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.settings.uploads_dir, 0o700)
        self.store = Store.open(self.settings.url)
        self._clean_uploads()
        if self.start_workers:
            self.pool = WorkerPool(self.settings, self.store, self.factory)
            self.pool.start()

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """FastAPI's lifespan: open before the first request, close after the last."""
        self.open()
        try:
            yield
        finally:
            self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.stop()
        if self.store is not None:
            self.store.close()

    @property
    def enrol_dir(self) -> Path:
        return self.settings.uploads_dir / ENROL_DIR

    def _clean_uploads(self) -> None:
        """Half-received uploads and files whose scan row never got written (a crash in between) go,
        and so does the footage of enrolments that finished (or whose row is gone)."""
        assert self.store is not None
        for p in self.settings.uploads_dir.iterdir():
            if p.name.startswith(".partial-"):
                p.unlink(missing_ok=True)
            elif p.is_file():
                try:
                    self.store.scans.get(p.name)
                except UnknownScan:
                    p.unlink(missing_ok=True)
        if self.enrol_dir.is_dir():
            for d in self.enrol_dir.iterdir():
                try:
                    keep = not d.name.startswith(".partial-") and not self.store.enrolments.get(d.name).finished
                except UnknownEnrolment:
                    keep = False
                if not keep:
                    shutil.rmtree(d, ignore_errors=True) if d.is_dir() else d.unlink(missing_ok=True)

    def check_token(self, token: str | None) -> bool:
        if not self.settings.auth_required:
            return True
        if not token:
            return False
        return any(hmac.compare_digest(token.encode(), t.encode()) for t in self.settings.tokens)
