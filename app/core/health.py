"""Liveness and readiness probes (no auth)."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.core.db import get_engine
from app.core.paths import ALEMBIC_INI

router = APIRouter(tags=["operations"])


def head_revision() -> str | None:
    return ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_current_head()


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers and its schema is at the newest migration")
def readyz() -> JSONResponse:
    expected = head_revision()
    try:
        with get_engine().connect() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # any failure to reach or read the database means "not ready"
        return JSONResponse({"status": "unavailable", "detail": "database unreachable"}, 503)
    if current != expected:
        return JSONResponse(
            {"status": "unavailable", "detail": f"schema at {current}, expected {expected}"}, 503
        )
    return JSONResponse({"status": "ok", "schema": current})
