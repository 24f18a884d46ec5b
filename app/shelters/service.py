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
from app.core.locks import lock_rooms, lock_shelter_for_change
from app.placements.models import Placement
from app.shelters.capacity import (
    RoomState,
    free_room,
    free_rooms,
    held_beds_by_room,
    hold_conflict,
    live_holds,
)
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
from app.territories.scope import placement_filter

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
    if shelter is None or not principal.may_see_shelter_internals(shelter.id, shelter.territory_id):
        return km
    return exact_km(shelter, km, *origin)


def shown_position(shelter: Shelter, exact: bool) -> tuple[float, float]:
    """Where a shelter is shown: exactly, or snapped to the ~5 km grid for whoever may not
    know where a confidential shelter is (the one place this privacy rule is applied)."""
    if exact:
        return shelter.lat, shelter.lon
    return snap(shelter.lat), snap(shelter.lon)


# --- access ---------------------------------------------------------------------------------


def get_visible_shelter(session: Session, principal: Principal, shelter_id: str) -> Shelter:
    """The shelter, or 404 — also for a shelter token asking about another shelter."""
    if principal.role is Role.shelter and principal.shelter_id != shelter_id:
        raise hidden("shelter", principal)
    shelter = session.get(Shelter, shelter_id)
    if shelter is None:
        raise not_found("shelter")
    return shelter


def get_visible_room(session: Session, principal: Principal, room_id: str) -> Room:
    room = session.get(Room, room_id)
    if room is None:
        raise not_found("room")
    if principal.role is Role.shelter and principal.shelter_id != room.shelter_id:
        raise hidden("room", principal)
    return room


def _expire_overdue_holds(
    session: Session, *, room_ids: list[str] | None = None, shelter_ids: list[str] | None = None
) -> None:
    """Overdue holds (of these rooms or shelters) expire now, before a room is judged."""
    # Lazy: the placements service imports the problem builder, which imports this module.
    from app.placements.service import expire_holds, has_overdue_holds

    if has_overdue_holds(session):
        expire_holds(session, room_ids=room_ids, shelter_ids=shelter_ids)


def lock_shelter(session: Session, shelter: Shelter) -> Shelter:
    """The shelter locked for a change (step 3 of ``app.core.locks``) and freshly read, so
    that two updates carrying the same ``If-Match`` are judged one after the other."""
    locked = lock_shelter_for_change(session, shelter.id)
    if locked is None:
        raise not_found("shelter")
    return locked


def lock_room(session: Session, room: Room) -> Room:
    """The room locked for a change and freshly read; overdue holds on it expire first (a
    hold past its deadline must not refuse the change)."""
    _expire_overdue_holds(session, room_ids=[room.id])
    locked = lock_rooms(session, room_ids=[room.id])
    if not locked:
        raise not_found("room")
    return locked[0]


def require_shelter_writer(principal: Principal, shelter_id: str, territory_id: str) -> None:
    """The shelter's territory's admins, or that shelter's own staff (checked after
    visibility, so others get 404). A neighbour territory reads the shelter, never changes it."""
    if principal.manages(territory_id):
        return
    if principal.role is Role.shelter and principal.shelter_id == shelter_id:
        return
    raise forbidden(f"The {principal.role.value} role may not change a shelter's rooms.", principal)


# --- shelters -------------------------------------------------------------------------------


def shelter_out(
    session: Session, principal: Principal, shelter: Shelter, *, audit_read: bool = True
) -> ShelterOut:
    """The shelter as this principal may see it. Reading a confidential address is audited."""
    exact = not shelter.confidential or principal.may_see_shelter_internals(
        shelter.id, shelter.territory_id
    )
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
    shelter = Shelter(
        **data.model_dump(mode="json"),
        territory_id=principal.require_territory(),
        version=1,
        active=True,
    )
    session.add(shelter)
    session.flush()
    record(session, principal, "shelter.create", "shelter", shelter.id, {"kind": shelter.kind})
    return shelter


def list_shelters(session: Session, principal: Principal) -> list[Shelter]:
    query = select(Shelter).order_by(Shelter.name, Shelter.id)
    if principal.role is Role.shelter:
        query = query.where(Shelter.id == principal.shelter_id)
    return list(session.scalars(query))


def check_shelter_change(principal: Principal, data: ShelterUpdate, territory_id: str) -> None:
    """403 unless this principal may change these fields (before any lock or If-Match)."""
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
    elif not principal.manages(territory_id):
        raise forbidden(
            f"The {principal.role.value} role may not change this shelter"
            + (" (it belongs to another territory)." if principal.is_admin else "."),
            principal,
        )


def update_shelter(
    session: Session, principal: Principal, shelter: Shelter, data: ShelterUpdate
) -> Shelter:
    check_shelter_change(principal, data, shelter.territory_id)
    changes = data.model_dump(mode="json", exclude_unset=True)
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
    new = RoomState(
        beds=merged["beds"],
        cribs=merged["cribs"],
        occupied_beds=merged["occupied"],
        out_of_service=changes.get("out_of_service", room.out_of_service),
    )
    holds = live_holds(session, [room.id]).get(room.id, [])
    why = hold_conflict(room, new, holds)
    if why is not None:
        field = next((f for f in CAPACITY_FIELDS if f in changes), "beds")
        raise _held_problem(session, principal, [(room, why, [field], holds)])
    return _apply_changes(session, principal, room, changes, "room")


