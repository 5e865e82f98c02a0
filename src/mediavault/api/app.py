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

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from mediavault.api import routes
from mediavault.api.errors import ERROR_RESPONSES, install_handlers
from mediavault.api.logs import configure_logging
from mediavault.api.middleware import API_PREFIX, ApiMiddleware
from mediavault.api.state import Services, check_bind
from mediavault.config import Settings, get_settings

__all__ = ["API_PREFIX", "create_app"]

VERSION = "0.1.0"


def _include_routers(app: FastAPI) -> None:
    for name in routes.ROUTERS:
        module_name = f"{routes.__name__}.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        app.include_router(module.router, prefix=API_PREFIX, responses=ERROR_RESPONSES)


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
