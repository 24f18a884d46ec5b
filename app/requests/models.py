from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONType, UTCDateTime, new_id, utcnow


class RequestStatus(StrEnum):
    pending = "pending"
    proposed = "proposed"
    accepted = "accepted"
    arrived = "arrived"
    ended = "ended"
    cancelled = "cancelled"


OPEN_STATUSES = (RequestStatus.pending, RequestStatus.proposed, RequestStatus.accepted)


class PlacementRequest(Base):
    """A household waiting for a bed. No names: the SIAO's reference, ages, sexes, needs."""

    __tablename__ = "placement_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("req"))
    territory_id: Mapped[str] = mapped_column(ForeignKey("territories.id"), index=True)
    # The SIAO's case number; null once purged (retention).
    reference: Mapped[str | None] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20), default=RequestStatus.pending, index=True)
    priority: Mapped[int] = mapped_column(Integer)
    waiting_since: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    origin_lat: Mapped[float | None] = mapped_column(Float)
    origin_lon: Mapped[float | None] = mapped_column(Float)
    max_km: Mapped[float | None] = mapped_column(Float)
    # Household detail, purged (set to null/empty) after the retention period once closed.
    members: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    needs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    avoid: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    excluded_shelters: Mapped[list[str]] = mapped_column(JSONType, default=list)
    keep_apart: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # Why the last allocation run left it without a bed (code and operator-facing sentence).
    unplaced_code: Mapped[str | None] = mapped_column(String(40))
    unplaced_detail: Mapped[str | None] = mapped_column(String(1000))
    last_allocation_id: Mapped[str | None] = mapped_column(
        ForeignKey("allocation_runs.id", ondelete="SET NULL")
    )
    created_by: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
