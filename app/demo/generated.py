"""A generated night (``allocation.tools.generate``) as database rows: shelters, rooms and pending
requests. For benchmarks and fault tests that need a night big enough to keep the engine
busy; flush only, the caller commits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from allocation.tools.generate import generate_problem
from app.core.db import new_id
from app.requests.models import PlacementRequest
from app.shelters.models import Room, Shelter


def load_generated_night(
    session: Session,
    shelters: int,
    households: int,
    seed: int = 0,
    region: str = "hainaut",
    *,
    territory_id: str,
) -> dict[str, Any]:
    """Rows for the generator's night in one territory; returns its size (rooms, beds,
    people)."""
    problem = generate_problem(shelters, households, seed=seed, region=region)
    shelter_ids = {s.id: new_id("shl") for s in problem.shelters}
    request_ids = {h.id: new_id("req") for h in problem.households}
    now = datetime.now(UTC)
    for sh in problem.shelters:
        session.add(
            Shelter(
                id=shelter_ids[sh.id],
                territory_id=territory_id,
                name=f"Generated {sh.id}",
                kind="dv_shelter" if sh.dv_specialised else "chu",
                lat=sh.lat,
                lon=sh.lon,
                women=sh.women,
                men=sh.men,
                children=sh.children,
                max_boy_age=sh.max_boy_age,
                dv_specialised=sh.dv_specialised,
                secure=sh.secure,
                wheelchair=sh.wheelchair,
                pets=sh.pets,
                languages=list(sh.languages),
                commune=region,
                availability_updated_at=now,
            )
        )
    session.flush()
    for sh in problem.shelters:
        for i, r in enumerate(sh.rooms):
            session.add(
                Room(
                    shelter_id=shelter_ids[sh.id],
                    label=f"{r.id}-{i}",
                    beds=r.beds,
                    cribs=r.cribs,
                    shared=r.shared,
                    sex=r.sex,
                    wheelchair=r.wheelchair,
                )
            )
    for h in problem.households:
        session.add(
            PlacementRequest(
                id=request_ids[h.id],
                territory_id=territory_id,
                reference=f"GEN-{h.id}",
                status="pending",
                priority=h.priority,
                waiting_since=h.waiting_since,
                origin_lat=h.origin.lat,
                origin_lon=h.origin.lon,
                max_km=h.max_km,
                members=[m.model_dump() for m in h.members],
                needs=h.needs.model_dump(),
                avoid=[z.model_dump() for z in h.avoid],
                excluded_shelters=[shelter_ids[x] for x in h.excluded_shelters],
                keep_apart=[
                    {"request_id": request_ids[k.household], "km": k.km} for k in h.keep_apart
                ],
            )
        )
    session.flush()
    return {
        "shelters": len(problem.shelters),
        "rooms": sum(len(sh.rooms) for sh in problem.shelters),
        "beds": sum(r.beds for sh in problem.shelters for r in sh.rooms),
        "households": len(problem.households),
        "people": sum(len(h.members) for h in problem.households),
    }
