"""The dashboard's aggregates, read straight from the tables (read-only, no commit).

Free capacity comes from ``app.shelters.capacity.free_rooms``, the one computation of what is
free tonight, so that the dashboard, the availability endpoint and the engine never disagree.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from allocation.models import ADULT_AGE, PRIORITIES
from allocation.rules import CRIB_AGE
from app.allocations.models import AllocationRun
from app.allocations.schemas import Audience, unplaced_reason
from app.core.config import Settings
from app.core.http import version_etag
from app.dashboard import schemas as s
from app.placements.models import Placement, PlacementRoom, PlacementStatus
from app.requests.models import PlacementRequest, RequestStatus
from app.shelters.capacity import FreeRoom, free_rooms
from app.shelters.models import Room, Shelter, ShelterKind
from app.shelters.service import exact_km as exact_distance
from app.shelters.service import shown_position
from app.territories.scope import placement_filter

EXPIRING_WITHIN_MINUTES = 30
WAITING_LIST_LIMIT = 200

# A run's raw error may quote the database; the server log has it, the screen does not.
RUN_FAILED = "the run failed; see the server log"


def freshness_of(updated_at: datetime | None, now: datetime, settings: Settings) -> s.Freshness:
    if updated_at is None:
        return "stale"
    age = now - updated_at
    if age >= timedelta(hours=settings.availability_stale_hours):
        return "stale"
    if age >= timedelta(hours=settings.availability_ageing_hours):
        return "ageing"
    return "fresh"


def size_class(places: int) -> s.SizeClass:
    if places <= 1:
        return "single"
    if places == 2:
        return "family_2"
    if places <= 4:
        return "family_3_4"
    return "family_5_plus"


_SHELTER_ID = re.compile(r"\bshl_[A-Za-z0-9_]+")


def name_shelters(text: str | None, names: dict[str, str]) -> str | None:
    """The engine's sentences name shelters by id; the night desk knows them by name."""
    if not text:
        return text
    return _SHELTER_ID.sub(lambda m: names.get(m.group(0), m.group(0)), text)


def _minutes(delta: timedelta) -> int:
    return math.floor(delta.total_seconds() / 60)


# --- ETag -------------------------------------------------------------------------------


def summary_etag(
    session: Session,
    settings: Settings,
    now: datetime,
    audience: Audience = "admin",
    territory_id: str | None = None,
) -> str:
    """A cheap fingerprint of every row the summary reads: counts, newest update times and
    version sums per table, in one query. The current minute is part of it because waiting
    times, freshness and expiring holds move with the clock even when no row changes.

    The reader's session is scoped to its territory (``app.territories.scope``); placements,
    which are not, are counted for the territory's own and for holds in its shelters, so
    another territory's activity elsewhere does not move the tag."""

    def agg(model: Any, stamp: Any, version: Any = None, where: Any = None) -> list[Any]:
        cols = [
            select(func.count()).select_from(model),
            select(func.max(stamp)).select_from(model),
        ]
        if version is not None:
            cols.append(select(func.coalesce(func.sum(version), 0)).select_from(model))
        return [(c if where is None else c.where(where)).scalar_subquery() for c in cols]

    own_shelters = select(Shelter.id).where(Shelter.territory_id == territory_id)
    own_rooms = select(Room.id).where(Room.shelter_id.in_(own_shelters))
    placements = (
        None
        if territory_id is None
        else (Placement.territory_id == territory_id) | Placement.shelter_id.in_(own_shelters)
    )
    rooms_held = None if territory_id is None else PlacementRoom.room_id.in_(own_rooms)
    active = PlacementRoom.active.is_(True)
    columns = [
        *agg(Shelter, Shelter.updated_at, Shelter.version),
        select(func.max(Shelter.availability_updated_at)).scalar_subquery(),
        *agg(Room, Room.updated_at, Room.version),
        *agg(PlacementRequest, PlacementRequest.updated_at, PlacementRequest.version),
        *agg(Placement, Placement.updated_at, Placement.version, placements),
        select(func.count())
        .select_from(PlacementRoom)
        .where(true() if rooms_held is None else rooms_held)
        .scalar_subquery(),
        select(func.count())
        .select_from(PlacementRoom)
        .where(active if rooms_held is None else active & rooms_held)
        .scalar_subquery(),
        *agg(AllocationRun, AllocationRun.started_at, AllocationRun.version),
        select(func.max(AllocationRun.finished_at)).scalar_subquery(),
        select(func.count())
        .select_from(AllocationRun)
        .where(AllocationRun.finished_at.is_(None))
        .scalar_subquery(),
    ]
    row = session.execute(select(*columns)).one()
    parts = [
        *(str(v) for v in row),
        now.strftime("%Y%m%d%H%M"),
        settings.availability_ageing_hours,
        settings.availability_stale_hours,
        audience,  # each audience reads its own document
    ]
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:24]
    return version_etag("dashboard", digest)


