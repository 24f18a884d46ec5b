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

from app.core.locks import lock_rooms
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

    ``for_update`` locks the room rows first (step 4 of ``app.core.locks``), so that a
    writer re-checking before it holds beds sees no concurrent change until it commits.
    """
    if for_update:
        lock_rooms(session, shelter_ids=shelter_ids)
    query = (
        select(Room)
        .join(Shelter, Shelter.id == Room.shelter_id)
        .where(Shelter.active.is_(True))
        .order_by(Room.id)
    )
    if shelter_ids is not None:
        query = query.where(Room.shelter_id.in_(list(shelter_ids)))
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


# --- holds against capacity changes ----------------------------------------------------------


@dataclass(frozen=True)
class RoomState:
    """What a room would be after a change (room PATCH, availability update)."""

    beds: int
    cribs: int
    occupied_beds: int
    out_of_service: bool


def live_holds(session: Session, room_ids: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
    """Per room, the live placements (proposed, accepted, arrived) holding beds in it and how
    many. The caller holds the rooms' locks, so no new hold can appear before it commits."""
    rows = session.execute(
        select(PlacementRoom.room_id, PlacementRoom.placement_id, PlacementRoom.beds)
        .where(PlacementRoom.active.is_(True), PlacementRoom.room_id.in_(list(room_ids)))
        .order_by(PlacementRoom.placement_id)
    )
    holds: dict[str, list[tuple[str, int]]] = {}
    for room_id, placement_id, beds in rows:
        holds.setdefault(room_id, []).append((placement_id, int(beds)))
    return holds


def hold_conflict(room: Room, new: RoomState, holds: list[tuple[str, int]]) -> str | None:
    """Why ``new`` would overlap beds held or occupied through Abri, or None if it does not."""
    held = sum(beds for _, beds in holds)
    if held == 0:
        return None
    if new.out_of_service:
        return f"{held} bed(s) are held or occupied by placements; it cannot go out of service"
    if room.shared:
        if new.occupied_beds + held > new.beds:
            return (
                f"{held} of its beds are held or occupied by placements: with {new.beds} beds "
                f"at most {max(new.beds - held, 0)} may be occupied otherwise"
            )
        return None
    if new.occupied_beds > 0:
        return "it is held whole by a placement; nobody else may occupy it"
    if new.beds < held or new.cribs < room.cribs:
        return "it is held by a placement sized for its beds and cribs; they cannot shrink"
    return None
