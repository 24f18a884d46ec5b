"""Serves the two people-facing screens. They are clients of the public API like any other:
no endpoint here reads or writes data, so whatever a screen does, a script can do too."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from app.core.errors import ProblemError

router = APIRouter(include_in_schema=False)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Only these files are served: no path from the URL ever reaches the filesystem.
STATIC_FILES = {
    "screens.css": "text/css; charset=utf-8",
    "common.js": "text/javascript; charset=utf-8",
    "i18n.js": "text/javascript; charset=utf-8",
    "map.js": "text/javascript; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "shelter.js": "text/javascript; charset=utf-8",
}
PAGES = {"console": "console.html", "shelter": "shelter.html"}

# The pages hold a bearer token and a household's detail: nothing third-party, no referrer,
# no framing. The token is only ever pasted into a form, never put in a URL.
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


def _page(name: str) -> FileResponse:
    return FileResponse(
        STATIC_DIR / PAGES[name], media_type="text/html; charset=utf-8", headers=PAGE_HEADERS
    )


@router.get("/console")
def console_page() -> FileResponse:
    return _page("console")


@router.get("/shelter")
def shelter_page() -> FileResponse:
    return _page("shelter")


@router.get("/screens/static/{name}")
def screens_static(name: str) -> Response:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise ProblemError(404, "No such file.")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=PAGE_HEADERS)
