"""The routes' dependencies: the app's :class:`~unmask.service.state.Service`, its store, and the token check.

A token comes as ``Authorization: Bearer TOKEN`` or, from a signed-in browser, in the
``unmask_token`` cookie (:data:`COOKIE`).
"""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from unmask.service.state import Service
from unmask.store import Store

COOKIE = "unmask_token"
bearer = HTTPBearer(auto_error=False, description="an API token from UNMASK_API_TOKENS")


def get_service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def get_store(request: Request) -> Store:
    st = get_service(request).store
    assert st is not None
    return st


def request_token(request: Request, creds: HTTPAuthorizationCredentials | None) -> str | None:
    if creds is not None and creds.scheme.lower() == "bearer":
        return creds.credentials
    return request.cookies.get(COOKIE)


def require_token(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
    if not get_service(request).check_token(request_token(request, creds)):
        raise HTTPException(401, "missing or wrong API token: send 'Authorization: Bearer TOKEN'",
                            headers={"WWW-Authenticate": "Bearer"})


AUTH = [Depends(require_token)]  # every API route but /healthz
