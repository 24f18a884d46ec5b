"""What clients see of allocation runs and options. No personal detail: sizes only.

The viewer (the dashboard's token) reads reduced documents (``Viewer…``): see README, Privacy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.auth.dependencies import Principal
from app.auth.models import Role

# The generic reason of each unplaced code: what a viewer reads instead of the engine's
# sentence (which names shelters and describes the household).
UNPLACED_REASONS = {
    "no_eligible_shelter": "No shelter accepts this household (eligibility, distance or safety).",
    "no_room_fits": "Some shelters accept it, but none has free rooms for the whole household.",
    "capacity_taken": "It could have been placed, but the beds went to more urgent households.",
    "timeout": "The engine ran out of time before finding a plan.",
}


def unplaced_reason(code: str) -> str:
    return UNPLACED_REASONS.get(code, code.replace("_", " "))


# Which rendering of a run or of the dashboard a reader gets: the viewer's is reduced, the
# admin's has the exact km to confidential shelters.
Audience = Literal["viewer", "operator", "admin"]


def audience_of(principal: Principal) -> Audience:
    if principal.role is Role.viewer:
        return "viewer"
    return "admin" if principal.is_admin else "operator"


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
    detail: str | None = Field(
        None,
        description="Why, in a sentence an operator understands; null once the request's "
        "detail is purged, or the run is older than RETENTION_DAYS",
    )
    people: int = 0


class RunOut(BaseModel):
    id: str
    status: str = Field(
        description="queued (waiting for a solver worker) | running | optimal | feasible | "
        "no_solution | failed"
    )
    trigger: str = Field(description="api | schedule")
    started_at: datetime = Field(description="When a worker started it (until then: queued)")
    queued_at: datetime | None = Field(
        None,
        description="When it (last) entered the queue: queued, or re-queued after its worker died",
    )
    attempts: int = Field(0, description="How many workers started it (a dead one's retried)")
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


class ViewerProposal(BaseModel):
    shelter_id: str | None = Field(description="null for a confidential shelter")
    expires_at: datetime | None
    status: str
    people: int = Field(description="Household size")


class ViewerUnplaced(BaseModel):
    code: str = Field(description="no_eligible_shelter | no_room_fits | capacity_taken | timeout")
    reason: str = Field(description="The code in words (generic, the same for every household)")
    people: int


class ViewerRunOut(BaseModel):
    """A run as the viewer (the dashboard's token) reads it: counts, sizes, codes and generic
    reasons; no request, placement or room id, no km, no engine sentence, no fingerprint."""

    id: str
    status: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    objective: dict[str, Any] | None
    bound: dict[str, Any] | None
    requests_considered: int
    rooms_considered: int
    proposals: list[ViewerProposal]
    unplaced: list[ViewerUnplaced]
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


class ViewerRunSummary(BaseModel):
    """A run in the list as the viewer reads it: no ``triggered_by``."""

    id: str
    status: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    objective: dict[str, Any] | None
    bound: dict[str, Any] | None
    requests_considered: int
    proposals: int
    unplaced: int
    version: int


class RunPage(BaseModel):
    items: list[RunSummary] | list[ViewerRunSummary] = Field(
        description="`RunSummary` items; `ViewerRunSummary` (no `triggered_by`) for a viewer"
    )
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
