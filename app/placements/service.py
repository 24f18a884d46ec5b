"""Placements: creating holds, the lifecycle, and the one way to free a placement's beds.

Lifecycle (documented in the README, "Allocation workflow")::

    proposed --accept--> accepted --arrive--> arrived --end--> ended
        |  \\______________arrive______________/^
        |--decline--> declined      (from proposed or accepted; beds freed)
        '--expiry---> expired       (proposed past expires_at; beds freed)

Every transition locks the placement row (``SELECT … FOR UPDATE``) and judges its status
inside the transaction, so two clients acting at once cannot both succeed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

import allocation
from allocation.geo import haversine_km
from allocation.rules import km_for_plan
from app.allocations.problem import build_problem
from app.audit.service import record
from app.auth.dependencies import Principal
from app.auth.models import Role
from app.core.config import Settings
from app.core.db import new_id, utcnow
from app.core.errors import ProblemError, forbidden, hidden, not_found, validation_problem
from app.core.http import if_match_problem, version_etag
from app.core.locks import lock_placements, lock_requests, lock_shelters_to_place, touch_runs
from app.placements.models import ACTIVE_STATUSES, Placement, PlacementRoom, PlacementStatus
from app.requests.models import PlacementRequest, RequestStatus
from app.shelters.capacity import FreeRoom, free_rooms
from app.shelters.models import Room, Shelter
from app.territories.scope import unscoped
from app.territories.service import shelter_territories

ACTIVE = tuple(s.value for s in ACTIVE_STATUSES)


@dataclass(frozen=True)
class Step:
    name: str
    allowed_from: tuple[PlacementStatus, ...]
    roles: tuple[Role, ...]  # roles allowed; a shelter token only for its own shelter


# An accepted household is on its way: the hold no longer expires (a late bus must not lose
# the bed); a no-show is declined by the operator or the shelter. A household that turns up
# before the operator clicked "accept" can be marked arrived straight from proposed.
STEPS: dict[str, Step] = {
    "accept": Step("accept", (PlacementStatus.proposed,), (Role.operator, Role.admin)),
    "decline": Step(
        "decline",
        (PlacementStatus.proposed, PlacementStatus.accepted),
        (Role.operator, Role.admin, Role.shelter),
    ),
    "arrive": Step(
        "arrive", (PlacementStatus.proposed, PlacementStatus.accepted), (Role.shelter, Role.admin)
    ),
    "end": Step("end", (PlacementStatus.arrived,), (Role.shelter, Role.admin)),
}


_PAST = {"accept": "accepted", "decline": "declined", "arrive": "marked arrived", "end": "ended"}


def placement_etag(placement: Placement) -> str:
    return version_etag(placement.id, placement.version)


def beds_for(room: FreeRoom, people: int) -> int:
    """Beds a placement holds in a room: a private room is held whole, a shared one per person."""
    return people if room.shared else room.beds


def bump_run_version(session: Session, allocation_id: str | None) -> None:
    """The dashboard's ETag of a run changes when one of its placements changes status
    (applied at commit, in the lock order: ``app.core.locks.touch_runs``)."""
    touch_runs(session, [allocation_id])


def create_placement(
    session: Session,
    request: PlacementRequest,
    shelter_id: str,
    rooms: Sequence[FreeRoom],
    km: float,
    expires_at: datetime,
    *,
    source: str,
    created_by: str | None,
    allocation_id: str | None = None,
    created_at: datetime | None = None,
) -> Placement:
    """A proposed placement holding ``rooms`` for ``request`` (which the caller has locked and
    checked pending, with the rooms locked and checked free). A run passes one ``created_at``
    for all its proposals, so that lists ordered by time break their ties by id, not by the
    microseconds between two inserts."""
    people = len(request.members or [])
    placement = Placement(
        # The id now, not at flush: a run writes hundreds of these in one batched flush.
        id=new_id("plc"),
        request_id=request.id,
        territory_id=request.territory_id,
        shelter_id=shelter_id,
        allocation_id=allocation_id,
        status=PlacementStatus.proposed.value,
        km=km,
        expires_at=expires_at,
        source=source,
        created_by=created_by,
        created_at=created_at or utcnow(),
        rooms=[
            PlacementRoom(room_id=r.room_id, shared=r.shared, beds=beds_for(r, people), active=True)
            for r in rooms
        ],
    )
    session.add(placement)
    request.status = RequestStatus.proposed.value
    request.unplaced_code = None
    request.unplaced_detail = None
    request.version += 1
    return placement


def free_placement(
    session: Session,
    placement: Placement,
    status: PlacementStatus,
    *,
    request_status: RequestStatus | None,
    now: datetime | None = None,
    reason: str | None = None,
) -> None:
    """THE one way to end a live placement and free its beds (decline, expiry, end, cancel).

    The caller holds the placement's row lock. ``request_status`` (if given) is applied to
    the request unless it is already closed (cancelled or ended).
    """
    now = now or utcnow()
    placement.status = status.value
    placement.version += 1
    placement.updated_at = now
    if status in (PlacementStatus.declined, PlacementStatus.expired):
        placement.decline_reason = reason
    if status is PlacementStatus.ended:
        placement.ended_at = now
    session.execute(
        update(PlacementRoom)
        .where(PlacementRoom.placement_id == placement.id, PlacementRoom.active.is_(True))
        .values(active=False)
        .execution_options(synchronize_session="fetch")
    )
    bump_run_version(session, placement.allocation_id)
    if request_status is None:
        return
    req = session.scalars(
        select(PlacementRequest)
        .where(PlacementRequest.id == placement.request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if req is None or req.status in (RequestStatus.cancelled, RequestStatus.ended):
        return
    req.status = request_status.value
    req.version += 1
    if request_status in (RequestStatus.ended, RequestStatus.cancelled):
        req.closed_at = now


def release_live_placements(session: Session, request_id: str, reason: str) -> list[str]:
    """Free every live placement of a request (its cancellation): a held one is declined,
    an arrived one (not cancellable by the request lifecycle, but never left holding) ends.
    The request's own status and the audit record are the caller's business.
    Returns the ids of the placements freed."""
    rows = list(
        session.scalars(
            select(Placement)
            .where(Placement.request_id == request_id, Placement.status.in_(ACTIVE))
            .order_by(Placement.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    for p in rows:
        arrived = p.status == PlacementStatus.arrived
        status = PlacementStatus.ended if arrived else PlacementStatus.declined
        free_placement(session, p, status, request_status=None, reason=reason)
    session.flush()
    return [p.id for p in rows]


def lock_placement(session: Session, placement_id: str) -> Placement | None:
    """Lock a placement for a transition: its request's row first, then the placement's
    (steps 1 and 2 of the lock order, ``app.core.locks``)."""
    request_id = session.scalar(select(Placement.request_id).where(Placement.id == placement_id))
    if request_id is None:
        return None
    lock_requests(session, [request_id])
    return lock_placements(session, [placement_id]).get(placement_id)


def visible(principal: Principal, placement: Placement) -> bool:
    """A shelter's staff see the placements into their shelter (a neighbour territory's
    too); everyone else their territory's (``app.territories.scope.placement_filter``)."""
    if principal.role is Role.shelter:
        return principal.shelter_id == placement.shelter_id
    return principal.territory_id is None or principal.territory_id == placement.territory_id


