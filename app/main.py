"""The ASGI application: ``app.main:app``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import Depends, FastAPI

from app.allocations.background import BackgroundTasks
from app.allocations.queue import recover
from app.allocations.router import router as allocations_router
from app.allocations.worker import LocalWorkerThread
from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.core.config import get_settings
from app.core.docs import router as docs_router
from app.core.errors import install_error_handlers
from app.core.health import router as health_router
from app.core.inputs import refuse_control_characters
from app.core.logging import configure_logging
from app.core.metrics import router as metrics_router
from app.core.middleware import AbriApp
from app.core.openapi import install_openapi
from app.core.runtime import freeze_startup_heap, warm_up
from app.dashboard.router import router as dashboard_router
from app.opendata.router import router as opendata_router
from app.placements.router import router as placements_router
from app.requests.router import router as requests_router
from app.screens.router import router as screens_router
from app.shelters.router import router as shelters_router
from app.territories.router import router as territories_router

API_PREFIX = "/api/v1"
# A database that does not answer within this delays start-up no longer (readiness says so).
WARM_UP_TIMEOUT_S = 10.0
log = structlog.get_logger(__name__)


async def _recover_runs() -> None:
    """Re-queue or fail the runs a dead worker left ``running`` (a database that is down:
    later, by the background loop)."""
    try:
        recovered = await asyncio.wait_for(
            asyncio.to_thread(recover, get_settings()), timeout=WARM_UP_TIMEOUT_S
        )
    except Exception as exc:
        log.warning("recover_runs_failed", error=type(exc).__name__)
        return
    if recovered:
        log.warning("abandoned_runs_failed", count=recovered)


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Before the first request: driver, mappers and one connection ready, then the
        # long-lived heap out of the garbage collector's walks (app/core/runtime.py).
        try:
            await asyncio.wait_for(asyncio.to_thread(warm_up), timeout=WARM_UP_TIMEOUT_S)
        except TimeoutError:
            log.warning("warm_up_timeout", seconds=WARM_UP_TIMEOUT_S)
        freeze_startup_heap()
        await _recover_runs()
        # Hold expiry and optional periodic runs; stopped cleanly on shutdown.
        tasks = BackgroundTasks(get_settings())
        tasks.start()
        # LOCAL_WORKER=thread: this process runs queued runs itself (tests; one-process
        # set-ups). "process" is started by ``python -m app serve`` (app/__main__.py).
        local = None
        if get_settings().local_worker_mode == "thread":
            local = LocalWorkerThread(get_settings())
            local.start()
        try:
            yield
        finally:
            if local is not None:
                await asyncio.to_thread(local.stop)
            await tasks.stop()

    app = AbriApp(
        lifespan=lifespan,
        title="Abri",
        version="0.1.0",
        summary="Emergency-shelter bed allocation for an SIAO's 115 night desk",
        # FastAPI's own pages load Swagger UI and ReDoc from a CDN: ours serves its files.
        docs_url=None,
        redoc_url=None,
        # Before authentication and every endpoint: no control character reaches the database.
        dependencies=[Depends(refuse_control_characters)],
    )
    app.max_body_bytes = settings.max_body_bytes
    install_error_handlers(app)
    install_openapi(app)
    if settings.docs_enabled:
        app.include_router(docs_router)
    app.include_router(health_router)
    app.include_router(metrics_router)
    for router in (
        auth_router,
        territories_router,
        shelters_router,
        requests_router,
        allocations_router,
        placements_router,
        audit_router,
        opendata_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(dashboard_router)
    app.include_router(screens_router)
    return app


app = create_app()
