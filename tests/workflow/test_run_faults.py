"""A run's faults: the engine overruns or dies, the lease lapses or is lost, a holder dies,
the database goes away. Each ends with the run ``failed`` (with why) or, when its worker
died, re-queued while it has attempts left; nothing of the engine left running, nothing
written that should not be, and the next run possible."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import make_url

from app.allocations import queue, service
from app.allocations.models import AllocationLock, AllocationRun
from app.allocations.service import acquire_lease, release_lease
from app.core.config import get_settings
from app.core.db import get_engine, get_sessionmaker, utcnow
from app.placements.models import Placement
from tests.conftest import DEFAULT_TERRITORY_ID
from tests.workflow.factories import make_request, make_shelter
from tests.workflow.procs import alive, engine_children

ROOT = Path(__file__).resolve().parents[2]


def _small_night(session) -> None:
    make_shelter(session, rooms=[{"beds": 2}, {"beds": 3}])
    make_request(session, members=[(30, "F")])
    make_request(session, members=[(40, "M"), (38, "F")])
    session.commit()


def _run(run_id: str) -> AllocationRun:
    with get_sessionmaker()() as s:
        run = s.get(AllocationRun, run_id)
        assert run is not None
        s.expunge(run)
        return run


def _placements_of(run_id: str) -> int:
    with get_sessionmaker()() as s:
        return len(s.scalars(select(Placement).where(Placement.allocation_id == run_id)).all())


def _steal_lease(holder: str = "thief") -> None:
    with get_sessionmaker()() as s, s.begin():
        s.execute(
            update(AllocationLock)
            .where(AllocationLock.territory_id == DEFAULT_TERRITORY_ID)
            .values(holder=holder, locked_until=utcnow() + timedelta(hours=1))
        )


# --- the engine's process -------------------------------------------------------------------


def test_a_timed_out_engine_is_killed_and_the_run_failed(
    client, session, auth, engine_target, monkeypatch
) -> None:
    _small_night(session)
    engine_target("spin_forever")
    real_bound = service.solve_bound_s
    monkeypatch.setattr(service, "solve_bound_s", lambda settings: 1.0)
    r = client.post("/api/v1/allocations", headers=auth("operator"))
    monkeypatch.setattr(service, "solve_bound_s", real_bound)
    assert r.status_code == 503
    body = r.json()
    assert "took too long" in body["detail"] and "nothing was changed" not in body["detail"]
    # No engine process of this worker survives the run (the thread it replaced did).
    assert engine_children() == []
    run = _run(body["allocation_id"])
    assert run.status == "failed" and run.error.startswith("timeout")
    shown = client.get(f"/api/v1/allocations/{run.id}", headers=auth("viewer")).json()
    assert shown["error"] == run.error
    assert _placements_of(run.id) == 0
    engine_target("slow")
    assert client.post("/api/v1/allocations", headers=auth("operator")).status_code == 201


def test_an_engine_process_that_dies_fails_the_run(client, session, auth, engine_target) -> None:
    _small_night(session)
    engine_target("die")
    r = client.post("/api/v1/allocations", headers=auth("operator"))
    assert r.status_code == 503
    run = _run(r.json()["allocation_id"])
    assert run.status == "failed" and "died" in run.error
    assert engine_children() == []


_ORPHAN_SCRIPT = """
import threading, time
from allocation.tools.generate import generate_problem
from app.allocations.runner import EngineRunner
runner = EngineRunner(target="tests.workflow.engines:spin_forever")
args = (generate_problem(2, 2), 600.0)
threading.Thread(target=runner.solve, args=args, daemon=True).start()
while not runner.pids():
    time.sleep(0.05)
