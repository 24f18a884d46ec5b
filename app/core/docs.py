"""``/docs``: Swagger UI served from this server's own files, never from a CDN.

FastAPI's default page loads Swagger UI from a public CDN (and its favicon from FastAPI's
site): the operator's browser would tell a third party that it reads Abri's API, and the
page would run whatever script that CDN serves next to a pasted bearer token. The files
come from the ``fastapi-offline`` package instead (Swagger UI 5, which renders OpenAPI
3.1); its FastAPI wrapper is not used, only its static files.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.core.errors import ProblemError

router = APIRouter(include_in_schema=False)

_OWN_DIR = Path(__file__).resolve().parent / "static"
_SWAGGER_DIR = Path(str(importlib.resources.files("fastapi_offline") / "static"))
# Only these files are served: no path from the URL ever reaches the filesystem.
STATIC_FILES: dict[str, tuple[Path, str]] = {
    "swagger-ui-bundle.js": (_SWAGGER_DIR, "text/javascript; charset=utf-8"),
    "swagger-ui.css": (_SWAGGER_DIR, "text/css; charset=utf-8"),
    "favicon.png": (_SWAGGER_DIR, "image/png"),
    "docs-init.js": (_OWN_DIR, "text/javascript; charset=utf-8"),
}

# Swagger UI sets inline styles (hence 'unsafe-inline' for styles only); scripts are the
# two files above, requests go to this server only.
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "Cache-Control": "no-cache",
}


@router.get("/docs")
def docs_page() -> FileResponse:
    return FileResponse(
        _OWN_DIR / "docs.html", media_type="text/html; charset=utf-8", headers=DOCS_HEADERS
    )


@router.get("/docs/static/{name}")
def docs_static(name: str) -> FileResponse:
    entry = STATIC_FILES.get(name)
    if entry is None:
        raise ProblemError(404, "No such file.")
    directory, media_type = entry
    return FileResponse(directory / name, media_type=media_type, headers=DOCS_HEADERS)
