"""Allocation runs: the lease, the run itself, and reading runs back.

A run is a job (``app.allocations.queue``): enqueued as ``queued``, claimed by a worker
process (``app.allocations.worker``) together with its territory's lease. The worker then
runs it here as several short transactions, never one long one, so the database is not
blocked while the engine thinks:

1. the lease (one ``allocation_lock`` row per territory, taken at the claim), short-lived
   and renewed every few seconds by a heartbeat thread while the run works; runs of
   different territories hold different rows and go in parallel;
2. expire overdue holds and record the start: committed;
3. build the problem (read only) and solve it in the engine's own process
   (``app.allocations.runner``), killed at its bound;
4. in ONE transaction: check the lease is still ours (and keep it locked), lock the requests
   and rooms concerned, re-check that every proposal is still possible (anything that
   changed meanwhile is skipped, never double-booked), write the placements and the run's
   results, release the lease: one commit.
5. Any failure marks the run ``failed`` with its reason and releases the lease in one
   transaction; if the database is away, the worker marks it once it is back. A worker that
   dies leaves its run ``running`` under a lease that lapses: the queue's recovery re-queues
   or fails it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import allocation
from allocation.rules import keep_apart_ok
from app.allocations import runner
from app.allocations.models import ACTIVE_STATUSES, AllocationLock, AllocationRun
from app.allocations.problem import BuiltProblem, build_problem, live_placement_shelters
from app.allocations.schemas import Audience, unplaced_reason
from app.audit.service import record
from app.auth.dependencies import Principal
from app.core.config import Settings
from app.core.db import get_sessionmaker, utcnow
from app.core.http import version_etag
from app.core.locks import lock_requests, lock_run, lock_shelters_to_place
from app.placements.models import Placement, PlacementRoom
from app.placements.service import create_placement, expire_holds, hold_deadline
from app.requests.models import PlacementRequest, RequestStatus
from app.shelters.capacity import free_rooms
from app.shelters.models import Shelter
from app.shelters.service import exact_km

log = structlog.get_logger(__name__)

QUEUED = "queued"
RUNNING = "running"
FAILED = "failed"

# The lease outlives its holder by at most LEASE_TTL_S: a worker killed mid-run blocks the
# next run for that long, whatever the engine's time limit. The heartbeat renews it well
# before (a few missed beats, e.g. a slow database, do not lose it).
LEASE_TTL_S = 30.0
HEARTBEAT_S = 5.0


class LeaseLostError(Exception):
    """The lease lapsed and another holder took it while this run worked."""


class RunFailedError(Exception):
    def __init__(self, run_id: str | None, message: str) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.message = message


# --- the lease ----------------------------------------------------------------------------


def solve_bound_s(settings: Settings) -> float:
    """Wall-clock bound on waiting for the engine. The engine caps itself at its time limit
    in every mode (deterministic included); this is the safety net should it overrun."""
    return 2 * settings.allocation_time_limit_s + 5


def lease_ttl() -> timedelta:
    return timedelta(seconds=LEASE_TTL_S)


def new_holder() -> str:
    """Who holds the lease: host and pid say which worker, for an operator reading the row."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def insert_lock_row(session: Session, territory_id: str) -> None:
    """Create the territory's lease row if missing; a concurrent creator is not an error."""
    dialect = session.get_bind().dialect.name
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(AllocationLock)
    session.execute(
        ins.values(
            territory_id=territory_id, holder=None, locked_until=None
        ).on_conflict_do_nothing(index_elements=["territory_id"])
    )


def acquire_lease(
    holder: str, ttl: timedelta, now: datetime | None = None, *, territory_id: str
) -> bool:
    """Take the territory's run lease with one atomic conditional UPDATE (race-safe across
    processes)."""
    with get_sessionmaker()() as session, session.begin():
        if take_lease_stmt(session, holder, territory_id, ttl, now):
            return True
        row = select(AllocationLock.id).where(AllocationLock.territory_id == territory_id)
        if session.scalar(row) is not None:
            return False
        insert_lock_row(session, territory_id)
        return take_lease_stmt(session, holder, territory_id, ttl, now)


