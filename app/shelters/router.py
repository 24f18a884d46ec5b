"""Shelters, rooms and availability endpoints (``/api/v1``)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse

from app.audit.service import record
from app.auth.dependencies import AdminDep, PrincipalDep, ReaderDep
from app.core.db import utcnow
from app.core.deps import SessionDep
from app.core.http import not_modified, require_if_match, version_etag
from app.core.idempotency import IdempotencyKeyHeader, run_idempotent
from app.core.problems import PROBLEM_RESPONSES
from app.shelters import service
from app.shelters.schemas import (
    AvailabilityItem,
    AvailabilityOut,
    AvailabilitySummary,
    RoomCreate,
    RoomOut,
    RoomUpdate,
    ShelterCreate,
    ShelterOut,
    ShelterUpdate,
)

router = APIRouter(tags=["shelters"], responses=PROBLEM_RESPONSES)

_ROLES_NOTE = "A shelter token sees only its own shelter (404 for any other)."


def _etag(obj: Any) -> str:
    return version_etag(obj.id, obj.version)


_IF_MATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    412: {"description": "The object changed since it was read (stale `If-Match`)"},
    428: {"description": "`If-Match` is required"},
}


@router.post(
    "/shelters",
    status_code=201,
    response_model=ShelterOut,
    summary="Create a shelter (admin)",
)
def create_shelter(
    data: ShelterCreate,
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    def work() -> tuple[int, Any]:
        shelter = service.create_shelter(session, principal, data)
        out = service.shelter_out(session, principal, shelter, audit_read=False)
        return 201, out.model_dump(mode="json")

    return run_idempotent(
        session, principal, request, idempotency_key, data.model_dump(mode="json"), work
    )


@router.get(
    "/shelters",
    response_model=list[ShelterOut],
    summary="List shelters",
    description="Every role. " + _ROLES_NOTE + " Confidential addresses are masked unless "
    "the caller is an admin or the shelter's own staff.",
)
def list_shelters(session: SessionDep, principal: PrincipalDep) -> list[ShelterOut]:
    return [
        service.shelter_out(session, principal, s)
        for s in service.list_shelters(session, principal)
    ]


@router.get(
    "/shelters/{shelter_id}",
    response_model=ShelterOut,
    summary="Read a shelter",
    description=_ROLES_NOTE,
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_shelter(
    shelter_id: str,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> Any:
    shelter = service.get_visible_shelter(session, principal, shelter_id)
    etag = _etag(shelter)
    cached = not_modified(request, etag)
    if cached is not None:
        # A 304 to a confidential read confirms the copy held: audited as the read was.
        if shelter.confidential and principal.may_see_shelter_internals(
            shelter.id, shelter.territory_id
        ):
            detail = {"status": 304}
            record(session, principal, "shelter.confidential_read", "shelter", shelter.id, detail)
        return cached
    response.headers["ETag"] = etag
    return service.shelter_out(session, principal, shelter)


@router.patch(
    "/shelters/{shelter_id}",
    response_model=ShelterOut,
    summary="Change a shelter (admin; its staff: intake_phone and languages only)",
    description=(
        "Send only the fields to change, with `If-Match` (the ETag you read): 428 without "
        "it, 412 if stale."
    ),
    responses=_IF_MATCH_RESPONSES,
)
def patch_shelter(
    shelter_id: str,
    data: ShelterUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> ShelterOut:
    shelter = service.get_visible_shelter(session, principal, shelter_id)
    service.check_shelter_change(principal, data, shelter.territory_id)
    shelter = service.lock_shelter(session, shelter)
    require_if_match(request, _etag(shelter), required=True)
    shelter = service.update_shelter(session, principal, shelter, data)
    response.headers["ETag"] = _etag(shelter)
    return service.shelter_out(session, principal, shelter, audit_read=False)


@router.post(
    "/shelters/{shelter_id}/rooms",
    status_code=201,
    response_model=RoomOut,
    summary="Add a room (admin, or that shelter)",
)
def create_room(
    shelter_id: str,
    data: RoomCreate,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    shelter = service.get_visible_shelter(session, principal, shelter_id)
    service.require_shelter_writer(principal, shelter.id, shelter.territory_id)

    def work() -> tuple[int, Any]:
        room = service.create_room(session, principal, shelter, data)
        return 201, service.rooms_out(session, [room])[0].model_dump(mode="json")

    return run_idempotent(
        session, principal, request, idempotency_key, data.model_dump(mode="json"), work
    )


@router.get(
    "/shelters/{shelter_id}/rooms",
    response_model=list[RoomOut],
    summary="A shelter's rooms, with what is held and free tonight",
    description=_ROLES_NOTE,
)
def list_rooms(shelter_id: str, session: SessionDep, principal: PrincipalDep) -> list[RoomOut]:
    shelter = service.get_visible_shelter(session, principal, shelter_id)
    return service.rooms_out(session, service.list_rooms(session, shelter))


@router.get(
    "/rooms/{room_id}",
    response_model=RoomOut,
    summary="Read a room (with its ETag)",
    description=_ROLES_NOTE,
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_room(
    room_id: str, request: Request, response: Response, session: SessionDep, principal: PrincipalDep
) -> Any:
    room = service.get_visible_room(session, principal, room_id)
    etag = _etag(room)
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    response.headers["ETag"] = etag
    return service.rooms_out(session, [room])[0]


@router.patch(
    "/rooms/{room_id}",
    response_model=RoomOut,
    summary="Change a room (admin, or its shelter)",
    description=(
        "`If-Match` with the room's ETag is required (428 without it; 412 and no change if "
        "someone changed it since). A change to `beds`, `cribs`, `occupied_beds` or "
        "`out_of_service` that would overlap beds held or occupied through Abri is 409, "
        "naming the placements (`placement_ids`) to decline or end first."
    ),
    responses={
        **_IF_MATCH_RESPONSES,
        409: {"description": "The change overlaps live placements, or the label is taken"},
    },
)
def patch_room(
    room_id: str,
    data: RoomUpdate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> RoomOut:
    room = service.get_visible_room(session, principal, room_id)
    service.require_shelter_writer(principal, room.shelter_id, room.shelter.territory_id)
    room = service.lock_room(session, room)
    require_if_match(request, _etag(room), required=True)
    room = service.update_room(session, principal, room, data)
    response.headers["ETag"] = _etag(room)
    return service.rooms_out(session, [room])[0]


@router.put(
    "/shelters/{shelter_id}/availability",
    response_model=AvailabilityOut,
    summary="The evening update of a shelter's rooms (its shelter, or admin)",
    description=(
        "All rows are applied or none: an unknown room, a room of another shelter, a room "
        "listed twice or more occupied beds than beds is a 422 naming the row's index. Rooms "
        "not listed are left as they are. Stamps `availability_updated_at`, even for an empty "
        'list ("nothing changed tonight"). A row that would overlap beds held or occupied '
        "through Abri (a room going out of service, or occupied, under a live placement) is "
        "409 naming the placements (`placement_ids`) to decline or end first; overdue holds "
        "expire before the check."
    ),
    responses={409: {"description": "A row overlaps live placements"}},
)
def put_availability(
    shelter_id: str,
    items: Annotated[list[AvailabilityItem], Body(max_length=2000)],
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> AvailabilityOut:
    shelter = service.get_visible_shelter(session, principal, shelter_id)
    service.require_shelter_writer(principal, shelter.id, shelter.territory_id)
    shelter, rooms = service.put_availability(session, principal, shelter, items)
    response.headers["ETag"] = _etag(shelter)
    return AvailabilityOut(
        shelter_id=shelter.id,
        availability_updated_at=shelter.availability_updated_at or utcnow(),
        rooms=service.rooms_out(session, sorted(rooms, key=lambda r: r.label)),
    )


@router.get(
    "/availability",
    response_model=AvailabilitySummary,
    summary="Free capacity tonight per shelter (operator, viewer, admin)",
    description=(
        "Free private rooms by size, free dormitory beds by sex and the time of each "
        "shelter's last update. Answers `If-None-Match` with 304 while nothing changed."
    ),
    responses={304: {"description": "Not modified"}},
)
def get_availability(
    request: Request, response: Response, session: SessionDep, principal: ReaderDep
) -> Any:
    summary = service.availability_summary(session)
    content = summary.model_dump_json(include={"totals", "shelters"})
    etag = version_etag("availability", hashlib.sha256(content.encode()).hexdigest()[:32])
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    response.headers["ETag"] = etag
    return summary
