"""Errors as application/problem+json (RFC 9457); never a stack trace to a client."""

from __future__ import annotations

from typing import Any

import anyio
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.logging import exception_summary

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger(__name__)

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    428: "Precondition required",
    500: "Internal error",
    503: "Service unavailable",
}


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        refused: object | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        # The principal refused (a 403, or a 404 hiding another shelter's object): the
        # handler audits the attempt, in its own transaction since the request's rolls back.
        self.refused = refused
        self.status = status
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.type = type_ or "about:blank"
        self.errors = errors
        self.headers = headers
        self.extra = extra


class AnswerInstead(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Roll back this request's transaction and send ``response`` instead (an idempotent
    retry that lost the race answers with the winner's stored response)."""

    def __init__(self, response: Response) -> None:
        super().__init__("answer instead")
        self.response = response


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def not_found(what: str = "resource") -> ProblemError:
    return ProblemError(404, f"No such {what}.")


def forbidden(detail: str, principal: object) -> ProblemError:
    """403 for this principal's role; the attempt is audited."""
    return ProblemError(403, detail, title="Forbidden", refused=principal)


def hidden(what: str, principal: object) -> ProblemError:
    """404 for an object outside a shelter token's shelter: it looks like any unknown id to
    the caller (the contract), and is audited as a refused attempt."""
    return ProblemError(404, f"No such {what}.", refused=principal)


async def _audit_refusal(request: Request, exc: ProblemError) -> None:
    from app.audit.service import record_refusal  # the audit module imports this one

    route = getattr(request.scope.get("route"), "path", request.url.path)
    params = dict(request.path_params)
    try:
        await anyio.to_thread.run_sync(
            record_refusal, exc.refused, exc.status, request.method, route, params
        )
    except Exception:  # the refusal is still answered; the failure is for the logs
        log.exception("refusal_not_audited", path=route)


def validation_problem(errors: list[dict[str, Any]], detail: str | None = None) -> ProblemError:
    """A 422 naming every bad field: ``errors=[{"loc": [...], "msg": "..."}]``."""
    if detail is None:
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
    return ProblemError(422, detail, errors=errors)


def _clean_loc(loc: tuple[Any, ...] | list[Any]) -> list[Any]:
    return [part for part in loc if part not in ("body",)] or list(loc)


def _field_error(err: Any) -> dict[str, Any]:
    if err.get("type") == "json_invalid":
        # FastAPI's loc is ("body", <character offset>): name the body, say where.
        reason = (err.get("ctx") or {}).get("error", "JSON decode error")
        where = err["loc"][-1]
        return {"loc": ["body"], "msg": f"is not valid JSON ({reason} at character {where})"}
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return {"loc": _clean_loc(err.get("loc", ())), "msg": msg}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        if exc.refused is not None:
            await _audit_refusal(request, exc)
        return problem_response(
            exc.status,
            exc.detail,
            title=exc.title,
            type_=exc.type,
            errors=exc.errors,
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(AnswerInstead)
    async def _answer_instead(_: Request, exc: AnswerInstead) -> Response:
        return exc.response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_field_error(err) for err in exc.errors()]
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        return problem_response(422, detail or "Invalid input.", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's "error parsing the body" (e.g. bytes that are not UTF-8): the contract
            # says invalid input is 422, and the service raises no 400 of its own.
            return problem_response(
                422,
                "body: is not valid JSON",
                errors=[{"loc": ["body"], "msg": "is not valid JSON"}],
            )
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "")
        return problem_response(exc.status_code, detail, headers=exc.headers)

    @app.exception_handler(OperationalError)
    async def _database_busy(request: Request, exc: OperationalError) -> JSONResponse:
        # A deadlock victim, a lock or statement timeout, a lost connection: nothing was
        # committed (get_session rolled back), so the client may simply try again.
        log.warning(
            "database_operational_error", path=request.url.path, error=exception_summary(exc)
        )
        return problem_response(
            503,
            "The database is busy or unreachable; nothing was changed. Try again shortly.",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Logged with its frames for the administrator (not the exception's text, which may
        # quote personal data: app/core/logging.py); the client sees none of it.
        log.exception("unhandled_error", path=request.url.path, method=request.method)
        return problem_response(500, "An unexpected error occurred; it has been logged.")
