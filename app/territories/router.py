"""``/api/v1/territories``: the national admin's (list, create, rename, neighbours, delete).

A territory's own tokens read their territory only; another territory is 404, as a
missing one. A territory is edited as every other object is: its ``ETag`` is
``"<id>-v<version>"``, a change needs ``If-Match`` (428 without it, 412 when stale)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from app.audit.service import record
from app.auth.dependencies import Principal, PrincipalDep, require_roles
from app.auth.models import Role
from app.core.deps import SessionDep
from app.core.errors import ProblemError, forbidden, not_found
from app.core.http import not_modified, require_if_match, version_etag
from app.core.problems import PROBLEM_RESPONSES
from app.territories import service
from app.territories.models import Territory
from app.territories.schemas import NeighboursPut, TerritoryCreate, TerritoryOut, TerritoryUpdate

router = APIRouter(tags=["territories"], responses=PROBLEM_RESPONSES)


async def _national(
    principal: Annotated[Principal, Depends(require_roles(Role.admin))],
) -> Principal:
    if not principal.national:
        raise forbidden("Only a national admin manages territories.", principal)
    return principal


NationalDep = Annotated[Principal, Depends(_national)]

_IF_MATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    412: {"description": "The territory changed since it was read (stale `If-Match`)"},
    428: {"description": "`If-Match` is required"},
}


def _etag(territory: Territory) -> str:
    return version_etag(territory.id, territory.version)


def _locked(session: SessionDep, request: Request, code: str, *, required: bool) -> Territory:
    """The territory locked and judged against the client's ``If-Match``."""
    territory = service.lock_by_code(session, code)
    require_if_match(request, _etag(territory), required=required)
    return territory


def _out(session: SessionDep, territory: Territory) -> TerritoryOut:
    return TerritoryOut(
        code=territory.code,
        name=territory.name,
        neighbours=service.codes_of(session, service.neighbour_ids(session, territory.id)),
        version=territory.version,
        created_at=territory.created_at,
    )


def _readable(session: SessionDep, principal: Principal, code: str) -> Territory:
    territory = service.by_code(session, code)
    if territory is None or not (principal.national or territory.id == principal.territory_id):
        raise not_found("territory")
    return territory


@router.get(
    "/territories",
    response_model=list[TerritoryOut],
    summary="Territories: every one for a national admin, its own for any other token",
)
def list_territories(session: SessionDep, principal: PrincipalDep) -> list[TerritoryOut]:
    query = select(Territory).order_by(Territory.code)
    if not principal.national:
        query = query.where(Territory.id == principal.territory_id)
    return [_out(session, t) for t in session.scalars(query)]


@router.post(
    "/territories",
    status_code=201,
    response_model=TerritoryOut,
    summary="Create a territory (national admin)",
    responses={409: {"description": "A territory with this code exists"}},
)
def create_territory(
    data: TerritoryCreate, response: Response, session: SessionDep, principal: NationalDep
) -> TerritoryOut:
    territory = service.create_territory(session, data.code, data.name)
    if data.neighbours:
        service.set_neighbours(session, territory, data.neighbours)
    record(
        session,
        principal,
        "territory.create",
        "territory",
        territory.id,
        {"code": territory.code, "neighbours": len(data.neighbours)},
        territory_id=territory.id,
    )
    response.headers["Location"] = f"/api/v1/territories/{territory.code}"
    response.headers["ETag"] = _etag(territory)
    return _out(session, territory)


@router.get(
    "/territories/{code}",
    response_model=TerritoryOut,
    summary="One territory (with its ETag)",
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_territory(
    code: str, request: Request, response: Response, session: SessionDep, principal: PrincipalDep
) -> Any:
    territory = _readable(session, principal, code)
    etag = _etag(territory)
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    response.headers["ETag"] = etag
    return _out(session, territory)


@router.patch(
    "/territories/{code}",
    response_model=TerritoryOut,
    summary="Rename (national admin)",
    description="`If-Match` with the territory's ETag is required: 428 without it, 412 (and "
    "no change) when the territory changed since it was read.",
    responses=_IF_MATCH_RESPONSES,
)
def patch_territory(
    code: str,
    data: TerritoryUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: NationalDep,
) -> TerritoryOut:
    territory = _locked(session, request, code, required=True)
    if territory.name != data.name:
        territory.name = data.name
        territory.version += 1
        session.flush()
        record(
            session,
            principal,
            "territory.update",
            "territory",
            territory.id,
            {"fields": ["name"]},
            territory_id=territory.id,
        )
    response.headers["ETag"] = _etag(territory)
    return _out(session, territory)


@router.put(
    "/territories/{code}/neighbours",
    response_model=TerritoryOut,
    summary="Replace a territory's neighbours (national admin)",
    description=(
        "The territories whose shelters this territory's runs, options and manual "
        "placements may use. Directed: the Nord listing the Pas-de-Calais lets the Nord "
        "place in the Pas-de-Calais, not the reverse. A placement already made stays. "
        "`If-Match` with the territory's ETag is required (428 without it, 412 and no change "
        "when stale); the territory's version moves."
    ),
    responses=_IF_MATCH_RESPONSES,
)
def put_neighbours(
    code: str,
    data: NeighboursPut,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: NationalDep,
) -> TerritoryOut:
    territory = _locked(session, request, code, required=True)
    service.set_neighbours(session, territory, data.neighbours)
    record(
        session,
        principal,
        "territory.neighbours",
        "territory",
        territory.id,
        {"neighbours": service.codes_of(session, service.neighbour_ids(session, territory.id))},
        territory_id=territory.id,
    )
    response.headers["ETag"] = _etag(territory)
    return _out(session, territory)


@router.delete(
    "/territories/{code}",
    status_code=204,
    summary="Delete an empty territory (national admin)",
    description="`If-Match` is honoured (412 when stale), as for a request's cancel.",
    responses={
        409: {"description": "Shelters, requests or tokens still belong to it"},
        412: _IF_MATCH_RESPONSES[412],
    },
)
def delete_territory(
    code: str, request: Request, session: SessionDep, principal: NationalDep
) -> Response:
    territory = _locked(session, request, code, required=False)
    if not service.is_empty(session, territory.id):
        raise ProblemError(409, "Shelters, requests or tokens still belong to this territory.")
    record(
        session,
        principal,
        "territory.delete",
        "territory",
        territory.id,
        {"code": territory.code},
    )
    session.delete(territory)
    session.flush()
    return Response(status_code=204)
