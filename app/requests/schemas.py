"""Placement requests: the household as in the engine's problem, plus the SIAO reference.

No names anywhere: a reference, ages, sexes and needs are enough to place a household.
Unknown fields are refused: a misspelt ``avoid`` silently dropped would endanger a victim.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.inputs import ServiceDatetime
from app.requests.models import RequestStatus
from app.shelters.schemas import LanguageCode, Latitude, Longitude

Km = Annotated[float, Field(ge=0, le=2000, allow_inf_nan=False)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Point(_In):
    lat: Latitude
    lon: Longitude


class Member(_In):
    age: Annotated[int, Field(ge=0, le=120)]
    sex: Literal["F", "M"]


class Needs(_In):
    dv_specialised: bool = Field(False, description="Needs a shelter trained for DV victims")
    secure: bool = Field(False, description="Needs a secure site")
    wheelchair: bool = False
    pets: bool = False
    language: LanguageCode | None = Field(None, description="Preferred language (a preference)")


class AvoidZone(_In):
    """A place the household must stay away from (the abuser's area), as a coarse circle."""

    lat: Latitude
    lon: Longitude
    km: Annotated[float, Field(gt=0, le=500, allow_inf_nan=False)]


class KeepApart(_In):
    request_id: Annotated[str, Field(min_length=1, max_length=40)]
    km: Km


class RequestCreate(_In):
    reference: Annotated[
        str,
        Field(
            min_length=1,
            max_length=100,
            pattern=r"^[A-Za-z0-9][A-Za-z0-9._/#-]*$",
            description="The SIAO's own case number (never a name)",
            examples=["115-2026-004217"],
        ),
    ]
    priority: Annotated[int, Field(ge=1, le=4, description="1 can wait … 4 immediate danger")]
    origin: Point
    max_km: Km | None = Field(None, description="Furthest acceptable shelter; null: no limit")
    members: Annotated[list[Member], Field(min_length=1, max_length=30)]
    needs: Needs = Field(default_factory=Needs)
    avoid: Annotated[list[AvoidZone], Field(max_length=20)] = Field(default_factory=list)
    excluded_shelters: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=40)]], Field(max_length=200)
    ] = Field(default_factory=list)
    keep_apart: Annotated[list[KeepApart], Field(max_length=20)] = Field(default_factory=list)
    waiting_since: ServiceDatetime | None = Field(
        None,
        description="When the household first called, if before this request was entered; "
        "default now. Not in the future, nor older than WAITING_SINCE_MAX_DAYS (30).",
    )


class RequestUpdate(_In):
    """An amendment of a pending request: only the fields sent change.

    A field sent as ``null`` is refused (422), except ``max_km`` where null means no limit;
    hence the non-optional types with a ``None`` default (pydantic does not validate defaults).
    ``waiting_since`` cannot be sent: the household keeps its place in the queue.
    """

    reference: Annotated[
        str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/#-]*$")
    ] = Field(None, description="The SIAO's own case number (never a name)")
    priority: Annotated[int, Field(ge=1, le=4)] = Field(
        None, description="1 can wait … 4 immediate danger"
    )
    origin: Point = None
    max_km: Km | None = Field(None, description="Furthest acceptable shelter; null: no limit")
    members: Annotated[list[Member], Field(min_length=1, max_length=30)] = None
    needs: Needs = None
    avoid: Annotated[list[AvoidZone], Field(max_length=20)] = None
    excluded_shelters: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=40)]], Field(max_length=200)
    ] = None
    keep_apart: Annotated[list[KeepApart], Field(max_length=20)] = None


class RequestOut(BaseModel):
    id: str
    reference: str | None = Field(description="null once the request's detail is purged")
    status: RequestStatus
    priority: int
    waiting_since: datetime
    origin: Point | None = Field(description="null once the request's detail is purged")
    max_km: float | None
    members: list[Member]
    needs: Needs
    avoid: list[AvoidZone]
    excluded_shelters: list[str]
    keep_apart: list[KeepApart]
    unplaced_code: str | None = Field(description="Why the last allocation run left it unplaced")
    unplaced_detail: str | None
    last_allocation_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    purged: bool = Field(description="The household's detail was removed after retention")


class RequestPage(BaseModel):
    items: list[RequestOut]
    total: int
    limit: int
    offset: int
