"""ETag / If-Match / If-None-Match helpers (optimistic concurrency and cheap polling)."""

from __future__ import annotations

from fastapi import Request, Response

from app.core.errors import ProblemError


def version_etag(object_id: str, version: object) -> str:
    """THE ETag format of every versioned object (and of a fingerprinted document, whose
    "version" is its digest): ``"<id>-v<version>"``."""
    return f'"{object_id}-v{version}"'


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def if_match_problem(header: str | None, current_etag: str, *, required: bool) -> None:
    """428 when ``If-Match`` is required and absent, 412 when the client's copy is stale."""
    if header is None:
        if required:
            raise ProblemError(
                428,
                "Send If-Match with the ETag you read (GET it first), so that a change made "
                "meanwhile by someone else is not overwritten.",
                headers={"ETag": current_etag},
            )
        return
    tags = _etags(header)
    if "*" not in tags and current_etag not in tags:
        raise ProblemError(
            412,
            "This object changed since you read it; read it again and retry.",
            headers={"ETag": current_etag},
        )


def require_if_match(request: Request, current_etag: str, *, required: bool = False) -> None:
    """412 when the client's copy is stale; an absent header is 428 if ``required``."""
    if_match_problem(request.headers.get("if-match"), current_etag, required=required)


def not_modified(request: Request, etag: str) -> Response | None:
    """A 304 for a poll whose ``If-None-Match`` still matches, else ``None``."""
    tags = _etags(request.headers.get("if-none-match"))
    if etag in tags or "*" in tags:
        return Response(status_code=304, headers={"ETag": etag})
    return None
