"""The append-only audit trail. Call ``record`` in the same transaction as the change.

The event is written, chained onto the log, when that transaction commits (``chain``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
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

    The event belongs to the actor's territory; ``territory_id`` names it when there is no
    actor (a scheduled run: the run's territory)."""
    session.add(
        AuditEvent(
            at=utcnow(),
            territory_id=territory_id or (actor.territory_id if actor else None),
            actor_token_id=actor.token_id if actor else None,
            actor_name=actor.name if actor else "abri",
            actor_role=actor.role.value if actor else "system",
            action=action,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
        )
    )


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
