"""The append-only audit trail. Call ``record`` in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.auth.dependencies import Principal


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    object_type: str,
    object_id: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """``detail`` must never hold personal data (no household composition, no address)."""
    session.add(
        AuditEvent(
            actor_token_id=actor.token_id if actor else None,
            actor_name=actor.name if actor else "abri",
            actor_role=actor.role.value if actor else "system",
            action=action,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
        )
    )