# A change to one of these may overlap beds held through Abri (cribs: a held family's fit).
CAPACITY_FIELDS = ("occupied_beds", "out_of_service", "beds", "cribs")


def _readable_placements(session: Session, principal: Principal, ids: set[str]) -> set[str]:
    """Which of these placements the caller may read (``placement_filter``, the rule of
    ``GET /placements``): its shelter's staff every placement into it, a territory's admin
    its territory's own, not a neighbour territory's placed into its shelter."""
    if not ids:
        return set()
    shelter_only = principal.shelter_id if principal.role is Role.shelter else None
    return set(
        session.scalars(
            select(Placement.id).where(
                Placement.id.in_(sorted(ids)),
                placement_filter(principal.territory_id, shelter_only),
            )
        )
    )


def _held_problem(
    session: Session,
    principal: Principal,
    conflicts: list[tuple[Room, str, list[Any], list[tuple[str, int]]]],
) -> ProblemError:
    """409 naming each room, why, and the placements the shelter must decline or end first.

    A placement the caller may not read (a neighbour territory's, shown to this territory's
    admin) is counted with its beds, never named: its id is that territory's."""
    held = {pid for *_, holds in conflicts for pid, _ in holds}
    readable = _readable_placements(session, principal, held)
    placement_ids = sorted(readable)
    hidden_n = len(held - readable)

    def named(holds: list[tuple[str, int]]) -> str:
        ids = [p for p, _ in holds if p in readable]
        other = [beds for p, beds in holds if p not in readable]
        parts = [f"placements {', '.join(ids)}"] if ids else []
        if other:
            parts.append(f"{len(other)} of another territory, {sum(other)} bed(s)")
        return "; ".join(parts)

    sentences = [f"room {room.label} ({room.id}): {why}" for room, why, _, _ in conflicts]
    steps = []
    if placement_ids:
        steps.append("Decline or end placement(s) " + ", ".join(placement_ids) + " first.")
    if hidden_n:
        steps.append(
            f"{hidden_n} placement(s) of a neighbouring territory hold beds here: the "
            "shelter's staff or that territory's operators must decline or end them first."
        )
    return ProblemError(
        409,
        "This change would overlap beds held or occupied through Abri ("
        + "; ".join(sentences)
        + "). "
        + " ".join(steps),
        placement_ids=placement_ids,
        other_territory_placements=hidden_n,
        room_ids=[room.id for room, *_ in conflicts],
        errors=[{"loc": loc, "msg": f"{why} ({named(holds)})"} for _, why, loc, holds in conflicts],
    )


def put_availability(
    session: Session, principal: Principal, shelter: Shelter, items: list[AvailabilityItem]
) -> tuple[Shelter, list[Room]]:
    """The evening update: all rows are checked before any is applied (all or nothing).

    Overdue holds in the shelter expire first; then the shelter and every room of it are
    locked (in the lock order of ``app.core.locks``, not in the client's order) and no row
    may overlap beds still held or occupied through Abri (409 naming the placements).
    """
    _expire_overdue_holds(session, shelter_ids=[shelter.id])
    shelter = lock_shelter(session, shelter)
    rooms = {r.id: r for r in lock_rooms(session, shelter_ids=[shelter.id])}
    _check_availability_rows(rooms, items)
    _check_availability_holds(session, principal, rooms, items)
    _apply_availability(session, principal, shelter, rooms, items)
    return shelter, list(rooms.values())


def _check_availability_rows(rooms: dict[str, Room], items: list[AvailabilityItem]) -> None:
    """422 naming each bad row: unknown or foreign room, listed twice, more occupied than beds."""
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


def _check_availability_holds(
    session: Session, principal: Principal, rooms: dict[str, Room], items: list[AvailabilityItem]
) -> None:
    holds = live_holds(session, [item.room_id for item in items])
    conflicts = []
    for i, item in enumerate(items):
        room = rooms[item.room_id]
        new = RoomState(room.beds, room.cribs, item.occupied_beds, item.out_of_service)
        room_holds = holds.get(room.id, [])
        why = hold_conflict(room, new, room_holds)
        if why is not None:
            field = "out_of_service" if item.out_of_service else "occupied_beds"
            conflicts.append((room, why, [i, field], room_holds))
    if conflicts:
        raise _held_problem(session, principal, conflicts)


def _apply_availability(
    session: Session,
    principal: Principal,
    shelter: Shelter,
    rooms: dict[str, Room],
    items: list[AvailabilityItem],
) -> None:
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


def availability_summary(session: Session) -> AvailabilitySummary:
    """Free capacity tonight per active shelter, from ``capacity.free_rooms`` alone.

    Confidential shelters appear with their snapped position whoever asks: this aggregate
    view is polled by dashboards and never carries an exact secret position.
    """
    shelters = list(
        session.scalars(select(Shelter).where(Shelter.active.is_(True)).order_by(Shelter.name))
    )
    by_shelter = defaultdict(list)
    _expire_overdue_holds(session)  # their rooms are free now, not at the next pass
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
