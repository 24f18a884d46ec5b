"""The audit log, read-only (``GET /api/v1/audit``, admin). Written by ``audit.service``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.audit.schemas import AuditEventOut, AuditPage
from app.auth.dependencies import AdminDep
from app.core.deps import SessionDep
from app.core.inputs import Offset, ServiceDatetime

router = APIRouter(tags=["audit"])


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="Who did what to which object, newest first (admin)",
    description="Append-only (on PostgreSQL a trigger refuses UPDATE and DELETE). No "
    "personal detail is ever written to it.",
)
def list_events(
    session: SessionDep,
    principal: AdminDep,
    action: Annotated[
        str | None, Query(max_length=60, description="Exact, or a prefix ending in '.'")
    ] = None,
    object_type: Annotated[str | None, Query(max_length=40)] = None,
    object_id: Annotated[str | None, Query(max_length=40)] = None,
    actor_token_id: Annotated[str | None, Query(max_length=40)] = None,
    actor_role: Annotated[str | None, Query(max_length=20)] = None,
    since: Annotated[ServiceDatetime | None, Query(description="At or after")] = None,
    until: Annotated[ServiceDatetime | None, Query(description="Before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> AuditPage:
    query = select(AuditEvent)
    if action:
        if action.endswith("."):
            query = query.where(AuditEvent.action.startswith(action, autoescape=True))
        else:
            query = query.where(AuditEvent.action == action)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    if actor_token_id:
        query = query.where(AuditEvent.actor_token_id == actor_token_id)
    if actor_role:
        query = query.where(AuditEvent.actor_role == actor_role)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset))
    return AuditPage(
        items=[AuditEventOut.model_validate(e, from_attributes=True) for e in rows],
        total=int(total),
        limit=limit,
        offset=offset,
    )
