"""Retention: household detail does not outlive its use.

A closed request (ended or cancelled) keeps its detail ``RETENTION_DAYS`` for follow-up and
audits, then its composition, needs, origin and safety fields (perpetrator zones, people to
keep apart) are erased; the row, its status, its dates and the SIAO's case reference stay,
so that statistics and the audit trail still add up. Stored idempotent replies carry the
same detail and are only useful for a client's retries: they go after a day. The unplaced
sentences of old allocation runs describe households too and are cut to their code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.allocations.models import AllocationRun
from app.audit.service import record
from app.core.db import utcnow
from app.core.idempotency_models import IdempotencyRecord
from app.requests.models import PlacementRequest

IDEMPOTENCY_KEEP = timedelta(days=1)


@dataclass(frozen=True)
class PurgeResult:
    requests: int
    idempotency_records: int
    runs: int


def purge_expired_detail(
    session: Session, retention_days: int, now: datetime | None = None
) -> PurgeResult:
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days)
    purged = session.execute(
        update(PlacementRequest)
        .where(
            PlacementRequest.closed_at.is_not(None),
            PlacementRequest.closed_at < cutoff,
            PlacementRequest.purged_at.is_(None),
        )
        .values(
            members=[],
            needs={},
            avoid=[],
            excluded_shelters=[],
            keep_apart=[],
            origin_lat=None,
            origin_lon=None,
            max_km=None,
            unplaced_detail=None,
            purged_at=now,
            version=PlacementRequest.version + 1,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    replies = session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - IDEMPOTENCY_KEEP)
    ).rowcount
    old_runs = list(
        session.scalars(
            select(AllocationRun).where(
                AllocationRun.finished_at.is_not(None), AllocationRun.finished_at < cutoff
            )
        )
    )
    scrubbed = 0
    for run in old_runs:
        if any("detail" in u for u in run.unplaced or []):
            run.unplaced = [{k: v for k, v in u.items() if k != "detail"} for u in run.unplaced]
            run.version += 1
            scrubbed += 1
    result = PurgeResult(purged or 0, replies or 0, scrubbed)
    if result.requests or result.runs:
        record(
            session,
            None,
            "retention.purge",
            "placement_request",
            None,
            {"requests": result.requests, "runs": result.runs, "retention_days": retention_days},
        )
    return result
