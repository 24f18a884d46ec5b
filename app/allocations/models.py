from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONType, UTCDateTime, new_id, utcnow


class AllocationRun(Base):
    """One run of the engine over every pending request and every free room."""

    __tablename__ = "allocation_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("run"))
    territory_id: Mapped[str] = mapped_column(ForeignKey("territories.id"), index=True)
    # running | optimal | feasible | no_solution | failed
    status: Mapped[str] = mapped_column(String(20), index=True)
    trigger: Mapped[str] = mapped_column(String(20), default="api")  # api | schedule
    triggered_by: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # SHA-256 of the engine's problem: lets an audit replay the night.
    input_fingerprint: Mapped[str | None] = mapped_column(String(64))
    requests_considered: Mapped[int] = mapped_column(Integer, default=0)
    rooms_considered: Mapped[int] = mapped_column(Integer, default=0)
    objective: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    bound: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    unplaced: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    engine_wall_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(1000))
    # Bumped whenever one of this run's placements changes status: the dashboard's ETag
    # for ``/allocations/latest`` is (id, version), read with one indexed query.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class AllocationLock(Base):
    """One lease per territory: a territory's runs never overlap across workers and
    replicas, while runs of different territories go in parallel.

    Taken with a conditional UPDATE (atomic on SQLite and PostgreSQL alike) rather than a
    long transaction, so that the database is not blocked while the engine thinks."""

    __tablename__ = "allocation_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    territory_id: Mapped[str] = mapped_column(
        ForeignKey("territories.id", ondelete="CASCADE"), unique=True
    )
    holder: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
