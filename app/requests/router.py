"""Placement request endpoints (``/api/v1``): operators and admins only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from app.audit.service import record
from app.auth.dependencies import OperatorDep
from app.core.deps import SessionDep
from app.core.errors import ProblemError
from app.core.http import not_modified, require_if_match, version_etag
from app.core.idempotency import IdempotencyKeyHeader, run_idempotent
from app.core.inputs import Offset
from app.core.problems import PROBLEM_RESPONSES
from app.requests import service
from app.requests.models import RequestStatus
from app.requests.schemas import RequestCreate, RequestOut, RequestPage, RequestUpdate

router = APIRouter(tags=["requests"], responses=PROBLEM_RESPONSES)


def _answered(cached: Response | None) -> dict[str, int]:
    return {"status": 200 if cached is None else 304}


@router.post(
    "/requests",
    status_code=201,
    response_model=RequestOut,
    summary="A household waiting for a bed tonight (operator, admin)",
    description=(
        "Send an `Idempotency-Key`: a retry with the same key and body returns the first "
        "response and creates nothing. Unknown fields are refused (422). A household needs "
        "at least one adult: unaccompanied minors are referred to child protection (ASE)."
    ),
)
def create_request(
    data: RequestCreate,
    request: Request,
    session: SessionDep,
    principal: OperatorDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    def work() -> tuple[int, Any]:
        req = service.create_request(session, principal, data)
        return 201, service.request_out(req).model_dump(mode="json")

    return run_idempotent(
        session, principal, request, idempotency_key, data.model_dump(mode="json"), work
    )


@router.get(
    "/requests",
    response_model=RequestPage,
    summary="The queue: most urgent first, then longest waiting (operator, admin)",
)
def list_requests(
    session: SessionDep,
    principal: OperatorDep,
    status: Annotated[
        list[RequestStatus] | None, Query(description="Repeat to ask for several")
    ] = None,
    reference: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> RequestPage:
    rows, total = service.list_requests(
        session, statuses=status, reference=reference, limit=limit, offset=offset
    )
    if rows:  # origins, safety zones and keep-apart partners were read
        record(session, principal, "request.list", "request", None, {"ids": [r.id for r in rows]})
    return RequestPage(
        items=[service.request_out(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get(
    "/requests/{request_id}",
    response_model=RequestOut,
    summary="Read a request (operator, admin)",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_request(
    request_id: str,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: OperatorDep,
) -> Any:
    req = service.get_request(session, request_id)
    etag = version_etag(req.id, req.version)
    cached = not_modified(request, etag)
    # Its origin, safety zones and keep-apart partners; a 304 confirms the copy held.
    record(session, principal, "request.read", "request", req.id, _answered(cached))
    if cached is not None:
        return cached
    response.headers["ETag"] = etag
    return service.request_out(req)


@router.patch(
    "/requests/{request_id}",
    response_model=RequestOut,
    summary="Amend a pending request, keeping its place in the queue (operator, admin)",
    description=(
        "Send only the fields that change (`needs`, `members`, `avoid`, …); a list sent "
        "replaces the old one. `waiting_since` is kept, so the household keeps its place. "
        "`If-Match` with the request's `ETag` is required: 428 without it, 412 when the "
        "request changed since it was read (nothing changes). 409 unless the request is "
        "pending. The whole household is checked again (422 naming each bad field). The "
        "last run's reason is cleared: it was about the household as it was. Audited "
        "(which fields changed, not their values)."
    ),
    responses={
        409: {"description": "The request is not pending"},
        412: {"description": "The request changed since it was read"},
        428: {"description": "`If-Match` is missing"},
    },
)
def amend_request(
    request_id: str,
    data: RequestUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: OperatorDep,
) -> RequestOut:
    if request.headers.get("if-match") is None:
        raise ProblemError(
            428, "Send the request's ETag in If-Match, so that no one else's change is lost."
        )
    req = service.get_request(session, request_id, for_update=True)
    require_if_match(request, version_etag(req.id, req.version))
    service.amend_request(session, principal, req, data)
    response.headers["ETag"] = version_etag(req.id, req.version)
    return service.request_out(req)


@router.post(
    "/requests/{request_id}/cancel",
    response_model=RequestOut,
    summary="Cancel a pending, proposed or accepted request (operator, admin)",
    description=(
        "Its live placement, if any, is declined with reason `request cancelled` and its beds "
        "are freed. 409 from any other status. `If-Match` is honoured."
    ),
    responses={409: {"description": "The request is no longer open"}},
)
def cancel_request(
    request_id: str,
    request: Request,
    session: SessionDep,
    principal: OperatorDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    def work() -> tuple[int, Any]:
        req = service.get_request(session, request_id, for_update=True)
        require_if_match(request, version_etag(req.id, req.version))
        service.cancel_request(session, principal, req)
        return 200, service.request_out(req).model_dump(mode="json")

    return run_idempotent(session, principal, request, idempotency_key, None, work)