# --- the document -----------------------------------------------------------------------


def _members(request: PlacementRequest) -> list[dict[str, Any]]:
    return list(request.members or [])


def _age_brackets(members: list[dict[str, Any]]) -> tuple[int, int, int]:
    adults = children = infants = 0
    for m in members:
        age = int(m.get("age", ADULT_AGE))
        if age >= ADULT_AGE:
            adults += 1
        elif age >= CRIB_AGE:
            children += 1
        else:
            infants += 1
    return adults, children, infants


def _capacity(shelters: list[Shelter], rooms: list[FreeRoom]) -> tuple[s.Capacity, dict[str, int]]:
    kinds = [k.value for k in ShelterKind]
    kinds += sorted({sh.kind for sh in shelters} - set(kinds))
    by_kind: dict[str, dict[str, int]] = {k: defaultdict(int) for k in kinds}
    for sh in shelters:
        by_kind[sh.kind]["shelters"] += 1
    by_size: dict[str, dict[str, int]] = {
        c: defaultdict(int) for c in ("single", "family_2", "family_3_4", "family_5_plus")
    }
    shared = {"F": 0, "M": 0}
    free_by_shelter: dict[str, int] = defaultdict(int)
    kind_of = {sh.id: sh.kind for sh in shelters}
    for room in rooms:
        k = by_kind[kind_of[room.shelter_id]]
        free_by_shelter[room.shelter_id] += room.beds
        if room.shared:
            k["free_shared_beds"] += room.beds
            if room.sex in shared:
                shared[room.sex] += room.beds
        else:
            k["free_private_rooms"] += 1
            k["free_private_beds"] += room.beds
            k["free_cribs"] += room.cribs
            c = by_size[size_class(room.beds + room.cribs)]
            c["rooms"] += 1
            c["beds"] += room.beds
            c["cribs"] += room.cribs
    kind_rows = [
        s.KindCapacity(
            kind=kind,
            shelters=v["shelters"],
            free_private_rooms=v["free_private_rooms"],
            free_private_beds=v["free_private_beds"],
            free_cribs=v["free_cribs"],
            free_shared_beds=v["free_shared_beds"],
            free_beds=v["free_private_beds"] + v["free_shared_beds"],
        )
        for kind, v in by_kind.items()
    ]
    totals = s.CapacityTotals(
        shelters=len(shelters),
        free_beds=sum(r.free_beds for r in kind_rows),
        free_private_rooms=sum(r.free_private_rooms for r in kind_rows),
        free_private_beds=sum(r.free_private_beds for r in kind_rows),
        free_cribs=sum(r.free_cribs for r in kind_rows),
        free_shared_beds=sum(r.free_shared_beds for r in kind_rows),
    )
    capacity = s.Capacity(
        totals=totals,
        by_kind=kind_rows,
        by_size=[
            s.SizeCapacity(size_class=c, rooms=v["rooms"], beds=v["beds"], cribs=v["cribs"])  # type: ignore[arg-type]
            for c, v in by_size.items()
        ],
        shared_beds=s.SharedBeds(women=shared["F"], men=shared["M"]),
    )
    return capacity, free_by_shelter


