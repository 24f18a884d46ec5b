"""What clients see of a placement: where, which rooms, the hold, and the household's
composition and needs. Never the SIAO reference, the origin or the safety zones: the shelter
needs to know who is coming (sizes, ages, sexes, needs), not who she is."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.placements.models import Placement


class MemberOut(BaseModel):
    age: int
    sex: Literal["F", "M"]


class NeedsOut(BaseModel):
    dv_specialised: bool = False
    secure: bool = False
    wheelchair: bool = False
    pets: bool = False
    language: str | None = None


class HouseholdOut(BaseModel):
    people: int
    members: list[MemberOut]
    needs: NeedsOut


class PlacementOut(BaseModel):
    id: str
    request_id: str
    shelter_id: str
    room_ids: list[str]
    status: str = Field(description="proposed | accepted | arrived | ended | declined | expired")
    km: float
    expires_at: datetime | None = Field(
        description="While proposed: when the hold lapses. null once accepted (no deadline)"
    )
    household: HouseholdOut
    source: str = Field(description="allocation | manual")
    allocation_id: str | None
    decline_reason: str | None
    created_at: datetime
    accepted_at: datetime | None
    arrived_at: datetime | None
    ended_at: datetime | None
    version: int


class PlacementPage(BaseModel):
    items: list[PlacementOut]
    total: int
    limit: int
    offset: int


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeclineIn(_In):
    reason: Annotated[
        str,
        Field(
            min_length=1,
            max_length=500,
            description="Why (no names: it is shown to operators and the shelter)",
        ),
    ]


class ManualPlacementIn(_In):
    shelter_id: Annotated[str, Field(min_length=1, max_length=40)]
    room_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=40)]], Field(min_length=1, max_length=10)
    ]


def placement_out(p: Placement, members: list[dict], needs: dict, km: float) -> PlacementOut:
    """``km`` as this reader may see it (``app.shelters.service.km_seen_by``)."""
    return PlacementOut(
        id=p.id,
        request_id=p.request_id,
        shelter_id=p.shelter_id,
        room_ids=[r.room_id for r in p.rooms],
        status=p.status,
        km=km,
        expires_at=p.expires_at,
        household=HouseholdOut(
            people=len(members),
            members=[MemberOut(age=m["age"], sex=m["sex"]) for m in members],
            needs=NeedsOut(**{k: v for k, v in needs.items() if k in NeedsOut.model_fields}),
        ),
        source=p.source,
        allocation_id=p.allocation_id,
        decline_reason=p.decline_reason,
        created_at=p.created_at,
        accepted_at=p.accepted_at,
        arrived_at=p.arrived_at,
        ended_at=p.ended_at,
        version=p.version,
    )
