"""Retention: household detail does not outlive its use.

A closed request (ended or cancelled) keeps its detail ``RETENTION_DAYS`` for follow-up and
audits. Then its case reference, composition, needs, origin, km limit and safety fields
(perpetrator zones, people to keep apart) are erased, and its placements are deleted: they
held the km, the decline reasons (free text) and, above all, the one link between the
household and a shelter, which is also what the runs that proposed it showed. The row, its
status and its dates stay, so that statistics still add up; the audit log never held any of
this (README: Privacy). Stored idempotent replies carry the same detail and are only useful
for a client's retries: they go after a day. The unplaced sentences of old allocation runs
describe households too and are cut to their code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.allocations.models import AllocationRun
from app.audit.service import record
from app.core.db import utcnow
from app.core.idempotency_models import IdempotencyRecord
from app.placements.models import ACTIVE_STATUSES, Placement
from app.requests.models import PlacementRequest

IDEMPOTENCY_KEEP = timedelta(days=1)
# Requests purged per statement (bounded IN lists).
_CHUNK = 500


@dataclass(frozen=True)
class PurgeResult:
    requests: int
    idempotency_records: int
    runs: int
    placements: int = 0


def _expired_requests(session: Session, cutoff: datetime) -> list[str]:
    return list(
        session.scalars(
            select(PlacementRequest.id)
            .where(
                PlacementRequest.closed_at.is_not(None),
                PlacementRequest.closed_at < cutoff,
                PlacementRequest.purged_at.is_(None),
            )
            .order_by(PlacementRequest.id)
        )
    )


def _without_sentences(run: AllocationRun, request_ids: set[str] | None = None) -> bool:
    """Cut the unplaced sentences (of these requests, or all); True if any was cut."""
    unplaced = run.unplaced or []
    cut = [
        {k: v for k, v in u.items() if k != "detail"}
        if request_ids is None or u.get("request_id") in request_ids
        else u
        for u in unplaced
    ]
    if cut == unplaced:
        return False
    run.unplaced = cut
    run.version += 1
    return True


def _unlink_runs(session: Session, chunk: Sequence[str]) -> None:
    """The runs that judged these requests: sentences cut, and a new version for those that
    proposed them (their document, and its ETag, no longer shows the proposals)."""
    last_runs = select(PlacementRequest.last_allocation_id).where(PlacementRequest.id.in_(chunk))
    for run in session.scalars(select(AllocationRun).where(AllocationRun.id.in_(last_runs))):
        _without_sentences(run, set(chunk))
    session.flush()
    proposing = select(Placement.allocation_id).where(
        Placement.request_id.in_(chunk), Placement.allocation_id.is_not(None)
    )
    session.execute(
        update(AllocationRun)
        .where(AllocationRun.id.in_(proposing))
        .values(version=AllocationRun.version + 1)
        .execution_options(synchronize_session=False)
    )


def _erase_detail(session: Session, chunk: Sequence[str], now: datetime) -> None:
    session.execute(
        update(PlacementRequest)
        .where(PlacementRequest.id.in_(chunk))
        .values(
            reference=None,
            members=[],
            needs={},
            avoid=[],
            excluded_shelters=[],
            keep_apart=[],
            origin_lat=None,
            origin_lon=None,
            max_km=None,
            unplaced_detail=None,
            last_allocation_id=None,
            purged_at=now,
            version=PlacementRequest.version + 1,
        )
        .execution_options(synchronize_session=False)
    )


def _delete_placements(session: Session, chunk: Sequence[str]) -> int:
    """Their km, decline reasons and the household-to-shelter link (rooms go by cascade)."""
    done = Placement.status.not_in([s.value for s in ACTIVE_STATUSES])  # all, once closed
    deleted = session.execute(
        delete(Placement)
        .where(Placement.request_id.in_(chunk), done)
        .execution_options(synchronize_session=False)
    )
    return deleted.rowcount or 0


def _erase_requests(session: Session, ids: Sequence[str], now: datetime) -> int:
    placements = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        _unlink_runs(session, chunk)
        _erase_detail(session, chunk, now)
        placements += _delete_placements(session, chunk)
    return placements


def _cut_run_sentences(session: Session, cutoff: datetime) -> int:
    old_runs = session.scalars(
        select(AllocationRun).where(
            AllocationRun.finished_at.is_not(None), AllocationRun.finished_at < cutoff
        )
    )
    return sum(_without_sentences(run) for run in old_runs)


def purge_expired_detail(
    session: Session, retention_days: int, now: datetime | None = None
) -> PurgeResult:
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days)
    expired = _expired_requests(session, cutoff)
    placements = _erase_requests(session, expired, now)
    replies = session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - IDEMPOTENCY_KEEP)
    ).rowcount
    result = PurgeResult(
        len(expired), replies or 0, _cut_run_sentences(session, cutoff), placements
    )
    if result.requests or result.runs:
        record(
            session,
            None,
            "retention.purge",
            "placement_request",
            None,
            {
                "requests": result.requests,
                "placements": result.placements,
                "runs": result.runs,
                "retention_days": retention_days,
            },
        )
    return result
