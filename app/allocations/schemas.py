"""What clients see of allocation runs and options. No personal detail: sizes only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class Proposal(BaseModel):
    placement_id: str
    request_id: str
    shelter_id: str
    room_ids: list[str]
    km: float
    expires_at: datetime | None = Field(description="End of the hold; null once accepted")
    status: str = Field(description="The placement's status now (proposed, accepted, …)")
    people: int = Field(description="Household size")


class UnplacedOut(BaseModel):
    request_id: str
    code: str = Field(description="no_eligible_shelter | no_room_fits | capacity_taken | timeout")
    detail: str = Field(description="Why, in a sentence an operator understands")
    people: int = 0


class RunOut(BaseModel):
    id: str
    status: str = Field(description="running | optimal | feasible | no_solution | failed")
    trigger: str = Field(description="api | schedule")
    started_at: datetime
    finished_at: datetime | None
    objective: dict[str, Any] | None
    bound: dict[str, Any] | None
    requests_considered: int
    rooms_considered: int
    input_fingerprint: str | None = Field(
        description="SHA-256 of the engine's problem (canonical JSON), to replay the night"
    )
    proposals: list[Proposal]
    unplaced: list[UnplacedOut]
    stats: dict[str, Any] | None = Field(
        description="Engine statistics, counts (proposals, skipped because something changed "
        "during the run, expired holds) and timings"
    )
    error: str | None
    version: int


class RunSummary(BaseModel):
    id: str
    status: str
    trigger: str
    triggered_by: str | None
    started_at: datetime
    finished_at: datetime | None
    objective: dict[str, Any] | None
    bound: dict[str, Any] | None
    requests_considered: int
    proposals: int
    unplaced: int
    version: int


class RunPage(BaseModel):
    items: list[RunSummary]
    total: int
    limit: int
    offset: int


class OptionOut(BaseModel):
    shelter_id: str
    shelter_name: str
    km: float
    room_ids: list[str] = Field(description="A fitting set of free rooms")
    language_match: bool
    wasted_beds: int


class OptionsOut(BaseModel):
    request_id: str
    options: list[OptionOut] = Field(description="Best first: nearest, language, fewest wasted")
    ruled_out: dict[str, int] = Field(
        description="For each rule, how many shelters it rules out (a shelter failing two "
        "rules counts under both)"
    )
    no_room_fits: int = Field(description="Eligible shelters whose free rooms cannot fit")
    code: str | None = Field(description="null when some shelter fits")
    detail: str
