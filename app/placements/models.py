from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime, new_id, utcnow


class PlacementStatus(StrEnum):
    proposed = "proposed"
    accepted = "accepted"
    arrived = "arrived"
    ended = "ended"
    declined = "declined"
    expired = "expired"


# Statuses in which a placement holds or occupies its beds.
ACTIVE_STATUSES = (PlacementStatus.proposed, PlacementStatus.accepted, PlacementStatus.arrived)


class Placement(Base):
    __tablename__ = "placements"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("plc"))
    request_id: Mapped[str] = mapped_column(
        ForeignKey("placement_requests.id", ondelete="CASCADE"), index=True
    )
    # The request's territory, which may not be the shelter's (a neighbour's shelter).
    territory_id: Mapped[str] = mapped_column(ForeignKey("territories.id"), index=True)
    shelter_id: Mapped[str] = mapped_column(ForeignKey("shelters.id"), index=True)
    allocation_id: Mapped[str | None] = mapped_column(
        ForeignKey("allocation_runs.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default=PlacementStatus.proposed, index=True)
    km: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    source: Mapped[str] = mapped_column(String(20), default="allocation")  # allocation | manual
    created_by: Mapped[str | None] = mapped_column(String(200))
    decline_reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    rooms: Mapped[list[PlacementRoom]] = relationship(
        back_populates="placement", cascade="all, delete-orphan"
    )

    # At most one live placement per request, enforced by the database itself.
    __table_args__ = (
        Index(
            "uq_placements_one_active_per_request",
            "request_id",
            unique=True,
            postgresql_where=text("status IN ('proposed', 'accepted', 'arrived')"),
            sqlite_where=text("status IN ('proposed', 'accepted', 'arrived')"),
        ),
    )


class PlacementRoom(Base):
    """The beds a placement holds (proposed/accepted) or occupies (arrived) in one room."""

    __tablename__ = "placement_rooms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    placement_id: Mapped[str] = mapped_column(
        ForeignKey("placements.id", ondelete="CASCADE"), index=True
    )
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id"), index=True)
    shared: Mapped[bool] = mapped_column(Boolean)
    beds: Mapped[int] = mapped_column(Integer)
    # True while the placement holds or occupies the room; cleared when it frees the beds.
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    placement: Mapped[Placement] = relationship(back_populates="rooms")

    # A private room is held by at most one live placement: the last line of defence
    # against double booking, whatever the application code does.
    __table_args__ = (
        Index(
            "uq_placement_rooms_active_private_room",
            "room_id",
            unique=True,
            postgresql_where=text("active AND NOT shared"),
            sqlite_where=text("active AND NOT shared"),
        ),
    )
