from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, JSONType, UTCDateTime, new_id, utcnow


class ShelterKind(StrEnum):
    chu = "chu"  # centre d'hébergement d'urgence
    chrs = "chrs"  # centre d'hébergement et de réinsertion sociale
    dv_shelter = "dv_shelter"  # shelter for victims of domestic violence
    mother_child = "mother_child"
    hotel = "hotel"


class Shelter(Base):
    __tablename__ = "shelters"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("shl"))
    territory_id: Mapped[str] = mapped_column(ForeignKey("territories.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    women: Mapped[bool] = mapped_column(Boolean)
    men: Mapped[bool] = mapped_column(Boolean)
    children: Mapped[bool] = mapped_column(Boolean)
    max_boy_age: Mapped[int | None] = mapped_column(Integer)
    dv_specialised: Mapped[bool] = mapped_column(Boolean, default=False)
    secure: Mapped[bool] = mapped_column(Boolean, default=False)
    wheelchair: Mapped[bool] = mapped_column(Boolean, default=False)
    pets: Mapped[bool] = mapped_column(Boolean, default=False)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    address: Mapped[str | None] = mapped_column(String(500))
    commune: Mapped[str] = mapped_column(String(200))
    intake_phone: Mapped[str | None] = mapped_column(String(40))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    availability_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    rooms: Mapped[list[Room]] = relationship(
        back_populates="shelter", order_by="Room.label", cascade="all, delete-orphan"
    )


class Room(Base):
    """A room as the shelter declares it; what is free tonight is derived from it."""

    __tablename__ = "rooms"
    __table_args__ = (
        UniqueConstraint("shelter_id", "label"),
        CheckConstraint("beds >= 0", name="beds_not_negative"),
        CheckConstraint("cribs >= 0", name="cribs_not_negative"),
        CheckConstraint("occupied_beds >= 0", name="occupied_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("room"))
    shelter_id: Mapped[str] = mapped_column(
        ForeignKey("shelters.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(100))
    beds: Mapped[int] = mapped_column(Integer)
    cribs: Mapped[int] = mapped_column(Integer, default=0)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    sex: Mapped[str | None] = mapped_column(String(1))
    wheelchair: Mapped[bool] = mapped_column(Boolean, default=False)
    out_of_service: Mapped[bool] = mapped_column(Boolean, default=False)
    # People in the room who were not placed through Abri (walk-ins, long stays).
    occupied_beds: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    shelter: Mapped[Shelter] = relationship(back_populates="rooms")