def take_lease_stmt(
    session: Session,
    holder: str,
    territory_id: str,
    ttl: timedelta | None = None,
    now: datetime | None = None,
) -> bool:
    """The conditional UPDATE that takes a free or lapsed lease, in the caller's
    transaction (the queue's claim takes it with the run it claims)."""
    now = now or utcnow()
    stmt = (
        update(AllocationLock)
        .where(
            AllocationLock.territory_id == territory_id,
            (AllocationLock.locked_until.is_(None)) | (AllocationLock.locked_until < now),
        )
        .values(holder=holder, locked_until=now + (ttl or lease_ttl()))
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(stmt).rowcount == 1)


def renew_lease(holder: str, session: Session | None = None) -> bool:
    """Push the lease's end LEASE_TTL_S ahead if ``holder`` still has it; False if not.

    A holder is unique (``new_holder``), so it names its territory's row. In a caller's
    transaction the lease row stays locked until it ends: no one can take the lease over
    while that transaction writes."""
    stmt = (
        update(AllocationLock)
        .where(AllocationLock.holder == holder)
        .values(locked_until=utcnow() + lease_ttl())
        .execution_options(synchronize_session=False)
    )
    if session is not None:
        return session.execute(stmt).rowcount == 1
    with get_sessionmaker()() as own, own.begin():
        return own.execute(stmt).rowcount == 1


