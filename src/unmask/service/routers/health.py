"""``/healthz`` and the offline API docs at ``/docs`` (Swagger UI served from the installed bundle)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from unmask.service.deps import get_service, get_store
from unmask.service.schemas import Health
from unmask.version import __version__

router = APIRouter()


@router.get("/docs", include_in_schema=False)
def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="unmask API",
                               swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                               swagger_css_url="/docs-assets/swagger-ui.css",
                               swagger_favicon_url="/docs-assets/favicon-32x32.png")


@router.get("/healthz", response_model=Health, tags=["service"])
def health(request: Request) -> Health:
    st, pool = get_store(request), get_service(request).pool
    return Health(status="ok", version=__version__, workers_alive=pool.alive() if pool else 0,
                  queued=st.scans.count("queued"), running=st.scans.count("running"))
