"""What is free tonight, room by room: the one computation behind the availability
endpoint, the engine's problem and the dashboard.

A private room is free only if it is in service, nobody outside Abri occupies it and no
live placement (proposed, accepted or arrived) holds it. A shared room's free beds are its
beds less those occupied outside Abri and those held by live placements.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.placements.models import PlacementRoom
from app.shelters.models import Room, Shelter


@dataclass(frozen=True)
class FreeRoom:
    room_id: str
    shelter_id: str
    label: str
    beds: int  # private: all its beds; shared: its free beds
    cribs: int
    shared: bool
    sex: str | None
    wheelchair: bool


def held_beds_by_room(session: Session, room_ids: Iterable[str] | None = None) -> dict[str, int]:
    """Beds held or occupied by live placements, per room."""
    query = (
        select(PlacementRoom.room_id, func.sum(PlacementRoom.beds))
        .where(PlacementRoom.active.is_(True))
        .group_by(PlacementRoom.room_id)
    )
    if room_ids is not None:
        query = query.where(PlacementRoom.room_id.in_(list(room_ids)))
    return {room_id: int(beds or 0) for room_id, beds in session.execute(query)}


def free_room(room: Room, held: int) -> FreeRoom | None:
    """The free part of one room, or ``None`` if nothing in it can be given tonight."""
    if room.out_of_service:
        return None
    if room.shared:
        free_beds = room.beds - room.occupied_beds - held
        if free_beds <= 0:
            return None
        return FreeRoom(
            room.id, room.shelter_id, room.label, free_beds, 0, True, room.sex, room.wheelchair
        )
    if room.occupied_beds > 0 or held > 0 or (room.beds + room.cribs) == 0:
        return None
    return FreeRoom(
        room.id, room.shelter_id, room.label, room.beds, room.cribs, False, None, room.wheelchair
    )


def free_rooms(
    session: Session, shelter_ids: Iterable[str] | None = None, *, for_update: bool = False
) -> list[FreeRoom]:
    """Every free room (of the given shelters, else of every active shelter).

    ``for_update`` locks the room rows (PostgreSQL) so that a writer re-checking before it
    holds beds sees no concurrent change until it commits.
    """
    query = (
        select(Room)
        .join(Shelter, Shelter.id == Room.shelter_id)
        .where(Shelter.active.is_(True))
        .order_by(Room.id)
    )
    if shelter_ids is not None:
        query = query.where(Room.shelter_id.in_(list(shelter_ids)))
    if for_update:
        query = query.with_for_update(of=Room)
    rooms = list(session.scalars(query))
    # Unfiltered when every room is wanted: an IN list of thousands of ids helps no one.
    wanted = None if shelter_ids is None else [r.id for r in rooms]
    held = held_beds_by_room(session, wanted) if rooms else {}
    result = []
    for room in rooms:
        free = free_room(room, held.get(room.id, 0))
        if free is not None:
            result.append(free)
    return result
