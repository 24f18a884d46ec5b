"""Rows inserted straight into the database for the dashboard tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.allocations.models import AllocationRun
from app.placements.models import Placement, PlacementRoom
from app.requests.models import PlacementRequest
from app.shelters.models import Room, Shelter


def now() -> datetime:
    return datetime.now(UTC)


def shelter(session: Session, name: str, kind: str = "chu", **kw: Any) -> Shelter:
    fields: dict[str, Any] = {
        "lat": 50.357,
        "lon": 3.523,
        "women": True,
        "men": True,
        "children": True,
        "commune": "Valenciennes",
        "availability_updated_at": now() - timedelta(minutes=30),
    }
    fields.update(kw)
    row = Shelter(territory_id="ter_59", name=name, kind=kind, **fields)
    session.add(row)
    session.flush()
    return row


def room(session: Session, sh: Shelter, label: str, beds: int, **kw: Any) -> Room:
    row = Room(shelter_id=sh.id, label=label, beds=beds, **kw)
    session.add(row)
    session.flush()
    return row


def request(
    session: Session, priority: int, ages: list[int], waited_minutes: int = 10, **kw: Any
) -> PlacementRequest:
    row = PlacementRequest(
        territory_id="ter_59",
        reference=kw.pop("reference", f"SIAO-{priority}-{len(ages)}-{waited_minutes}"),
        priority=priority,
        waiting_since=now() - timedelta(minutes=waited_minutes),
        origin_lat=50.35,
        origin_lon=3.52,
        members=[{"age": a, "sex": "F"} for a in ages],
        **kw,
    )
    session.add(row)
    session.flush()
    return row


def placement(
    session: Session,
    req: PlacementRequest,
    rm: Room,
    status: str = "proposed",
    expires_in_minutes: int | None = 90,
    **kw: Any,
) -> Placement:
    row = Placement(
        territory_id="ter_59",
        request_id=req.id,
        shelter_id=rm.shelter_id,
        status=status,
        km=4.2,
        expires_at=None
        if expires_in_minutes is None
        else now() + timedelta(minutes=expires_in_minutes),
        **kw,
    )
    row.rooms.append(PlacementRoom(room_id=rm.id, shared=rm.shared, beds=len(req.members)))
    req.status = status
    session.add(row)
    session.flush()
    return row


def run(session: Session, **kw: Any) -> AllocationRun:
    fields: dict[str, Any] = {
        "status": "optimal",
        "started_at": now() - timedelta(seconds=5),
        "finished_at": now(),
        "objective": {
            "people_placed_by_priority": {"4": 3, "3": 0, "2": 0, "1": 1},
            "total_km": 12.5,
            "wasted_beds": 0,
        },
        "bound": {"people_placed_by_priority": {"4": 3, "3": 0, "2": 0, "1": 1}},
        "unplaced": [],
    }
    fields.update(kw)
    row = AllocationRun(territory_id="ter_59", **fields)
    session.add(row)
    session.flush()
    return row
