"""Shelters and rooms as the API reads and writes them (field names of the engine's problem)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.shelters.models import ShelterKind

Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
# ISO 639 codes, optionally with a region or script: "fr", "ar", "prs", "pt-BR".
LanguageCode = Annotated[
    str,
    Field(
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
        description="ISO 639-1/-3 language code, e.g. `fr`, `ar`, `prs`",
        examples=["fr"],
    ),
]
Sex = Literal["F", "M"]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Phone = Annotated[str, Field(min_length=3, max_length=40, pattern=r"^[0-9+()./ -]+$")]
BedCount = Annotated[int, Field(ge=0, le=500)]


class _In(BaseModel):
    # A misspelt field is refused, never silently dropped.
    model_config = ConfigDict(extra="forbid")


class ShelterCreate(_In):
    name: Name
    kind: ShelterKind
    lat: Latitude
    lon: Longitude
    women: bool = Field(description="Takes adult women")
    men: bool = Field(description="Takes adult men")
    children: bool = Field(description="Takes minors (with their family)")
    max_boy_age: Annotated[int, Field(ge=0, le=17)] | None = Field(
        None, description="Oldest boy taken; null: no limit"
    )
    dv_specialised: bool = False
    secure: bool = False
    wheelchair: bool = False
    pets: bool = False
    languages: Annotated[list[LanguageCode], Field(max_length=30)] = Field(default_factory=list)
    address: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    commune: Name
    intake_phone: Phone | None = None
    confidential: bool = Field(
        False,
        description="Address and exact position shown only to admins and the shelter's staff",
    )


class ShelterUpdate(_In):
    """Only the fields sent change. A shelter token may change only ``SHELTER_EDITABLE``."""

    name: Name | None = None
    kind: ShelterKind | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    women: bool | None = None
    men: bool | None = None
    children: bool | None = None
    max_boy_age: Annotated[int, Field(ge=0, le=17)] | None = None
    dv_specialised: bool | None = None
    secure: bool | None = None
    wheelchair: bool | None = None
    pets: bool | None = None
    languages: Annotated[list[LanguageCode], Field(max_length=30)] | None = None
    address: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    commune: Name | None = None
    intake_phone: Phone | None = None
    confidential: bool | None = None
    active: bool | None = Field(None, description="false: the shelter takes no one for now")


# What a shelter's own staff may change: how to reach them and whom they can talk to.
# Eligibility, position and safety flags stay with the SIAO's administrator.
SHELTER_EDITABLE = frozenset({"intake_phone", "languages"})
# Fields that may be set to null explicitly.
SHELTER_NULLABLE = frozenset({"max_boy_age", "address", "intake_phone"})


class ShelterOut(BaseModel):
    id: str
    name: str
    kind: ShelterKind
    lat: float
    lon: float
    location_precision: Literal["exact", "approximate"] = Field(
        description="`approximate`: a confidential shelter's position snapped to a ~5 km grid"
    )
    women: bool
    men: bool
    children: bool
    max_boy_age: int | None
    dv_specialised: bool
    secure: bool
    wheelchair: bool
    pets: bool
    languages: list[str]
    address: str | None = Field(description="null for a confidential shelter unless yours")
    commune: str
    intake_phone: str | None
    confidential: bool
    active: bool
    availability_updated_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class RoomCreate(_In):
    label: Annotated[str, Field(min_length=1, max_length=100)]
    beds: BedCount
    cribs: BedCount = 0
    shared: bool = Field(False, description="A dormitory: single adults of one sex, bed by bed")
    sex: Sex | None = Field(None, description="Required for shared rooms, only for them")
    wheelchair: bool = False
    out_of_service: bool = False
    occupied_beds: BedCount = Field(0, description="Beds taken by people not placed via Abri")


class RoomUpdate(_In):
    label: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    beds: BedCount | None = None
    cribs: BedCount | None = None
    wheelchair: bool | None = None
    out_of_service: bool | None = None
    occupied_beds: BedCount | None = None


class RoomOut(BaseModel):
    id: str
    shelter_id: str
    label: str
    beds: int
    cribs: int
    shared: bool
    sex: Sex | None
    wheelchair: bool
    out_of_service: bool
    occupied_beds: int
    held_beds: int = Field(description="Beds held or occupied by live placements")
    free_beds: int = Field(description="Beds free tonight (a private room: all or none)")
    version: int
    updated_at: datetime


class AvailabilityItem(_In):
    room_id: Annotated[str, Field(min_length=1, max_length=40)]
    out_of_service: bool
    occupied_beds: BedCount


class AvailabilityOut(BaseModel):
    shelter_id: str
    availability_updated_at: datetime
    rooms: list[RoomOut]


class PrivateRoomsBySize(BaseModel):
    beds: int
    cribs: int
    rooms: int = Field(description="How many free private rooms of this size")
    wheelchair_rooms: int


class ShelterAvailability(BaseModel):
    shelter_id: str
    name: str
    kind: ShelterKind
    commune: str
    lat: float
    lon: float
    location_precision: Literal["exact", "approximate"]
    confidential: bool
    women: bool
    men: bool
    children: bool
    dv_specialised: bool
    free_private_rooms: list[PrivateRoomsBySize]
    free_shared_beds: dict[str, int] = Field(description='Free dormitory beds by sex: {"F", "M"}')
    free_beds: int = Field(description="All free beds (private rooms and dormitories)")
    free_cribs: int
    availability_updated_at: datetime | None


class AvailabilityTotals(BaseModel):
    shelters: int
    free_private_rooms: int
    free_beds: int
    free_cribs: int
    free_shared_beds: dict[str, int]


class AvailabilitySummary(BaseModel):
    generated_at: datetime
    totals: AvailabilityTotals
    shelters: list[ShelterAvailability]
