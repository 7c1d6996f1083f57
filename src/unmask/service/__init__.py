"""The service: an HTTP API and a web app over a persistent scan queue (``unmask serve``).

    app = create_app(ServiceSettings.from_env(workers=1))   # FastAPI; run with uvicorn

Modules: ``settings`` (validated once), ``app`` (``create_app``: joins the routers), ``routers``
(``health``, ``scans``, ``people``, ``pages``), ``schemas`` (API models), ``deps`` (store, token),
``state`` (shared state and lifecycle), ``parsing``, ``uploads`` (streamed, size-limited, server-named),
``pool`` and ``worker`` (bounded workers fed by the store's queues of enrolments and scans),
``server`` (binding, uvicorn). The scanner seam is :mod:`unmask.workers.engine`.
"""

from unmask.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    if name == "create_app":  # FastAPI loads only when the service is used
        from unmask.service.app import create_app

        return create_app
    raise AttributeError(name)
