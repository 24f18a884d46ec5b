from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JSONType, UTCDateTime, new_id, utcnow

# The statuses of a run that is not over: at most one per territory (the index below).
ACTIVE_STATUSES = ("queued", "running")
_ACTIVE_SQL = text("status IN ('queued', 'running')")


class AllocationRun(Base):
    """One run of the engine over every pending request and every free room.

    The row is also the run's job (``app.allocations.queue``): ``queued`` until a worker
    claims it, ``running`` while that worker (``claimed_by``, which holds the territory's
    lease) works, then its result or ``failed``."""

    __tablename__ = "allocation_runs"
    # One run of a territory queued or running at a time, whoever enqueued it: the database
    # refuses a second (409), across web workers, replicas and the scheduler.
    __table_args__ = (
        Index(
            "ix_allocation_runs_one_active",
            "territory_id",
            unique=True,
            postgresql_where=_ACTIVE_SQL,
            sqlite_where=_ACTIVE_SQL,
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("run"))
    territory_id: Mapped[str] = mapped_column(ForeignKey("territories.id"), index=True)
    # queued | running | optimal | feasible | no_solution | failed
    status: Mapped[str] = mapped_column(String(20), index=True)
    trigger: Mapped[str] = mapped_column(String(20), default="api")  # api | schedule
    triggered_by: Mapped[str | None] = mapped_column(String(200))
    # When a worker started it (until then: when it was queued).
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # When it (last) entered the queue: enqueued, or re-queued after its worker died.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How many workers claimed it; a worker's death re-queues it while attempts are left.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The lease holder of the worker running it (host:pid:nonce); kept once it is over.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
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
