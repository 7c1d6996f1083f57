"""The web app: upload with a progress bar, live scan progress, past scans, the report view, enrolled people.

Server-rendered pages with a few lines of inline JS; nothing is loaded from elsewhere,
so it works on an air-gapped newsroom laptop. With API tokens configured, a browser
signs in once (the token goes into an HttpOnly, SameSite=Strict cookie).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from unmask.errors import UnknownScan
from unmask.report.build import LABEL_WORDS
from unmask.report.html import LABEL_TONE
from unmask.report.text import CONCLUSION_WORDS
from unmask.service.deps import COOKIE, get_service, get_store
from unmask.service.state import MAX_ENROL_FILES
from unmask.version import __version__

router = APIRouter()

PAGE_SIZE = 25
COOKIE_DAYS = 30


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=PackageLoader("unmask.service", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(label_words=LABEL_WORDS, label_tone=LABEL_TONE, version=__version__)
    env.filters["when"] = lambda dt: dt.strftime("%Y-%m-%d %H:%M UTC") if dt else ""
    env.filters["size"] = _size
    env.filters["quote"] = lambda s: quote(str(s), safe="")
    env.globals["conclusion_words"] = CONCLUSION_WORDS
    return env


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _page(name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    html = _env().get_template(name).render(**ctx)
    return HTMLResponse(html, status_code=status, headers={
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; "
                                   "script-src 'unsafe-inline'; frame-ancestors 'self'",
        "X-Content-Type-Options": "nosniff"})


def signed_in(request: Request) -> bool:
    return get_service(request).check_token(request.cookies.get(COOKIE))


def to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


@router.get("/", include_in_schema=False)
def index(request: Request, offset: int = 0) -> Response:
    if not signed_in(request):
        return to_login(request)
    svc = get_service(request)
    st = get_store(request)
    page = st.scans.page(limit=PAGE_SIZE, offset=max(0, offset))
    return _page("index.html.j2", page=page, max_upload=_size(svc.settings.max_upload_bytes),
                 auth=svc.settings.auth_required, page_size=PAGE_SIZE, people=st.people.latest())


@router.get("/people", include_in_schema=False)
def people_page(request: Request) -> Response:
    if not signed_in(request):
        return to_login(request)
    from unmask.reference.enroll import MIN_FACE_VIDEO_S

    svc = get_service(request)
    st = get_store(request)
    return _page("people.html.j2", people=st.people.latest(), enrolments=st.enrolments.recent(limit=10),
                 max_upload=_size(svc.settings.max_upload_bytes), max_files=MAX_ENROL_FILES,
                 min_video_s=MIN_FACE_VIDEO_S, auth=svc.settings.auth_required)


@router.get("/scans/{scan_id}", include_in_schema=False)
def scan_page(request: Request, scan_id: str) -> Response:
    if not signed_in(request):
        return to_login(request)
    st = get_store(request)
    try:
        rec = st.scans.get(scan_id)
        report = st.scans.report(scan_id) if rec.status == "done" else None
    except UnknownScan:
        return _page("missing.html.j2", status=404, scan_id=scan_id)
    return _page("scan.html.j2", scan=rec, report=report, auth=get_service(request).settings.auth_required)


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = "/") -> Response:
    if not get_service(request).settings.auth_required:
        return RedirectResponse("/", status_code=303)
    return _page("login.html.j2", next=_safe_next(next), error=None)


@router.post("/login", include_in_schema=False)
def login(request: Request, token: str = Form(...), next: str = Form("/")) -> Response:
    if not get_service(request).check_token(token.strip()):
        return _page("login.html.j2", status=401, next=_safe_next(next), error="That token is not one this server "
                                                                               "accepts.")
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(COOKIE, token.strip(), max_age=COOKIE_DAYS * 86400, httponly=True, samesite="strict",
                    secure=request.url.scheme == "https")
    return resp


@router.get("/logout", include_in_schema=False)
def logout() -> Response:
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE)
    return resp


def _safe_next(target: str) -> str:
    """Only same-site paths: ``/scans/x`` yes, ``//evil.example`` or ``https://...`` no."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"
