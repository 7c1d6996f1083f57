"""The FastAPI app: the HTTP API under ``/v1``, the web app, offline API docs at ``/docs``.

Requests never scan: they store the upload, sniff it, and queue a scan row; the
worker pool does the rest. Every error is a JSON ``{"detail": "one line"}``.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from unmask import __version__
from unmask.errors import (
    ConfigError,
    InputError,
    MediaTooLarge,
    MissingInput,
    NotAFile,
    StoreError,
    UnknownPerson,
    UnknownScan,
    UnreadableInput,
)
from unmask.media.probe import probe
from unmask.service.engine import EngineFactory, ScannerEngine, merged_config
from unmask.service.pool import WorkerPool
from unmask.service.settings import ServiceSettings
from unmask.service.uploads import BadUpload, UploadTooLarge, receive
from unmask.store import ScanRecord, Store
from unmask.store.scans import new_scan_id

log = logging.getLogger("unmask.service")

COOKIE = "unmask_token"
bearer = HTTPBearer(auto_error=False, description="an API token from UNMASK_API_TOKENS")


# -- response models (they document the API at /docs) --------------------------------------------


class ScanLinks(BaseModel):
    self: str
    report_html: str
    page: str


class ScanOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    stage: str | None = Field(description="what the scan is doing now, e.g. faces, blinks")
    progress: float = Field(description="0..1")
    source_name: str = Field(description="the file's name as uploaded, or the server-side path")
    size_bytes: int | None
    sha256: str | None
    label: str | None = Field(description="the verdict once done: likely_real, inconclusive, likely_fake, no_face, cannot_assess")
    score: float | None
    error: str | None = Field(description="why the scan failed, one line")
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    links: ScanLinks


class ScanDetail(ScanOut):
    report: dict[str, Any] | None = Field(None, description="the JSON report (docs/report-schema.md) once done")


class ScanPageOut(BaseModel):
    items: list[ScanOut]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class PathRequest(BaseModel):
    path: str = Field(description="absolute path of a file on the server, inside a directory the operator allowed")
    settings: dict[str, Any] = Field(default_factory=dict, description='scan settings, e.g. {"sampling.fps": 4}')


class PersonOut(BaseModel):
    name: str
    version: int
    created_at: datetime
    summary: dict[str, Any]
    profile_bytes: int


class Health(BaseModel):
    status: str
    version: str
    workers_alive: int
    queued: int
    running: int


def scan_out(rec: ScanRecord, cls: type[ScanOut] = ScanOut, **extra: Any) -> Any:
    return cls(
        id=rec.id, status=rec.status, stage=rec.stage, progress=round(rec.progress, 4), source_name=rec.source_name,
        size_bytes=rec.size_bytes, sha256=rec.sha256, label=rec.label, score=rec.score, error=rec.error,
        attempts=rec.attempts, created_at=rec.created_at, started_at=rec.started_at, finished_at=rec.finished_at,
        links=ScanLinks(self=f"/v1/scans/{rec.id}", report_html=f"/v1/scans/{rec.id}/report.html", page=f"/scans/{rec.id}"),
        **extra)


# -- the service object -------------------------------------------------------------------------


class Service:
    """What the routes share: settings, the store, the worker pool."""

    def __init__(self, settings: ServiceSettings, factory: EngineFactory, start_workers: bool) -> None:
        self.settings = settings
        self.factory = factory
        self.start_workers = start_workers
        self.store: Store | None = None
        self.pool: WorkerPool | None = None

    def open(self) -> None:
        self.settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.settings.uploads_dir, 0o700)
        self.store = Store.open(self.settings.url)
        self._clean_uploads()
        if self.start_workers:
            self.pool = WorkerPool(self.settings, self.store, self.factory)
            self.pool.start()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.stop()
        if self.store is not None:
            self.store.close()

    def _clean_uploads(self) -> None:
        """Half-received uploads and files whose scan row never got written (a crash in between) go."""
        assert self.store is not None
        for p in self.settings.uploads_dir.iterdir():
            if p.name.startswith(".partial-"):
                p.unlink(missing_ok=True)
            elif p.is_file():
                try:
                    self.store.scans.get(p.name)
                except UnknownScan:
                    p.unlink(missing_ok=True)

    def check_token(self, token: str | None) -> bool:
        if not self.settings.auth_required:
            return True
        if not token:
            return False
        return any(hmac.compare_digest(token.encode(), t.encode()) for t in self.settings.tokens)


def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def _store(request: Request) -> Store:
    st = _service(request).store
    assert st is not None
    return st


def request_token(request: Request, creds: HTTPAuthorizationCredentials | None) -> str | None:
    if creds is not None and creds.scheme.lower() == "bearer":
        return creds.credentials
    return request.cookies.get(COOKIE)


def require_token(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    if not _service(request).check_token(request_token(request, creds)):
        raise HTTPException(401, "missing or wrong API token: send 'Authorization: Bearer TOKEN'",
                            headers={"WWW-Authenticate": "Bearer"})


def _input_status(e: InputError) -> int:
    """415 for content that is not media we read; 422 for media we refuse (too large) or a path that is no file."""
    return 422 if isinstance(e, (MediaTooLarge, MissingInput, NotAFile, UnreadableInput)) else 415


def _settings_from(raw: Any, base: ServiceSettings) -> dict[str, Any]:
    if raw in (None, "", {}):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise HTTPException(422, "settings must be a JSON object, e.g. {\"sampling.fps\": 4}") from None
    if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
        raise HTTPException(422, "settings must be a JSON object, e.g. {\"sampling.fps\": 4}")
    if any(isinstance(v, (dict, list)) for v in raw.values()):
        raise HTTPException(422, "settings use dotted keys with plain values, e.g. {\"sampling.fps\": 4}")
    try:
        merged_config(base.scan_config, raw)
    except ConfigError as e:
        raise HTTPException(422, f"bad settings: {e}") from None
    return dict(raw)


def create_app(settings: ServiceSettings | None = None, factory: EngineFactory = ScannerEngine,
               start_workers: bool = True) -> FastAPI:
    """The app. ``factory`` builds each worker's scan engine (tests pass a stub); ``start_workers=False``: API only."""
    settings = (settings or ServiceSettings.from_env()).validate()
    service = Service(settings, factory, start_workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.open()
        try:
            yield
        finally:
            service.close()

    app = FastAPI(title="unmask", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Tell whether a face in a video was swapped or re-animated by AI, and show why. "
                              "Upload a clip (`POST /v1/scans`), poll it (`GET /v1/scans/{id}`), read the report.")
    app.state.service = service
    auth = [Depends(require_token)]

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> JSONResponse:
        log.error("store: %s", exc)
        return JSONResponse({"detail": f"the database is not available: {exc}"}, status_code=503)

    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="unmask API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")

    @app.get("/healthz", response_model=Health, tags=["service"])
    def health(request: Request) -> Health:
        st, pool = _store(request), _service(request).pool
        return Health(status="ok", version=__version__, workers_alive=pool.alive() if pool else 0,
                      queued=st.scans.count("queued"), running=st.scans.count("running"))

    @app.post("/v1/scans", status_code=202, response_model=ScanOut, dependencies=auth, tags=["scans"],
              openapi_extra={"requestBody": {"content": {
                  "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                      "file": {"type": "string", "format": "binary"},
                      "settings": {"type": "string", "description": 'JSON object of scan settings, e.g. {"sampling.fps": 4}'}}}},
                  "application/json": {"schema": PathRequest.model_json_schema()},
                  "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    async def create_scan(request: Request, response: Response) -> ScanOut:
        """Queue a scan of an uploaded file (multipart field `file`, or the raw body with `?filename=`)
        or of a file already on the server (JSON `{"path": ...}`, inside a directory the operator allowed)."""
        svc, st = _service(request), _store(request)
        if await run_in_threadpool(st.scans.count, "queued") >= settings.max_queued:
            raise HTTPException(503, f"the queue is full ({settings.max_queued} scans waiting); try again later",
                                headers={"Retry-After": "60"})
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json":
            rec = await _create_from_path(request, svc)
        else:
            rec = await _create_from_upload(request, svc)
        if svc.pool is not None:
            svc.pool.notify()
        response.headers["Location"] = f"/v1/scans/{rec.id}"
        out: ScanOut = scan_out(rec)
        return out

    async def _create_from_upload(request: Request, svc: Service) -> ScanRecord:
        st = _store(request)
        scan_id = new_scan_id()
        partial = settings.uploads_dir / f".partial-{scan_id}"
        try:
            got = await receive(request, partial, settings.max_upload_bytes)
        except UploadTooLarge as e:
            raise HTTPException(413, str(e)) from None
        except BadUpload as e:
            raise HTTPException(400, str(e)) from None
        try:
            overrides = _settings_from(got.fields.get("settings"), settings)
            info = await run_in_threadpool(probe, partial, settings.scan_config.sampling)
        except InputError as e:
            partial.unlink(missing_ok=True)
            raise HTTPException(_input_status(e), f"{got.filename}: {e.problem}") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        final = settings.uploads_dir / scan_id
        partial.replace(final)
        try:
            return await run_in_threadpool(lambda: st.scans.create(
                got.filename, str(final), owns_media=True, overrides=overrides, sha256=info.sha256,
                size_bytes=info.size_bytes, scan_id=scan_id))
        except BaseException:
            final.unlink(missing_ok=True)
            raise

    async def _create_from_path(request: Request, svc: Service) -> ScanRecord:
        st = _store(request)
        try:
            body = PathRequest.model_validate(await request.json())
        except ValueError as e:
            raise HTTPException(422, f"expected {{\"path\": \"/absolute/path\"}}: {str(e).splitlines()[0]}") from None
        if not settings.allowed_dirs:
            raise HTTPException(403, "this server does not scan server-side paths (start it with --allow-dir DIR)")
        raw = Path(body.path)
        if not raw.is_absolute():
            raise HTTPException(422, "path must be absolute")
        outside = HTTPException(403, f"{body.path}: outside the directories this server may scan")
        if not any(Path(os.path.normpath(raw)).is_relative_to(d) for d in settings.allowed_dirs):
            raise outside  # before touching the disk: no probing for files elsewhere
        try:
            real = raw.resolve(strict=True)
        except (OSError, RuntimeError):
            raise HTTPException(422, f"{body.path}: no such file") from None
        if not any(real.is_relative_to(d) for d in settings.allowed_dirs):
            raise outside  # a symlink out of the allowed directory
        overrides = _settings_from(body.settings, settings)
        try:
            info = await run_in_threadpool(probe, real, settings.scan_config.sampling)
        except InputError as e:
            raise HTTPException(_input_status(e), f"{body.path}: {e.problem}") from None
        return await run_in_threadpool(lambda: st.scans.create(
            body.path, str(real), owns_media=False, overrides=overrides, sha256=info.sha256, size_bytes=info.size_bytes))

    @app.get("/v1/scans", response_model=ScanPageOut, dependencies=auth, tags=["scans"])
    def list_scans(request: Request, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
                   status: Literal["queued", "running", "done", "failed"] | None = None) -> ScanPageOut:
        """Scans, newest first."""
        page = _store(request).scans.list(limit=limit, offset=offset, status=status)
        return ScanPageOut(items=[scan_out(r) for r in page.items], total=page.total, limit=page.limit,
                           offset=page.offset, next_offset=page.next_offset)

    @app.get("/v1/scans/{scan_id}", response_model=ScanDetail, dependencies=auth, tags=["scans"])
    def get_scan(request: Request, scan_id: str, report: bool = Query(True, description="include the JSON report once done")) -> ScanDetail:
        """Status and progress; the JSON report once done."""
        st = _store(request)
        try:
            rec = st.scans.get(scan_id)
            data = st.scans.report(scan_id) if report and rec.status == "done" else None
        except UnknownScan:
            raise HTTPException(404, f"no scan {scan_id}") from None
        out: ScanDetail = scan_out(rec, ScanDetail, report=data)
        return out

    @app.get("/v1/scans/{scan_id}/report.html", dependencies=auth, tags=["scans"], response_class=HTMLResponse,
             responses={409: {"description": "the scan has not finished, or failed"}})
    def get_report_html(request: Request, scan_id: str, download: bool = False) -> Response:
        """The self-contained HTML report (works offline; save it, print it, cite it)."""
        st = _store(request)
        try:
            rec = st.scans.get(scan_id)
            html = st.scans.report_html(scan_id) if rec.status == "done" else None
        except UnknownScan:
            raise HTTPException(404, f"no scan {scan_id}") from None
        if html is None:
            why = f"failed: {rec.error}" if rec.status == "failed" else f"{rec.status} ({rec.progress:.0%})"
            raise HTTPException(409, f"scan {scan_id} has no report: {why}")
        stem = Path(rec.source_name).stem or "scan"
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:80]
        disposition = "attachment" if download else "inline"
        return Response(html, media_type="text/html; charset=utf-8", headers={
            "Content-Disposition": f'{disposition}; filename="unmask-{safe}.html"',
            "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff"})

    @app.delete("/v1/scans/{scan_id}", status_code=204, dependencies=auth, tags=["scans"])
    def delete_scan(request: Request, scan_id: str) -> Response:
        """Delete a scan, its report and its uploaded file (a running scan is abandoned)."""
        try:
            rec = _store(request).scans.delete(scan_id)
        except UnknownScan:
            raise HTTPException(404, f"no scan {scan_id}") from None
        if rec.owns_media:
            Path(rec.media_path).unlink(missing_ok=True)
        return Response(status_code=204)

    @app.get("/v1/people", response_model=list[PersonOut], dependencies=auth, tags=["people"])
    def list_people(request: Request) -> list[PersonOut]:
        """Enrolled people for reference mode (newest version of each)."""
        return [_person(p) for p in _store(request).people.list()]

    @app.get("/v1/people/{name}", response_model=list[PersonOut], dependencies=auth, tags=["people"])
    def person_versions(request: Request, name: str) -> list[PersonOut]:
        """Every stored version of one person, oldest first."""
        try:
            return [_person(p) for p in _store(request).people.versions(name)]
        except UnknownPerson as e:
            raise HTTPException(404, str(e)) from None

    @app.delete("/v1/people/{name}", status_code=204, dependencies=auth, tags=["people"])
    def delete_person(request: Request, name: str, version: int | None = None) -> Response:
        """Remove a person (every version, or one)."""
        try:
            _store(request).people.delete(name, version)
        except UnknownPerson as e:
            raise HTTPException(404, str(e)) from None
        return Response(status_code=204)

    from unmask.service.web import add_web_routes

    add_web_routes(app)
    return app


def _person(p: Any) -> PersonOut:
    return PersonOut(name=p.name, version=p.version, created_at=p.created_at, summary=p.summary, profile_bytes=len(p.profile))

