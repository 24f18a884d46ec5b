"""Territories as the API reads and writes them: addressed by their code."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Code = Annotated[
    str,
    Field(
        min_length=1,
        max_length=10,
        pattern=r"^[0-9A-Za-z]+$",
        description="The département's code, e.g. `59`, `2A`, `974`",
    ),
]


class TerritoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200, description="e.g. Nord")]
    neighbours: Annotated[list[Code], Field(max_length=200)] = Field(
        default_factory=list,
        description="Codes of the territories whose shelters this one's runs may use",
    )


class TerritoryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]


class NeighboursPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    neighbours: Annotated[list[Code], Field(max_length=200)]


class TerritoryOut(BaseModel):
    code: str
    name: str
    neighbours: list[str] = Field(
        description="Codes of the territories whose shelters this one's runs, options and "
        "manual placements may use (directed: listing one does not list it back)"
    )
    version: int
    created_at: datetime
