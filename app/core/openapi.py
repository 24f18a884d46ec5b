"""The OpenAPI document, completed with what every endpoint can answer or read.

Routers declare what is theirs (201, 304, 409, 412, 428 …). The answers that come from the
service's shared machinery are added here, in one place, from the same facts the machinery
acts on, so the document cannot forget one:

- 401 and 403 on every operation behind a bearer token (``app.auth.dependencies``);
- 404 on every operation with an id in its path (unknown, or another shelter's);
- 413 on every operation with a body (``app.core.middleware``'s size limit), 422 on every
  operation with a body or parameters, both as problem+json (``app.core.errors``);
- 503 on every operation that reads the database (deadlock or lock timeout: retry);
- the ``If-Match`` header where 412 or 428 can come back, ``If-None-Match`` where 304 can,
  and the ``ETag`` response header on their 200s.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.core.errors import PROBLEM_JSON

# Answered without a token and without the database's schema (probes and scrapes).
_PUBLIC = frozenset({"/healthz", "/readyz", "/metrics"})
_METHODS = frozenset({"get", "put", "post", "patch", "delete"})
_COMMON = {
    "401": "No token, or a token that is unknown, revoked or expired",
    "403": "This token's role may not do this",
    "404": "No such object (or not yours, for a shelter token)",
    "413": "The body is larger than MAX_BODY_BYTES",
    "422": "Invalid input: `errors` names every bad field",
    "503": "The database is busy (deadlock or lock timeout) or unreachable: retry",
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }


def _complete_operation(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    params: list[dict[str, Any]] = operation.setdefault("parameters", [])
    needed: list[str] = []
    if path not in _PUBLIC and path.startswith("/api/"):
        needed += ["401", "403", "503"]
    if "{" in path:
        needed.append("404")
    if "requestBody" in operation:
        needed += ["413", "422"]
    elif params:
        needed.append("422")
    for code in needed:
        responses.setdefault(code, _problem(_COMMON[code]))
    # Every error is sent as problem+json (app/core/errors.py), whatever FastAPI inferred
    # (its own 422 and a declared model both say application/json).
    for code, response in responses.items():
        if code[0] in "45":
            response["content"] = _problem("")["content"]
    names = {p["name"].lower() for p in params if p.get("in") == "header"}
    if ("412" in responses or "428" in responses) and "if-match" not in names:
        params.append(_header("If-Match", "The ETag you read: 412 if the object changed since"))
    if "304" in responses and "if-none-match" not in names:
        params.append(_header("If-None-Match", "The ETag you have: 304 if it is still current"))
    if "304" in responses or "412" in responses:
        for code in ("200", "201"):
            if code in responses:
                responses[code].setdefault("headers", {})["ETag"] = {
                    "description": 'The object\'s version, `"<id>-v<version>"`',
                    "schema": {"type": "string"},
                }
    if not params:
        del operation["parameters"]


def complete_document(document: dict[str, Any]) -> dict[str, Any]:
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in _METHODS:
                _complete_operation(path, operation)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete_document(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