def transition(
    session: Session,
    principal: Principal,
    placement_id: str,
    step_name: str,
    *,
    reason: str | None = None,
    if_match: str | None = None,
) -> Placement:
    """Apply one lifecycle step; 404 if not visible, 403 by role, 409 if the status forbids."""
    step = STEPS[step_name]
    placement = lock_placement(session, placement_id)
    if placement is None:
        raise not_found("placement")
    if not visible(principal, placement):
        raise hidden("placement", principal)
    if principal.role not in step.roles:
        role = principal.role.value
        raise forbidden(f"The {role} role may not {step.name} a placement.", principal)
    if_match_problem(if_match, placement_etag(placement), required=False)
    if placement.status not in step.allowed_from:
        allowed = " or ".join(s.value for s in step.allowed_from)
        raise ProblemError(
            409,
            f"This placement is {placement.status}: it can be {_PAST[step.name]} only while "
            f"{allowed}.",
            status_now=placement.status,
        )
    now = utcnow()
    before = placement.status
    if step.name == "accept":
        placement.status = PlacementStatus.accepted.value
        placement.accepted_at = now
        placement.expires_at = None
        placement.version += 1
        placement.updated_at = now
        _set_request_status(session, placement.request_id, RequestStatus.accepted)
        bump_run_version(session, placement.allocation_id)
    elif step.name == "arrive":
        placement.status = PlacementStatus.arrived.value
        placement.accepted_at = placement.accepted_at or now
        placement.arrived_at = now
        placement.expires_at = None
        placement.version += 1
        placement.updated_at = now
        _set_request_status(session, placement.request_id, RequestStatus.arrived)
        bump_run_version(session, placement.allocation_id)
    elif step.name == "decline":
        free_placement(
            session,
            placement,
            PlacementStatus.declined,
            request_status=RequestStatus.pending,
            now=now,
            reason=reason,
        )
    else:  # end
        free_placement(
            session, placement, PlacementStatus.ended, request_status=RequestStatus.ended, now=now
        )
    # No free text in the audit log: a decline reason may name a person.
    record(
        session,
        principal,
        f"placement.{placement.status}",
        "placement",
        placement.id,
        {"from": before, "to": placement.status, "shelter_id": placement.shelter_id},
    )
    session.flush()
    return placement


