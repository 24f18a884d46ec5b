"""Allocation runs: the lease, the run itself, and reading runs back.

A run is several short transactions, never one long one, so the database is not blocked
while the engine thinks:

1. take the lease (one atomic conditional UPDATE on ``allocation_lock``);
2. expire overdue holds and create the run (``running``): committed;
3. build the problem (read only) and solve it in a thread, bounded in time;
4. in ONE transaction: lock the requests and rooms concerned, re-check that every proposal
   is still possible (anything that changed meanwhile is skipped, never double-booked),
   write the placements and the run's results;
5. release the lease. Any failure marks the run ``failed`` and releases the lease.
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
from sqlalchemy.orm import Session

import allocation
from allocation.rules import keep_apart_ok
from app.allocations.models import AllocationLock, AllocationRun
from app.allocations.problem import BuiltProblem, build_problem, live_placement_shelters
from app.allocations.schemas import Audience, unplaced_reason
from app.audit.service import record
from app.auth.dependencies import Principal
from app.core.config import Settings
from app.core.db import get_sessionmaker, utcnow
from app.placements.models import Placement, PlacementRoom
from app.placements.service import create_placement, expire_holds, hold_deadline
from app.requests.models import PlacementRequest, RequestStatus
from app.shelters.capacity import free_rooms
from app.shelters.models import Shelter
from app.shelters.service import exact_km

log = structlog.get_logger(__name__)

LOCK_ID = 1
RUNNING = "running"
FAILED = "failed"


class LeaseTakenError(Exception):
    """Another run holds the lease."""


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


def lease_ttl(settings: Settings) -> timedelta:
    # Longer than any run can last: a crashed worker's lease lapses on its own.
    return timedelta(seconds=solve_bound_s(settings) + 120)


def _insert_lock_row(session: Session) -> None:
    """Create the single lease row if missing; a concurrent creator is not an error."""
    dialect = session.get_bind().dialect.name
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(AllocationLock)
    session.execute(
        ins.values(id=LOCK_ID, holder=None, locked_until=None).on_conflict_do_nothing(
            index_elements=["id"]
        )
    )


def acquire_lease(holder: str, ttl: timedelta, now: datetime | None = None) -> bool:
    """Take the run lease with one atomic conditional UPDATE (race-safe across processes)."""
    now = now or utcnow()
    stmt = (
        update(AllocationLock)
        .where(
            AllocationLock.id == LOCK_ID,
            (AllocationLock.locked_until.is_(None)) | (AllocationLock.locked_until < now),
        )
        .values(holder=holder, locked_until=now + ttl)
        .execution_options(synchronize_session=False)
    )
    with get_sessionmaker()() as session, session.begin():
        if session.execute(stmt).rowcount == 1:
            return True
        if session.get(AllocationLock, LOCK_ID) is not None:
            return False
        _insert_lock_row(session)
        return session.execute(stmt).rowcount == 1


def release_lease(holder: str) -> None:
    stmt = (
        update(AllocationLock)
        .where(AllocationLock.id == LOCK_ID, AllocationLock.holder == holder)
        .values(holder=None, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    with get_sessionmaker()() as session, session.begin():
        session.execute(stmt)


# --- the run --------------------------------------------------------------------------------


@dataclass
class WriteResult:
    proposals: int
    skipped_rooms_taken: int
    skipped_request_changed: int
    skipped_keep_apart: int


def _solve_bounded(problem: allocation.Problem, bound_s: float) -> allocation.Plan:
    """``allocation.solve`` in its own thread, waited for at most ``bound_s``: the caller (a
    request thread or the background loop) never hangs on the engine."""
    if not problem.households:
        return allocation.Plan(
            status="optimal",
            assignments=[],
            unplaced=[],
            objective=allocation.Objective(people_placed_by_priority={}),
            bound=allocation.Bound(people_placed_by_priority={}),
            stats=allocation.Stats(wall_s=0.0, solver="none"),
        )
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["plan"] = allocation.solve(problem)
        except BaseException as exc:  # handed back to the caller below
            out["error"] = exc

    thread = threading.Thread(target=target, name="abri-solve", daemon=True)
    thread.start()
    thread.join(bound_s)
    if thread.is_alive():
        raise TimeoutError(f"the engine did not answer within {bound_s:.0f} s")
    if "error" in out:
        raise out["error"]
    return out["plan"]


def _write_plan(
    session: Session,
    run: AllocationRun,
    built: BuiltProblem,
    plan: allocation.Plan,
    settings: Settings,
    actor: Principal | None,
) -> WriteResult:
    """Proposals and unplaced reasons, in the caller's transaction, with rows locked."""
    now = utcnow()
    assignments = list(plan.assignments)
    placed_ids = [a.household for a in assignments]
    partners = {rid: built.partners.get(rid, {}) for rid in placed_ids}
    partner_ids = {p for ps in partners.values() for p in ps}
    # Requests first, then rooms, always in id order: every writer locks in the same order.
    # The unplaced too: their reasons are written below.
    unplaced_ids = {u.household for u in plan.unplaced} | set(built.left_out)
    lock_ids = sorted(set(placed_ids) | partner_ids | unplaced_ids)
    locked = (
        {
            r.id: r
            for r in session.scalars(
                select(PlacementRequest)
                .where(PlacementRequest.id.in_(lock_ids))
                .order_by(PlacementRequest.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        }
        if lock_ids
        else {}
    )
    shelter_ids = sorted({a.shelter for a in assignments})
    free = (
        {r.room_id: r for r in free_rooms(session, shelter_ids, for_update=True)}
        if shelter_ids
        else {}
    )
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
        if req is None or req.status != RequestStatus.pending:
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
            created_by=actor.name if actor else "abri",
            allocation_id=run.id,
        )
        req.last_allocation_id = run.id
        placed_at[req.id] = a.shelter
        result.proposals += 1
        record(
            session,
            actor,
            "placement.created",
            "placement",
            placement.id,
            {"source": "allocation", "allocation_id": run.id, "shelter_id": a.shelter},
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
            ),
            [
                {"rid": u["request_id"], "code": u["code"], "detail": u["detail"][:1000]}
                for u in unplaced
            ],
        )
    sizes = {h.id: len(h.members) for h in built.problem.households}
    run.unplaced = [{**u, "people": sizes.get(u["request_id"], 0)} for u in unplaced]
    return result