print(runner.pids()[0], flush=True)
time.sleep(600)
"""


def test_the_engine_exits_when_its_worker_is_killed() -> None:
    """kill -9 of the web worker: its engine process notices and stops solving for nobody."""
    worker = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert worker.stdout is not None
        engine_pid = int(worker.stdout.readline())
        time.sleep(0.5)
        assert alive(engine_pid)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        deadline = time.monotonic() + 10
        while alive(engine_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(engine_pid)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)


# --- the lease ------------------------------------------------------------------------------


def test_the_lease_is_short_whatever_the_time_limit(client, session, auth, monkeypatch) -> None:
    _small_night(session)
    monkeypatch.setattr(get_settings(), "allocation_time_limit_s", 600.0)
    seen: list[float] = []
    real_solve = service._solve_bounded

    def solve_and_look(*args):
        with get_sessionmaker()() as s:
            lock = s.scalars(select(AllocationLock)).one()
            seen.append((lock.locked_until - utcnow()).total_seconds())
        return real_solve(*args)

    monkeypatch.setattr(service, "_solve_bounded", solve_and_look)
    assert client.post("/api/v1/allocations", headers=auth("operator")).status_code == 201
    # Was 2 * 600 + 5 + 120 s: a dead worker blocked runs for 22 minutes.
    assert 0 < seen[0] <= service.LEASE_TTL_S


def test_the_heartbeat_keeps_the_lease_while_the_run_works(
    client, session, auth, monkeypatch
) -> None:
    _small_night(session)
    monkeypatch.setattr(service, "LEASE_TTL_S", 0.6)
    monkeypatch.setattr(service, "HEARTBEAT_S", 0.1)
    taken: list[bool] = []
    real_solve = service._solve_bounded

    def slow_solve(*args):
        time.sleep(1.5)  # longer than the lease lasts unrenewed
        taken.append(
            acquire_lease("another worker", timedelta(minutes=5), territory_id=DEFAULT_TERRITORY_ID)
        )
        return real_solve(*args)

    monkeypatch.setattr(service, "_solve_bounded", slow_solve)
    r = client.post("/api/v1/allocations", headers=auth("operator"))
    assert taken == [False]
    assert r.status_code == 201, r.text
    assert r.json()["proposals"]


def test_a_lost_lease_stops_the_engine_and_writes_nothing(
    client, session, auth, engine_target, monkeypatch
) -> None:
    _small_night(session)
    monkeypatch.setattr(service, "HEARTBEAT_S", 0.1)
    monkeypatch.setattr(service, "solve_bound_s", lambda settings: 120.0)
    engine_target("spin_forever")
    real_solve = service._solve_bounded

    def stolen_then_solve(*args):
        _steal_lease()  # as if this run stalled past its lease and another took it
        return real_solve(*args)

    monkeypatch.setattr(service, "_solve_bounded", stolen_then_solve)
    try:
        t0 = time.monotonic()
        r = client.post("/api/v1/allocations", headers=auth("operator"))
        assert time.monotonic() - t0 < 60  # not the engine's bound: the heartbeat noticed
        assert r.status_code == 503
        run = _run(r.json()["allocation_id"])
        assert run.status == "failed" and run.error.startswith("lease lost")
        assert _placements_of(run.id) == 0
        assert engine_children() == []
        with get_sessionmaker()() as s:  # the thief's lease is not released by the loser
            assert s.scalars(select(AllocationLock)).one().holder == "thief"
    finally:
        release_lease("thief")


def test_the_write_checks_the_lease_is_still_ours(client, session, auth, monkeypatch) -> None:
    _small_night(session)
    monkeypatch.setattr(service, "HEARTBEAT_S", 3600.0)  # no beat to notice: the write must
    real_solve = service._solve_bounded

    def solve_then_stolen(*args):
        plan = real_solve(*args)
        _steal_lease()
        return plan

    monkeypatch.setattr(service, "_solve_bounded", solve_then_stolen)
    try:
        r = client.post("/api/v1/allocations", headers=auth("operator"))
        assert r.status_code == 503
        run = _run(r.json()["allocation_id"])
        assert run.error.startswith("lease lost") and _placements_of(run.id) == 0
    finally:
        release_lease("thief")


# --- runs left behind -----------------------------------------------------------------------


def _abandoned_run(session, lease_lapsed: bool = True, attempts: int = 1) -> str:
    """A run claimed by a worker that died (its lease lapsed) or still lives."""
    run = AllocationRun(
        territory_id="ter_59",
        status="running",
        trigger="api",
        unplaced=[],
        attempts=attempts,
        claimed_by="dead worker",
    )
    run.started_at = run.queued_at = utcnow() - timedelta(minutes=10)
    session.add(run)
    session.commit()
    when = utcnow() - timedelta(hours=1) if lease_lapsed else utcnow()
    assert acquire_lease(
        "dead worker", timedelta(seconds=30), now=when, territory_id=DEFAULT_TERRITORY_ID
    )
    return run.id


def _wait_over(run_id: str) -> AllocationRun:
    deadline = time.monotonic() + 60
    while _run(run_id).status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
    return _run(run_id)


def test_a_dead_workers_run_is_retried_by_another(client, session, auth) -> None:
    _small_night(session)
    old = _abandoned_run(session, attempts=1)
    # The desk's next POST finds the territory's run left behind: re-queued, not refused
    # for good; this worker (the test's local one) runs it.
    r = client.post("/api/v1/allocations", headers=auth("operator"))
    assert r.status_code == 409 and r.json()["allocation_id"] == old
    run = _wait_over(old)
    assert run.status == "optimal" and run.attempts == 2
    assert run.claimed_by != "dead worker" and _placements_of(old) == 2
    listed = client.get("/api/v1/allocations?status=running", headers=auth("viewer")).json()
    assert listed["total"] == 0


def test_a_run_out_of_attempts_is_failed_with_why(client, session, auth) -> None:
    _small_night(session)
    old = _abandoned_run(session, attempts=get_settings().allocation_max_attempts)
    r = client.post("/api/v1/allocations", headers=auth("operator"))
    assert r.status_code == 201, r.text  # the dead one failed first, then a new one ran
    run = _run(old)
    assert run.status == "failed" and run.finished_at
    assert run.error.startswith(queue.DEAD_WORKER) and "tried 2 time(s)" in run.error
    assert _placements_of(old) == 0


def test_a_run_left_running_is_failed_at_start_up(session) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app

    old = _abandoned_run(session, attempts=2)
    with TestClient(create_app()):
        pass
    assert _run(old).status == "failed"


def test_a_run_queued_too_long_is_failed(session, monkeypatch) -> None:
    monkeypatch.setattr(get_settings(), "allocation_queue_timeout_s", 60.0)
    run_id = queue.enqueue(get_settings(), None, "api", DEFAULT_TERRITORY_ID)
    with get_sessionmaker()() as s, s.begin():
        s.get(AllocationRun, run_id).queued_at = utcnow() - timedelta(seconds=61)
    assert queue.recover(get_settings()) == 1
    run = _run(run_id)
    assert run.status == "failed" and run.error.startswith("not started: no worker took it")


def test_a_live_lease_keeps_its_run(session) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app

    running = _abandoned_run(session, lease_lapsed=False)
    try:
        with TestClient(create_app()):
            pass
        assert queue.recover(get_settings()) == 0
        assert _run(running).status == "running"
    finally:
        release_lease("dead worker")


# --- the database goes away -----------------------------------------------------------------


@pytest.mark.postgres
def test_database_lost_during_the_write(
    client, session, auth, monkeypatch, migrated_database, test_database
) -> None:
    """PostgreSQL drops every connection and refuses new ones just before the run's write."""
    _small_night(session)
    headers = auth("operator")
    session.close()
    dbname = make_url(migrated_database).database
    # The harness's superuser: the service role may not refuse connections to its database.
    admin = create_engine(
        make_url(test_database.superuser_url).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
    )
    real_write = service._write_plan

    def write_then_database_gone(*args):
        written = real_write(*args)
        with admin.connect() as c:
            c.execute(text(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false'))
            c.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :d AND pid <> pg_backend_pid()"
                ),
                {"d": dbname},
            )
        return written

    monkeypatch.setattr(service, "_write_plan", write_then_database_gone)
    try:
        r = client.post("/api/v1/allocations", headers=headers)
    finally:
        with admin.connect() as c:
            c.execute(text(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    assert r.status_code == 503
    body = r.json()
    run_id = body["allocation_id"]
    assert "nothing was changed" not in body["detail"]
    assert run_id in body["detail"] and f"GET /api/v1/allocations/{run_id}" in body["detail"]
    get_engine().dispose()  # the test's own pooled connections were dropped too
    # Back: the run's worker marks it, with why, and releases the lease it could not.
    deadline = time.monotonic() + 20
    while _run(run_id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    run = _run(run_id)
    assert run.status == "failed" and run.error.startswith("database")
    assert _placements_of(run_id) == 0
    while _lease_holder() is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    monkeypatch.setattr(service, "_write_plan", real_write)
    # No wait for the lease to lapse.
    assert client.post("/api/v1/allocations", headers=headers).status_code == 201


def _lease_holder() -> str | None:
    with get_sessionmaker()() as s:
        lock = s.scalars(select(AllocationLock)).one()
        return lock.holder if lock else None
