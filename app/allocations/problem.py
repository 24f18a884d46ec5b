"""From the database to the engine's problem (``shared/spec/allocation.md``).

One builder serves the allocation runs, the options endpoint and manual placement, so the
engine always judges the same facts: pending households, every active shelter with its free
rooms (``app.shelters.capacity.free_rooms``: net of occupants, out-of-service rooms and live
holds), and the keep-apart safety of households already placed.

A confidential shelter is given at its published cell (``published_cell``): everything the
engine answers is then a function of the cell, never of the true position.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import allocation
from app.core.config import Settings
from app.placements.models import ACTIVE_STATUSES, Placement, PlacementStatus
from app.requests.models import PlacementRequest, RequestStatus
from app.shelters.capacity import FreeRoom, free_rooms
from app.shelters.models import Shelter
from app.shelters.service import published_cell
from app.territories.scope import ALL_TERRITORIES
from app.territories.service import shelter_territories

# The request statuses whose household is, or is about to be, in a shelter.
_LIVE_REQUEST_STATUSES = (RequestStatus.proposed, RequestStatus.accepted, RequestStatus.arrived)


@dataclass
class BuiltProblem:
    problem: allocation.Problem
    fingerprint: str
    requests: dict[str, PlacementRequest]  # household id (= request id) -> row
    shelters: dict[str, Shelter]
    free: dict[str, FreeRoom]  # room id -> its free part
    # Requests that could not be put in the problem (no origin or detail purged).
    left_out: list[str] = field(default_factory=list)
    # Keep-apart partners of each household, both directions: request id -> {other: km}.
    partners: dict[str, dict[str, float]] = field(default_factory=dict)


def fingerprint(problem: allocation.Problem) -> str:
    """SHA-256 of the problem's canonical JSON: the same night always hashes the same."""
    data = problem.model_dump(mode="json")
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def engine_settings(settings: Settings, time_limit_s: float | None = None) -> allocation.Settings:
    # Deterministic with a fixed seed so that an audit can replay a night from its problem.
    return allocation.Settings(
        time_limit_s=time_limit_s or settings.allocation_time_limit_s,
        seed=0,
        deterministic=settings.allocation_deterministic,
    )


def _engine_room(room: FreeRoom) -> allocation.Room:
    return allocation.Room(
        id=room.room_id,
        beds=room.beds,
        cribs=room.cribs,
        shared=room.shared,
        sex=room.sex if room.shared else None,
        wheelchair=room.wheelchair,
    )


def _engine_shelter(s: Shelter, rooms: Sequence[FreeRoom]) -> allocation.Shelter:
    lat, lon, margin_km = published_cell(s)
    return allocation.Shelter(
        id=s.id,
        lat=lat,
        lon=lon,
        margin_km=margin_km,
        women=s.women,
        men=s.men,
        children=s.children,
        max_boy_age=s.max_boy_age,
        dv_specialised=s.dv_specialised,
        secure=s.secure,
        wheelchair=s.wheelchair,
        pets=s.pets,
        languages=sorted(s.languages or []),
        rooms=[_engine_room(r) for r in sorted(rooms, key=lambda r: r.room_id)],
    )


def _partners(rows: Iterable[PlacementRequest]) -> dict[str, dict[str, float]]:
    """Keep-apart pairs in both directions (a pair counts whichever side declares it)."""
    pairs: dict[str, dict[str, float]] = defaultdict(dict)
    for r in rows:
        for ka in r.keep_apart or []:
            other = ka.get("request_id")
            if not other or other == r.id:
                continue
            km = float(ka.get("km") or 0.0)
            pairs[r.id][other] = max(pairs[r.id].get(other, 0.0), km)
            pairs[other][r.id] = max(pairs[other].get(r.id, 0.0), km)
    return pairs


def live_placement_shelters(
    session: Session, request_ids: Iterable[str] | None = None
) -> dict[str, str]:
    """request id -> shelter id of its live placement (proposed, accepted or arrived)."""
    query = select(Placement.request_id, Placement.shelter_id).where(
        Placement.status.in_([s.value for s in ACTIVE_STATUSES])
    )
    if request_ids is not None:
        query = query.where(Placement.request_id.in_(list(request_ids)))
    return {rid: sid for rid, sid in session.execute(query)}


def declined_shelters(session: Session, request_ids: Iterable[str]) -> dict[str, set[str]]:
    """Shelters that a request's earlier proposals were declined in."""
    out: dict[str, set[str]] = defaultdict(set)
    ids = list(request_ids)
    if not ids:
        return out
    rows = session.execute(
        select(Placement.request_id, Placement.shelter_id).where(
            Placement.status == PlacementStatus.declined, Placement.request_id.in_(ids)
        )
    )
    for rid, sid in rows:
        out[rid].add(sid)
    return out