def release_lease(holder: str, session: Session | None = None) -> None:
    """Clear the lease if ``holder`` has it (in the caller's transaction, if given: a run's
    result or failure and the lease's release are one commit)."""
    stmt = (
        update(AllocationLock)
        .where(AllocationLock.holder == holder)
        .values(holder=None, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    if session is not None:
        session.execute(stmt)
        return
    with get_sessionmaker()() as own, own.begin():
        own.execute(stmt)


def release_quietly(holder: str) -> bool:
    # The database may be the reason the run failed: the lease then lapses by itself, or is
    # released once the database is back (_settle_when_back).
    try:
        release_lease(holder)
        return True
    except Exception as exc:
        log.warning("lease_release_failed", holder=holder, error=type(exc).__name__)
        return False


class Heartbeat:
    """Renews the lease every HEARTBEAT_S in its own thread while a run works.

    ``lost`` is set when another holder has the lease (this one lapsed): the run must stop
    and write nothing. A renewal the database cannot answer is retried at the next beat."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="abri-lease", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                if not renew_lease(self.holder):
                    log.warning("lease_lost", holder=self.holder)
                    self.lost.set()
                    return
            except Exception as exc:
                log.warning("lease_renew_failed", holder=self.holder, error=type(exc).__name__)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        # A renewal stuck on an unreachable database ends on its own; the run does not wait.
        self._thread.join(timeout=1.0)


# --- runs left behind ---------------------------------------------------------------------

# Runs this worker could not mark failed (the database was away), with their reason: marked
# once it is back (this worker's settle thread, the recovery sweep).
_unrecorded: dict[str, tuple[str, str | None]] = {}
_unrecorded_lock = threading.Lock()


def unrecorded_reason(run_id: str) -> str | None:
    with _unrecorded_lock:
        found = _unrecorded.get(run_id)
        return found[0] if found else None


def fail_run(session: Session, run: AllocationRun, reason: str, actor: Principal | None) -> None:
    run.status = FAILED
    run.finished_at = utcnow()
    run.error = reason[:1000]
    run.version += 1
    record(
        session,
        actor,
        "allocation.failed",
        "allocation_run",
        run.id,
        {"reason": reason[:200]},
        territory_id=run.territory_id,
    )


# While the database is away, a failed run's worker retries this often, for this long.
SETTLE_EVERY_S = 1.0
SETTLE_FOR_S = 600.0


def mark_unrecorded() -> bool:
    """Mark failed the runs this worker could not; True when none is left."""
    with _unrecorded_lock:
        pending = dict(_unrecorded)
    for run_id, (reason, holder) in pending.items():
        if _mark_failed(run_id, holder, reason):
            with _unrecorded_lock:
                _unrecorded.pop(run_id, None)
    with _unrecorded_lock:
        return not _unrecorded


def _settle_when_back(holder: str | None) -> None:
    """In a thread: once the database answers again, mark this worker's unrecorded runs
    failed, then release the lease it could not (so the next run need not wait for it to
    lapse). Releasing is safe late: it only clears a lease still held by ``holder``."""

    def settle() -> None:
        released = holder is None
        deadline = time.monotonic() + SETTLE_FOR_S
        while time.monotonic() < deadline:
            time.sleep(SETTLE_EVERY_S)
            marked = mark_unrecorded()
            if marked and not released and holder is not None:
                released = release_quietly(holder)
            if marked and released:
                log.info("allocation_failure_settled", holder=holder)
                return

    threading.Thread(target=settle, name="abri-settle", daemon=True).start()


# --- the run --------------------------------------------------------------------------------


@dataclass
class WriteResult:
    proposals: int
    skipped_rooms_taken: int
    skipped_request_changed: int
    skipped_keep_apart: int


def _solve_bounded(
    problem: allocation.Problem, bound_s: float, heartbeat: Heartbeat
) -> allocation.Plan:
    """``allocation.solve`` in the engine's own process, waited for at most ``bound_s`` and
    killed then, or as soon as the lease is lost: nothing of the engine outlives its run."""
    if not problem.households:
        return allocation.Plan(
            status="optimal",
            assignments=[],
            unplaced=[],
            objective=allocation.Objective(people_placed_by_priority={}),
            bound=allocation.Bound(people_placed_by_priority={}),
            stats=allocation.Stats(wall_s=0.0, solver="none"),
        )
    try:
        return runner.get_runner().solve(problem, bound_s, cancelled=heartbeat.lost.is_set)
    except runner.EngineCancelledError as exc:
        if heartbeat.lost.is_set():
            raise LeaseLostError from exc
        raise


def _write_plan(
    session: Session,
    run: AllocationRun,
    built: BuiltProblem,
    plan: allocation.Plan,
    settings: Settings,
    triggered_by: str | None,
) -> WriteResult:
    """Proposals and unplaced reasons, in the caller's transaction, with rows locked."""
    now = utcnow()
    assignments = list(plan.assignments)
    placed_ids = [a.household for a in assignments]
    partners = {rid: built.partners.get(rid, {}) for rid in placed_ids}
    partner_ids = {p for ps in partners.values() for p in ps}
    # The lock order of every writer (app.core.locks): requests (the unplaced too: their
    # reasons are written below), then the shelters and rooms proposed, then this run.
    unplaced_ids = {u.household for u in plan.unplaced} | set(built.left_out)
    locked = lock_requests(session, set(placed_ids) | partner_ids | unplaced_ids)
    shelter_ids = sorted({a.shelter for a in assignments})
    lock_shelters_to_place(session, shelter_ids)
    free = (
        {r.room_id: r for r in free_rooms(session, shelter_ids, for_update=True)}
        if shelter_ids
        else {}
    )
    lock_run(session, run.id)
    live_partner_at: dict[str, str] = {}
    if partner_ids:
        live_partner_at = live_placement_shelters(session, partner_ids)
    engine_shelters = {s.id: s for s in built.problem.shelters}
    shared_left = {rid: r.beds for rid, r in free.items() if r.shared}
    private_taken: set[str] = set()
    placed_at: dict[str, str] = {}
    result = WriteResult(0, 0, 0, 0)
    expires_at = hold_deadline(now, settings.hold_minutes)
    for a in assignments:
        req = locked.get(a.household)
        # Amended during the solve (another composition): the plan was for another household.
        read = built.requests.get(a.household)
        if (
            req is None
            or req.status != RequestStatus.pending
            or (read is not None and req.version != read.version)
        ):
            result.skipped_request_changed += 1
            continue
        people = len(req.members or [])
        rooms = [free.get(rid) for rid in a.rooms]
        ok = bool(rooms) and all(r is not None and r.shelter_id == a.shelter for r in rooms)
        if ok:
            for r in rooms:
                assert r is not None
                if r.shared and shared_left.get(r.room_id, 0) < people:
                    ok = False
                if not r.shared and r.room_id in private_taken:
                    ok = False
        if not ok:
            result.skipped_rooms_taken += 1
            continue
        # Rule 8 against partners placed since the problem was read (manual placements).
        unsafe = False
        for other, km in partners.get(req.id, {}).items():
            sid = placed_at.get(other) or live_partner_at.get(other)
            if sid is None or sid not in engine_shelters:
                continue
            if not keep_apart_ok(engine_shelters[a.shelter], engine_shelters[sid], km):
                unsafe = True
        if unsafe:
            result.skipped_keep_apart += 1
            continue
        chosen = [r for r in rooms if r is not None]
        for r in chosen:
            if r.shared:
                shared_left[r.room_id] -= people
            else:
                private_taken.add(r.room_id)
        placement = create_placement(
            session,
            req,
            a.shelter,
            chosen,
            a.km,
            expires_at,
            source="allocation",
            created_by=triggered_by or "abri",
            allocation_id=run.id,
            created_at=now,
        )
        req.last_allocation_id = run.id
        placed_at[req.id] = a.shelter
        result.proposals += 1
        record(
            session,
            None,  # the worker, on behalf of triggered_by
            "placement.created",
            "placement",
            placement.id,
            {"source": "allocation", "allocation_id": run.id, "shelter_id": a.shelter},
            territory_id=run.territory_id,
        )

    unplaced = [
        {"request_id": u.household, "code": u.code, "detail": u.detail} for u in plan.unplaced
    ]
    unplaced += [
        {
            "request_id": rid,
            "code": "no_eligible_shelter",
            "detail": "the request has no origin or no members recorded; it cannot be planned",
        }
        for rid in built.left_out
    ]
    if unplaced:
        table = PlacementRequest.__table__
        session.connection().execute(
            table.update()
            .where(table.c.id == bindparam("rid"), table.c.status == RequestStatus.pending.value)
            .values(
                unplaced_code=bindparam("code"),
                unplaced_detail=bindparam("detail"),
                last_allocation_id=run.id,
                # A visible change: the request's ETag must move (If-None-Match, If-Match).
                version=table.c.version + 1,
            ),
            [
                {"rid": u["request_id"], "code": u["code"], "detail": u["detail"][:1000]}
                for u in unplaced
            ],
        )
    sizes = {h.id: len(h.members) for h in built.problem.households}
    run.unplaced = [{**u, "people": sizes.get(u["request_id"], 0)} for u in unplaced]
    return result


def _start_run(s: Session, run_id: str, holder: str) -> tuple[AllocationRun, int]:
    """Expire overdue holds and record the start of a claimed run.

    Holds first: their requests and rooms come before runs in the writers' lock order."""
    expired = expire_holds(s)
    run = lock_run(s, run_id)
    if run is None or run.status != RUNNING or run.claimed_by != holder:
        raise LeaseLostError  # re-queued or failed meanwhile: not this worker's any more
    wait = (run.started_at - (run.queued_at or run.started_at)).total_seconds()
    record(
        s,
        None,
        "allocation.started",
        "allocation_run",
        run.id,
        {
            "trigger": run.trigger,
            "expired_holds": expired,
            "attempt": run.attempts,
            "queue_wait_s": round(wait, 3),
        },
        territory_id=run.territory_id,
    )
    return run, expired


def execute_run(settings: Settings, run_id: str, territory_id: str, holder: str) -> str:
    """Run a claimed run (``app.allocations.queue.claim``: it is ``running``, claimed by
    ``holder``, which holds the territory's lease) start to finish; returns its id.

    Raises ``RunFailedError`` once the run is marked failed (or will be, once the database
    is back). Only a worker calls this: web processes never run the engine.
    """
    phase = "start"
    try:
        with Heartbeat(holder) as heartbeat:
            t0 = time.perf_counter()
            with get_sessionmaker()() as s:
                s.begin()
                run, expired = _start_run(s, run_id, holder)
                triggered_by, wait = run.triggered_by, _queue_wait(run)
                phase = "start commit"
                s.commit()
            phase = "build"
            t_build = time.perf_counter()
            with get_sessionmaker()() as s:
                # Read only; leaving the block closes the session (frees SQLite's write lock).
                built = build_problem(s, settings, territory_id=territory_id)
            phase = "solve"
            t_solve = time.perf_counter()
            plan = _solve_bounded(built.problem, solve_bound_s(settings), heartbeat)
            phase = "write"
            t_write = time.perf_counter()
            with get_sessionmaker()() as s:
                s.begin()
                # First, and locked until the commit: the lease is still ours.
                if not renew_lease(holder, s):
                    raise LeaseLostError
                run = s.get(AllocationRun, run_id, with_for_update=True)
                if run is None or run.status != RUNNING or run.claimed_by != holder:
                    raise LeaseLostError
                written = _write_plan(s, run, built, plan, settings, triggered_by)
                s.flush()  # the placements' INSERTs, inside the timed write
                timings = {
                    "queue_wait": wait,
                    "start": round(t_build - t0, 4),
                    "build": round(t_solve - t_build, 4),
                    "solve": round(t_write - t_solve, 4),
                    "write": round(time.perf_counter() - t_write, 4),
                }
                _finish_run(s, run, built, plan, written, expired, timings)
                release_lease(holder, s)  # the result and the release: one commit
                phase = "write commit"
                s.commit()
    except Exception as exc:
        detail = getattr(exc, "detail", None)
        log.exception("allocation_failed", run_id=run_id, phase=phase, detail=detail)
        reason = _failure_reason(exc, phase)
        if not _mark_failed(run_id, holder, reason):
            with _unrecorded_lock:
                _unrecorded[run_id] = (reason, holder)
        raise RunFailedError(run_id, client_message(run_id, reason)) from exc
    finally:
        released = release_quietly(holder)
        with _unrecorded_lock:
            unmarked = run_id in _unrecorded
        if unmarked or not released:
            _settle_when_back(None if released else holder)
    forget_latest()
    if settings.allocation_interval_s > 0:
        _store_after_fingerprint(settings, run_id, territory_id)
    log.info("allocation_finished", run_id=run_id, status=plan.status, **written.__dict__)
    return run_id


def _queue_wait(run: AllocationRun) -> float:
    """Seconds between entering the queue (last time) and a worker starting it."""
    return round((run.started_at - (run.queued_at or run.started_at)).total_seconds(), 4)


def _finish_run(
    s: Session,
    run: AllocationRun,
    built: BuiltProblem,
    plan: allocation.Plan,
    written: WriteResult,
    expired: int,
    timings: dict[str, float],
) -> None:
    run.status = plan.status
    run.version += 1
    run.finished_at = utcnow()
    run.input_fingerprint = built.fingerprint
    run.requests_considered = len(built.problem.households)
    run.rooms_considered = len(built.free)
    run.objective = plan.objective.model_dump(mode="json")
    run.bound = plan.bound.model_dump(mode="json")
    run.engine_wall_s = plan.stats.wall_s
    skipped = (
        written.skipped_rooms_taken + written.skipped_request_changed + written.skipped_keep_apart
    )
    run.stats = {
        "engine": plan.stats.model_dump(mode="json"),
        "proposals": written.proposals,
        "unplaced": len(run.unplaced),
        "skipped_rooms_taken": written.skipped_rooms_taken,
        "skipped_request_changed": written.skipped_request_changed,
        "skipped_keep_apart": written.skipped_keep_apart,
        "expired_holds": expired,
        "timings_s": timings,
    }
    record(
        s,
        None,
        "allocation.finished",
        "allocation_run",
        run.id,
        {
            "status": plan.status,
            "requests": run.requests_considered,
            "proposals": written.proposals,
            "unplaced": len(run.unplaced),
            "skipped": skipped,
        },
        territory_id=run.territory_id,
    )


def _failure_reason(exc: Exception, phase: str) -> str:
    """What the run row says: for the operator reading the run, no internals."""
    if isinstance(exc, runner.EngineTimeoutError):
        return f"timeout: {exc}; the engine's process was stopped"
    if isinstance(exc, LeaseLostError):
        return (
            f"lease lost: the run was stalled over {LEASE_TTL_S:.0f} s and another took the "
            "lease; its plan was not written"
        )
    if isinstance(exc, runner.EngineError):
        return f"engine: {exc}"
    if isinstance(exc, OperationalError):
        return f"database: the connection was lost or refused during the {phase}"
    return f"error: {type(exc).__name__} during the {phase}; see the server log"


def client_message(run_id: str, reason: str | None) -> str:
    """The 503's detail for a failed run, from the reason its row records. Never "nothing
    was changed": the run row exists."""
    reason = reason or "the run failed"
    if reason.startswith("timeout"):
        head = f"The allocation engine took too long ({reason.removeprefix('timeout: ')})"
    elif reason.startswith("database"):
        head = f"The database went away during the allocation ({reason})"
    else:
        head = f"The allocation failed ({reason})"
    return (
        f"{head}; run {run_id} is marked failed and none of its proposals were written. "
        "It has been logged; try again."
    )


def _mark_failed(run_id: str, holder: str | None, reason: str) -> bool:
    """Mark the run failed if it is still ``running`` under ``holder``, and release that
    holder's lease, in one transaction; False if the database is away.

    Conditional: a run whose commit did go through (the connection dropped on the way back)
    keeps its result, and one the recovery re-queued to another worker is not touched."""
    try:
        with get_sessionmaker()() as s, s.begin():
            run = s.get(AllocationRun, run_id, with_for_update=True)
            mine = holder is None or (run is not None and run.claimed_by == holder)
            if run is not None and run.status == RUNNING and mine:
                fail_run(s, run, reason, None)
            if holder is not None:
                release_lease(holder, s)
        forget_latest()
        return True
    except Exception:
        log.exception("allocation_mark_failed_failed", run_id=run_id)
        return False


def _store_after_fingerprint(settings: Settings, run_id: str, territory_id: str) -> None:
    """The state the run left behind: the periodic loop skips a run when nothing changed since."""
    try:
        with get_sessionmaker()() as s:
            fp = build_problem(s, settings, territory_id=territory_id).fingerprint
        with get_sessionmaker()() as s, s.begin():
            run = s.get(AllocationRun, run_id)
            if run is not None:
                run.stats = {**(run.stats or {}), "after_fingerprint": fp}
    except Exception:
        log.exception("after_fingerprint_failed", run_id=run_id)


def something_changed(settings: Settings, territory_id: str) -> bool:
    """True when the territory's problem now differs from what its newest finished run saw
    or left."""
    with get_sessionmaker()() as s:
        built = build_problem(s, settings, territory_id=territory_id)
        last = s.execute(
            select(AllocationRun.input_fingerprint, AllocationRun.stats)
            .where(
                AllocationRun.status.notin_([*ACTIVE_STATUSES, FAILED]),
                AllocationRun.territory_id == territory_id,
            )
            .order_by(AllocationRun.started_at.desc(), AllocationRun.id.desc())
            .limit(1)
        ).first()
    if not built.problem.households:
        return False
    if last is None:
        return True
    seen = {last[0], (last[1] or {}).get("after_fingerprint")}
    return built.fingerprint not in seen


# --- reading runs ---------------------------------------------------------------------------


def latest_version(session: Session, territory_id: str) -> tuple[str, int] | None:
    """(id, version) of the territory's newest finished run: one indexed query, for cheap
    polling."""
    row = session.execute(
        select(AllocationRun.id, AllocationRun.version)
        .where(
            AllocationRun.status.notin_(ACTIVE_STATUSES),
            AllocationRun.territory_id == territory_id,
        )
        .order_by(AllocationRun.started_at.desc(), AllocationRun.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


# Each territory's newest run's (id, version), remembered by this worker for at most
# POLL_VERSION_TTL_S so that the dashboard's polls need no database at all most of the time.
# Forgotten at once (every territory's: a placement may be a neighbour's) when this worker
# changes a run or its placements; another worker's change shows within the TTL.
POLL_VERSION_TTL_S = 1.0
_MISS = object()
_latest_seen: dict[str, tuple[float, tuple[str, int] | None]] = {}


def cached_latest_version(territory_id: str) -> object:
    """(id, version), None (no run yet) or ``_MISS``."""
    seen = _latest_seen.get(territory_id)
    if seen is None or seen[0] <= time.monotonic():
        return _MISS
    return seen[1]


def remember_latest(territory_id: str, version: tuple[str, int] | None) -> None:
    _latest_seen[territory_id] = (time.monotonic() + POLL_VERSION_TTL_S, version)


def forget_latest() -> None:
    _latest_seen.clear()


def run_etag(run_id: str, version: int) -> str:
    return version_etag(run_id, version)


def run_document(session: Session, run: AllocationRun, audience: Audience) -> dict[str, Any]:
    """The run as the contract shows it. No personal detail: household sizes only.

    ``viewer``: counts, sizes, codes and generic reasons (``ViewerRunOut``): no request or
    placement id, room, km or engine sentence, and no confidential shelter named next to a
    household. ``operator``: km as the engine measured them (from a confidential shelter's
    published cell). ``admin``: the exact km to a confidential shelter.

    Plain rows, two queries, no ORM objects: a département-size run has ~500 proposals and
    ~700 rooms, and loading them as mapped objects (identity map, relationship loading)
    took ~20 ms per rendering against ~5 ms for the rows (a worker renders each new version
    of the run once per audience, while the dashboard polls).
    """
    rows = session.execute(
        select(
            Placement.id,
            Placement.request_id,
            Placement.shelter_id,
            Placement.km,
            Placement.expires_at,
            Placement.status,
            PlacementRequest.members,
            PlacementRequest.origin_lat,
            PlacementRequest.origin_lon,
        )
        .outerjoin(PlacementRequest, PlacementRequest.id == Placement.request_id)
        .where(Placement.allocation_id == run.id)
        .order_by(Placement.created_at, Placement.id)
    ).all()
    shelter_ids = sorted({row.shelter_id for row in rows})
    shelters = {
        sh.id: sh for sh in session.scalars(select(Shelter).where(Shelter.id.in_(shelter_ids)))
    }
    head = {
        "id": run.id,
        "status": run.status,
        "trigger": run.trigger,
        "started_at": run.started_at,
        "queued_at": run.queued_at,
        "attempts": run.attempts,
        "finished_at": run.finished_at,
        "objective": run.objective,
        "bound": run.bound,
        "requests_considered": run.requests_considered,
        "rooms_considered": run.rooms_considered,
        # The reason as recorded (timeout, abandoned, database, …): no engine internals.
        "error": (run.error or "the run failed; see the server log")
        if run.status == FAILED
        else None,
        "version": run.version,
    }
    if audience == "viewer":
        return {**head, **_viewer_parts(run, rows, shelters)}
    rooms: dict[str, list[str]] = {}
    if rows:
        room_rows = session.execute(
            select(PlacementRoom.placement_id, PlacementRoom.room_id)
            .join(Placement, Placement.id == PlacementRoom.placement_id)
            .where(Placement.allocation_id == run.id)
            .order_by(PlacementRoom.id)
        )
        for placement_id, room_id in room_rows:
            rooms.setdefault(placement_id, []).append(room_id)
    exact = audience == "admin"
    return {
        **head,
        "input_fingerprint": run.input_fingerprint,
        "proposals": [
            {
                "placement_id": row.id,
                "request_id": row.request_id,
                "shelter_id": row.shelter_id,
                "room_ids": rooms.get(row.id, []),
                # A neighbour's confidential shelter: its cell's km, as for an operator.
                "km": exact_km(shelters.get(row.shelter_id), row.km, row.origin_lat, row.origin_lon)
                if exact and _own_shelter(shelters.get(row.shelter_id), run.territory_id)
                else row.km,
                "expires_at": row.expires_at,
                "status": row.status,
                "people": len(row.members or []),
            }
            for row in rows
        ],
        "unplaced": run.unplaced or [],
        "stats": run.stats,
    }


def _own_shelter(shelter: Shelter | None, territory_id: str) -> bool:
    return shelter is not None and shelter.territory_id == territory_id


def _viewer_parts(
    run: AllocationRun, rows: Sequence[Any], shelters: dict[str, Shelter]
) -> dict[str, Any]:
    def shown(shelter_id: str) -> str | None:
        sh = shelters.get(shelter_id)
        return None if sh is None or sh.confidential else shelter_id

    return {
        "proposals": [
            {
                "shelter_id": shown(row.shelter_id),
                "expires_at": row.expires_at,
                "status": row.status,
                "people": len(row.members or []),
            }
            for row in rows
        ],
        "unplaced": [
            {
                "code": str(u.get("code", "")),
                "reason": unplaced_reason(str(u.get("code", ""))),
                "people": int(u.get("people") or 0),
            }
            for u in run.unplaced or []
        ],
    }


class DocumentCache:
    """Rendered run documents by ETag: a poll that changed nothing costs no rendering."""

    def __init__(self, size: int = 16) -> None:
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, etag: str) -> bytes | None:
        with self._lock:
            body = self._items.get(etag)
            if body is not None:
                self._items.move_to_end(etag)
            return body

    def put(self, etag: str, body: bytes) -> None:
        with self._lock:
            self._items[etag] = body
            self._items.move_to_end(etag)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def count_runs(session: Session, status: str | None) -> int:
    # Counted in the reader's session: its territory's runs only (app.territories.scope).
    q = select(func.count()).select_from(AllocationRun)
    if status:
        q = q.where(AllocationRun.status == status)
    return int(session.scalar(q) or 0)


def as_utc(dt: datetime | None) -> datetime | None:
    return dt.astimezone(UTC) if dt else None
