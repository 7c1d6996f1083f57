"""``/v1/scans``: queue a scan (an upload or a server-side path), list, read, fetch the HTML report, delete."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from unmask.errors import InputError, UnknownScan
from unmask.service.deps import AUTH, get_service, get_store
from unmask.service.parsing import claim_from, input_status, settings_from
from unmask.service.schemas import PathRequest, ScanDetail, ScanOut, ScanPageOut, scan_out
from unmask.service.state import Service
from unmask.service.uploads import BadUpload, UploadTooLarge, receive
from unmask.store import ScanRecord
from unmask.store.scans import new_scan_id

router = APIRouter()


@router.post("/v1/scans", status_code=202, response_model=ScanOut, dependencies=AUTH, tags=["scans"],
          openapi_extra={"requestBody": {"content": {
              "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                  "file": {"type": "string", "format": "binary"},
                  "settings": {"type": "string",
                               "description": 'JSON object of scan settings, e.g. {"sampling.fps": 4}'},
                  "claims": {"type": "string", "description": "an enrolled person the file is claimed to show"},
                  "claims_version": {"type": "integer",
                                     "description": "that person's profile version (default: newest)"}}}},
              "application/json": {"schema": PathRequest.model_json_schema()},
              "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def create_scan(request: Request, response: Response) -> ScanOut:
    """Queue a scan of an uploaded file (multipart field `file`, or the raw body with `?filename=`)
    or of a file already on the server (JSON `{"path": ...}`, inside a directory the operator allowed).

    `claims` (a multipart field, a query parameter with a raw body, or a JSON key) names an
    enrolled person the file is claimed to show: the scan then also checks the face against that
    person's profile (the newest version, or `claims_version`). An unknown person is refused
    now (422), not when the scan runs."""
    svc, st = get_service(request), get_store(request)
    settings = svc.settings
    if await run_in_threadpool(st.scans.count, "queued") >= settings.max_queued:
        raise HTTPException(503, f"the queue is full ({settings.max_queued} scans waiting); try again later",
                            headers={"Retry-After": "60"})
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        rec = await create_from_path(request, svc)
    else:
        rec = await create_from_upload(request, svc)
    if svc.pool is not None:
        svc.pool.notify()
    response.headers["Location"] = f"/v1/scans/{rec.id}"
    out: ScanOut = scan_out(rec)
    return out


async def create_from_upload(request: Request, svc: Service) -> ScanRecord:
    st, settings = get_store(request), svc.settings
    scan_id = new_scan_id()
    partial = settings.uploads_dir / f".partial-{scan_id}"
    try:
        got = await receive(request, partial, settings.max_upload_bytes)
    except UploadTooLarge as e:
        raise HTTPException(413, str(e)) from None
    except BadUpload as e:
        raise HTTPException(400, str(e)) from None
    try:
        overrides = settings_from(got.fields.get("settings"), settings)
        q = request.query_params
        claim = await run_in_threadpool(claim_from, st, got.fields.get("claims", q.get("claims")),
                                        got.fields.get("claims_version", q.get("claims_version")))
        info = await svc.probe(partial)
    except InputError as e:
        partial.unlink(missing_ok=True)
        raise HTTPException(input_status(e), f"{got.filename}: {e.problem}") from None
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


async def create_from_path(request: Request, svc: Service) -> ScanRecord:
    st, settings = get_store(request), svc.settings
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
    overrides = settings_from(body.settings, settings)
    claim = await run_in_threadpool(claim_from, st, body.claims, body.claims_version)
    try:
        info = await svc.probe(real)
    except InputError as e:
        raise HTTPException(input_status(e), f"{body.path}: {e.problem}") from None
    return await run_in_threadpool(lambda: st.scans.create(
        body.path, str(real), owns_media=False, overrides=overrides, sha256=info.sha256, size_bytes=info.size_bytes,
        claims=claim[0] if claim else None, claims_version=claim[1] if claim else None))


@router.get("/v1/scans", response_model=ScanPageOut, dependencies=AUTH, tags=["scans"])
def list_scans(request: Request, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
               status: Literal["queued", "running", "done", "failed"] | None = None) -> ScanPageOut:
    """Scans, newest first."""
    page = get_store(request).scans.page(limit=limit, offset=offset, status=status)
    return ScanPageOut(items=[scan_out(r) for r in page.items], total=page.total, limit=page.limit,
                       offset=page.offset, next_offset=page.next_offset)


@router.get("/v1/scans/{scan_id}", response_model=ScanDetail, dependencies=AUTH, tags=["scans"])
def get_scan(request: Request, scan_id: str,
             report: bool = Query(True, description="include the JSON report once done")) -> ScanDetail:
    """Status and progress; the JSON report once done."""
    st = get_store(request)
    try:
        rec = st.scans.get(scan_id)
        data = st.scans.report(scan_id) if report and rec.status == "done" else None
    except UnknownScan:
        raise HTTPException(404, f"no scan {scan_id}") from None
    out: ScanDetail = scan_out(rec, ScanDetail, report=data)
    return out


@router.get("/v1/scans/{scan_id}/report.html", dependencies=AUTH, tags=["scans"], response_class=HTMLResponse,
         responses={409: {"description": "the scan has not finished, or failed"}})
def get_report_html(request: Request, scan_id: str, download: bool = False) -> Response:
    """The self-contained HTML report (works offline; save it, print it, cite it)."""
    st = get_store(request)
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
        "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src "
                                   "'unsafe-inline'",
        "X-Content-Type-Options": "nosniff"})


@router.delete("/v1/scans/{scan_id}", status_code=204, dependencies=AUTH, tags=["scans"])
def delete_scan(request: Request, scan_id: str) -> Response:
    """Delete a scan, its report and its uploaded file (a running scan is abandoned)."""
    try:
        rec = get_store(request).scans.delete(scan_id)
    except UnknownScan:
        raise HTTPException(404, f"no scan {scan_id}") from None
    if rec.owns_media:
        Path(rec.media_path).unlink(missing_ok=True)
    return Response(status_code=204)