def run_allocation(settings: Settings, actor: Principal | None = None, trigger: str = "api") -> str:
    """One run, start to finish; returns the run id.

    Raises ``LeaseTakenError`` (another run holds the lease) or ``RunFailedError``.
    """
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not acquire_lease(holder, lease_ttl(settings)):
        raise LeaseTakenError
    sessions = get_sessionmaker()
    run_id: str | None = None
    t0 = time.perf_counter()
    try:
        with sessions() as s, s.begin():
            expired = expire_holds(s)
            run = AllocationRun(
                status=RUNNING,
                trigger=trigger,
                triggered_by=actor.name if actor else "abri",
                unplaced=[],
            )
            s.add(run)
            s.flush()
            run_id = run.id
            record(
                s,
                actor,
                "allocation.started",
                "allocation_run",
                run.id,
                {"trigger": trigger, "expired_holds": expired},
            )
        t_build = time.perf_counter()
        with sessions() as s:
            # Read only; leaving the block closes the session (frees SQLite's write lock).
            built = build_problem(s, settings)
        t_solve = time.perf_counter()
        plan = _solve_bounded(built.problem, solve_bound_s(settings))
        t_write = time.perf_counter()
        with sessions() as s, s.begin():
            run = s.get(AllocationRun, run_id, with_for_update=True)
            assert run is not None
            written = _write_plan(s, run, built, plan, settings, actor)
            s.flush()  # the placements' INSERTs, inside the timed write
            t_end = time.perf_counter()
            run.status = plan.status
            run.version += 1
            run.finished_at = utcnow()
            run.input_fingerprint = built.fingerprint
            run.requests_considered = len(built.problem.households)
            run.rooms_considered = len(built.free)
            run.objective = plan.objective.model_dump(mode="json")
            run.bound = plan.bound.model_dump(mode="json")
            run.engine_wall_s = plan.stats.wall_s
            run.stats = {
                "engine": plan.stats.model_dump(mode="json"),
                "proposals": written.proposals,
                "unplaced": len(run.unplaced),
                "skipped_rooms_taken": written.skipped_rooms_taken,
                "skipped_request_changed": written.skipped_request_changed,
                "skipped_keep_apart": written.skipped_keep_apart,
                "expired_holds": expired,
                "timings_s": {
                    "start": round(t_build - t0, 4),
                    "build": round(t_solve - t_build, 4),
                    "solve": round(t_write - t_solve, 4),
                    "write": round(t_end - t_write, 4),
                },
            }
            record(
                s,
                actor,
                "allocation.finished",
                "allocation_run",
                run.id,
                {
                    "status": plan.status,
                    "requests": run.requests_considered,
                    "proposals": written.proposals,
                    "unplaced": len(run.unplaced),
                    "skipped": written.skipped_rooms_taken
                    + written.skipped_request_changed
                    + written.skipped_keep_apart,
                },
            )
        forget_latest()
        if settings.allocation_interval_s > 0:
            _store_after_fingerprint(settings, run_id)
        log.info(
            "allocation_finished",
            run_id=run_id,
            status=plan.status,
            proposals=written.proposals,
            wall_s=round(time.perf_counter() - t0, 3),
        )
        return run_id
    except Exception as exc:
        log.exception("allocation_failed", run_id=run_id)
        _mark_failed(run_id, actor, exc)
        raise RunFailedError(run_id, _failure_sentence(exc)) from exc
    finally:
        release_lease(holder)