def _freshness(
    shelters: list[Shelter], free_by_shelter: dict[str, int], now: datetime, settings: Settings
) -> s.FreshnessReport:
    rows = []
    for sh in shelters:
        updated = sh.availability_updated_at
        rows.append(
            s.ShelterFreshness(
                shelter_id=sh.id,
                name=sh.name,
                kind=sh.kind,
                commune=sh.commune,
                freshness=freshness_of(updated, now, settings),
                availability_updated_at=updated,
                age_minutes=None if updated is None else _minutes(now - updated),
                free_beds=free_by_shelter.get(sh.id, 0),
            )
        )
    # Stalest first: never updated, then oldest update.
    rows.sort(
        key=lambda r: (
            r.availability_updated_at is not None,
            r.availability_updated_at or now,
            r.name,
        )
    )
    counts = s.FreshnessCounts(
        fresh=sum(r.freshness == "fresh" for r in rows),
        ageing=sum(r.freshness == "ageing" for r in rows),
        stale=sum(r.freshness == "stale" for r in rows),
    )
    return s.FreshnessReport(
        counts=counts, shelters=rows, stale=[r for r in rows if r.freshness == "stale"]
    )


def _waiting(session: Session, now: datetime, names: dict[str, str]) -> s.Waiting:
    pending = list(
        session.scalars(
            select(PlacementRequest)
            .where(PlacementRequest.status == RequestStatus.pending)
            .order_by(PlacementRequest.waiting_since, PlacementRequest.id)
        )
    )
    stats: dict[int, dict[str, Any]] = {
        p: {"requests": 0, "people": 0, "longest": None} for p in PRIORITIES
    }
    rows = []
    for req in pending:
        members = _members(req)
        adults, children, infants = _age_brackets(members)
        waited = max(_minutes(now - req.waiting_since), 0)
        st = stats.setdefault(req.priority, {"requests": 0, "people": 0, "longest": None})
        st["requests"] += 1
        st["people"] += len(members)
        st["longest"] = max(st["longest"] or 0, waited)
        if len(rows) < WAITING_LIST_LIMIT:
            rows.append(
                s.WaitingRequest(
                    request_id=req.id,
                    priority=req.priority,
                    waiting_since=req.waiting_since,
                    waiting_minutes=waited,
                    household_size=len(members),
                    adults=adults,
                    children=children,
                    infants=infants,
                    unplaced_code=req.unplaced_code,
                    unplaced_detail=name_shelters(req.unplaced_detail, names),
                )
            )
    return s.Waiting(
        requests=len(pending),
        people=sum(st["people"] for st in stats.values()),
        by_priority=[
            s.PriorityWaiting(
                priority=p,
                requests=st["requests"],
                people=st["people"],
                longest_wait_minutes=st["longest"],
            )
            for p, st in sorted(stats.items(), reverse=True)
        ],
        longest_first=rows,
        list_limit=WAITING_LIST_LIMIT,
    )


def _latest_run(session: Session, names: dict[str, str]) -> s.LatestRun | None:
    run = session.scalars(
        select(AllocationRun).order_by(AllocationRun.started_at.desc(), AllocationRun.id.desc())
    ).first()
    if run is None:
        return None
    objective = run.objective or {}
    placed = {str(k): int(v) for k, v in (objective.get("people_placed_by_priority") or {}).items()}
    bound_raw = (run.bound or {}).get("people_placed_by_priority")
    bound = None if bound_raw is None else {str(k): int(v) for k, v in bound_raw.items()}
    proposals = session.scalar(
        select(func.count()).select_from(Placement).where(Placement.allocation_id == run.id)
    )
    entries = list(run.unplaced or [])
    # The engine speaks of "household"; the service stores the request id under either name.
    ids = [str(e.get("request_id") or e.get("household") or "") for e in entries]
    requests = (
        {
            r.id: r
            for r in session.scalars(select(PlacementRequest).where(PlacementRequest.id.in_(ids)))
        }
        if ids
        else {}
    )
    unplaced = []
    for rid, entry in zip(ids, entries, strict=True):
        req = requests.get(rid)
        code = str(entry.get("code", ""))
        unplaced.append(
            s.UnplacedRequest(
                request_id=rid,
                code=code,
                reason=unplaced_reason(code),
                detail=name_shelters(entry.get("detail"), names),
                priority=None if req is None else req.priority,
                household_size=len(req.members)
                if req is not None and req.members
                else entry.get("people"),
            )
        )
    # Most urgent first, then the largest households.
    unplaced.sort(key=lambda u: (-(u.priority or 0), -(u.household_size or 0), u.request_id))
    total_km = objective.get("total_km")
    return s.LatestRun(
        id=run.id,
        status=run.status,
        trigger=run.trigger,
        started_at=run.started_at,
        finished_at=run.finished_at,
        requests_considered=run.requests_considered,
        rooms_considered=run.rooms_considered,
        proposals=int(proposals or 0),
        people_placed_by_priority=placed,
        bound_by_priority=bound,
        people_placed=sum(placed.values()),
        total_km=None if total_km is None else float(total_km),
        unplaced=unplaced,
        error=RUN_FAILED if run.error else None,
    )


