"""The run queue: the ``allocation_runs`` row is the job.

- **Enqueue** (``POST /allocations``, the scheduler): one INSERT of a ``queued`` run. The
  partial unique index ``ix_allocation_runs_one_active`` allows one queued or running run
  per territory, so a second one is refused by the database whoever asks (409).
- **Claim** (a worker): the oldest queued run, ``SELECT … FOR UPDATE SKIP LOCKED`` on
  PostgreSQL (two workers never get the same row and never wait for each other; SQLite's
  ``BEGIN IMMEDIATE`` serialises them), and in the same transaction its territory's lease
  (``allocation_lock``) for the worker's holder name: the run becomes ``running`` with
  ``claimed_by`` = that holder and ``attempts`` + 1. A worker is alive as long as its lease
  is renewed (the heartbeat of ``app.allocations.service``).
- **Recover** (every worker and web process, every few seconds): a ``running`` run whose
  lease lapsed belongs to a dead worker. Under the lease, it is re-queued while it has
  attempts left (``ALLOCATION_MAX_ATTEMPTS``), else failed with why. A run queued longer
  than ``ALLOCATION_QUEUE_TIMEOUT_S`` (no worker took it) is failed.
- **Wake-ups**: PostgreSQL ``NOTIFY abri_runs`` at each enqueue (workers ``LISTEN``), an
  in-process event for a worker thread of the same process, and a short poll behind both.

Why the run row and not a task-queue library (procrastinate): see docs/architecture.md.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.allocations import service
from app.allocations.models import ACTIVE_STATUSES, AllocationLock, AllocationRun
from app.audit.service import record
from app.auth.dependencies import Principal
from app.core.config import Settings
from app.core.db import get_sessionmaker, utcnow

log = structlog.get_logger(__name__)

QUEUED = "queued"
RUNNING = service.RUNNING
FAILED = service.FAILED
CHANNEL = "abri_runs"

# Wakes a worker thread of this process at once when this process enqueues; set by
# enqueue and re-queue, cleared by the worker that wakes.
wakeup = threading.Event()
# Notified when a worker of this process finishes a run: a waiting POST answers at once.
finished = threading.Condition()


class RunActiveError(Exception):
    """A run of that territory is already queued or running."""

    def __init__(self, run_id: str | None) -> None:
        super().__init__(run_id)
        self.run_id = run_id


@dataclass(frozen=True)
class Claimed:
    run_id: str
    territory_id: str
    holder: str


def notify(session: Session) -> None:
    """Tell listening workers there is work (delivered at commit; PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


def _active_run(territory_id: str) -> str | None:
    with get_sessionmaker()() as s:
        return s.scalar(
            select(AllocationRun.id).where(
                AllocationRun.territory_id == territory_id,
                AllocationRun.status.in_(ACTIVE_STATUSES),
            )
        )


def enqueue(settings: Settings, actor: Principal | None, trigger: str, territory_id: str) -> str:
    """A queued run of the territory; its id. ``RunActiveError`` if one is queued or
    running (after failing or re-queueing one a dead worker left behind)."""
    if _active_run(territory_id) is not None:
        recover(settings, territory_id)  # a dead worker's run must not block the desk
        active = _active_run(territory_id)
        if active is not None:
            raise RunActiveError(active)
    now = utcnow()
    try:
        with get_sessionmaker()() as s, s.begin():
            run = AllocationRun(
                territory_id=territory_id,
                status=QUEUED,
                trigger=trigger,
                triggered_by=actor.name if actor else "abri",
                started_at=now,
                queued_at=now,
                attempts=0,
                unplaced=[],
            )
            s.add(run)
            s.flush()  # the unique index speaks here
            run_id = run.id
            detail = {"trigger": trigger}
            record(s, actor, "allocation.queued", "allocation_run", run_id, detail,
                   territory_id=territory_id)  # fmt: skip
            notify(s)
    except IntegrityError:
        raise RunActiveError(_active_run(territory_id)) from None
    wakeup.set()
    service.forget_latest()
    return run_id


# --- claiming ---------------------------------------------------------------------------------


def _take_lease_in(s: Session, holder: str, territory_id: str) -> bool:
    """The territory's lease in the caller's transaction (the claim's)."""
    if (
        s.scalar(select(AllocationLock.id).where(AllocationLock.territory_id == territory_id))
        is None
    ):
        service.insert_lock_row(s, territory_id)
    return service.take_lease_stmt(s, holder, territory_id)


def claim(holder: str) -> Claimed | None:
    """The oldest queued run this worker may start now, claimed for ``holder``; None if none.

    A queued run whose territory's lease is held (briefly, by a recovery sweep, or by a
    stalled run being failed) is left for the next look; others are tried meanwhile."""
    held: set[str] = set()
    for _ in range(8):
        with get_sessionmaker()() as s, s.begin():
            q = select(AllocationRun).where(AllocationRun.status == QUEUED)
            if held:
                q = q.where(AllocationRun.territory_id.notin_(held))
            run = s.scalars(
                q.order_by(AllocationRun.queued_at, AllocationRun.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if run is None:
                return None
            if not _take_lease_in(s, holder, run.territory_id):
                held.add(run.territory_id)
                continue
            run.status = RUNNING
            run.claimed_by = holder
            run.attempts += 1
            run.started_at = utcnow()
            run.version += 1
            claimed = Claimed(run.id, run.territory_id, holder)
        service.forget_latest()
        return claimed
    return None


# --- recovery -----------------------------------------------------------------------------------

DEAD_WORKER = "abandoned: its worker stopped (killed, or lost the database) before the run finished"


def _requeue_or_fail(s: Session, run: AllocationRun, settings: Settings) -> str:
    reason = service.unrecorded_reason(run.id) or DEAD_WORKER
    if run.attempts < settings.allocation_max_attempts:
        run.status = QUEUED
        run.claimed_by = None
        run.queued_at = utcnow()
        run.version += 1
        detail = {"reason": reason[:200], "attempts": run.attempts}
        record(s, None, "allocation.requeued", "allocation_run", run.id, detail,
               territory_id=run.territory_id)  # fmt: skip
        notify(s)
        log.warning("allocation_requeued", run_id=run.id, attempts=run.attempts)
        return "requeued"
    tries = f"; tried {run.attempts} time(s), none of its proposals were written"
    service.fail_run(s, run, reason + tries, None)
    log.warning("allocation_abandoned", run_id=run.id, attempts=run.attempts)
    return "failed"


def _recover_territory(settings: Settings, territory_id: str) -> int:
    holder = service.new_holder()
    if not service.acquire_lease(holder, service.lease_ttl(), territory_id=territory_id):
        return 0  # a live worker holds it: its run is not abandoned
    try:
        with get_sessionmaker()() as s, s.begin():
            # Under the lease, a run still running has no live worker.
            runs = s.scalars(
                select(AllocationRun)
                .where(AllocationRun.status == RUNNING, AllocationRun.territory_id == territory_id)
                .order_by(AllocationRun.id)
                .with_for_update()
            ).all()
            outcomes = [_requeue_or_fail(s, run, settings) for run in runs]
    finally:
        service.release_quietly(holder)
    if outcomes:
        service.forget_latest()
        if "requeued" in outcomes:
            wakeup.set()
    return len(outcomes)


def _expire_queued(settings: Settings) -> int:
    """Fail the runs no worker took within ALLOCATION_QUEUE_TIMEOUT_S."""
    cutoff = utcnow() - timedelta(seconds=settings.allocation_queue_timeout_s)
    with get_sessionmaker()() as s, s.begin():
        runs = s.scalars(
            select(AllocationRun)
            .where(AllocationRun.status == QUEUED, AllocationRun.queued_at < cutoff)
            .order_by(AllocationRun.id)
            .with_for_update(skip_locked=True)
        ).all()
        for run in runs:
            reason = (
                f"not started: no worker took it within {settings.allocation_queue_timeout_s:.0f}"
                " s (is a 'python -m app worker' process running?); nothing was written"
            )
            service.fail_run(s, run, reason, None)
    if runs:
        service.forget_latest()
    return len(runs)


def recover(settings: Settings, territory_id: str | None = None) -> int:
    """Re-queue or fail the runs dead workers left ``running``, fail the runs queued too
    long; how many. Cheap when there is nothing (indexed queries); every worker and web
    process calls it every few seconds."""
    service.mark_unrecorded()
    with get_sessionmaker()() as s:
        q = select(AllocationRun.territory_id).where(AllocationRun.status == RUNNING)
        if territory_id is not None:
            q = q.where(AllocationRun.territory_id == territory_id)
        territories = list(s.scalars(q.distinct().order_by(AllocationRun.territory_id)))
    count = sum(_recover_territory(settings, tid) for tid in territories)
    return count + _expire_queued(settings)


# --- waiting for a run ----------------------------------------------------------------------------

WAIT_POLL_S = 0.2


def status_of(run_id: str) -> str | None:
    with get_sessionmaker()() as s:
        return s.scalar(select(AllocationRun.status).where(AllocationRun.id == run_id))


def wait_finished(run_id: str, timeout_s: float) -> str | None:
    """The run's final status once it is over, or None if it is still queued or running
    after ``timeout_s``. Polls the row (a worker of another process); a worker of this
    process wakes the wait at once."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = status_of(run_id)
        if status is not None and status not in ACTIVE_STATUSES:
            return status
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        with finished:
            finished.wait(min(WAIT_POLL_S, left))


def announce_finished() -> None:
    with finished:
        finished.notify_all()
