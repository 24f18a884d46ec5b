"""Shelters, rooms and tonight's availability. Services flush; ``get_session`` commits."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from allocation.geo import haversine_km
from app.audit.service import record
from app.auth.dependencies import Principal
from app.auth.models import Role
from app.core.db import utcnow
from app.core.errors import ProblemError, forbidden, hidden, not_found, validation_problem
from app.shelters.capacity import free_room, free_rooms, held_beds_by_room
from app.shelters.models import Room, Shelter
from app.shelters.schemas import (
    SHELTER_EDITABLE,
    SHELTER_NULLABLE,
    AvailabilityItem,
    AvailabilitySummary,
    AvailabilityTotals,
    PrivateRoomsBySize,
    RoomCreate,
    RoomOut,
    RoomUpdate,
    ShelterAvailability,
    ShelterCreate,
    ShelterOut,
    ShelterUpdate,
)

# A confidential shelter's position, for those who may not see it, is snapped to this grid:
# 0.05° is about 5.6 km north-south and 3.6 km east-west at the latitude of the Nord.
GRID_DEG = 0.05


def snap(value: float) -> float:
    return round(round(value / GRID_DEG) * GRID_DEG, 2)


def cell_margin_km(lat: float, lon: float) -> float:
    """How far from the centre (lat, lon) of a published cell a point of the cell may be.

    Half the cell's diagonal: the largest distance to a corner (the corners nearer the
    equator are the farthest), plus a metre against rounding. A function of the cell only.
    """
    half = GRID_DEG / 2
    corners = [(lat + dlat, lon + half) for dlat in (-half, half)]
    return max(haversine_km(lat, lon, c_lat, c_lon) for c_lat, c_lon in corners) + 0.001


def published_cell(shelter: Shelter) -> tuple[float, float, float]:
    """(lat, lon, margin_km) of a shelter as the engine judges it for everyone.

    A confidential shelter is given at its cell centre with the cell's margin, so that no
    answer to anyone (km, rules 5, 6 and 8, sentences, ordering) depends on where inside
    its cell it really is; the engine judges safety over the whole cell.
    """
    if not shelter.confidential:
        return shelter.lat, shelter.lon, 0.0
    lat, lon = snap(shelter.lat), snap(shelter.lon)
    return lat, lon, cell_margin_km(lat, lon)


_Km = TypeVar("_Km", float, float | None)  # km stays a float when given one


def exact_km(
    shelter: Shelter | None, km: _Km, origin_lat: float | None, origin_lon: float | None
) -> _Km:
    """The exact distance (0.1 km) from an origin to a confidential shelter, for readers who
    may know where it is; ``km`` (as the engine measured it) when there is nothing to
    correct or the origin is gone (retention). Computed at rendering: nothing exact is stored.
    """
    if km is None or shelter is None or not shelter.confidential:
        return km
    if origin_lat is None or origin_lon is None:
        return km
    return cast(_Km, round(haversine_km(origin_lat, origin_lon, shelter.lat, shelter.lon), 1))


def km_seen_by(
    principal: Principal,
    shelter: Shelter | None,
    km: _Km,
    origin: tuple[float | None, float | None],
) -> _Km:
    """A placement's km as this reader may see it: exact for admins and the shelter's own
    staff, otherwise as the engine measured it (from a confidential shelter's published cell).
    """
    if shelter is None or not principal.may_see_shelter_internals(shelter.id):
        return km
    return exact_km(shelter, km, *origin)


def shown_position(shelter: Shelter, exact: bool) -> tuple[float, float]:
    """Where a shelter is shown: exactly, or snapped to the ~5 km grid for whoever may not
    know where a confidential shelter is (the one place this privacy rule is applied)."""
    if exact:
        return shelter.lat, shelter.lon
    return snap(shelter.lat), snap(shelter.lon)


# --- access ---------------------------------------------------------------------------------


def get_visible_shelter(
    session: Session, principal: Principal, shelter_id: str, *, for_update: bool = False
) -> Shelter:
    """The shelter, or 404 — also for a shelter token asking about another shelter.

    ``for_update`` (writers) locks the row on PostgreSQL, so that two updates carrying the
    same ``If-Match`` are checked one after the other and the second gets its 412.
    """
    if principal.role is Role.shelter and principal.shelter_id != shelter_id:
        raise hidden("shelter", principal)
    shelter = session.get(Shelter, shelter_id, with_for_update=for_update or None)
    if shelter is None:
        raise not_found("shelter")
    return shelter


def get_visible_room(
    session: Session, principal: Principal, room_id: str, *, for_update: bool = False
) -> Room:
    room = session.get(Room, room_id, with_for_update=for_update or None)
    if room is None:
        raise not_found("room")
    if principal.role is Role.shelter and principal.shelter_id != room.shelter_id:
        raise hidden("room", principal)
    return room


def require_shelter_writer(principal: Principal, shelter_id: str) -> None:
    """Admins, or that shelter's own staff (checked after visibility, so others get 404)."""
    if principal.is_admin:
        return
    if principal.role is Role.shelter and principal.shelter_id == shelter_id:
        return
    raise forbidden(f"The {principal.role.value} role may not change a shelter's rooms.", principal)


# --- shelters -------------------------------------------------------------------------------


def shelter_out(
    session: Session, principal: Principal, shelter: Shelter, *, audit_read: bool = True
) -> ShelterOut:
    """The shelter as this principal may see it. Reading a confidential address is audited."""
    exact = not shelter.confidential or principal.may_see_shelter_internals(shelter.id)
    if shelter.confidential and exact and audit_read:
        record(session, principal, "shelter.confidential_read", "shelter", shelter.id)
    lat, lon = shown_position(shelter, exact)
    return ShelterOut(
        id=shelter.id,
        name=shelter.name,
        kind=shelter.kind,
        lat=lat,
        lon=lon,
        location_precision="exact" if exact else "approximate",
        women=shelter.women,
        men=shelter.men,
        children=shelter.children,
        max_boy_age=shelter.max_boy_age,
        dv_specialised=shelter.dv_specialised,
        secure=shelter.secure,
        wheelchair=shelter.wheelchair,
        pets=shelter.pets,
        languages=list(shelter.languages or []),
        address=shelter.address if exact else None,
        commune=shelter.commune,
        intake_phone=shelter.intake_phone,
        confidential=shelter.confidential,
        active=shelter.active,
        availability_updated_at=shelter.availability_updated_at,
        version=shelter.version,
        created_at=shelter.created_at,
        updated_at=shelter.updated_at,
    )


def create_shelter(session: Session, principal: Principal, data: ShelterCreate) -> Shelter:
    shelter = Shelter(**data.model_dump(mode="json"), version=1, active=True)
    session.add(shelter)
    session.flush()
    record(session, principal, "shelter.create", "shelter", shelter.id, {"kind": shelter.kind})
    return shelter


def list_shelters(session: Session, principal: Principal) -> list[Shelter]:
    query = select(Shelter).order_by(Shelter.name, Shelter.id)
    if principal.role is Role.shelter:
        query = query.where(Shelter.id == principal.shelter_id)
    return list(session.scalars(query))


def update_shelter(
    session: Session, principal: Principal, shelter: Shelter, data: ShelterUpdate
) -> Shelter:
    changes = data.model_dump(mode="json", exclude_unset=True)
    if principal.role is Role.shelter:
        refused = sorted(set(changes) - SHELTER_EDITABLE)
        if refused:
            raise forbidden(
                "A shelter's staff may change only "
                + ", ".join(sorted(SHELTER_EDITABLE))
                + "; ask the SIAO's administrator for "
                + ", ".join(refused)
                + ".",
                principal,
            )
    elif not principal.is_admin:
        raise forbidden(f"The {principal.role.value} role may not change a shelter.", principal)
    errors = [
        {"loc": [name], "msg": "may not be null"}
        for name, value in changes.items()
        if value is None and name not in SHELTER_NULLABLE
    ]
    if errors:
        raise validation_problem(errors)
    return _apply_changes(session, principal, shelter, changes, "shelter")


_Versioned = TypeVar("_Versioned", Shelter, Room)


def _apply_changes(
    session: Session,
    principal: Principal,
    obj: _Versioned,
    changes: dict[str, Any],
    object_type: str,
) -> _Versioned:
    """Set what really changed, bump ``version`` once, audit the field names (never the
    values: an address or a phone number does not belong in the audit log)."""
    changed = sorted(name for name, value in changes.items() if getattr(obj, name) != value)
    if not changed:
        return obj
    for name in changed:
        setattr(obj, name, changes[name])
    obj.version += 1
    session.flush()
    record(session, principal, f"{object_type}.update", object_type, obj.id, {"fields": changed})
    return obj


# --- rooms ----------------------------------------------------------------------------------


def room_errors(
    shared: bool, sex: str | None, beds: int, cribs: int, occupied: int
) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if shared and sex is None:
        errors.append({"loc": ["sex"], "msg": "a shared room needs 'sex' ('F' or 'M')"})
    if not shared and sex is not None:
        errors.append({"loc": ["sex"], "msg": "only a shared room has a sex"})
    if shared and cribs:
        errors.append({"loc": ["cribs"], "msg": "a shared room has no cribs (single adults)"})
    if occupied > beds:
        errors.append({"loc": ["occupied_beds"], "msg": f"cannot exceed beds ({beds})"})
    return errors


def rooms_out(session: Session, rooms: list[Room]) -> list[RoomOut]:
    held = held_beds_by_room(session, [r.id for r in rooms]) if rooms else {}
    result = []
    for room in rooms:
        h = held.get(room.id, 0)
        free = free_room(room, h)
        result.append(
            RoomOut(
                id=room.id,
                shelter_id=room.shelter_id,
                label=room.label,
                beds=room.beds,
                cribs=room.cribs,
                shared=room.shared,
                sex=room.sex,  # type: ignore[arg-type]
                wheelchair=room.wheelchair,
                out_of_service=room.out_of_service,
                occupied_beds=room.occupied_beds,
                held_beds=h,
                free_beds=free.beds if free is not None else 0,
                version=room.version,
                updated_at=room.updated_at,
            )
        )
    return result


def _label_taken(session: Session, shelter_id: str, label: str, room_id: str | None) -> bool:
    query = select(Room.id).where(Room.shelter_id == shelter_id, Room.label == label)
    if room_id is not None:
        query = query.where(Room.id != room_id)
    return session.scalar(query) is not None


def _duplicate_label(label: str) -> ProblemError:
    return ProblemError(
        409,
        f"This shelter already has a room labelled {label!r}.",
        errors=[{"loc": ["label"], "msg": "already used in this shelter"}],
    )


def create_room(session: Session, principal: Principal, shelter: Shelter, data: RoomCreate) -> Room:
    errors = room_errors(data.shared, data.sex, data.beds, data.cribs, data.occupied_beds)
    if errors:
        raise validation_problem(errors)
    if _label_taken(session, shelter.id, data.label, None):
        raise _duplicate_label(data.label)
    room = Room(shelter_id=shelter.id, version=1, **data.model_dump())
    try:
        with session.begin_nested():
            session.add(room)
            session.flush()
    except IntegrityError:
        # Two clients adding the same label at once: the unique constraint decides.
        raise _duplicate_label(data.label) from None
    record(session, principal, "room.create", "room", room.id, {"shelter_id": shelter.id})
    return room


def list_rooms(session: Session, shelter: Shelter) -> list[Room]:
    return list(
        session.scalars(select(Room).where(Room.shelter_id == shelter.id).order_by(Room.label))
    )


def update_room(session: Session, principal: Principal, room: Room, data: RoomUpdate) -> Room:
    changes = data.model_dump(exclude_unset=True)
    errors = [{"loc": [name], "msg": "may not be null"} for name, v in changes.items() if v is None]
    if errors:
        raise validation_problem(errors)
    merged = {
        "beds": changes.get("beds", room.beds),
        "cribs": changes.get("cribs", room.cribs),
        "occupied": changes.get("occupied_beds", room.occupied_beds),
    }
    errors = room_errors(room.shared, room.sex, **merged)
    if errors:
        raise validation_problem(errors)
    if "label" in changes and _label_taken(session, room.shelter_id, changes["label"], room.id):
        raise _duplicate_label(changes["label"])
    return _apply_changes(session, principal, room, changes, "room")


def put_availability(
    session: Session, principal: Principal, shelter: Shelter, items: list[AvailabilityItem]
) -> list[Room]:
    """The evening update: all rows are checked before any is applied (all or nothing)."""
    rooms = {r.id: r for r in list_rooms(session, shelter)}
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        room = rooms.get(item.room_id)
        if room is None:
            # Unknown and foreign rooms get the same answer: nothing about other shelters leaks.
            errors.append({"loc": [i, "room_id"], "msg": "no such room in this shelter"})
            continue
        if item.room_id in seen:
            errors.append({"loc": [i, "room_id"], "msg": "room listed twice"})
        seen.add(item.room_id)
        if item.occupied_beds > room.beds:
            errors.append(
                {"loc": [i, "occupied_beds"], "msg": f"cannot exceed the room's beds ({room.beds})"}
            )
    if errors:
        raise validation_problem(errors)
    changed_rooms = 0
    for item in items:
        room = rooms[item.room_id]
        if (room.out_of_service, room.occupied_beds) != (item.out_of_service, item.occupied_beds):
            room.out_of_service = item.out_of_service
            room.occupied_beds = item.occupied_beds
            room.version += 1
            changed_rooms += 1
    # Stamped even when nothing changed: "still true tonight" is what freshness measures.
    shelter.availability_updated_at = utcnow()
    shelter.version += 1
    session.flush()
    record(
        session,
        principal,
        "shelter.availability",
        "shelter",
        shelter.id,
        {"rooms_listed": len(items), "rooms_changed": changed_rooms},
    )
    return list(rooms.values())


def availability_summary(session: Session) -> AvailabilitySummary:
    """Free capacity tonight per active shelter, from ``capacity.free_rooms`` alone.

    Confidential shelters appear with their snapped position whoever asks: this aggregate
    view is polled by dashboards and never carries an exact secret position.
    """
    shelters = list(
        session.scalars(select(Shelter).where(Shelter.active.is_(True)).order_by(Shelter.name))
    )
    by_shelter = defaultdict(list)
    for free in free_rooms(session):
        by_shelter[free.shelter_id].append(free)
    items: list[ShelterAvailability] = []
    totals_shared = {"F": 0, "M": 0}
    totals = {"rooms": 0, "beds": 0, "cribs": 0}
    for shelter in shelters:
        sizes: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
        shared = {"F": 0, "M": 0}
        beds = cribs = 0
        for free in by_shelter.get(shelter.id, []):
            beds += free.beds
            if free.shared:
                shared[free.sex or "F"] += free.beds
            else:
                cribs += free.cribs
                entry = sizes[(free.beds, free.cribs)]
                entry[0] += 1
                entry[1] += int(free.wheelchair)
        private = [
            PrivateRoomsBySize(beds=b, cribs=c, rooms=n, wheelchair_rooms=w)
            for (b, c), (n, w) in sorted(sizes.items())
        ]
        exact = not shelter.confidential
        lat, lon = shown_position(shelter, exact)
        items.append(
            ShelterAvailability(
                shelter_id=shelter.id,
                name=shelter.name,
                kind=shelter.kind,
                commune=shelter.commune,
                lat=lat,
                lon=lon,
                location_precision="exact" if exact else "approximate",
                confidential=shelter.confidential,
                women=shelter.women,
                men=shelter.men,
                children=shelter.children,
                dv_specialised=shelter.dv_specialised,
                free_private_rooms=private,
                free_shared_beds=shared,
                free_beds=beds,
                free_cribs=cribs,
                availability_updated_at=shelter.availability_updated_at,
            )
        )
        for sex, n in shared.items():
            totals_shared[sex] += n
        totals["rooms"] += sum(p.rooms for p in private)
        totals["beds"] += beds
        totals["cribs"] += cribs
    return AvailabilitySummary(
        generated_at=utcnow(),
        totals=AvailabilityTotals(
            shelters=len(items),
            free_private_rooms=totals["rooms"],
            free_beds=totals["beds"],
            free_cribs=totals["cribs"],
            free_shared_beds=totals_shared,
        ),
        shelters=items,
    )
