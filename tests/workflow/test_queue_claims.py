"""Two worker processes on PostgreSQL share one queue: each run is claimed exactly once
(``FOR UPDATE SKIP LOCKED``) and nothing is left queued or running."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.allocations import queue
from app.allocations.models import AllocationRun
from app.audit.models import AuditEvent
from app.core.config import get_settings
from app.core.db import get_sessionmaker
from app.territories.service import create_territory
from tests.workflow.procs import start_app, stop, wait_for

pytestmark = pytest.mark.postgres

TERRITORIES = 60
ROUNDS = 2


def _over() -> bool:
    with get_sessionmaker()() as s:
        left = s.scalar(
            select(func.count())
            .select_from(AllocationRun)
            .where(AllocationRun.status.in_(queue.ACTIVE_STATUSES))
        )
    return left == 0


def test_two_workers_never_claim_the_same_run(session, migrated_database, tmp_path: Path) -> None:
    # Territories with nothing to plan: runs are claimed and finished in milliseconds, so
    # the two workers race for the queue all the time.
    territories = [create_territory(session, f"T{i:02d}", f"Test {i}") for i in range(TERRITORIES)]
    session.commit()
    ids = [t.id for t in territories]
    session.close()
    log = tmp_path / "workers.log"
    workers = [start_app(["worker"], migrated_database, log) for _ in range(2)]
    run_ids: list[str] = []
    try:
        for _ in range(ROUNDS):
            run_ids += [queue.enqueue(get_settings(), None, "api", tid) for tid in ids]
            assert wait_for(_over, 300), log.read_text()[-3000:]
    finally:
        codes = [stop(w, signal.SIGTERM, 60) for w in workers]
    assert codes == [0, 0]
    with get_sessionmaker()() as s:
        runs = s.scalars(select(AllocationRun).where(AllocationRun.id.in_(run_ids))).all()
        starts = dict(
            s.execute(
                select(AuditEvent.object_id, func.count())
                .where(AuditEvent.action == "allocation.started")
                .group_by(AuditEvent.object_id)
            ).all()
        )
    assert len(runs) == TERRITORIES * ROUNDS
    assert {r.status for r in runs} == {"optimal"}
    # Claimed once each: one attempt, one start, by one of the two workers.
    assert {r.attempts for r in runs} == {1}
    assert all(starts.get(r.id) == 1 for r in runs), starts
    pids = {int((r.claimed_by or "::").split(":")[1]) for r in runs}
    assert pids <= {w.pid for w in workers}
