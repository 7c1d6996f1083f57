"""``/v1/people`` and ``/v1/enrolments``: enrol from footage (queued), list, export, import, delete (reference mode)."""

from __future__ import annotations

import asyncio
import shutil
import time
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from unmask.errors import InputError, ProfileError, UnknownEnrolment, UnknownPerson
from unmask.service.deps import AUTH, get_service, get_store
from unmask.service.parsing import input_status
from unmask.service.schemas import EnrolmentOut, PersonOut, enrolment_out, person_out
from unmask.service.state import ENROL_WAIT_S, MAX_ENROL_FILES, Service
from unmask.service.uploads import BadUpload, UploadTooLarge, receive, receive_files
from unmask.service.worker import remove_enrolment_files
from unmask.store import EnrolmentFile, EnrolmentRecord
from unmask.store.enrolments import new_enrolment_id

router = APIRouter()


@router.get("/v1/people", response_model=list[PersonOut], dependencies=AUTH, tags=["people"])
def list_people(request: Request) -> list[PersonOut]:
    """Enrolled people for reference mode (newest version of each)."""
    return [person_out(p) for p in get_store(request).people.latest()]


@router.post("/v1/people", status_code=202, response_model=EnrolmentOut, dependencies=AUTH, tags=["people"],
          responses={201: {"model": EnrolmentOut, "description": "enrolled (with `?wait=true`)"},
                     422: {"description": "a bad name, too little footage, or (with `?wait=true`) an enrolment that "
                                          "failed"}},
          openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
              "type": "object", "required": ["name", "file"], "properties": {
                  "name": {"type": "string",
                           "description": "the person's name (enrolling a name again adds a version)"},
                  "file": {"type": "array", "items": {"type": "string", "format": "binary"},
                           "description": "verified videos and photos of the real person "
                                          f"(1 to {MAX_ENROL_FILES})"}}}}}}})
async def enrol_person(request: Request, response: Response,
                       wait: bool = Query(False, description="answer once the enrolment has finished (at most "
                                                              f"{ENROL_WAIT_S:.0f} s): 201 with the new version, "
                                                              "or 422 with why it failed")) -> Any:
    """Enrol a person from verified footage: upload it, and a worker builds the profile (reference mode).

    Returns 202 with the enrolment to poll (`GET /v1/enrolments/{id}`); once done it names the
    new version and its summary, or says in one line why the footage was not enough."""
    svc, st = get_service(request), get_store(request)
    settings = svc.settings
    if await run_in_threadpool(st.enrolments.count, "queued") >= settings.max_queued:
        raise HTTPException(503, f"the queue is full ({settings.max_queued} enrolments waiting); try again later",
                            headers={"Retry-After": "60"})
    rec = await create_enrolment(request, svc)
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


async def create_enrolment(request: Request, svc: Service) -> EnrolmentRecord:
    from unmask.reference.enroll import MIN_FACE_VIDEO_S
    from unmask.reference.mannerisms import WINDOW_S
    from unmask.reference.profile import check_name

    st, settings = get_store(request), svc.settings
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
                raise HTTPException(input_status(e), f"{f.filename}: {e.problem}") from None
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


@router.post("/v1/people/import", status_code=201, response_model=PersonOut, dependencies=AUTH, tags=["people"],
          openapi_extra={"requestBody": {"content": {
              "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                  "file": {"type": "string", "format": "binary",
                           "description": "a file from GET /v1/people/{name}/export or `unmask people export`"},
                  "name": {"type": "string",
                           "description": "store it under this name instead of the one in the file"}}}},
              "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def import_person(request: Request) -> PersonOut:
    """Store an exported profile (from another unmask) as a new version of its person (or of `name`)."""
    from unmask.reference.people import MAX_PROFILE_BYTES, People

    st, settings = get_store(request), get_service(request).settings
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
    return person_out(rec)


@router.get("/v1/people/{name}", response_model=list[PersonOut], dependencies=AUTH, tags=["people"])
def person_versions(request: Request, name: str) -> list[PersonOut]:
    """Every stored version of one person, oldest first."""
    try:
        return [person_out(p) for p in get_store(request).people.versions(name)]
    except UnknownPerson as e:
        raise HTTPException(404, str(e)) from None


@router.get("/v1/people/{name}/export", dependencies=AUTH, tags=["people"], response_class=Response,
         responses={200: {"content": {"application/json": {}}, "description": "the profile file (as `unmask people "
                                                                              "export` writes it)"}})
def export_person(request: Request, name: str, version: int | None = Query(None, ge=1)) -> Response:
    """The person's profile as a file, to move to another unmask (`POST /v1/people/import`, `unmask people import`)."""
    try:
        rec = get_store(request).people.get(name, version)
    except UnknownPerson as e:
        raise HTTPException(404, str(e)) from None
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in rec.name)[:80] or "person"
    return Response(rec.profile, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{safe}-v{rec.version}.unmask-profile.json"',
        "X-Content-Type-Options": "nosniff"})


@router.delete("/v1/people/{name}", status_code=204, dependencies=AUTH, tags=["people"])
def delete_person(request: Request, name: str, version: int | None = None) -> Response:
    """Remove a person (every version, or one)."""
    try:
        get_store(request).people.delete(name, version)
    except UnknownPerson as e:
        raise HTTPException(404, str(e)) from None
    return Response(status_code=204)


@router.get("/v1/enrolments", response_model=list[EnrolmentOut], dependencies=AUTH, tags=["people"])
def list_enrolments(request: Request, limit: int = Query(50, ge=1, le=500),
                    status: Literal["queued", "running", "done", "failed"] | None = None) -> list[EnrolmentOut]:
    """Enrolment requests, newest first."""
    return [enrolment_out(r) for r in get_store(request).enrolments.recent(limit=limit, status=status)]


@router.get("/v1/enrolments/{enrolment_id}", response_model=EnrolmentOut, dependencies=AUTH, tags=["people"])
def get_enrolment(request: Request, enrolment_id: str) -> EnrolmentOut:
    """Where an enrolment stands; once done, the person's new version and what each file gave."""
    try:
        return enrolment_out(get_store(request).enrolments.get(enrolment_id))
    except UnknownEnrolment:
        raise HTTPException(404, f"no enrolment {enrolment_id}") from None


@router.delete("/v1/enrolments/{enrolment_id}", status_code=204, dependencies=AUTH, tags=["people"])
def delete_enrolment(request: Request, enrolment_id: str) -> Response:
    """Forget an enrolment request and its uploaded footage (a running one is abandoned; a person it made stays)."""
    try:
        rec = get_store(request).enrolments.delete(enrolment_id)
    except UnknownEnrolment:
        raise HTTPException(404, f"no enrolment {enrolment_id}") from None
    remove_enrolment_files(rec)
    return Response(status_code=204)
