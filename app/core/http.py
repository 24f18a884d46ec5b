"""ETag / If-Match / If-None-Match helpers (optimistic concurrency and cheap polling)."""

from __future__ import annotations

from fastapi import Request, Response

from app.core.errors import ProblemError


def make_etag(*parts: object) -> str:
    return '"' + "-".join(str(p) for p in parts) + '"'


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def require_if_match(request: Request, current_etag: str) -> None:
    """412 when the client's copy is stale. Absent header: the write goes through."""
    header = request.headers.get("if-match")
    if header is None:
        return
    tags = _etags(header)
    if "*" not in tags and current_etag not in tags:
        raise ProblemError(
            412,
            "This object changed since you read it; read it again and retry.",
            headers={"ETag": current_etag},
        )


def not_modified(request: Request, etag: str) -> Response | None:
    """A 304 for a poll whose ``If-None-Match`` still matches, else ``None``."""
    tags = _etags(request.headers.get("if-none-match"))
    if etag in tags or "*" in tags:
        return Response(status_code=304, headers={"ETag": etag})
    return None