def _placements(
    session: Session,
    shelters_by_id: dict[str, Shelter],
    names: dict[str, str],
    now: datetime,
    exact_km: bool,
    territory_id: str | None,
) -> tuple[list[s.ExpiringHold], int, list[s.Arrival]]:
    """The territory's holds and arrivals; ``exact_km``: the admin's exact km to one of its
    own confidential shelters."""
    rows = session.execute(
        select(Placement, PlacementRequest)
        .join(PlacementRequest, PlacementRequest.id == Placement.request_id)
        .where(
            Placement.status.in_([PlacementStatus.proposed, PlacementStatus.accepted]),
            placement_filter(territory_id),
        )
    ).all()
    horizon = now + timedelta(minutes=EXPIRING_WITHIN_MINUTES)
    expiring: list[s.ExpiringHold] = []
    arrivals: list[s.Arrival] = []
    holds = 0
    for placement, req in rows:
        shelter = shelters_by_id.get(placement.shelter_id)
        name = names.get(placement.shelter_id, placement.shelter_id)
        size = len(_members(req))
        if placement.status == PlacementStatus.proposed:
            holds += 1
            if placement.expires_at is not None and placement.expires_at <= horizon:
                expiring.append(
                    s.ExpiringHold(
                        placement_id=placement.id,
                        request_id=req.id,
                        shelter_id=placement.shelter_id,
                        shelter_name=name,
                        expires_at=placement.expires_at,
                        minutes_left=_minutes(placement.expires_at - now),
                        household_size=size,
                        priority=req.priority,
                    )
                )
        else:
            arrivals.append(
                s.Arrival(
                    placement_id=placement.id,
                    request_id=req.id,
                    shelter_id=placement.shelter_id,
                    shelter_name=name,
                    accepted_at=placement.accepted_at,
                    household_size=size,
                    priority=req.priority,
                    km=exact_distance(shelter, placement.km, req.origin_lat, req.origin_lon)
                    if exact_km
                    else placement.km,
                )
            )
    expiring.sort(key=lambda h: (h.expires_at, h.placement_id))
    arrivals.sort(key=lambda a: (a.accepted_at or now, a.placement_id))
    return expiring, holds, arrivals


def _map(freshness: s.FreshnessReport, shelters_by_id: dict[str, Shelter]) -> s.MapData:
    points = []
    for row in freshness.shelters:
        sh = shelters_by_id[row.shelter_id]
        # The dashboard is a shared screen: confidential shelters are rounded for every role.
        lat, lon = shown_position(sh, exact=not sh.confidential)
        points.append(
            s.MapShelter(
                shelter_id=sh.id,
                name=sh.name,
                kind=sh.kind,
                commune=sh.commune,
                lat=lat,
                lon=lon,
                position_rounded=sh.confidential,
                free_beds=row.free_beds,
                freshness=row.freshness,
            )
        )
    points.sort(key=lambda p: p.shelter_id)
    bounds = (
        s.MapBounds(
            min_lat=min(p.lat for p in points),
            max_lat=max(p.lat for p in points),
            min_lon=min(p.lon for p in points),
            max_lon=max(p.lon for p in points),
        )
        if points
        else None
    )
    return s.MapData(bounds=bounds, shelters=points)