def _household(
    r: PlacementRequest,
    shelter_ids: set[str],
    keep_apart: list[allocation.KeepApart],
    extra_avoid: list[allocation.AvoidZone],
    extra_excluded: set[str],
) -> allocation.Household:
    needs = {k: v for k, v in (r.needs or {}).items() if v is not None}
    excluded = {sid for sid in (r.excluded_shelters or []) if sid in shelter_ids}
    excluded |= extra_excluded & shelter_ids
    return allocation.Household(
        id=r.id,
        priority=r.priority,
        waiting_since=r.waiting_since,
        origin=allocation.Point(lat=r.origin_lat, lon=r.origin_lon),
        max_km=r.max_km,
        members=r.members,
        needs=allocation.Needs(**needs),
        avoid=[allocation.AvoidZone(**z) for z in (r.avoid or [])] + extra_avoid,
        excluded_shelters=sorted(excluded),
        keep_apart=sorted(keep_apart, key=lambda k: k.household),
    )


def build_problem(
    session: Session,
    settings: Settings,
    *,
    request_ids: Sequence[str] | None = None,
    exclude_declined: bool = True,
    time_limit_s: float | None = None,
    territory_id: str | None = None,
) -> BuiltProblem:
    """The engine's problem for tonight, from the database as this session sees it.

    ``territory_id``: that territory's problem, named explicitly (a run's own session has
    no territory scope): its requests, and the shelters of it and of its neighbours. A
    reader's session is scoped already (``app.territories.scope``).

    ``request_ids`` None: every pending request (an allocation run). Otherwise exactly those
    requests, whatever their status (options, manual placement).
    ``exclude_declined``: a shelter where a proposal for this household was already declined
    is not proposed again by a run (the operator may still place there by hand).
    """
    shelter_query = select(Shelter).where(Shelter.active.is_(True))
    if territory_id is not None:
        shelter_query = shelter_query.where(
            Shelter.territory_id.in_(shelter_territories(session, territory_id))
        )
    shelter_rows = list(session.scalars(shelter_query.order_by(Shelter.id)))
    shelters = {s.id: s for s in shelter_rows}
    free = {
        r.room_id: r
        for r in free_rooms(session, sorted(shelters) if territory_id is not None else None)
    }
    by_shelter: dict[str, list[FreeRoom]] = defaultdict(list)
    for room in free.values():
        by_shelter[room.shelter_id].append(room)

    if request_ids is None:
        query = select(PlacementRequest).where(PlacementRequest.status == RequestStatus.pending)
    else:
        query = select(PlacementRequest).where(PlacementRequest.id.in_(list(request_ids)))
    open_query = select(PlacementRequest).where(
        PlacementRequest.status.in_(
            [RequestStatus.pending.value, *(s.value for s in _LIVE_REQUEST_STATUSES)]
        )
    )
    if territory_id is not None:
        query = query.where(PlacementRequest.territory_id == territory_id)
        open_query = open_query.where(PlacementRequest.territory_id == territory_id)
    wanted = list(session.scalars(query.order_by(PlacementRequest.id)))

    # Keep-apart partners may be declared on either side, by requests in any open state.
    open_rows = list(session.scalars(open_query))
    pairs = _partners([*open_rows, *wanted])
    open_status = {r.id: r.status for r in open_rows}
    partner_ids = {p for r in wanted for p in pairs.get(r.id, {})}
    placed_at = live_placement_shelters(session, partner_ids) if partner_ids else {}
    declined = declined_shelters(session, [r.id for r in wanted]) if exclude_declined else {}

    usable = [r for r in wanted if r.members and r.origin_lat is not None]
    in_problem = {r.id for r in usable}
    left_out = [r.id for r in wanted if r.id not in in_problem]
    households = []
    shelter_ids = set(shelters)
    for r in usable:
        keep: list[allocation.KeepApart] = []
        avoid: list[allocation.AvoidZone] = []
        excluded: set[str] = set(declined.get(r.id, set()))
        for other, km in sorted(pairs.get(r.id, {}).items()):
            sid = placed_at.get(other)
            if sid is not None:
                # Safety: the partner is (about to be) in that shelter. Never the same
                # shelter, and nowhere within km of it.
                excluded.add(sid)
                # Wherever the partner is (a shelter no longer this territory's neighbour).
                s = shelters.get(sid) or session.get(
                    Shelter, sid, execution_options={ALL_TERRITORIES: True}
                )
                if s is not None:
                    # Around every point of the partner's published cell: rule 8 with the
                    # partner's margin (the candidate's own margin is added by rule 6).
                    lat, lon, margin_km = published_cell(s)
                    avoid.append(allocation.AvoidZone(lat=lat, lon=lon, km=km + margin_km))
            elif (
                other in in_problem
                and open_status.get(other, RequestStatus.pending) == RequestStatus.pending
                and r.id < other
            ):
                # Both wait: the engine keeps them apart (rule 8); declared on one side.
                keep.append(allocation.KeepApart(household=other, km=km))
        households.append(_household(r, shelter_ids, keep, avoid, excluded))

    problem = allocation.Problem(
        settings=engine_settings(settings, time_limit_s),
        shelters=[_engine_shelter(s, by_shelter.get(s.id, [])) for s in shelter_rows],
        households=households,
    )
    return BuiltProblem(
        problem=problem,
        fingerprint=fingerprint(problem),
        requests={r.id: r for r in usable},
        shelters=shelters,
        free=free,
        left_out=left_out,
        partners={rid: dict(ps) for rid, ps in pairs.items() if rid in in_problem},
    )


def problem_json(built: BuiltProblem) -> dict[str, Any]:
    return built.problem.model_dump(mode="json")
