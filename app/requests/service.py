"""Placement requests: create, read, cancel. Services flush; ``get_session`` commits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from allocation.models import ADULT_AGE
from app.audit.service import record
from app.auth.dependencies import Principal
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import ProblemError, not_found, validation_problem
from app.requests.models import OPEN_STATUSES, PlacementRequest, RequestStatus
from app.requests.schemas import RequestCreate, RequestOut, RequestUpdate
from app.shelters.models import Shelter

# A clock a few minutes ahead on the operator's PC must not make a request invalid.
FUTURE_TOLERANCE = timedelta(minutes=5)


def _waiting_since_errors(waiting_since: datetime | None) -> list[dict[str, Any]]:
    # Bounded in the past too: a typo'd year would put a household first in every queue.
    if waiting_since is None:
        return []
    now = utcnow()
    if waiting_since > now + FUTURE_TOLERANCE:
        return [{"loc": ["waiting_since"], "msg": "is in the future"}]
    max_days = get_settings().waiting_since_max_days
    if waiting_since < now - timedelta(days=max_days):
        return [{"loc": ["waiting_since"], "msg": f"is more than {max_days} days ago"}]
    return []


def check_request(session: Session, data: RequestCreate) -> None:
    """The checks that need the database or the whole household; 422 naming every field."""
    errors: list[dict[str, Any]] = []
    if not any(m.age >= ADULT_AGE for m in data.members):
        # Policy: a household of minors alone is not placed through the 115. Unaccompanied
        # minors are the département's child protection (ASE) duty, and no CHU/CHRS may take
        # them; accepting such a request would produce a "placement" no shelter can honour.
        errors.append(
            {
                "loc": ["members"],
                "msg": "a household needs at least one adult (18 or over); refer unaccompanied "
                "minors to child protection (ASE)",
            }
        )
    if data.excluded_shelters:
        known = set(
            session.scalars(select(Shelter.id).where(Shelter.id.in_(data.excluded_shelters)))
        )
        errors += [
            {"loc": ["excluded_shelters", j], "msg": f"unknown shelter {sid!r}"}
            for j, sid in enumerate(data.excluded_shelters)
            if sid not in known
        ]
    if data.keep_apart:
        wanted = [k.request_id for k in data.keep_apart]
        known = set(
            session.scalars(select(PlacementRequest.id).where(PlacementRequest.id.in_(wanted)))
        )
        errors += [
            {"loc": ["keep_apart", j, "request_id"], "msg": f"unknown request {rid!r}"}
            for j, rid in enumerate(wanted)
            if rid not in known
        ]
    errors += _waiting_since_errors(data.waiting_since)
    if errors:
        raise validation_problem(errors)


def new_request(
    data: RequestCreate, *, territory_id: str, waiting_since: datetime, created_by: str | None
) -> PlacementRequest:
    """The row for a validated household (the API and the demo loader both build it here)."""
    return PlacementRequest(
        territory_id=territory_id,
        reference=data.reference,
        status=RequestStatus.pending.value,
        priority=data.priority,
        waiting_since=waiting_since,
        origin_lat=data.origin.lat,
        origin_lon=data.origin.lon,
        max_km=data.max_km,
        members=[m.model_dump() for m in data.members],
        needs=data.needs.model_dump(),
        avoid=[a.model_dump() for a in data.avoid],
        excluded_shelters=list(data.excluded_shelters),
        keep_apart=[k.model_dump() for k in data.keep_apart],
        created_by=created_by,
        version=1,
    )


def create_request(session: Session, principal: Principal, data: RequestCreate) -> PlacementRequest:
    check_request(session, data)
    req = new_request(
        data,
        territory_id=principal.require_territory(),
        waiting_since=data.waiting_since or utcnow(),
        created_by=principal.token_id,
    )
    session.add(req)
    session.flush()
    # Priority and size are enough to follow the desk's activity; no composition, no places.
    record(
        session,
        principal,
        "request.create",
        "request",
        req.id,
        {"priority": req.priority, "people": len(req.members)},
    )
    return req


# What an amendment may change; everything else (status, waiting_since, …) stays as it is.
AMENDABLE = (
    "reference",
    "priority",
    "origin",
    "max_km",
    "members",
    "needs",
    "avoid",
    "excluded_shelters",
    "keep_apart",
)


def _as_create(req: PlacementRequest) -> dict[str, Any]:
    """The request as a creation body, to validate an amendment against the whole household."""
    out = request_out(req)
    return out.model_dump(mode="json", include=set(AMENDABLE))


def amend_request(
    session: Session, principal: Principal, req: PlacementRequest, data: RequestUpdate
) -> None:
    """Change a pending request in place: same id, same ``waiting_since``, version + 1."""
    if req.status != RequestStatus.pending.value:
        raise ProblemError(
            409,
            f"A request that is {req.status} cannot be amended (only pending ones): "
            "decline its proposal first, or cancel it and enter a new one.",
        )
    changed = sorted(data.model_fields_set & set(AMENDABLE))
    merged = RequestCreate.model_validate(
        {**_as_create(req), **data.model_dump(mode="json", include=set(changed))}
    )
    self_refs = [
        {"loc": ["keep_apart", j, "request_id"], "msg": "a household cannot be kept apart "
         "from itself"}
        for j, k in enumerate(merged.keep_apart)
        if k.request_id == req.id
    ]  # fmt: skip
    if self_refs:
        raise validation_problem(self_refs)
    check_request(session, merged)
    fresh = new_request(
        merged,
        territory_id=req.territory_id,
        waiting_since=req.waiting_since,
        created_by=req.created_by,
    )
    for name in ("reference", "priority", "origin_lat", "origin_lon", "max_km", "members",
                 "needs", "avoid", "excluded_shelters", "keep_apart"):  # fmt: skip
        setattr(req, name, getattr(fresh, name))
    # The last run's reason was about the household as it was.
    req.unplaced_code = req.unplaced_detail = None
    req.version += 1
    session.flush()
    # Which fields changed, never their values (composition and zones are sensitive).
    record(session, principal, "request.amend", "request", req.id, {"fields": changed})


def request_out(req: PlacementRequest) -> RequestOut:
    origin = (
        {"lat": req.origin_lat, "lon": req.origin_lon}
        if req.origin_lat is not None and req.origin_lon is not None
        else None
    )
    return RequestOut.model_validate(
        {
            "id": req.id,
            "reference": req.reference,
            "status": req.status,
            "priority": req.priority,
            "waiting_since": req.waiting_since,
            "origin": origin,
            "max_km": req.max_km,
            "members": req.members or [],
            "needs": req.needs or {},
            "avoid": req.avoid or [],
            "excluded_shelters": req.excluded_shelters or [],
            "keep_apart": req.keep_apart or [],
            "unplaced_code": req.unplaced_code,
            "unplaced_detail": req.unplaced_detail,
            "last_allocation_id": req.last_allocation_id,
            "version": req.version,
            "created_at": req.created_at,
            "updated_at": req.updated_at,
            "closed_at": req.closed_at,
            "purged": req.purged_at is not None,
        }
    )


def get_request(session: Session, request_id: str, *, for_update: bool = False) -> PlacementRequest:
    # for_update: a writer locks the row (PostgreSQL) so two cancels cannot both proceed.
    req = session.get(PlacementRequest, request_id, with_for_update=for_update or None)
    if req is None:
        raise not_found("request")
    return req


def list_requests(
    session: Session,
    *,
    statuses: list[RequestStatus] | None,
    reference: str | None,
    limit: int,
    offset: int,
) -> tuple[list[PlacementRequest], int]:
    """The queue as the desk reads it: most urgent first, then longest waiting."""
    query = select(PlacementRequest)
    if statuses:
        query = query.where(PlacementRequest.status.in_([s.value for s in statuses]))
    if reference:
        query = query.where(PlacementRequest.reference == reference)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(
            PlacementRequest.priority.desc(),
            PlacementRequest.waiting_since,
            PlacementRequest.id,
        )
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total)


def release_live_placements(session: Session, request_id: str, reason: str) -> list[str]:
    """Free the request's live placements' beds; returns their ids.

    One implementation of "free a placement's beds" for every path (decline, expiry, end,
    cancel): ``app.placements.service.release_live_placements``.
    """
    from app.placements.service import release_live_placements as release

    return release(session, request_id, reason)


def cancel_request(session: Session, principal: Principal, req: PlacementRequest) -> None:
    if req.status not in {s.value for s in OPEN_STATUSES}:
        raise ProblemError(
            409,
            f"A request that is {req.status} cannot be cancelled "
            "(only pending, proposed or accepted ones).",
        )
    released = release_live_placements(session, req.id, "request cancelled")
    now = utcnow()
    req.status = RequestStatus.cancelled.value
    req.closed_at = now
    req.version += 1
    session.flush()
    # A count, not the placements' ids: no audit event joins a request to a placement (and
    # so to a shelter); once retention deletes the placement nothing does (README: Privacy).
    detail = {"placements_declined": len(released)}
    record(session, principal, "request.cancel", "request", req.id, detail)
