"""``/api/v1/territories``: the national admin's (list, create, rename, neighbours, delete).

A territory's own tokens read their territory only; another territory is 404, as a
missing one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy import select

from app.audit.service import record
from app.auth.dependencies import Principal, PrincipalDep, require_roles
from app.auth.models import Role
from app.core.deps import SessionDep
from app.core.errors import ProblemError, forbidden, not_found
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
    return _out(session, territory)


@router.get("/territories/{code}", response_model=TerritoryOut, summary="One territory")
def get_territory(code: str, session: SessionDep, principal: PrincipalDep) -> TerritoryOut:
    return _out(session, _readable(session, principal, code))


@router.patch("/territories/{code}", response_model=TerritoryOut, summary="Rename (national admin)")
def patch_territory(
    code: str, data: TerritoryUpdate, session: SessionDep, principal: NationalDep
) -> TerritoryOut:
    territory = service.get_by_code(session, code)
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
    return _out(session, territory)


@router.put(
    "/territories/{code}/neighbours",
    response_model=TerritoryOut,
    summary="Replace a territory's neighbours (national admin)",
    description=(
        "The territories whose shelters this territory's runs, options and manual "
        "placements may use. Directed: the Nord listing the Pas-de-Calais lets the Nord "
        "place in the Pas-de-Calais, not the reverse. A placement already made stays."
    ),
)
def put_neighbours(
    code: str, data: NeighboursPut, session: SessionDep, principal: NationalDep
) -> TerritoryOut:
    territory = service.get_by_code(session, code)
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
    return _out(session, territory)


@router.delete(
    "/territories/{code}",
    status_code=204,
    summary="Delete an empty territory (national admin)",
    responses={409: {"description": "Shelters, requests or tokens still belong to it"}},
)
def delete_territory(code: str, session: SessionDep, principal: NationalDep) -> Response:
    territory = service.get_by_code(session, code)
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
