"""The append-only audit trail. Call ``record`` in the same transaction as the change.

The event is written, chained onto the log, when that transaction commits (``chain``).

Whose log an event is in: its actor's territory (a run's: the run's). A national admin
belongs to none, so its act is in the log of the territory it acted upon: the object's
(a shelter, room, request, placement, run or token), else the one it named with
``?territory=``; a list it read across territories is one event per territory, each with
that territory's ids. Only a territory's deletion and acts on national tokens belong to
none (the national log).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.auth.dependencies import Principal
from app.core.db import utcnow


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    object_type: str,
    object_id: str | None,
    detail: dict[str, Any] | None = None,
    *,
    territory_id: str | None = None,
) -> None:
    """``detail`` must never hold personal data (no household composition, no address).

    The event belongs to the actor's territory, or, for a national admin, to the territory
    it acted upon (the module's docstring); ``territory_id`` names it outright (a
    scheduled run: the run's territory; a territory's creation: that territory)."""
    if territory_id is None and actor is not None and actor.national:
        per_territory = _acted_upon(session, actor, object_type, object_id, detail)
    else:
        per_territory = {territory_id or (actor.territory_id if actor else None): detail}
    for territory, part in per_territory.items():
        session.add(
            AuditEvent(
                at=utcnow(),
                territory_id=territory,
                actor_token_id=actor.token_id if actor else None,
                actor_name=actor.name if actor else "abri",
                actor_role=actor.role.value if actor else "system",
                action=action,
                object_type=object_type,
                object_id=object_id,
                detail=part,
            )
        )


def _territory_column(object_type: str) -> tuple[Any, ColumnElement[str]] | None:
    """The territory column of an audited object type, and its id column."""
    from app.allocations.models import AllocationRun
    from app.auth.models import ApiToken
    from app.placements.models import Placement
    from app.requests.models import PlacementRequest
    from app.shelters.models import Room, Shelter

    models: dict[str, Any] = {
        "shelter": Shelter,
        "request": PlacementRequest,
        "placement_request": PlacementRequest,
        "placement": Placement,
        "allocation_run": AllocationRun,
        "token": ApiToken,
    }
    if object_type == "room":
        return Shelter.territory_id, Room.id
    model = models.get(object_type)
    return None if model is None else (model.territory_id, model.id)


def _acted_upon(
    session: Session,
    actor: Principal,
    object_type: str,
    object_id: str | None,
    detail: dict[str, Any] | None,
) -> dict[str | None, dict[str, Any] | None]:
    """A national admin's event, by the territory of what it acted upon."""
    from app.shelters.models import Room, Shelter
    from app.territories.scope import all_territories

    columns = _territory_column(object_type)
    ids = detail.get("ids") if detail and object_id is None else None
    wanted = [object_id] if object_id is not None else ids if isinstance(ids, list) else []
    if columns is None or not wanted:
        return {actor.territory_id: detail}
    territory, key = columns
    query = select(key, territory).where(key.in_(wanted))
    if object_type == "room":
        query = query.join(Shelter, Shelter.id == Room.shelter_id)
    found = {oid: t for oid, t in session.execute(all_territories(query))}
    if object_id is not None:
        return {found.get(object_id) or actor.territory_id: detail}
    grouped: dict[str | None, list[Any]] = defaultdict(list)
    for oid in wanted:
        grouped[found.get(oid) or actor.territory_id].append(oid)
    return {t: {**(detail or {}), "ids": part} for t, part in grouped.items()}


def record_refusal(
    actor: Principal, status: int, method: str, route: str, path_params: dict[str, str]
) -> None:
    """A refused attempt (403, or 404 on another shelter's object), in its own transaction.

    The object is the path's first id (``shelter_id`` → shelter), cut to the column's size.
    """
    from app.core.db import get_sessionmaker

    object_type, object_id = next(
        ((k.removesuffix("_id"), str(v)[:40]) for k, v in path_params.items()),
        ("endpoint", None),
    )
    with get_sessionmaker()() as session:
        record(
            session,
            actor,
            "access.refused",
            object_type[:40],
            object_id,
            {"status": status, "method": method, "route": route[:200]},
        )
        session.commit()


def refusals_by_token(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(AuditEvent.actor_token_id, func.count())
        .where(AuditEvent.action == "access.refused", AuditEvent.actor_token_id.is_not(None))
        .group_by(AuditEvent.actor_token_id)
    )
    return {token_id: int(n) for token_id, n in rows}
