"""The night-duty dashboard: its one JSON document and the page that polls it.

Included by ``app.main`` without a prefix, so both paths are spelt out here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from app.allocations.schemas import audience_of
from app.auth.dependencies import ReaderDep
from app.core.deps import SessionDep, SettingsDep
from app.core.errors import ProblemError
from app.core.http import not_modified
from app.dashboard.schemas import DashboardSummary, ViewerDashboardSummary
from app.dashboard.service import build_summary, summary_etag

router = APIRouter()

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Only these files are served: no path from the URL ever reaches the filesystem.
STATIC_FILES = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "i18n.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

# The page holds a bearer token: no third-party anything, no referrer (the token may
# arrive in the URL), no framing.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


@router.get(
    "/api/v1/dashboard/summary",
    tags=["dashboard"],
    summary="Everything the night-duty dashboard shows, in one document",
    description=(
        "Free capacity tonight by shelter kind and room size, each shelter's data freshness, "
        "who waits and for how long, the latest allocation run with its unplaced households, "
        "holds about to expire, arrivals, and map points (confidential shelters rounded to "
        "about 5 km). No names, no case references. Carries an `ETag`; send it back in "
        "`If-None-Match` to get 304 while nothing changed (the tag also moves every minute, "
        "as waiting times and freshness do). A viewer token (the dashboard's own) reads "
        "`ViewerDashboardSummary`: counts, sizes, codes and generic reasons, no request or "
        "placement id, no composition, no km, no engine sentence, and confidential shelters "
        "unnamed next to a household."
    ),
    response_model=DashboardSummary | ViewerDashboardSummary,
    responses={
        304: {"description": "Nothing changed since the `If-None-Match` ETag."},
        401: {"description": "No token or an invalid token."},
        403: {"description": "A shelter token may not read the dashboard."},
    },
)
def dashboard_summary(
    request: Request, session: SessionDep, settings: SettingsDep, principal: ReaderDep
) -> Any:
    now = datetime.now(UTC)
    audience = audience_of(principal)
    territory_id = principal.require_territory()
    etag = summary_etag(session, settings, now, audience, territory_id)
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    summary = build_summary(session, settings, now, audience, territory_id)
    # Cache-Control: no-store (app/core/middleware.py); the page sends If-None-Match itself.
    # Vary: a viewer reads a reduced document.
    return JSONResponse(
        summary.model_dump(mode="json"), headers={"ETag": etag, "Vary": "Authorization"}
    )


@router.get("/dashboard", include_in_schema=False)
def dashboard_page() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS
    )


@router.get("/dashboard/static/{name}", include_in_schema=False)
def dashboard_static(name: str) -> Response:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise ProblemError(404, "No such file.")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=PAGE_HEADERS)
