"""Open data endpoints: directory import (admin), HSDS 3.1 export, unmet-requests report."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from app.auth.dependencies import AdminDep, Principal, ReaderDep
from app.core.db import utcnow
from app.core.deps import SessionDep, SettingsDep
from app.core.errors import not_found, validation_problem
from app.core.problems import PROBLEM_RESPONSES
from app.opendata import hsds
from app.opendata.csv_import import ImportRejected, import_directory
from app.opendata.schemas import (
    DirectoryImport,
    DirectoryImportResult,
    HsdsAbout,
    HsdsPage,
    UnmetReport,
    UnmetRowOut,
)
from app.opendata.unmet import MAX_NIGHTS, as_csv, unmet_report

router = APIRouter(responses=PROBLEM_RESPONSES)

PageNumber = Annotated[int, Query(ge=1, le=100_000, description="1 for the first page")]
PerPage = Annotated[int, Query(ge=1, le=500, description="Items per page")]


@router.post(
    "/imports/directory",
    tags=["open data"],
    response_model=DirectoryImportResult,
    summary="Import shelters and rooms from CSV (admin), all or nothing",
    description="Every bad cell is named in `errors` as `[file, line, column]`; nothing is "
    "written unless every row is valid. Importing the same files again changes nothing.",
)
def import_csv(
    data: DirectoryImport, session: SessionDep, principal: AdminDep
) -> DirectoryImportResult:
    try:
        counts = import_directory(
            session,
            principal,
            data.shelters_csv,
            data.rooms_csv,
            territory_id=principal.require_territory(),
            dry_run=data.dry_run,
        )
    except ImportRejected as exc:
        raise validation_problem(
            [e.as_problem_error() for e in exc.errors],
            f"{len(exc.errors)} bad cell(s); nothing was imported.",
        ) from None
    return DirectoryImportResult(dry_run=data.dry_run, **counts.__dict__)


def _directory(
    session: SessionDep, settings: SettingsDep, principal: Principal
) -> hsds.HsdsDirectory:
    capacities = hsds.load_capacities(
        session, settings.hsds_confidential, principal.require_territory()
    )
    return hsds.build_directory(capacities, utcnow())


@router.get("/hsds", tags=["HSDS"], response_model=HsdsAbout, summary="About this HSDS feed")
def hsds_about(_: ReaderDep) -> HsdsAbout:
    return HsdsAbout(
        version=hsds.HSDS_VERSION,
        openapi_url="/openapi.json",
        description="Emergency accommodation of the SIAO: shelters and tonight's free beds",
    )


@router.get(
    "/hsds/services",
    tags=["HSDS"],
    response_model=HsdsPage,
    summary="HSDS services, with tonight's free beds as capacities",
)
def hsds_services(
    session: SessionDep,
    settings: SettingsDep,
    principal: ReaderDep,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    return hsds.page(_directory(session, settings, principal).services, page, per_page)


@router.get("/hsds/services/{service_id}", tags=["HSDS"], summary="One HSDS service")
def hsds_service(
    service_id: str, session: SessionDep, settings: SettingsDep, principal: ReaderDep
) -> dict[str, Any]:
    for service in _directory(session, settings, principal).services:
        if service["id"] == service_id:
            return service
    raise not_found("service")


@router.get("/hsds/locations", tags=["HSDS"], response_model=HsdsPage, summary="HSDS locations")
def hsds_locations(
    session: SessionDep,
    settings: SettingsDep,
    principal: ReaderDep,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    return hsds.page(_directory(session, settings, principal).locations, page, per_page)


@router.get(
    "/hsds/organizations", tags=["HSDS"], response_model=HsdsPage, summary="HSDS organizations"
)
def hsds_organizations(
    session: SessionDep,
    settings: SettingsDep,
    principal: ReaderDep,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    return hsds.page(_directory(session, settings, principal).organizations, page, per_page)


@router.get(
    "/reports/unmet",
    tags=["reports"],
    response_model=UnmetReport,
    summary="Requests left unmet, per night and household type",
    description="`format=csv` answers the same rows as `text/csv`. Nights run from 12:00 to "
    "12:00 in SIAO_TIMEZONE; at most 366 nights per call.",
    responses={200: {"content": {"text/csv": {}}}},
)
def report_unmet(
    session: SessionDep,
    settings: SettingsDep,
    principal: ReaderDep,
    first: Annotated[date, Query(alias="from", description="First night (YYYY-MM-DD)")],
    last: Annotated[date | None, Query(alias="to", description="Last night (or from)")] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Any:
    last = last or first
    if last < first:
        raise validation_problem([{"loc": ["query", "to"], "msg": "before 'from'"}])
    if last - first >= timedelta(days=MAX_NIGHTS):
        raise validation_problem([{"loc": ["query", "to"], "msg": f"at most {MAX_NIGHTS} nights"}])
    rows = unmet_report(session, first, last, settings.zone, principal.require_territory())
    if format == "csv":
        return PlainTextResponse(as_csv(rows), media_type="text/csv; charset=utf-8")
    out = [UnmetRowOut.model_validate(row, from_attributes=True) for row in rows]
    totals = {
        key: sum(getattr(row, key) for row in out)
        for key in ("requests", "met", "unmet", "people_unmet")
    }
    return UnmetReport(
        first_night=first,
        last_night=last,
        timezone=settings.siao_timezone,
        rows=out,
        totals=totals,
    )
