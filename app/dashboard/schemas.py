"""The night-duty dashboard's one document: everything the screen shows, nothing more.

No names and no case references: a request appears by its opaque id, its size, an age
bracket count, its priority, how long it has waited and why it was left without a bed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Freshness = Literal["fresh", "ageing", "stale"]
SizeClass = Literal["single", "family_2", "family_3_4", "family_5_plus"]


class DashboardSettings(BaseModel):
    availability_ageing_hours: float = Field(
        description="A shelter's availability older than this is 'ageing'."
    )
    availability_stale_hours: float = Field(
        description="Older than this (or never updated) it is 'stale'."
    )
    expiring_within_minutes: int = Field(
        description="Holds expiring within this many minutes are listed as expiring soon."
    )


class SizeCapacity(BaseModel):
    size_class: SizeClass = Field(
        description=(
            "Private rooms classed by places (beds + cribs; a crib takes a child under 3): "
            "single = 1 place, family_2 = 2, family_3_4 = 3 or 4, family_5_plus = 5 or more."
        )
    )
    rooms: int = Field(description="Free private rooms of this class.")
    beds: int
    cribs: int


class SharedBeds(BaseModel):
    women: int = Field(description="Free beds in shared rooms for women (sex F).")
    men: int = Field(description="Free beds in shared rooms for men (sex M).")


class KindCapacity(BaseModel):
    kind: str = Field(description="chu, chrs, dv_shelter, mother_child or hotel.")
    shelters: int = Field(description="Active shelters of this kind.")
    free_private_rooms: int
    free_private_beds: int
    free_cribs: int
    free_shared_beds: int
    free_beds: int = Field(description="Private beds plus shared beds (cribs not counted).")


class CapacityTotals(BaseModel):
    shelters: int
    free_beds: int = Field(description="Private beds plus shared beds (cribs not counted).")
    free_private_rooms: int
    free_private_beds: int
    free_cribs: int
    free_shared_beds: int


class Capacity(BaseModel):
    totals: CapacityTotals
    by_kind: list[KindCapacity]
    by_size: list[SizeCapacity]
    shared_beds: SharedBeds


class ShelterFreshness(BaseModel):
    shelter_id: str
    name: str
    kind: str
    commune: str
    freshness: Freshness
    availability_updated_at: datetime | None = Field(
        description="When the shelter last confirmed its rooms; null if never."
    )
    age_minutes: int | None = Field(description="Minutes since that update; null if never.")
    free_beds: int


class FreshnessCounts(BaseModel):
    fresh: int
    ageing: int
    stale: int


class FreshnessReport(BaseModel):
    counts: FreshnessCounts
    shelters: list[ShelterFreshness] = Field(description="Every active shelter, stalest first.")
    stale: list[ShelterFreshness] = Field(description="The stale ones only.")


class WaitingRequest(BaseModel):
    request_id: str
    priority: int = Field(description="1 (can wait) … 4 (immediate danger).")
    waiting_since: datetime
    waiting_minutes: int
    household_size: int
    adults: int = Field(description="Members aged 18 or more.")
    children: int = Field(description="Members aged 3 to 17.")
    infants: int = Field(description="Members under 3 (may sleep in a crib).")
    unplaced_code: str | None = Field(
        description="Why the last allocation run left it without a bed, if it did."
    )
    unplaced_detail: str | None


class PriorityWaiting(BaseModel):
    priority: int
    requests: int
    people: int
    longest_wait_minutes: int | None


class Waiting(BaseModel):
    requests: int = Field(description="Pending requests (all of them).")
    people: int
    by_priority: list[PriorityWaiting] = Field(description="Priorities 4 down to 1.")
    longest_first: list[WaitingRequest] = Field(
        description="Pending requests, longest waiting first (at most `list_limit`)."
    )
    list_limit: int


class UnplacedRequest(BaseModel):
    request_id: str
    code: str = Field(description="no_eligible_shelter, no_room_fits, capacity_taken, timeout.")
    reason: str = Field(description="The code in words.")
    detail: str | None = Field(description="The engine's sentence for the operator.")
    priority: int | None
    household_size: int | None


class LatestRun(BaseModel):
    id: str
    status: str = Field(description="running, optimal, feasible, no_solution or failed.")
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    requests_considered: int
    rooms_considered: int
    proposals: int = Field(description="Placements this run proposed.")
    people_placed_by_priority: dict[str, int] = Field(
        description="People placed per priority ('4' … '1')."
    )
    bound_by_priority: dict[str, int] | None = Field(
        description="The engine's bound: the most people that could be placed per priority."
    )
    people_placed: int
    total_km: float | None
    unplaced: list[UnplacedRequest]
    error: str | None


class ExpiringHold(BaseModel):
    placement_id: str
    request_id: str
    shelter_id: str
    shelter_name: str
    expires_at: datetime
    minutes_left: int = Field(description="Negative once expired but not yet released.")
    household_size: int
    priority: int | None


class Arrival(BaseModel):
    placement_id: str
    request_id: str
    shelter_id: str
    shelter_name: str
    accepted_at: datetime | None
    household_size: int
    priority: int | None
    km: float


class MapShelter(BaseModel):
    shelter_id: str
    name: str
    kind: str
    commune: str
    lat: float
    lon: float
    position_rounded: bool = Field(
        description="True for a confidential shelter: the position is rounded to about 5 km."
    )
    free_beds: int
    freshness: Freshness


class MapBounds(BaseModel):
    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float


class MapData(BaseModel):
    bounds: MapBounds | None = Field(description="Bounding box of the points; null if none.")
    shelters: list[MapShelter]


class DashboardSummary(BaseModel):
    """What operators and admins read (a viewer reads ``ViewerDashboardSummary``)."""

    generated_at: datetime
    settings: DashboardSettings
    capacity: Capacity
    freshness: FreshnessReport
    waiting: Waiting
    latest_run: LatestRun | None
    expiring_holds: list[ExpiringHold]
    holds_total: int = Field(description="Proposed placements holding beds right now.")
    arrivals: list[Arrival] = Field(description="Accepted placements: households on their way.")
    map: MapData


# --- the viewer's document (the dashboard's own token) -------------------------------------
# Counts, sizes, codes and generic reasons only: no composition, no needs, no request or
# placement id (nothing joins a waiting household to a shelter), no km, no engine sentence,
# no raw error, and no confidential shelter named next to a household.


class ViewerWaitingRequest(BaseModel):
    priority: int
    waiting_since: datetime
    waiting_minutes: int
    household_size: int
    unplaced_code: str | None
    unplaced_reason: str | None = Field(description="The code in words (generic).")


class ViewerWaiting(BaseModel):
    requests: int
    people: int
    by_priority: list[PriorityWaiting]
    longest_first: list[ViewerWaitingRequest]
    list_limit: int


class ViewerUnplacedRequest(BaseModel):
    code: str
    reason: str = Field(description="The code in words (generic).")
    priority: int | None
    household_size: int | None


class ViewerLatestRun(BaseModel):
    id: str
    status: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    requests_considered: int
    rooms_considered: int
    proposals: int
    people_placed_by_priority: dict[str, int]
    bound_by_priority: dict[str, int] | None
    people_placed: int
    total_km: float | None
    unplaced: list[ViewerUnplacedRequest]
    error: str | None = Field(description="A generic sentence when the run failed.")


class ViewerHold(BaseModel):
    shelter_id: str | None = Field(description="null for a confidential shelter")
    shelter_name: str | None = Field(description="null for a confidential shelter")
    expires_at: datetime
    minutes_left: int
    household_size: int
    priority: int | None


class ViewerArrival(BaseModel):
    shelter_id: str | None = Field(description="null for a confidential shelter")
    shelter_name: str | None = Field(description="null for a confidential shelter")
    accepted_at: datetime | None
    household_size: int
    priority: int | None


class ViewerDashboardSummary(BaseModel):
    """What a viewer token reads: see the comment above."""

    generated_at: datetime
    settings: DashboardSettings
    capacity: Capacity
    freshness: FreshnessReport
    waiting: ViewerWaiting
    latest_run: ViewerLatestRun | None
    expiring_holds: list[ViewerHold]
    holds_total: int
    arrivals: list[ViewerArrival]
    map: MapData