def _set_request_status(session: Session, request_id: str, status: RequestStatus) -> None:
    req = session.scalars(
        select(PlacementRequest)
        .where(PlacementRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if req is None or req.status == RequestStatus.cancelled:
        return
    req.status = status.value
    req.version += 1


def expire_holds(
    session: Session,
    now: datetime | None = None,
    *,
    room_ids: Iterable[str] | None = None,
    shelter_ids: Iterable[str] | None = None,
) -> int:
    """Proposed placements past ``expires_at`` → ``expired``; beds freed, request pending.

    All of them, or those holding one of ``room_ids`` or in one of ``shelter_ids`` (what a
    writer is about to judge free or not). Each request then its placement, with
    ``SKIP LOCKED``: one that another transaction holds is left to it (it decides its fate,
    or the next pass expires it), and a lock that never waits cannot close a cycle, so a
    writer may call this after locking its own requests (``app.core.locks``).
    """
    # Overdue is overdue whoever holds it: a neighbour's expired hold frees this
    # territory's beds too (and its request, which this reader may not see otherwise).
    with unscoped(session):
        return _expire_holds(session, now or utcnow(), room_ids, shelter_ids)


def _expire_holds(
    session: Session,
    now: datetime,
    room_ids: Iterable[str] | None,
    shelter_ids: Iterable[str] | None,
) -> int:
    query = select(Placement.id, Placement.request_id).where(
        Placement.status == PlacementStatus.proposed,
        Placement.expires_at.is_not(None),
        Placement.expires_at < now,
    )
    if room_ids is not None:
        holding = select(PlacementRoom.placement_id).where(
            PlacementRoom.active.is_(True), PlacementRoom.room_id.in_(list(room_ids))
        )
        query = query.where(Placement.id.in_(holding))
    if shelter_ids is not None:
        query = query.where(Placement.shelter_id.in_(list(shelter_ids)))
    expired = 0
    for placement_id, request_id in session.execute(query.order_by(Placement.request_id)).all():
        p = _lock_overdue(session, placement_id, request_id, now)
        if p is None:
            continue
        free_placement(
            session,
            p,
            PlacementStatus.expired,
            request_status=RequestStatus.pending,
            now=now,
            reason="hold expired",
        )
        record(
            session,
            None,
            "placement.expired",
            "placement",
            p.id,
            {"from": "proposed", "to": "expired", "shelter_id": p.shelter_id},
            territory_id=p.territory_id,
        )
        expired += 1
    session.flush()
    return expired


def has_overdue_holds(session: Session, now: datetime | None = None) -> bool:
    """One indexed look: is any proposed hold past its deadline (a read may then expire it)?"""
    return (
        session.scalar(
            select(Placement.id)
            .where(
                Placement.status == PlacementStatus.proposed,
                Placement.expires_at < (now or utcnow()),
            )
            .limit(1)
        )
        is not None
    )


def _lock_overdue(
    session: Session, placement_id: str, request_id: str, now: datetime
) -> Placement | None:
    """The overdue placement, locked with its request, or None if held elsewhere or no
    longer overdue (re-judged under the lock: it may have been accepted or declined)."""
    got = session.scalar(
        select(PlacementRequest.id)
        .where(PlacementRequest.id == request_id)
        .with_for_update(skip_locked=True)
    )
    if got is None:
        return None
    p = session.scalars(
        select(Placement)
        .where(Placement.id == placement_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if p is None or p.status != PlacementStatus.proposed or p.expires_at is None:
        return None
    return p if p.expires_at < now else None


def active_room_ids(placements: Iterable[Placement]) -> dict[str, list[str]]:
    return {p.id: [r.room_id for r in p.rooms] for p in placements}


def hold_deadline(now: datetime, minutes: int) -> datetime:
    return now + timedelta(minutes=minutes)


# --- manual placement -------------------------------------------------------------------


def manual_placement(
    session: Session,
    settings: Settings,
    principal: Principal,
    request_id: str,
    shelter_id: str,
    room_ids: list[str],
) -> Placement:
    """An operator's own proposal, judged by the engine's rule code (``check_assignment``).

    422 naming the broken rules; 409 if the request is no longer pending or a room is no
    longer free. The request and its keep-apart partners, then the shelter, then its rooms
    are locked (the lock order of ``app.core.locks``), so two operators placing into the
    same room cannot both succeed.
    """
    req = session.get(PlacementRequest, request_id)
    if req is None:
        raise not_found("request")
    partner_ids = [k.get("request_id") for k in (req.keep_apart or []) if k.get("request_id")]
    locked = lock_requests(session, [request_id, *partner_ids])
    req = locked[request_id]
    if req.status != RequestStatus.pending:
        raise ProblemError(
            409, f"This request is {req.status}; only a pending request can be placed."
        )
    live = session.scalar(
        select(Placement.id).where(Placement.request_id == req.id, Placement.status.in_(ACTIVE))
    )
    if live is not None:
        raise ProblemError(409, f"This request already has a live placement ({live}).")
    shelter = session.get(Shelter, shelter_id)
    if shelter is not None and shelter.territory_id not in shelter_territories(
        session, req.territory_id
    ):
        shelter = None  # neither the request's territory's nor a neighbour's
    if shelter is None or not shelter.active:
        raise validation_problem([{"loc": ["shelter_id"], "msg": "unknown or inactive shelter"}])
    if len(set(room_ids)) != len(room_ids):
        raise validation_problem([{"loc": ["room_ids"], "msg": "a room is listed twice"}])
    declared = {r.id: r for r in session.scalars(select(Room).where(Room.id.in_(room_ids)))}
    errors = []
    for i, rid in enumerate(room_ids):
        room = declared.get(rid)
        if room is None:
            errors.append({"loc": ["room_ids", i], "msg": f"unknown room {rid!r}"})
        elif room.shelter_id != shelter_id:
            errors.append(
                {"loc": ["room_ids", i], "msg": f"room {rid} is not in shelter {shelter_id}"}
            )
    if errors:
        raise validation_problem(errors)
    # An overdue hold must not keep these rooms from being placed until the next pass.
    expire_holds(session, room_ids=room_ids)
    lock_shelters_to_place(session, [shelter_id])
    free = {r.room_id: r for r in free_rooms(session, [shelter_id], for_update=True)}
    people = len(req.members or [])
    taken = [
        rid for rid in room_ids if rid not in free or (free[rid].shared and free[rid].beds < people)
    ]
    if taken:
        raise ProblemError(
            409,
            f"Room(s) {', '.join(taken)} are no longer free; look at the options again.",
            room_ids=taken,
        )
    built = build_problem(
        session,
        settings,
        request_ids=[req.id],
        exclude_declined=False,
        territory_id=req.territory_id,
    )
    if req.id not in built.requests:
        raise ProblemError(409, "This request has no household detail left to place.")
    broken = allocation.check_assignment(built.problem, req.id, shelter_id, room_ids)
    if broken:
        raise validation_problem(
            [{"loc": ["room_ids"], "msg": msg} for msg in broken],
            detail="This placement breaks the rules: " + "; ".join(broken),
        )
    household = built.problem.households[0]
    # As the engine measured it: from the published cell of a confidential shelter.
    at = next(s for s in built.problem.shelters if s.id == shelter_id)
    km = km_for_plan(haversine_km(household.origin.lat, household.origin.lon, at.lat, at.lon))
    placement = create_placement(
        session,
        req,
        shelter_id,
        [free[rid] for rid in room_ids],
        km,
        hold_deadline(utcnow(), settings.hold_minutes),
        source="manual",
        created_by=principal.name,
    )
    session.flush()
    record(
        session,
        principal,
        "placement.created",
        "placement",
        placement.id,
        {"source": "manual", "shelter_id": shelter_id, "rooms": len(room_ids)},
    )
    return placement


def household_options(
    session: Session, settings: Settings, request_id: str
) -> tuple[PlacementRequest, allocation.HouseholdOptions, dict[str, Shelter]]:
    """Where this household could go alone tonight (same rules as the engine)."""
    req = session.get(PlacementRequest, request_id)
    if req is None:
        raise not_found("request")
    if req.status in (RequestStatus.ended, RequestStatus.cancelled, RequestStatus.arrived):
        raise ProblemError(409, f"This request is {req.status}; it needs no bed.")
    if has_overdue_holds(session):
        expire_holds(session)  # their rooms are options again now, not at the next pass
    built = build_problem(
        session,
        settings,
        request_ids=[req.id],
        exclude_declined=False,
        territory_id=req.territory_id,
    )
    if req.id not in built.requests:
        raise ProblemError(409, "This request has no household detail left to place.")
    return req, allocation.household_options(built.problem, req.id), built.shelters
