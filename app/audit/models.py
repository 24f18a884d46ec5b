from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONType, UTCDateTime, utcnow


class AuditEvent(Base):
    """Append-only and hash-chained: who did what to which object, and when.

    Ids, actions and counts only: never personal detail or free text (README: Privacy).
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # Whose log it is in: the actor's territory (a run's: the run's); a national admin's
    # act, the territory acted upon (app.audit.service); null for a territory's deletion
    # and national tokens. Covered by chain_hash. No foreign key: the log outlives what it
    # records.
    territory_id: Mapped[str | None] = mapped_column(String(40), index=True)
    actor_token_id: Mapped[str | None] = mapped_column(String(40))
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(40), index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # SHA-256 over the previous event's hash and this event (app.audit.chain), set at commit.
    chain_hash: Mapped[str | None] = mapped_column(String(64), nullable=False)
