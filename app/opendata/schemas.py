"""Open data in and out: the import's body and answer, the unmet-requests report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

# 1 MiB is the service's body limit; a département's directory is a few tens of kB.
CsvText = Annotated[str, Field(max_length=1_000_000)]


class DirectoryImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shelters_csv: CsvText = Field(description="shelters.csv, header line first (docs/opendata.md)")
    rooms_csv: CsvText = Field(description="rooms.csv, header line first (docs/opendata.md)")
    dry_run: bool = Field(False, description="Check and count, write nothing")


class DirectoryImportResult(BaseModel):
    dry_run: bool
    shelters_created: int
    shelters_updated: int
    shelters_unchanged: int
    rooms_created: int
    rooms_updated: int
    rooms_unchanged: int


class UnmetRowOut(BaseModel):
    night: date = Field(description="The SIAO day, from 12:00 to 12:00 the next day")
    household_type: str
    requests: int = Field(description="Requests open without a bed at some moment of the night")
    met: int = Field(description="Of those, housed before the night's end")
    unmet: int
    people_unmet: int


class UnmetReport(BaseModel):
    first_night: date
    last_night: date
    timezone: str
    rows: list[UnmetRowOut]
    totals: dict[str, int] = Field(description="Sums over every row: requests, met, unmet, ...")


class HsdsPage(BaseModel):
    """A page as the HSDS 3.1 API returns one (its ``Page`` schema plus ``contents``)."""

    total_items: int
    total_pages: int
    page_number: int
    size: int
    first_page: bool
    last_page: bool
    empty: bool
    contents: list[dict[str, Any]]


class HsdsAbout(BaseModel):
    version: str
    profile: str | None = None
    openapi_url: str
    description: str
