"""The FastAPI application: ``create_app(settings)`` (uvicorn factory target).

Routers are the modules named in ``mediavault.api.routes.ROUTERS``, each exposing
``router``; a module that does not exist (yet) is skipped, any other import error is
raised. The dashboard is served at ``/``.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from mediavault.api import routes
from mediavault.api.errors import ERROR_RESPONSES, install_handlers
from mediavault.api.logs import configure_logging
from mediavault.api.middleware import API_PREFIX, ApiMiddleware
from mediavault.api.state import Services, check_bind
from mediavault.config import Settings, get_settings

__all__ = ["API_PREFIX", "create_app"]

VERSION = "0.1.0"


# GET endpoints that also answer HEAD: health probes (load balancers, uptime monitors,
# `curl -I`) and the files (download clients ask for the size and Range support first).
# Not every GET: a HEAD of a stream (SSE) would never end. HEAD stays out of the OpenAPI
# document, whose operations are one per method.
HEAD_PATHS = (
    f"{API_PREFIX}/health",
    f"{API_PREFIX}/download/{{job_id}}/file",
    f"{API_PREFIX}/media/{{media_id}}/file",
)


def _include_routers(app: FastAPI) -> None:
    for name in routes.ROUTERS:
        module_name = f"{routes.__name__}.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        _answer_head(module.router)
        app.include_router(module.router, prefix=API_PREFIX, responses=ERROR_RESPONSES)


def _answer_head(router: APIRouter) -> None:
    """Give ``router``'s GET routes on ``HEAD_PATHS`` a HEAD twin (once per router)."""
    routes = [r for r in router.routes if isinstance(r, APIRoute)]
    has_head = {r.path for r in routes if "HEAD" in (r.methods or ())}
    for route in routes:
        wanted = API_PREFIX + route.path in HEAD_PATHS and route.path not in has_head
        if wanted and "GET" in (route.methods or ()):
            router.add_api_route(
                route.path.removeprefix(router.prefix),  # the router adds its prefix again
                route.endpoint,
                methods=["HEAD"],
                dependencies=route.dependencies,
                response_class=route.response_class,
                status_code=route.status_code,
                include_in_schema=False,
                name=f"{route.name}_head",
            )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    services: Services = app.state.services
    from mediavault.jobs.webhooks import WebhookDispatcher

    dispatcher = WebhookDispatcher(services.settings, services.db, services.bus)
    await dispatcher.start()
    view = asyncio.create_task(services.job_view.follow(services.bus), name="job-view")
    try:
        yield
    finally:
        view.cancel()
        await asyncio.gather(view, return_exceptions=True)
        await dispatcher.stop()
        await services.limiter.close()
        services.close()


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """Build the service. ``MEDIAVAULT_AUTH=none`` is refused unless bound to loopback."""
    settings = settings or (services.settings if services else get_settings())
    check_bind(settings)
    configure_logging(settings)
    services = services or Services(settings)
    app = FastAPI(
        title="mediavault",
        version=VERSION,
        summary="Self-hosted media archiving engine: downloads, archive, live progress.",
        docs_url="/api/docs",
        redoc_url="/api/redoc",
        openapi_url="/api/openapi.json",
        lifespan=_lifespan,
    )
    app.state.services = services
    install_handlers(app)
    _include_routers(app)
    from mediavault.web import mount_dashboard

    mount_dashboard(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "Content-Range"],
        )
    app.add_middleware(ApiMiddleware, services=services)
    return app