def build_summary(
    session: Session,
    settings: Settings,
    now: datetime | None = None,
    audience: Audience = "admin",
    territory_id: str | None = None,
) -> s.DashboardSummary | s.ViewerDashboardSummary:
    """The dashboard's document for this audience (``app.allocations.service.audience_of``)."""
    now = now or datetime.now(UTC)
    # The territory's own shelters (its neighbours' have their own dashboard); a neighbour
    # territory's holds in them count as taken beds. Its households' holds in a
    # neighbour's shelter are listed, named, with the km as the engine measured them.
    query = select(Shelter).where(Shelter.active.is_(True))
    if territory_id is not None:
        query = query.where(Shelter.territory_id == territory_id)
    shelters = list(session.scalars(query.order_by(Shelter.id)))
    shelters_by_id = {sh.id: sh for sh in shelters}
    # Inactive shelters too: an older run's sentence may name one (a neighbour's too).
    seen = session.execute(select(Shelter.id, Shelter.name, Shelter.confidential)).all()
    names: dict[str, str] = {sid: name for sid, name, _ in seen}
    confidential = {sid for sid, _, secret in seen if secret}
    capacity, free_by_shelter = _capacity(shelters, free_rooms(session, sorted(shelters_by_id)))
    freshness = _freshness(shelters, free_by_shelter, now, settings)
    expiring, holds, arrivals = _placements(
        session, shelters_by_id, names, now, audience == "admin", territory_id
    )
    summary = s.DashboardSummary(
        generated_at=now,
        settings=s.DashboardSettings(
            availability_ageing_hours=settings.availability_ageing_hours,
            availability_stale_hours=settings.availability_stale_hours,
            expiring_within_minutes=EXPIRING_WITHIN_MINUTES,
        ),
        capacity=capacity,
        freshness=freshness,
        waiting=_waiting(session, now, names),
        latest_run=_latest_run(session, names),
        expiring_holds=expiring,
        holds_total=holds,
        arrivals=arrivals,
        map=_map(freshness, shelters_by_id),
    )
    if audience != "viewer":
        return summary
    # A neighbour's confidential shelter holding one of this territory's households too.
    return for_viewer(summary, confidential)


def for_viewer(summary: s.DashboardSummary, confidential: set[str]) -> s.ViewerDashboardSummary:
    """The viewer's reduction of the summary (see ``ViewerDashboardSummary``)."""

    def where(sid: str, name: str) -> dict[str, str | None]:
        if sid in confidential:
            return {"shelter_id": None, "shelter_name": None}
        return {"shelter_id": sid, "shelter_name": name}

    run = summary.latest_run
    waiting = summary.waiting
    return s.ViewerDashboardSummary(
        generated_at=summary.generated_at,
        settings=summary.settings,
        capacity=summary.capacity,
        freshness=summary.freshness,
        waiting=s.ViewerWaiting(
            requests=waiting.requests,
            people=waiting.people,
            by_priority=waiting.by_priority,
            longest_first=[
                s.ViewerWaitingRequest(
                    priority=r.priority,
                    waiting_since=r.waiting_since,
                    waiting_minutes=r.waiting_minutes,
                    household_size=r.household_size,
                    unplaced_code=r.unplaced_code,
                    unplaced_reason=unplaced_reason(r.unplaced_code) if r.unplaced_code else None,
                )
                for r in waiting.longest_first
            ],
            list_limit=waiting.list_limit,
        ),
        latest_run=None
        if run is None
        else s.ViewerLatestRun(
            **run.model_dump(exclude={"unplaced"}),
            unplaced=[
                s.ViewerUnplacedRequest(
                    code=u.code,
                    reason=u.reason,
                    priority=u.priority,
                    household_size=u.household_size,
                )
                for u in run.unplaced
            ],
        ),
        expiring_holds=[
            s.ViewerHold(
                **where(h.shelter_id, h.shelter_name),
                expires_at=h.expires_at,
                minutes_left=h.minutes_left,
                household_size=h.household_size,
                priority=h.priority,
            )
            for h in summary.expiring_holds
        ],
        holds_total=summary.holds_total,
        arrivals=[
            s.ViewerArrival(
                **where(a.shelter_id, a.shelter_name),
                accepted_at=a.accepted_at,
                household_size=a.household_size,
                priority=a.priority,
            )
            for a in summary.arrivals
        ],
        map=summary.map,
    )