def _failure_sentence(exc: Exception) -> str:
    if isinstance(exc, TimeoutError):
        return f"The allocation engine took too long ({exc}); no proposal was made."
    return "The allocation failed; no proposal was made. It has been logged; try again."


def _mark_failed(run_id: str | None, actor: Principal | None, exc: Exception) -> None:
    if run_id is None:
        return
    try:
        with get_sessionmaker()() as s, s.begin():
            run = s.get(AllocationRun, run_id)
            if run is None:
                return
            run.status = FAILED
            run.finished_at = utcnow()
            run.error = f"{type(exc).__name__}: {exc}"[:1000]
            run.version += 1
            forget_latest()
            record(
                s,
                actor,
                "allocation.failed",
                "allocation_run",
                run_id,
                {"error": type(exc).__name__},
            )
    except Exception:
        log.exception("allocation_mark_failed_failed", run_id=run_id)


def _store_after_fingerprint(settings: Settings, run_id: str) -> None:
    """The state the run left behind: the periodic loop skips a run when nothing changed since."""
    try:
        with get_sessionmaker()() as s:
            fp = build_problem(s, settings).fingerprint
        with get_sessionmaker()() as s, s.begin():
            run = s.get(AllocationRun, run_id)
            if run is not None:
                run.stats = {**(run.stats or {}), "after_fingerprint": fp}
    except Exception:
        log.exception("after_fingerprint_failed", run_id=run_id)


def something_changed(settings: Settings) -> bool:
    """True when the problem now differs from what the newest finished run saw or left."""
    with get_sessionmaker()() as s:
        built = build_problem(s, settings)
        last = s.execute(
            select(AllocationRun.input_fingerprint, AllocationRun.stats)
            .where(AllocationRun.status.notin_([RUNNING, FAILED]))
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


def latest_version(session: Session) -> tuple[str, int] | None:
    """(id, version) of the newest finished run: one indexed query, for cheap polling."""
    row = session.execute(
        select(AllocationRun.id, AllocationRun.version)
        .where(AllocationRun.status != RUNNING)
        .order_by(AllocationRun.started_at.desc(), AllocationRun.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


# The newest run's (id, version), remembered by this worker for at most POLL_VERSION_TTL_S
# so that the dashboard's polls need no database at all most of the time. Forgotten at once
# when this worker changes a run or its placements; another worker's change shows within
# the TTL.
POLL_VERSION_TTL_S = 1.0
_MISS = object()
_latest_seen: tuple[float, tuple[str, int] | None] | None = None


def cached_latest_version() -> object:
    """(id, version), None (no run yet) or ``_MISS``."""
    seen = _latest_seen
    if seen is None or seen[0] <= time.monotonic():
        return _MISS
    return seen[1]


def remember_latest(version: tuple[str, int] | None) -> None:
    global _latest_seen
    _latest_seen = (time.monotonic() + POLL_VERSION_TTL_S, version)


def forget_latest() -> None:
    global _latest_seen
    _latest_seen = None


def run_etag(run_id: str, version: int) -> str:
    return f'"{run_id}-v{version}"'


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
        "finished_at": run.finished_at,
        "objective": run.objective,
        "bound": run.bound,
        "requests_considered": run.requests_considered,
        "rooms_considered": run.rooms_considered,
        "error": "the run failed; see the server log" if run.status == FAILED else None,
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
                "km": exact_km(shelters.get(row.shelter_id), row.km, row.origin_lat, row.origin_lon)
                if exact
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
    q = select(func.count()).select_from(AllocationRun)
    if status:
        q = q.where(AllocationRun.status == status)
    return int(session.scalar(q) or 0)


def as_utc(dt: datetime | None) -> datetime | None:
    return dt.astimezone(UTC) if dt else None
