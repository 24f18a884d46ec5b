"""The ASGI application: ``app.main:app``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.allocations.background import BackgroundTasks
from app.allocations.router import router as allocations_router
from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.core.config import get_settings
from app.core.errors import install_error_handlers
from app.core.health import router as health_router
from app.core.logging import configure_logging
from app.core.metrics import router as metrics_router
from app.dashboard.router import router as dashboard_router
from app.placements.router import router as placements_router
from app.requests.router import router as requests_router
from app.shelters.router import router as shelters_router

API_PREFIX = "/api/v1"


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Hold expiry and optional periodic runs; stopped cleanly on shutdown.
        tasks = BackgroundTasks(get_settings())
        tasks.start()
        try:
            yield
        finally:
            await tasks.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="Abri",
        version="0.1.0",
        summary="Emergency-shelter bed allocation for an SIAO's 115 night desk",
    )
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(metrics_router)
    for router in (
        auth_router,
        shelters_router,
        requests_router,
        allocations_router,
        placements_router,
        audit_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(dashboard_router)
    return app


app = create_app()
