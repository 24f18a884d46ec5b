"""Placements (``/api/v1/placements``) and manual placement of a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.audit.service import record
from app.auth.dependencies import OperatorDep, Principal, require_roles
from app.auth.models import Role
from app.core.config import get_settings
from app.core.deps import SessionDep
from app.core.errors import hidden, not_found
from app.core.http import not_modified
from app.core.idempotency import IdempotencyKeyHeader, run_idempotent
from app.core.inputs import Offset
from app.placements import service
from app.placements.models import Placement, PlacementStatus
from app.placements.schemas import (
    DeclineIn,
    ManualPlacementIn,
    PlacementOut,
    PlacementPage,
    placement_out,
)
from app.requests.models import PlacementRequest
from app.shelters.models import Shelter
from app.shelters.service import km_seen_by
from app.territories.scope import placement_filter

router = APIRouter(tags=["placements"])

# Viewers read aggregates only: a placement carries the household's composition.
PlacementReaderDep = Annotated[
    Principal, Depends(require_roles(Role.admin, Role.operator, Role.shelter))
]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="ETag read before")]


@dataclass(frozen=True)
class _Household:
    members: list[dict[str, Any]]
    needs: dict[str, Any]
    origin: tuple[float | None, float | None]


def _households(session: Session, request_ids: list[str]) -> dict[str, _Household]:
    if not request_ids:
        return {}
    rows = session.execute(
        select(
            PlacementRequest.id,
            PlacementRequest.members,
            PlacementRequest.needs,
            PlacementRequest.origin_lat,
            PlacementRequest.origin_lon,
        ).where(PlacementRequest.id.in_(request_ids))
    )
    return {
        rid: _Household(members or [], needs or {}, (lat, lon))
        for rid, members, needs, lat, lon in rows
    }


_NO_HOUSEHOLD = _Household([], {}, (None, None))


def _render(session: Session, principal: Principal, rows: list[Placement]) -> list[PlacementOut]:
    households = _households(session, sorted({p.request_id for p in rows}))
    ids = sorted({p.shelter_id for p in rows})
    shelters = {s.id: s for s in session.scalars(select(Shelter).where(Shelter.id.in_(ids)))}
    out = []
    for p in rows:
        h = households.get(p.request_id, _NO_HOUSEHOLD)
        km = km_seen_by(principal, shelters.get(p.shelter_id), p.km, h.origin)
        out.append(placement_out(p, h.members, h.needs, km))
    return out


def _out(session: Session, principal: Principal, p: Placement) -> PlacementOut:
    return _render(session, principal, [p])[0]


def _answer(
    session: Session, principal: Principal, p: Placement, status: int = 200
) -> JSONResponse:
    return JSONResponse(
        _out(session, principal, p).model_dump(mode="json"),
        status_code=status,
        headers={"ETag": service.placement_etag(p)},
    )


@router.get(
    "/placements",
    response_model=PlacementPage,
    summary="Placements, newest first (operator, admin; a shelter token sees its own only)",
)
def list_placements(
    session: SessionDep,
    principal: PlacementReaderDep,
    status: Annotated[
        list[PlacementStatus] | None, Query(description="Repeat to ask for several")
    ] = None,
    shelter_id: Annotated[str | None, Query(max_length=40)] = None,
    request_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> PlacementPage:
    shelter_only = principal.shelter_id if principal.role is Role.shelter else None
    query = select(Placement).where(placement_filter(principal.territory_id, shelter_only))
    if shelter_id:
        query = query.where(Placement.shelter_id == shelter_id)
    if request_id:
        query = query.where(Placement.request_id == request_id)
    if status:
        query = query.where(Placement.status.in_([s.value for s in status]))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(
        session.scalars(
            query.options(selectinload(Placement.rooms))
            .order_by(Placement.created_at.desc(), Placement.id)
            .limit(limit)
            .offset(offset)
        )
    )
    if principal.role is Role.shelter and rows:
        ids = [p.id for p in rows]
        detail = {"shelter_id": principal.shelter_id, "ids": ids}
        record(session, principal, "placement.list", "placement", None, detail)
    return PlacementPage(
        items=_render(session, principal, rows),
        total=int(total),
        limit=limit,
        offset=offset,
    )


@router.get(
    "/placements/{placement_id}",
    response_model=PlacementOut,
    summary="One placement, with its ETag (operator, admin, its shelter)",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_placement(
    placement_id: str, request: Request, session: SessionDep, principal: PlacementReaderDep
) -> Response:
    p = session.scalars(
        select(Placement).where(Placement.id == placement_id).options(selectinload(Placement.rooms))
    ).one_or_none()
    if p is None:
        raise not_found("placement")
    if not service.visible(principal, p):
        raise hidden("placement", principal)
    cached = not_modified(request, service.placement_etag(p))
    if principal.role is Role.shelter:  # its staff read the household coming to them
        status = 200 if cached is None else 304
        detail = {"shelter_id": p.shelter_id, "status": status}
        record(session, principal, "placement.read", "placement", p.id, detail)
    if cached is not None:
        return cached
    return _answer(session, principal, p)


_STEP_DOC = {409: {"description": "The placement's status does not allow this step"}}


@router.post(
    "/placements/{placement_id}/accept",
    response_model=PlacementOut,
    summary="The household is on its way (operator, admin); from proposed",
    description="The hold no longer expires: a late household must not lose its bed. "
    "A no-show is declined.",
    responses=_STEP_DOC,
)
def accept(
    placement_id: str, session: SessionDep, principal: OperatorDep, if_match: IfMatch = None
) -> JSONResponse:
    p = service.transition(session, principal, placement_id, "accept", if_match=if_match)
    return _answer(session, principal, p)


@router.post(
    "/placements/{placement_id}/decline",
    response_model=PlacementOut,
    summary="Decline (operator, admin, its shelter); from proposed or accepted; beds freed",
    description="The request goes back to pending; later runs do not propose this shelter to "
    "this household again (a manual placement still may).",
    responses=_STEP_DOC,
)
def decline(
    placement_id: str,
    data: DeclineIn,
    session: SessionDep,
    principal: PlacementReaderDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    p = service.transition(
        session, principal, placement_id, "decline", reason=data.reason, if_match=if_match
    )
    return _answer(session, principal, p)


@router.post(
    "/placements/{placement_id}/arrive",
    response_model=PlacementOut,
    summary="The household is in (its shelter, admin); from accepted, or proposed",
    description="Also from proposed: a household at the door is in, whether or not the "
    "operator clicked accept first.",
    responses=_STEP_DOC,
)
def arrive(
    placement_id: str, session: SessionDep, principal: PlacementReaderDep, if_match: IfMatch = None
) -> JSONResponse:
    p = service.transition(session, principal, placement_id, "arrive", if_match=if_match)
    return _answer(session, principal, p)


@router.post(
    "/placements/{placement_id}/end",
    response_model=PlacementOut,
    summary="The household has left (its shelter, admin); from arrived; beds freed",
    responses=_STEP_DOC,
)
def end(
    placement_id: str, session: SessionDep, principal: PlacementReaderDep, if_match: IfMatch = None
) -> JSONResponse:
    p = service.transition(session, principal, placement_id, "end", if_match=if_match)
    return _answer(session, principal, p)


@router.post(
    "/requests/{request_id}/placements",
    status_code=201,
    response_model=PlacementOut,
    tags=["requests"],
    summary="Place a household by hand (operator, admin)",
    description=(
        "`{shelter_id, room_ids}` judged by the engine's own rules (422 naming every broken "
        "rule); 409 if the request is not pending or a room is no longer free. Creates a "
        "`proposed` placement holding the beds until `expires_at`. Takes an optional "
        "`Idempotency-Key`."
    ),
    responses={409: {"description": "Room taken or request not pending"}},
)
def place_manually(
    request_id: str,
    data: ManualPlacementIn,
    request: Request,
    session: SessionDep,
    principal: OperatorDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    def work() -> tuple[int, Any]:
        p = service.manual_placement(
            session, get_settings(), principal, request_id, data.shelter_id, data.room_ids
        )
        return 201, _out(session, principal, p).model_dump(mode="json")

    return run_idempotent(
        session, principal, request, idempotency_key, data.model_dump(mode="json"), work
    )
