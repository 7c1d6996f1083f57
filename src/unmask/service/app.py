"""The FastAPI app: the HTTP API under ``/v1``, the web app, offline API docs at ``/docs``.

Requests never scan or enrol: they store the upload, sniff it, and queue a scan
(or enrolment) row; the worker pool does the rest. Sniffing decodes the first
picture, so it runs in a child process with memory and CPU limits, a few at a
time (``Service.probe``), never in this process. Every error is a JSON
``{"detail": "one line"}``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from unmask.errors import (
    ConfigError,
    InputError,
    MediaTooLarge,
    MissingInput,
    NotAFile,
    ProfileError,
    StoreError,
    UnknownEnrolment,
    UnknownPerson,
    UnknownScan,
    UnreadableInput,
)
from unmask.media.probe import probe
from unmask.media.sandbox import probe_isolated
from unmask.service.pool import WorkerPool
from unmask.service.settings import ServiceSettings
from unmask.service.uploads import BadUpload, UploadTooLarge, receive, receive_files
from unmask.service.worker import remove_enrolment_files
from unmask.store import EnrolmentFile, EnrolmentRecord, PersonRecord, ScanRecord, Store
from unmask.store.enrolments import new_enrolment_id
from unmask.store.scans import new_scan_id
from unmask.types import MediaInfo
from unmask.version import __version__
from unmask.workers.engine import EngineFactory, ScannerEngine

log = logging.getLogger("unmask.service")

COOKIE = "unmask_token"
bearer = HTTPBearer(auto_error=False, description="an API token from UNMASK_API_TOKENS")

MAX_ENROL_FILES = 20  # files in one enrolment request
ENROL_WAIT_S = 600.0  # POST /v1/people?wait=true waits at most this long for the enrolment to finish
ENROL_DIR = "enrolments"  # under the uploads directory: one folder per enrolment, files 0, 1, ...


# -- response models (they document the API at /docs) --------------------------------------------


class ScanLinks(BaseModel):
    self: str
    report_html: str
    page: str


class ClaimOut(BaseModel):
    name: str = Field(description="the enrolled person the file is claimed to show")
    version: int = Field(description="the profile version it is checked against (the newest when the scan was queued, unless asked)")
    conclusion: str | None = Field(None, description="once done, the reference check's conclusion: consistent, impersonator, "
                                                     "voice_mismatch, mannerisms_unclear, mannerisms_not_checked, "
                                                     "not_this_person, cannot_assess")


class ScanOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    stage: str | None = Field(description="what the scan is doing now, e.g. faces, blinks")
    progress: float = Field(description="0..1")
    source_name: str = Field(description="the file's name as uploaded, or the server-side path")
    size_bytes: int | None
    sha256: str | None
    label: str | None = Field(description="the verdict once done: likely_real, inconclusive, likely_fake, no_face, cannot_assess, declared_synthetic")
    score: float | None
    error: str | None = Field(description="why the scan failed, one line")
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    claims: ClaimOut | None = Field(None, description="reference mode: who the file is claimed to show (docs/report-schema.md, reference)")
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
    claims: str | None = Field(None, description="an enrolled person the file is claimed to show (adds the reference check)")
    claims_version: int | None = Field(None, description="that person's profile version (default: the newest)")


class PersonOut(BaseModel):
    name: str
    version: int
    created_at: datetime
    summary: dict[str, Any]
    profile_bytes: int


class EnrolledPerson(BaseModel):
    name: str
    version: int
    summary: dict[str, Any]


class EnrolmentFileOut(BaseModel):
    name: str = Field(description="the file's name as uploaded")
    size_bytes: int


class EnrolmentLinks(BaseModel):
    self: str
    person: str


class EnrolmentOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    stage: str | None = Field(description="what the enrolment is doing now, e.g. reading speech1.mp4")
    progress: float = Field(description="0..1")
    name: str = Field(description="the person being enrolled")
    files: list[EnrolmentFileOut]
    error: str | None = Field(description="why the enrolment failed, one line (e.g. too little usable footage)")
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    person: EnrolledPerson | None = Field(description="once done: the new version and its summary")
    lines: list[str] = Field(description="once done: what each file gave (seconds of face, face images, mannerism windows, seconds of speech; then the voice)")
    links: EnrolmentLinks


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
        claims=ClaimOut(name=rec.claims, version=rec.claims_version or 0, conclusion=rec.claim_conclusion)
        if rec.claims else None,
        links=ScanLinks(self=f"/v1/scans/{rec.id}", report_html=f"/v1/scans/{rec.id}/report.html", page=f"/scans/{rec.id}"),
        **extra)


def enrolment_out(rec: EnrolmentRecord) -> EnrolmentOut:
    from urllib.parse import quote

    person = (EnrolledPerson(name=rec.name, version=rec.person_version, summary=rec.summary or {})
              if rec.status == "done" and rec.person_version is not None else None)
    return EnrolmentOut(
        id=rec.id, status=rec.status, stage=rec.stage, progress=round(rec.progress, 4), name=rec.name,
        files=[EnrolmentFileOut(name=f.name, size_bytes=f.size_bytes) for f in rec.files], error=rec.error,
        attempts=rec.attempts, created_at=rec.created_at, started_at=rec.started_at, finished_at=rec.finished_at,
        person=person, lines=list(rec.lines),
        links=EnrolmentLinks(self=f"/v1/enrolments/{rec.id}", person=f"/v1/people/{quote(rec.name, safe='')}"))


# -- the service object -------------------------------------------------------------------------


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
        base.scan_config.with_overrides(raw)
    except ConfigError as e:
        raise HTTPException(422, f"bad settings: {e}") from None
    return dict(raw)


def _claim_from(st: Store, name: Any, version: Any) -> tuple[str, int] | None:
    """A request's claimed person, checked now: (stored name, profile version), or ``None`` without a claim.

    Names match as ``unmask scan --claims`` does (exactly, else the one enrolled name equal
    ignoring case); without a version the newest is fixed now, so the scan is checked
    against the profile that existed when it was queued.
    """
    from unmask.reference.people import People

    if name is None or (isinstance(name, str) and not name.strip()):
        if version not in (None, ""):
            raise HTTPException(422, "claims_version needs claims (the person's name)")
        return None
    if not isinstance(name, str):
        raise HTTPException(422, "claims must be a person's name")
    v: int | None = None
    if version not in (None, ""):
        try:
            v = int(version)
        except (TypeError, ValueError):
            raise HTTPException(422, f"claims_version must be a whole number, got {version!r}") from None
        if v < 1:
            raise HTTPException(422, "claims_version must be 1 or more")
    try:
        profile = People(st).get(name, v)
    except UnknownPerson as e:
        raise HTTPException(422, f"claims: {e} (GET /v1/people lists them; POST /v1/people enrols someone)") from None
    except ProfileError as e:
        raise HTTPException(422, f"claims: {e}") from None
    assert profile.version is not None
    return profile.name, profile.version


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
                      "settings": {"type": "string", "description": 'JSON object of scan settings, e.g. {"sampling.fps": 4}'},
                      "claims": {"type": "string", "description": "an enrolled person the file is claimed to show"},
                      "claims_version": {"type": "integer", "description": "that person's profile version (default: newest)"}}}},
                  "application/json": {"schema": PathRequest.model_json_schema()},
                  "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    async def create_scan(request: Request, response: Response) -> ScanOut:
        """Queue a scan of an uploaded file (multipart field `file`, or the raw body with `?filename=`)
        or of a file already on the server (JSON `{"path": ...}`, inside a directory the operator allowed).

        `claims` (a multipart field, a query parameter with a raw body, or a JSON key) names an
        enrolled person the file is claimed to show: the scan then also checks the face against that
        person's profile (the newest version, or `claims_version`). An unknown person is refused
        now (422), not when the scan runs."""
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
            q = request.query_params
            claim = await run_in_threadpool(_claim_from, st, got.fields.get("claims", q.get("claims")),
                                            got.fields.get("claims_version", q.get("claims_version")))
            info = await svc.probe(partial)
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
                size_bytes=info.size_bytes, scan_id=scan_id, claims=claim[0] if claim else None,
                claims_version=claim[1] if claim else None))
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
        claim = await run_in_threadpool(_claim_from, st, body.claims, body.claims_version)
        try:
            info = await svc.probe(real)
        except InputError as e:
            raise HTTPException(_input_status(e), f"{body.path}: {e.problem}") from None
        return await run_in_threadpool(lambda: st.scans.create(
            body.path, str(real), owns_media=False, overrides=overrides, sha256=info.sha256, size_bytes=info.size_bytes,
            claims=claim[0] if claim else None, claims_version=claim[1] if claim else None))

    @app.get("/v1/scans", response_model=ScanPageOut, dependencies=auth, tags=["scans"])
    def list_scans(request: Request, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
                   status: Literal["queued", "running", "done", "failed"] | None = None) -> ScanPageOut:
        """Scans, newest first."""
        page = _store(request).scans.page(limit=limit, offset=offset, status=status)
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
        return [_person(p) for p in _store(request).people.latest()]

    @app.post("/v1/people", status_code=202, response_model=EnrolmentOut, dependencies=auth, tags=["people"],
              responses={201: {"model": EnrolmentOut, "description": "enrolled (with `?wait=true`)"},
                         422: {"description": "a bad name, too little footage, or (with `?wait=true`) an enrolment that failed"}},
              openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                  "type": "object", "required": ["name", "file"], "properties": {
                      "name": {"type": "string", "description": "the person's name (enrolling a name again adds a version)"},
                      "file": {"type": "array", "items": {"type": "string", "format": "binary"},
                               "description": f"verified videos and photos of the real person (1 to {MAX_ENROL_FILES})"}}}}}}})
    async def enrol_person(request: Request, response: Response,
                           wait: bool = Query(False, description="answer once the enrolment has finished (at most "
                                                                  f"{ENROL_WAIT_S:.0f} s): 201 with the new version, "
                                                                  "or 422 with why it failed")) -> Any:
        """Enrol a person from verified footage: upload it, and a worker builds the profile (reference mode).

        Returns 202 with the enrolment to poll (`GET /v1/enrolments/{id}`); once done it names the
        new version and its summary, or says in one line why the footage was not enough."""
        svc, st = _service(request), _store(request)
        if await run_in_threadpool(st.enrolments.count, "queued") >= settings.max_queued:
            raise HTTPException(503, f"the queue is full ({settings.max_queued} enrolments waiting); try again later",
                                headers={"Retry-After": "60"})
        rec = await _create_enrolment(request, svc)
        if svc.pool is not None:
            svc.pool.notify()
        response.headers["Location"] = f"/v1/enrolments/{rec.id}"
        if not wait:
            return enrolment_out(rec)
        deadline = time.monotonic() + ENROL_WAIT_S
        while not rec.finished and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            try:
                rec = await run_in_threadpool(st.enrolments.get, rec.id)
            except UnknownEnrolment:
                raise HTTPException(409, f"enrolment {rec.id} was deleted before it finished") from None
        if rec.status == "failed":
            raise HTTPException(422, rec.error or "the enrolment failed")
        if rec.status == "done":
            response.status_code = 201
        return enrolment_out(rec)

    async def _create_enrolment(request: Request, svc: Service) -> EnrolmentRecord:
        from unmask.reference.enroll import MIN_FACE_VIDEO_S
        from unmask.reference.mannerisms import WINDOW_S
        from unmask.reference.profile import check_name

        st = _store(request)
        enrolment_id = new_enrolment_id()
        partial = svc.enrol_dir / f".partial-{enrolment_id}"
        partial.mkdir(parents=True, exist_ok=False)
        try:
            try:
                got = await receive_files(request, partial, settings.max_upload_bytes, MAX_ENROL_FILES)
            except UploadTooLarge as e:
                raise HTTPException(413, str(e)) from None
            except BadUpload as e:
                raise HTTPException(400, str(e)) from None
            raw_name = got.fields.get("name", request.query_params.get("name"))
            if raw_name is None:
                raise HTTPException(422, "name is required: the person the footage shows")
            try:
                name = check_name(raw_name)
            except ProfileError as e:
                raise HTTPException(422, f"name: {e}") from None
            video_s = 0.0
            for f in got.files:
                try:
                    info = await svc.probe(f.path)
                except InputError as e:
                    raise HTTPException(_input_status(e), f"{f.filename}: {e.problem}") from None
                video_s += info.duration_s if info.kind != "image" else 0.0
            if video_s < MIN_FACE_VIDEO_S:  # the enroller would refuse it; say so now, not after a queue
                have = f"{video_s:.1f} s of video" if video_s else "no video, only photos"
                raise HTTPException(422, f"too little footage of {name}: {have} (enrolment needs at least "
                                         f"{MIN_FACE_VIDEO_S:.0f} s of the face in video, in stretches of at least "
                                         f"{WINDOW_S:.0f} s); add more or longer footage")
            final = svc.enrol_dir / enrolment_id
            partial.rename(final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        files = [EnrolmentFile(f.filename, str(final / f.path.name), f.size) for f in got.files]
        try:
            return await run_in_threadpool(st.enrolments.create, name, files, enrolment_id)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise

    @app.post("/v1/people/import", status_code=201, response_model=PersonOut, dependencies=auth, tags=["people"],
              openapi_extra={"requestBody": {"content": {
                  "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                      "file": {"type": "string", "format": "binary", "description": "a file from GET /v1/people/{name}/export or `unmask people export`"},
                      "name": {"type": "string", "description": "store it under this name instead of the one in the file"}}}},
                  "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    async def import_person(request: Request) -> PersonOut:
        """Store an exported profile (from another unmask) as a new version of its person (or of `name`)."""
        from unmask.reference.people import MAX_PROFILE_BYTES, People

        st = _store(request)
        partial = settings.uploads_dir / f".partial-import-{new_enrolment_id()}"
        try:
            try:
                got = await receive(request, partial, min(settings.max_upload_bytes, MAX_PROFILE_BYTES))
            except UploadTooLarge:
                raise HTTPException(413, f"a person profile is at most {MAX_PROFILE_BYTES // 1024**2} MB") from None
            except BadUpload as e:
                raise HTTPException(400, str(e)) from None
            raw = await run_in_threadpool(partial.read_bytes)
        finally:
            partial.unlink(missing_ok=True)
        name = got.fields.get("name", request.query_params.get("name")) or None
        try:
            rec, _ = await run_in_threadpool(People(st).import_bytes, raw, name)
        except ProfileError as e:
            raise HTTPException(422, f"{got.filename}: {e}") from None
        return _person(rec)

    @app.get("/v1/people/{name}", response_model=list[PersonOut], dependencies=auth, tags=["people"])
    def person_versions(request: Request, name: str) -> list[PersonOut]:
        """Every stored version of one person, oldest first."""
        try:
            return [_person(p) for p in _store(request).people.versions(name)]
        except UnknownPerson as e:
            raise HTTPException(404, str(e)) from None

    @app.get("/v1/people/{name}/export", dependencies=auth, tags=["people"], response_class=Response,
             responses={200: {"content": {"application/json": {}}, "description": "the profile file (as `unmask people export` writes it)"}})
    def export_person(request: Request, name: str, version: int | None = Query(None, ge=1)) -> Response:
        """The person's profile as a file, to move to another unmask (`POST /v1/people/import`, `unmask people import`)."""
        try:
            rec = _store(request).people.get(name, version)
        except UnknownPerson as e:
            raise HTTPException(404, str(e)) from None
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in rec.name)[:80] or "person"
        return Response(rec.profile, media_type="application/json", headers={
            "Content-Disposition": f'attachment; filename="{safe}-v{rec.version}.unmask-profile.json"',
            "X-Content-Type-Options": "nosniff"})

    @app.delete("/v1/people/{name}", status_code=204, dependencies=auth, tags=["people"])
    def delete_person(request: Request, name: str, version: int | None = None) -> Response:
        """Remove a person (every version, or one)."""
        try:
            _store(request).people.delete(name, version)
        except UnknownPerson as e:
            raise HTTPException(404, str(e)) from None
        return Response(status_code=204)

    @app.get("/v1/enrolments", response_model=list[EnrolmentOut], dependencies=auth, tags=["people"])
    def list_enrolments(request: Request, limit: int = Query(50, ge=1, le=500),
                        status: Literal["queued", "running", "done", "failed"] | None = None) -> list[EnrolmentOut]:
        """Enrolment requests, newest first."""
        return [enrolment_out(r) for r in _store(request).enrolments.recent(limit=limit, status=status)]

    @app.get("/v1/enrolments/{enrolment_id}", response_model=EnrolmentOut, dependencies=auth, tags=["people"])
    def get_enrolment(request: Request, enrolment_id: str) -> EnrolmentOut:
        """Where an enrolment stands; once done, the person's new version and what each file gave."""
        try:
            return enrolment_out(_store(request).enrolments.get(enrolment_id))
        except UnknownEnrolment:
            raise HTTPException(404, f"no enrolment {enrolment_id}") from None

    @app.delete("/v1/enrolments/{enrolment_id}", status_code=204, dependencies=auth, tags=["people"])
    def delete_enrolment(request: Request, enrolment_id: str) -> Response:
        """Forget an enrolment request and its uploaded footage (a running one is abandoned; a person it made stays)."""
        try:
            rec = _store(request).enrolments.delete(enrolment_id)
        except UnknownEnrolment:
            raise HTTPException(404, f"no enrolment {enrolment_id}") from None
        remove_enrolment_files(rec)
        return Response(status_code=204)

    from unmask.service.web import add_web_routes

    add_web_routes(app)
    return app


def _person(p: PersonRecord) -> PersonOut:
    return PersonOut(name=p.name, version=p.version, created_at=p.created_at, summary=p.summary, profile_bytes=len(p.profile))

