"""The FastAPI app: the HTTP API under ``/v1``, the web app, offline API docs at ``/docs``.

Requests never scan or enrol: they store the upload, sniff it, and queue a scan
(or enrolment) row; the worker pool does the rest. Sniffing decodes the first
picture, so it runs in a child process with memory and CPU limits, a few at a
time (``Service.probe``), never in this process. Every error is a JSON
``{"detail": "one line"}``.

The routes live in ``routers/`` (health and docs, scans, people, pages), the models in
``schemas``, the shared state in ``state``, the dependencies (store, token) in ``deps``.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.staticfiles import StaticFiles

from unmask.errors import StoreError
from unmask.service.routers import health, pages, people, scans
from unmask.service.settings import ServiceSettings
from unmask.service.state import Service
from unmask.version import __version__
from unmask.workers.engine import EngineFactory, ScannerEngine

log = logging.getLogger("unmask.service")


async def store_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("store: %s", exc)
    return JSONResponse({"detail": f"the database is not available: {exc}"}, status_code=503)


def create_app(settings: ServiceSettings | None = None, factory: EngineFactory = ScannerEngine,
               start_workers: bool = True) -> FastAPI:
    """The app. ``factory`` builds each worker's scan engine (tests pass a stub); ``start_workers=False``: API only."""
    settings = (settings or ServiceSettings.from_env()).validate()
    service = Service(settings, factory, start_workers)
    app = FastAPI(title="unmask", version=__version__, lifespan=service.lifespan, docs_url=None, redoc_url=None,
                  description="Tell whether a face in a video was swapped or re-animated by AI, and show why. "
                              "Upload a clip (`POST /v1/scans`), poll it (`GET /v1/scans/{id}`), read the report.")
    app.state.service = service
    app.add_exception_handler(StoreError, store_error)

    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    for router in (health.router, scans.router, people.router, pages.router):
        app.include_router(router)
    return app
