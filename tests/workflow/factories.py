"""Rows inserted directly, so the workflow tests do not depend on other endpoints."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import allocation
from allocation.rules import profile, wasted_beds
from app.allocations.problem import build_problem
from app.core.config import get_settings
from app.core.db import get_sessionmaker, utcnow
from app.placements.models import ACTIVE_STATUSES, Placement, PlacementRoom
from app.requests.models import PlacementRequest
from app.shelters.models import Room, Shelter

_seq = itertools.count(1)

# Around Valenciennes: about 11 km per 0.1 degree of latitude.
VALENCIENNES = (50.357, 3.5235)


def make_shelter(
    session: Session,
    *,
    lat: float = VALENCIENNES[0],
    lon: float = VALENCIENNES[1],
    rooms: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> Shelter:
    n = next(_seq)
    values: dict[str, Any] = {
        "name": f"Shelter {n}",
        "kind": "chu",
        "lat": lat,
        "lon": lon,
        "women": True,
        "men": True,
        "children": True,
        "commune": "Valenciennes",
        "languages": ["fr"],
    }
    values.update(fields)
    shelter = Shelter(**{"territory_id": "ter_59", **values})
    session.add(shelter)
    session.flush()
    for i, spec in enumerate(rooms if rooms is not None else [{"beds": 2}]):
        room = {"label": f"R{i + 1}", "beds": 2, "cribs": 0, "shared": False}
        room.update(spec)
        session.add(Room(shelter_id=shelter.id, **room))
    session.flush()
    session.refresh(shelter)
    # Loaded now: a lazy load after commit would open a transaction, and on SQLite hold the
    # write lock against the client's requests.
    _ = [r.id for r in shelter.rooms]
    return shelter


def make_request(
    session: Session,
    *,
    members: list[tuple[int, str]] | None = None,
    origin: tuple[float, float] = VALENCIENNES,
    priority: int = 3,
    waited_min: int = 30,
    **fields: Any,
) -> PlacementRequest:
    n = next(_seq)
    values: dict[str, Any] = {
        "reference": f"115-TEST-{n:05d}",
        "status": "pending",
        "priority": priority,
        "waiting_since": utcnow() - timedelta(minutes=waited_min),
        "origin_lat": origin[0],
        "origin_lon": origin[1],
        "max_km": None,
        "members": [{"age": a, "sex": s} for a, s in (members or [(30, "F")])],
        "needs": {},
        "avoid": [],
        "excluded_shelters": [],
        "keep_apart": [],
    }
    values.update(fields)
    req = PlacementRequest(**{"territory_id": "ter_59", **values})
    session.add(req)
    session.flush()
    return req


def check_live_placements(placement_ids: list[str] | None = None) -> list[str]:
    """Every live placement (or the given ones) judged by the engine's checker on the DB state.

    The problem is rebuilt as if those placements did not exist yet (their requests pending,
    their beds free), then ``allocation.check`` judges them as one plan.
    """
    settings = get_settings()
    with get_sessionmaker()() as s:
        query = select(Placement)
        if placement_ids is None:
            query = query.where(Placement.status.in_([st.value for st in ACTIVE_STATUSES]))
        else:
            query = query.where(Placement.id.in_(placement_ids))
        live = list(s.scalars(query))
        if not live:
            s.rollback()
            return []
        rooms = {p.id: [r.room_id for r in p.rooms] for p in live}
        facts = [(p.id, p.request_id, p.shelter_id, p.km) for p in live]
        for p in live:
            p.status = "expired"
            for r in s.scalars(select(PlacementRoom).where(PlacementRoom.placement_id == p.id)):
                r.active = False
            req = s.get(PlacementRequest, p.request_id)
            assert req is not None
            req.status = "pending"
        s.flush()
        built = build_problem(
            s, settings, request_ids=[p.request_id for p in live], exclude_declined=False
        )
        s.rollback()
    hs = {h.id: h for h in built.problem.households}
    shelters = {sh.id: sh for sh in built.problem.shelters}
    tiers = {str(t): 0 for t in allocation.PRIORITIES}
    wasted = 0
    for pid, rid, sid, _km in facts:
        h = hs[rid]
        tiers[str(h.priority)] += len(h.members)
        by_id = {r.id: r for r in shelters[sid].rooms}
        wasted += wasted_beds(profile(h), [by_id[r] for r in rooms[pid] if r in by_id])
    plan = allocation.Plan(
        status="feasible",
        assignments=[
            allocation.Assignment(household=rid, shelter=sid, rooms=rooms[pid], km=km)
            for pid, rid, sid, km in facts
        ],
        unplaced=[],
        objective=allocation.Objective(
            people_placed_by_priority=tiers,
            total_km=sum(f[3] for f in facts),
            wasted_beds=wasted,
        ),
        bound=allocation.Bound(people_placed_by_priority=tiers),
        stats=allocation.Stats(wall_s=0.0, solver="database"),
    )
    return allocation.check(built.problem, plan)
