from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime, new_id, utcnow

# A territory's runs may use the shelters of the territories it lists here (directed: the
# Nord listing the Pas-de-Calais does not let the Pas-de-Calais use the Nord's shelters).
territory_neighbours = Table(
    "territory_neighbours",
    Base.metadata,
    Column(
        "territory_id",
        ForeignKey("territories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "neighbour_id",
        ForeignKey("territories.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Territory(Base):
    """A département's SIAO: its shelters, requests, runs, tokens and audit events."""

    __tablename__ = "territories"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ter"))
    # The département's code as clients name it: "59", "2A", "974".
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
