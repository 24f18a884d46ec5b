"""Allocation runs (``/api/v1/allocations``) and a household's options."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.allocations import queue, service
from app.allocations.models import ACTIVE_STATUSES, AllocationRun
from app.allocations.schemas import (
    Audience,
    OptionOut,
    OptionsOut,
    RunOut,
    RunPage,
    RunSummary,
    ViewerRunOut,
    ViewerRunSummary,
    audience_of,
)
from app.audit.service import record
from app.auth.dependencies import (
    OperatorDep,
    Principal,
    ReaderDep,
    TerritoryQuery,
    get_principal,
    role_checker,
)
from app.auth.models import Role
from app.core.config import get_settings
from app.core.db import get_sessionmaker
from app.core.deps import SessionDep
from app.core.errors import ProblemError, not_found
from app.core.http import not_modified
from app.core.inputs import Offset
from app.placements import service as placements
from app.shelters.service import km_seen_by

router = APIRouter(tags=["allocations"])

# Rendered documents by ETag, shared by the threads of this worker.
_documents = service.DocumentCache()

_RUN_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "The run: `RunOut`, or `ViewerRunOut` for a viewer token"},
    304: {"description": "Not modified (If-None-Match)"},
}
_RUN_MODELS = {"viewer": ViewerRunOut, "operator": RunOut, "admin": RunOut}


def _render(session: Session, run: AllocationRun, audience: Audience) -> tuple[str, bytes]:
    etag = service.run_etag(run.id, run.version)
    key = f"{etag}|{audience}"
    body = _documents.get(key)
    if body is None:
        doc = service.run_document(session, run, audience)
        body = _RUN_MODELS[audience].model_validate(doc).model_dump_json().encode()
        if run.status not in ACTIVE_STATUSES:  # an active run's document changes on its own
            _documents.put(key, body)
    return etag, body


def _run_response(etag: str, body: bytes, status: int = 200) -> Response:
    # Vary: the body depends on the token's role (a viewer's document is reduced).
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        # Cache-Control: no-store, as every API answer. Vary: the body depends on the
        # token's role (a viewer's document is reduced, an admin's has exact km).
        headers={"ETag": etag, "Vary": "Authorization"},
    )


@router.post(
    "/allocations",
    status_code=201,
    response_model=RunOut,
    summary="Run the engine on every pending request and every free room, now (operator, admin)",
    description=(
        "Queues a run of the territory for the solver workers and waits for it: expires "
        "overdue holds, plans, and writes one `proposed` placement per household placed, "
        "each holding its beds until `expires_at` (`HOLD_MINUTES`). Answers the finished "
        "run (201), or 503 with its `allocation_id` if it failed or is still not finished "
        "after the engine's bound + 30 s (GET it later). With `Prefer: respond-async`: 202 "
        "at once, `Location` of the run, whose `status` is `queued` then `running` until "
        "it ends. Two runs of a territory never overlap: 409 while one is queued or running "
        "(whichever worker, replica or schedule started it). A proposal whose rooms or "
        "request changed while the engine was thinking is skipped (counted in `stats`)."
    ),
    responses={
        202: {"description": "Queued (`Prefer: respond-async`): the run, `queued`/`running`"},
        409: {"description": "A run of this territory is already queued or running"},
        503: {"description": "The run failed, or did not finish in time (`allocation_id`)"},
    },
)
def run_allocation(session: SessionDep, principal: OperatorDep, request: Request) -> Response:
    # The run is a job for a worker; give back this request's connection (and, on SQLite,
    # its write lock) before queueing and waiting.
    territory_id = principal.require_territory()
    session.close()
    settings = get_settings()
    try:
        run_id = queue.enqueue(settings, principal, "api", territory_id)
    except queue.RunActiveError as exc:
        where = f"/api/v1/allocations/{exc.run_id}" if exc.run_id else "/api/v1/allocations"
        raise ProblemError(
            409,
            f"An allocation is already running (or queued) for this territory: its result "
            f"will be at {where}.",
            allocation_id=exc.run_id,
        ) from None
    if _prefers_async(request):
        return _answer_run(session, principal, run_id, 202, {"Preference-Applied": "respond-async"})
    waited = service.solve_bound_s(settings) + WAIT_MARGIN_S
    try:
        status = queue.wait_finished(run_id, waited)
    except OperationalError:
        raise ProblemError(
            503,
            f"The database went away while run {run_id} was queued or running: "
            f"GET /api/v1/allocations/{run_id} says what became of it once it is back.",
            allocation_id=run_id,
        ) from None
    if status is None:
        raise ProblemError(
            503,
            f"Run {run_id} has not finished after {waited:.0f} s (no solver worker free, or "
            f"none running); it stays queued: GET /api/v1/allocations/{run_id}.",
            allocation_id=run_id,
        )
    if status == service.FAILED:
        error = session.scalar(select(AllocationRun.error).where(AllocationRun.id == run_id))
        raise ProblemError(503, service.client_message(run_id, error), allocation_id=run_id)
    return _answer_run(session, principal, run_id, 201, {})


# A synchronous POST waits for its run this much longer than the engine's own bound: the
# queue, the start, the problem and the write-back.
WAIT_MARGIN_S = 30.0


def _prefers_async(request: Request) -> bool:
    """RFC 7240: ``Prefer: respond-async`` (any case, among other preferences)."""
    prefs = ",".join(request.headers.getlist("prefer")).lower()
    return any(p.split(";")[0].strip() == "respond-async" for p in prefs.split(","))


def _answer_run(
    session: Session, principal: Principal, run_id: str, status: int, headers: dict[str, str]
) -> Response:
    try:
        run = session.get(AllocationRun, run_id)
        if run is None:  # pragma: no cover - just committed
            raise not_found("allocation")
        etag, body = _render(session, run, audience_of(principal))
    except OperationalError:
        # Queued or finished, but the database went away before the answer was read back:
        # the generic 503 would say "nothing was changed".
        raise ProblemError(
            503,
            f"Run {run_id} was queued, but the database went away before it could be read "
            f"back: GET /api/v1/allocations/{run_id}.",
            allocation_id=run_id,
        ) from None
    response = _run_response(etag, body, status)
    response.headers["Location"] = f"/api/v1/allocations/{run_id}"
    response.headers.update(headers)
    return response


# The dashboard polls this hard. Its sync dependencies (session, principal, role check)
# would each cost a threadpool hop; here the whole answer is one hop and one short read
# session, with the same authentication code (``get_principal``, ``role_checker``). The
# token is looked up on every poll, as on every endpoint: a revoked token stops at once.
_bearer = HTTPBearer(auto_error=False, description="An Abri API token")
_reader = role_checker(Role.admin, Role.operator, Role.viewer)


def _latest_from_db(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    territory: str | None,
) -> Response:
    with get_sessionmaker()() as session:
        principal = _reader(get_principal(session, credentials, territory))
        audience = audience_of(principal)
        territory_id = principal.require_territory()
        current = service.cached_latest_version(territory_id)
        if not isinstance(current, tuple):  # not remembered, or no run yet: ask the database
            current = service.latest_version(session, territory_id)
            service.remember_latest(territory_id, current)
        if current is None:
            raise ProblemError(404, "No allocation has run yet.")
        etag = service.run_etag(*current)
        cached = not_modified(request, etag)
        if cached is not None:
            return cached
        body = _documents.get(f"{etag}|{audience}")
        if body is None:
            run = session.get(AllocationRun, current[0])
            if run is None:
                raise not_found("allocation")
            etag, body = _render(session, run, audience)
    return _run_response(etag, body)


@router.get(
    "/allocations/latest",
    response_model=RunOut | ViewerRunOut,
    summary="The territory's newest finished run, with ETag; 304 on If-None-Match "
    "(operator, viewer, admin)",
    description=(
        "What the night-duty dashboard polls. The ETag changes with a new run and whenever "
        "one of this run's placements changes status (accepted, declined, expired…), within "
        "a second whichever worker made the change. A poll costs the token lookup, and "
        "one indexed query unless this worker saw the run's version within the second."
    ),
    responses=_RUN_RESPONSES,
)
async def latest(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    territory: TerritoryQuery = None,
) -> Response:
    return await run_in_threadpool(_latest_from_db, request, credentials, territory)


@router.get(
    "/allocations",
    response_model=RunPage,
    summary="Allocation runs, newest first (operator, viewer, admin)",
)
def list_runs(
    session: SessionDep,
    principal: ReaderDep,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> RunPage:
    query = select(AllocationRun)
    if status:
        query = query.where(AllocationRun.status == status)
    rows = session.scalars(
        query.order_by(AllocationRun.started_at.desc(), AllocationRun.id.desc())
        .limit(limit)
        .offset(offset)
    )
    items = [
        {
            "id": r.id,
            "status": r.status,
            "trigger": r.trigger,
            "triggered_by": r.triggered_by,
            "started_at": r.started_at,
            "finished_at": r.finished_at,
            "objective": r.objective,
            "bound": r.bound,
            "requests_considered": r.requests_considered,
            "proposals": int((r.stats or {}).get("proposals", 0)),
            "unplaced": len(r.unplaced or []),
            "version": r.version,
        }
        for r in rows
    ]
    # The viewer does not learn who started a run.
    model = ViewerRunSummary if principal.role is Role.viewer else RunSummary
    return RunPage(
        items=[model.model_validate(item) for item in items],  # type: ignore[misc]
        total=service.count_runs(session, status),
        limit=limit,
        offset=offset,
    )


@router.get(
    "/allocations/{allocation_id}",
    response_model=RunOut | ViewerRunOut,
    summary="One run (operator, viewer, admin)",
    responses=_RUN_RESPONSES,
)
def get_run(
    allocation_id: str, request: Request, session: SessionDep, principal: ReaderDep
) -> Response:
    run = session.get(AllocationRun, allocation_id)
    if run is None:
        raise not_found("allocation")
    etag = service.run_etag(run.id, run.version)
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    etag, body = _render(session, run, audience_of(principal))
    return _run_response(etag, body)


@router.get(
    "/requests/{request_id}/options",
    response_model=OptionsOut,
    tags=["requests"],
    summary="Where this household could go tonight, best first (operator, admin)",
    description=(
        "Judged by the engine's own rules for the household alone, on the rooms free now: "
        "shelters nearest first with km and a fitting set of rooms, and how many shelters "
        "each rule ruled out. Shelters a proposal was declined in are not excluded here: the "
        "operator decides."
    ),
)
def options(request_id: str, session: SessionDep, principal: OperatorDep) -> OptionsOut:
    req, found, shelters = placements.household_options(session, get_settings(), request_id)
    origin = (req.origin_lat, req.origin_lon)
    detail = {"options": len(found.options)}
    record(session, principal, "request.options", "request", req.id, detail)
    return OptionsOut(
        request_id=req.id,
        options=[
            OptionOut(
                shelter_id=o.shelter,
                shelter_name=shelters[o.shelter].name if o.shelter in shelters else o.shelter,
                # Ordered by the engine's km (from the published cell); an admin reads the
                # exact km to a confidential shelter.
                km=km_seen_by(principal, shelters.get(o.shelter), o.km, origin),
                room_ids=o.rooms,
                language_match=o.language_match,
                wasted_beds=o.wasted_beds,
            )
            for o in found.options
        ],
        ruled_out=found.ruled_out,
        no_room_fits=found.no_room_fits,
        code=found.code,
        detail=found.detail,
    )
